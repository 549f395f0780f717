// DPoP (RFC 9449) and introspection (RFC 7662) through real HTTP on 127.0.0.1: one
// cpp-httplib server carries a TokenEndpoint (DPoP-bound and opaque tokens, an
// introspection endpoint) and protected routes whose TokenResolver takes the DPoP scheme
// and introspects opaque tokens. Clients are the library's own: ClientCredentials with
// a DpopSigner, Outbound, Introspector; raw requests where a proof must be crafted.
#include "tokenpass/dpop.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/client_credentials.h"
#include "tokenpass/introspection.h"
#include "tokenpass/propagation.h"
#include "tokenpass/replay.h"
#include "tokenpass/token_endpoint.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::Alg;
using tokenpass::ClientRecord;
using tokenpass::DpopSigner;
using tokenpass::errc;
using tokenpass::HttpHeaders;
using tokenpass::HttpResponse;
using tokenpass::Key;

namespace {

constexpr int kIterations = 1000;
constexpr const char* kNonce = "n-0f1e2d";

ClientRecord client(std::string id, std::string secret) {
  ClientRecord c;
  c.id = std::move(id);
  c.secret = tokenpass::SecretHash::make(secret, kIterations);
  c.scopes = {"orders:read"};
  c.audiences = {"orders"};
  return c;
}

// CountingClient: an HttpClient that counts what it sends.
class CountingClient final : public tokenpass::HttpClient {
 public:
  tokenpass::Result<HttpResponse> send(const tokenpass::HttpRequest& r) override {
    ++sent;
    return inner_.send(r);
  }
  std::atomic<int> sent{0};

 private:
  tokenpass::HttplibClient inner_;
};

// Shop: the token service and the resource on one server.
//  - clients "svc" (JWTs), "opaque-svc" (opaque tokens), "resource" (may introspect)
//  - /orders: DPoP or Bearer user tokens (JWTs, or opaque ones introspected)
//  - /nonce/orders: as /orders, but DPoP proofs must carry kNonce
//  - /introspect: the token endpoint's introspection endpoint
//  - with `endpoint_nonce`, the token endpoint too wants kNonce in proofs
class Shop {
 public:
  explicit Shop(bool endpoint_nonce = false) {
    server_.set_payload_max_length(64 * 1024);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("Shop: cannot bind");
    base = "http://127.0.0.1:" + std::to_string(port_);

    tokenpass::TokenEndpointOptions o;
    o.issuer = base;
    o.unknown_client_iterations = kIterations;
    o.introspection_endpoint = base + "/introspect";
    auto endpoint_dpop = std::make_shared<tokenpass::DpopOptions>();
    if (endpoint_nonce) endpoint_dpop->nonce = kNonce;
    o.dpop = endpoint_dpop;
    std::vector<ClientRecord> clients = {client("svc", "secret-svc"), client("opaque-svc", "secret-opaque"),
                                         client("resource", "secret-resource")};
    clients[1].opaque_tokens = true;
    clients[2].may_introspect = true;
    endpoint = std::make_shared<tokenpass::TokenEndpoint>(
        signing_key, std::make_shared<tokenpass::MemoryClientRegistry>(clients), o);
    tokenpass::mount_token_endpoint(server_, endpoint);

    introspection_http = std::make_shared<CountingClient>();
    tokenpass::IntrospectionOptions io;
    io.endpoint = base + "/introspect";
    io.client_id = "resource";
    io.client_secret = "secret-resource";
    io.allow_http = true;
    introspector = std::make_shared<tokenpass::Introspector>(io, introspection_http);

    tokenpass::Policy p;
    p.issuers = {base};
    p.audiences = {"orders"};
    p.required_scopes = {"orders:read"};
    p.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>();
    auto verifier = std::make_shared<tokenpass::Verifier>(
        tokenpass::KeySet::from_public_jwks(json::parse(endpoint->jwks())).value(), p);
    const auto route = [&](const std::string& path, std::shared_ptr<const tokenpass::DpopOptions> dpop) {
      tokenpass::TokenResolverOptions ro;
      ro.dpop = std::move(dpop);
      ro.introspector = introspector;
      auto resolver = std::make_shared<tokenpass::TokenResolver>(verifier, nullptr, ro);
      const auto handler = [](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext& ctx) {
        json body = {{"sub", ctx.user()->claims().subject().value_or("")},
                     {"introspected", ctx.user()->introspected()}};
        res.set_content(body.dump(), "application/json");
      };
      server_.Get(path, tokenpass::protect(resolver, handler));
      server_.Post(path, tokenpass::protect(resolver, handler));
    };
    route("/orders", std::make_shared<tokenpass::DpopOptions>());
    auto with_nonce = std::make_shared<tokenpass::DpopOptions>();
    with_nonce->nonce = kNonce;
    route("/nonce/orders", with_nonce);

    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~Shop() {
    server_.stop();
    thread_.join();
  }
  Shop(const Shop&) = delete;
  Shop& operator=(const Shop&) = delete;

  std::shared_ptr<tokenpass::ClientCredentials> credentials(const std::string& id, const std::string& secret,
                                                            std::shared_ptr<const DpopSigner> signer,
                                                            std::shared_ptr<tokenpass::HttpClient> http = nullptr) {
    tokenpass::ClientCredentialsOptions o;
    o.token_endpoint = endpoint->token_endpoint();
    o.client_id = id;
    o.client_secret = secret;
    o.allow_http = true;
    o.dpop = std::move(signer);
    return std::make_shared<tokenpass::ClientCredentials>(
        o, http ? http : std::make_shared<tokenpass::HttplibClient>());
  }

  HttpResponse call(const std::string& method, const std::string& path, HttpHeaders headers,
                    std::string body = {}) {
    tokenpass::HttpRequest r;
    r.method = method;
    r.url = base + path;
    r.headers = std::move(headers);
    r.body = std::move(body);
    r.timeout = 20000ms;
    auto res = tokenpass::HttplibClient().send(r);
    REQUIRE(res);
    return *res;
  }

  Key signing_key = Key::generate(Alg::ES256);
  std::string base;
  std::shared_ptr<tokenpass::TokenEndpoint> endpoint;
  std::shared_ptr<CountingClient> introspection_http;
  std::shared_ptr<tokenpass::Introspector> introspector;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string error_of(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  return body.is_object() && body.contains("error") ? body["error"].get<std::string>() : std::string();
}

std::vector<std::string> challenges(const HttpResponse& r) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r.headers) {
    if (tokenpass::header_name_equals(k, "WWW-Authenticate")) out.push_back(v);
  }
  return out;
}

bool has_challenge(const HttpResponse& r, const std::string& prefix) {
  for (const auto& c : challenges(r)) {
    if (c.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("dpop http: a DPoP-bound service token from the token endpoint, sent by Outbound with a proof",
          "[dpop][http]") {
  Shop shop;
  auto signer = std::make_shared<DpopSigner>(Key::generate(Alg::ES256));
  auto cc = shop.credentials("svc", "secret-svc", signer);
  auto token = cc->token("orders", {"orders:read"});
  REQUIRE(token);
  CHECK(token->token_type == "DPoP");
  auto claims = json::parse(tp_test::unb64(tp_test::split(token->access_token).payload));
  CHECK(claims["cnf"]["jkt"] == signer->jkt());

  auto outbound = tokenpass::Outbound::service_token(cc);
  outbound.allow("orders", {"orders", {"orders:read"}});
  const std::string url = shop.base + "/orders?id=7";
  auto headers = outbound.headers_for("orders", nullptr, tokenpass::RequestTarget{"GET", url});
  REQUIRE(headers);
  REQUIRE(headers->size() == 2);
  CHECK(headers->at(0).second == "DPoP " + token->access_token);
  CHECK(headers->at(1).first == "DPoP");
  auto ok = shop.call("GET", "/orders?id=7", *headers);
  INFO(ok.body);
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body)["sub"] == "svc");

  // Without the call's method and URL there is no proof to make.
  auto none = outbound.headers_for("orders", nullptr);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == errc::invalid_request);

  // The metadata says DPoP is offered.
  auto meta = json::parse(shop.endpoint->metadata());
  CHECK(meta["dpop_signing_alg_values_supported"].size() > 3);
  CHECK(meta["introspection_endpoint"] == shop.base + "/introspect");
}

TEST_CASE("dpop http: each bad proof is refused with its code and a DPoP challenge", "[dpop][http]") {
  Shop shop;
  auto signer = std::make_shared<DpopSigner>(Key::generate(Alg::ES256));
  auto token = shop.credentials("svc", "secret-svc", signer)->token("orders", {"orders:read"});
  REQUIRE(token);
  const std::string url = shop.base + "/orders";
  const auto with = [&](const std::string& proof) {
    return HttpHeaders{{"Authorization", "DPoP " + token->access_token}, {"DPoP", proof}};
  };

  SECTION("replayed") {
    const std::string proof = signer->proof("GET", url, token->access_token).value();
    CHECK(shop.call("GET", "/orders", with(proof)).status == 200);
    auto again = shop.call("GET", "/orders", with(proof));
    CHECK(again.status == 401);
    CHECK(error_of(again) == "replayed");
    CHECK(has_challenge(again, "DPoP realm=\"api\", error=\"invalid_token\""));
  }
  SECTION("for another method") {
    auto r = shop.call("GET", "/orders", with(signer->proof("POST", url, token->access_token).value()));
    CHECK(r.status == 401);
    CHECK(error_of(r) == "bad_proof");
    CHECK(has_challenge(r, "DPoP realm=\"api\", error=\"invalid_dpop_proof\", algs=\""));
    CHECK(has_challenge(r, "Bearer realm=\"api\""));
  }
  SECTION("for another URL") {
    auto r = shop.call("GET", "/orders", with(signer->proof("GET", shop.base + "/billing", token->access_token).value()));
    CHECK(error_of(r) == "bad_proof");
  }
  SECTION("with a wrong ath") {
    auto r = shop.call("GET", "/orders", with(signer->proof("GET", url, "another-token").value()));
    CHECK(error_of(r) == "bad_proof");
  }
  SECTION("signed by a key that does not match cnf.jkt") {
    DpopSigner other(Key::generate(Alg::ES256));
    auto r = shop.call("GET", "/orders", with(other.proof("GET", url, token->access_token).value()));
    CHECK(r.status == 401);
    CHECK(error_of(r) == "bad_binding");
    CHECK(has_challenge(r, "DPoP realm=\"api\", error=\"invalid_token\""));
  }
  SECTION("with an old iat") {
    DpopSigner late(Key::generate(Alg::ES256), std::nullopt, [] { return std::chrono::system_clock::now() - 120s; });
    // The key differs as well; the age is checked first, with the proof itself.
    auto r = shop.call("GET", "/orders", with(late.proof("GET", url, token->access_token).value()));
    CHECK(error_of(r) == "bad_proof");
  }
  SECTION("without a proof, or with two") {
    auto r = shop.call("GET", "/orders", {{"Authorization", "DPoP " + token->access_token}});
    CHECK(error_of(r) == "bad_proof");
    const std::string proof = signer->proof("GET", url, token->access_token).value();
    auto two = shop.call("GET", "/orders", {{"Authorization", "DPoP " + token->access_token}, {"DPoP", proof}, {"DPoP", proof}});
    CHECK(error_of(two) == "bad_proof");
  }
  SECTION("the bound token as a Bearer token") {
    auto r = shop.call("GET", "/orders", {{"Authorization", "Bearer " + token->access_token}});
    CHECK(r.status == 401);
    CHECK(error_of(r) == "bad_binding");
    CHECK(has_challenge(r, "Bearer realm=\"api\", error=\"invalid_token\""));
  }
  SECTION("no token: both schemes are offered") {
    auto r = shop.call("GET", "/orders", {});
    CHECK(r.status == 401);
    CHECK(has_challenge(r, "Bearer realm=\"api\""));
    CHECK(has_challenge(r, "DPoP realm=\"api\", algs=\""));
  }
}

TEST_CASE("dpop http: server nonces, at the resource and at the token endpoint", "[dpop][http]") {
  SECTION("the resource asks, the client remembers and calls again") {
    Shop shop;
    auto signer = std::make_shared<DpopSigner>(Key::generate(Alg::ES256));
    auto token = shop.credentials("svc", "secret-svc", signer)->token("orders", {"orders:read"});
    REQUIRE(token);
    const std::string url = shop.base + "/nonce/orders";
    auto first = shop.call("GET", "/nonce/orders", {{"Authorization", "DPoP " + token->access_token},
                                                    {"DPoP", signer->proof("GET", url, token->access_token).value()}});
    CHECK(first.status == 401);
    CHECK(error_of(first) == "use_dpop_nonce");
    CHECK(has_challenge(first, "DPoP realm=\"api\", error=\"use_dpop_nonce\""));
    auto nonce = first.header("DPoP-Nonce");
    REQUIRE(nonce);
    CHECK(*nonce == kNonce);
    signer->remember_nonce(url, *nonce);
    auto second = shop.call("GET", "/nonce/orders", {{"Authorization", "DPoP " + token->access_token},
                                                     {"DPoP", signer->proof("GET", url, token->access_token).value()}});
    CHECK(second.status == 200);
  }
  SECTION("the token endpoint asks; ClientCredentials retries once with the nonce") {
    Shop shop(true);
    auto signer = std::make_shared<DpopSigner>(Key::generate(Alg::ES256));
    auto cc = shop.credentials("svc", "secret-svc", signer);
    auto token = cc->token("orders", {"orders:read"});
    REQUIRE(token);
    CHECK(token->token_type == "DPoP");
    CHECK(cc->stats().requests == 2);
    // The nonce is remembered for the endpoint's origin: a new token needs one request.
    auto again = shop.credentials("svc", "secret-svc", signer);
    REQUIRE(again->token("orders", {"orders:read"}));
    CHECK(again->stats().requests == 1);
    // A raw request whose proof lacks the nonce: 400 use_dpop_nonce with the nonce.
    DpopSigner fresh(Key::generate(Alg::ES256));
    const auto token_request = [&](const std::string& proof) {
      return shop.call("POST", "/token",
                       {{"Content-Type", "application/x-www-form-urlencoded"},
                        {"DPoP", proof},
                        {"Authorization", "Basic " + tp_test::ossl::base64("svc:secret-svc")}},
                       "grant_type=client_credentials");
    };
    auto r = token_request(fresh.proof("POST", shop.endpoint->token_endpoint()).value());
    CHECK(r.status == 400);
    CHECK(error_of(r) == "use_dpop_nonce");
    CHECK(r.header("DPoP-Nonce").value_or("") == kNonce);
    CHECK(r.header("Cache-Control").value_or("") == "no-store");
    // A proof for another URL, or one used before, is invalid_dpop_proof.
    auto elsewhere = token_request(fresh.proof("POST", shop.base + "/other", {}, kNonce).value());
    CHECK(elsewhere.status == 400);
    CHECK(error_of(elsewhere) == "invalid_dpop_proof");
    const std::string proof = fresh.proof("POST", shop.endpoint->token_endpoint(), {}, kNonce).value();
    auto good = token_request(proof);
    CHECK(good.status == 200);
    CHECK(json::parse(good.body)["token_type"] == "DPoP");
    CHECK(error_of(token_request(proof)) == "invalid_dpop_proof");
  }
}

TEST_CASE("introspection http: opaque tokens checked through the issuer's introspection endpoint",
          "[introspection][http]") {
  Shop shop;
  auto token = shop.credentials("opaque-svc", "secret-opaque", nullptr)->token("orders", {"orders:read"});
  REQUIRE(token);
  CHECK(token->token_type == "Bearer");
  CHECK(token->access_token.find('.') == std::string::npos);

  // Active: accepted, and answered from the cache the second time.
  auto ok = shop.call("GET", "/orders", {{"Authorization", "Bearer " + token->access_token}});
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  CHECK(json::parse(ok.body)["sub"] == "opaque-svc");
  CHECK(json::parse(ok.body)["introspected"] == true);
  CHECK(shop.call("GET", "/orders", {{"Authorization", "Bearer " + token->access_token}}).status == 200);
  CHECK(shop.introspector->stats().requests == 1);
  CHECK(shop.introspector->stats().cache_hits == 1);

  // Inactive: an opaque token the issuer does not know; cached for negative_ttl.
  auto unknown = shop.call("GET", "/orders", {{"Authorization", "Bearer not-a-token-of-ours"}});
  CHECK(unknown.status == 401);
  CHECK(error_of(unknown) == "inactive");
  CHECK(has_challenge(unknown, "Bearer realm=\"api\", error=\"invalid_token\""));
  shop.call("GET", "/orders", {{"Authorization", "Bearer not-a-token-of-ours"}});
  CHECK(shop.introspector->stats().requests == 2);

  // The endpoint itself: who may ask, and what it says.
  const auto ask = [&](const std::string& id, const std::string& secret, const std::string& t) {
    return shop.call("POST", "/introspect",
                     {{"Content-Type", "application/x-www-form-urlencoded"},
                      {"Authorization", "Basic " + tp_test::ossl::base64(id + ":" + secret)}},
                     tokenpass::form_encode({{"token", t}}));
  };
  auto answer = ask("resource", "secret-resource", token->access_token);
  REQUIRE(answer.status == 200);
  auto body = json::parse(answer.body);
  CHECK(body["active"] == true);
  CHECK(body["iss"] == shop.base);
  CHECK(body["client_id"] == "opaque-svc");
  CHECK(body["scope"] == "orders:read");
  CHECK(body["token_type"] == "Bearer");
  CHECK(answer.header("Cache-Control").value_or("") == "no-store");
  CHECK(ask("svc", "secret-svc", token->access_token).status == 403);
  CHECK(ask("resource", "wrong", token->access_token).status == 401);
  CHECK(json::parse(ask("resource", "secret-resource", "nope").body) == json{{"active", false}});
  // Its own JWTs: active while their signature, issuer and exp hold; bound ones say so.
  auto signer = std::make_shared<DpopSigner>(Key::generate(Alg::ES256));
  auto bound = shop.credentials("svc", "secret-svc", signer)->token("orders", {"orders:read"});
  REQUIRE(bound);
  auto jwt = json::parse(ask("resource", "secret-resource", bound->access_token).body);
  CHECK(jwt["active"] == true);
  CHECK(jwt["token_type"] == "DPoP");
  CHECK(jwt["cnf"]["jkt"] == signer->jkt());
  std::string tampered = bound->access_token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  CHECK(json::parse(ask("resource", "secret-resource", tampered).body)["active"] == false);
}

TEST_CASE("introspection http: one request per token for 16 threads, and an outage is 503 and not cached",
          "[introspection][http]") {
  Shop shop;
  auto token = shop.credentials("opaque-svc", "secret-opaque", nullptr)->token("orders", {"orders:read"});
  REQUIRE(token);
  auto http = std::make_shared<CountingClient>();
  tokenpass::IntrospectionOptions io;
  io.endpoint = shop.base + "/introspect";
  io.client_id = "resource";
  io.client_secret = "secret-resource";
  io.allow_http = true;
  tokenpass::Introspector introspector(io, http);
  std::vector<std::thread> threads;
  std::atomic<int> active{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto r = introspector.introspect(token->access_token);
      if (r && (*r)["active"] == true) ++active;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(active == 16);
  CHECK(http->sent == 1);
  CHECK(introspector.stats().requests == 1);
  CHECK(introspector.stats().cache_hits + introspector.stats().shared == 15);

  // Nobody listening: http_error, through the resolver a 503 without a challenge.
  tokenpass::IntrospectionOptions down = io;
  down.endpoint = "http://127.0.0.1:1/introspect";
  auto down_http = std::make_shared<CountingClient>();
  tokenpass::Introspector nowhere(down, down_http);
  for (int i = 0; i < 2; ++i) {
    auto r = nowhere.introspect(token->access_token);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::http_error);
  }
  CHECK(down_http->sent == 2);  // failures are not cached
  tokenpass::Policy p;
  p.issuers = {shop.base};
  p.audiences = {"orders"};
  tokenpass::TokenResolverOptions ro;
  ro.introspector = std::make_shared<tokenpass::Introspector>(down, down_http);
  tokenpass::TokenResolver resolver(
      std::make_shared<tokenpass::Verifier>(tokenpass::KeySet::from_public_jwks(json::parse(shop.endpoint->jwks())).value(), p),
      nullptr, ro);
  const std::string value = "Bearer " + token->access_token;
  auto r = resolver.resolve([&](std::string_view name) {
    return tokenpass::header_name_equals(name, "Authorization") ? std::vector<std::string>{value}
                                                                 : std::vector<std::string>{};
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::http_error);
  CHECK(tokenpass::http_status(r.error()) == 503);
}

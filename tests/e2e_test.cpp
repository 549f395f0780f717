// The three propagation patterns end to end, through real HTTP on 127.0.0.1: the demo
// shop's token service, gateway, billing and product services (examples/services)
// running in this process.
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "services/services.h"
#include "support/catch.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::Alg;

namespace {

struct Reply {
  int status = 0;
  std::string challenge;
  json body;
};

class ShopFixture {
 public:
  tokenpass::Key key = tokenpass::Key::generate(Alg::ES256, {"shop-key", 2048, {}});
  std::unique_ptr<shop::TokenService> tokens;
  std::unique_ptr<shop::Trust> trust;
  std::unique_ptr<shop::Product> product;
  std::unique_ptr<shop::Billing> billing;
  std::unique_ptr<shop::Gateway> gateway;
  std::shared_ptr<tokenpass::HttpClient> http = std::make_shared<tokenpass::HttplibClient>();

  explicit ShopFixture(const std::string& billing_secret = "billing-secret",
                       std::shared_ptr<const tokenpass::ReplayStore> product_replays = nullptr) {
    std::ifstream in(TOKENPASS_EXAMPLES_DIR "/token_service.json");
    tokens = std::make_unique<shop::TokenService>(
        shop::TokenServiceConfig::from_json(json::parse(in)), key);
    REQUIRE(tokens->start());
    trust = std::make_unique<shop::Trust>(shop::Trust::connect(tokens->url()));
    product = std::make_unique<shop::Product>(*trust, product_replays);
    REQUIRE(product->start());
    billing = std::make_unique<shop::Billing>(*trust, product->url(), "billing", billing_secret,
                                              product_replays != nullptr);
    REQUIRE(billing->start());
    gateway = std::make_unique<shop::Gateway>(*trust, billing->url());
    REQUIRE(gateway->start());
  }

  Reply post(const std::string& url, const tokenpass::HttpHeaders& headers,
             const std::string& body = "{\"item\":42}") const {
    tokenpass::HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = body;
    auto res = http->send(req);
    REQUIRE(res);
    return Reply{res->status, res->header("WWW-Authenticate").value_or(""),
                 json::parse(res->body, nullptr, false)};
  }
  std::string login(const std::string& user, const std::string& password) const {
    const auto r = post(gateway->url() + "/login",
                        {{"Content-Type", "application/x-www-form-urlencoded"}},
                        "username=" + user + "&password=" + password);
    REQUIRE(r.status == 200);
    return r.body["access_token"].get<std::string>();
  }
  // mint: a token from the token service's own key, with claims the test chooses.
  std::string mint(const std::function<void(tokenpass::ClaimsBuilder&)>& edit,
                   const tokenpass::Key* signer = nullptr) const {
    tokenpass::IssuerOptions io;
    io.typ = "at+jwt";
    io.audience = {"gateway", "billing", "product"};
    tokenpass::ClaimsBuilder c;
    c.subject("alice").client_id("shop-web").scopes({"orders:write"});
    edit(c);
    return tokenpass::Issuer(signer ? *signer : key, tokens->url(), 5min, io).issue(c).value();
  }
  static tokenpass::HttpHeaders bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  // service_token: a client-credentials token of `client` for `audience`.
  std::string service_token(const std::string& client, const std::string& secret,
                            const std::string& audience, const std::string& scope) const {
    tokenpass::ClientCredentialsOptions cc;
    cc.token_endpoint = tokens->url() + "/token";
    cc.client_id = client;
    cc.client_secret = secret;
    cc.allow_http = true;
    auto t = tokenpass::ClientCredentials(cc, http).token(audience, {scope});
    REQUIRE(t);
    return t->access_token;
  }
  std::string hop(const std::string& name) const {
    if (name == "gateway") return gateway->url() + "/orders";
    if (name == "billing") return billing->url() + "/charge";
    return product->url() + "/reserve";
  }
};

}  // namespace

TEST_CASE("a user order passes gateway, billing and product with both tokens", "[e2e]") {
  ShopFixture shop;
  const std::string user = shop.login("alice", "wonderland");
  const Reply r = shop.post(shop.gateway->url() + "/orders", ShopFixture::bearer(user));
  REQUIRE(r.status == 200);
  CHECK(r.body["charged"] == "alice");       // billing saw the forwarded user token
  CHECK(r.body["for_user"] == "alice");      // product saw it too
  CHECK(r.body["requested_by"] == "billing");  // and billing's own service token
  CHECK(shop.billing->credentials().stats().requests == 1);
  // The service token is cached: more orders, no more token requests.
  for (int i = 0; i < 3; ++i) {
    CHECK(shop.post(shop.gateway->url() + "/orders", ShopFixture::bearer(user)).status == 200);
  }
  CHECK(shop.billing->credentials().stats().requests == 1);
}

TEST_CASE("a wrong password gets no token", "[e2e]") {
  ShopFixture shop;
  const auto r = shop.post(shop.gateway->url() + "/login",
                           {{"Content-Type", "application/x-www-form-urlencoded"}},
                           "username=alice&password=guess");
  CHECK(r.status == 401);
  CHECK(r.body["error"] == "invalid_grant");
}

TEST_CASE("each hop rejects a missing, expired, wrong-audience or forged token", "[e2e]") {
  ShopFixture shop;
  const auto expired = shop.mint([](tokenpass::ClaimsBuilder& c) {
    c.issued_at(std::chrono::system_clock::now() - 10min)
        .expires_at(std::chrono::system_clock::now() - 1min);
  });
  const auto wrong_aud = shop.mint([](tokenpass::ClaimsBuilder& c) { c.audience("elsewhere"); });
  const tokenpass::Key forger = tokenpass::Key::generate(Alg::ES256, {"shop-key", 2048, {}});
  const auto forged = shop.mint([](tokenpass::ClaimsBuilder&) {}, &forger);
  for (const std::string hop : {"gateway", "billing", "product"}) {
    INFO(hop);
    const Reply none = shop.post(shop.hop(hop), {});
    CHECK(none.status == 401);
    CHECK(none.challenge == "Bearer realm=\"" + hop + "\"");  // RFC 6750 §3.1: no error code
    for (const auto& token : {expired, wrong_aud, forged}) {
      const Reply r = shop.post(shop.hop(hop), ShopFixture::bearer(token));
      CHECK(r.status == 401);
      CHECK(r.challenge == "Bearer realm=\"" + hop + "\", error=\"invalid_token\"");
    }
    const Reply bad_syntax = shop.post(shop.hop(hop), {{"Authorization", "Bearer a b"}});
    CHECK(bad_syntax.status == 400);
    CHECK(bad_syntax.challenge == "Bearer realm=\"" + hop + "\", error=\"invalid_request\"");
  }
  // The codes behind them.
  CHECK(shop.post(shop.hop("gateway"), ShopFixture::bearer(expired)).body["error"] == "expired");
  CHECK(shop.post(shop.hop("gateway"), ShopFixture::bearer(wrong_aud)).body["error"] == "bad_audience");
  CHECK(shop.post(shop.hop("gateway"), ShopFixture::bearer(forged)).body["error"] == "bad_signature");
}

TEST_CASE("an under-scoped user gets 403 with the scope it lacks", "[e2e]") {
  ShopFixture shop;
  const std::string bob = shop.login("bob", "builder");  // orders:read only
  const std::string gateway = shop.service_token("gateway", "gateway-secret", "billing", "billing:charge");
  for (const std::string hop : {"gateway", "billing"}) {
    INFO(hop);
    tokenpass::HttpHeaders headers = ShopFixture::bearer(bob);
    if (hop == "billing") headers.emplace_back("X-MS-TOKEN", gateway);
    const Reply r = shop.post(shop.hop(hop), headers);
    CHECK(r.status == 403);
    CHECK(r.challenge ==
          "Bearer realm=\"" + hop + "\", error=\"insufficient_scope\", scope=\"orders:write\"");
  }
}

TEST_CASE("product needs billing's service token besides the user's", "[e2e]") {
  ShopFixture shop;
  const std::string user = shop.login("alice", "wonderland");
  // The user token alone (a client calling product directly): no service token.
  const Reply alone = shop.post(shop.hop("product"), ShopFixture::bearer(user));
  CHECK(alone.status == 401);
  CHECK(alone.body["error"] == "no_token");
  // A service token of another client (the gateway's, meant for billing).
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = shop.tokens->url() + "/token";
  cc.client_id = "gateway";
  cc.client_secret = "gateway-secret";
  cc.allow_http = true;
  const tokenpass::ClientCredentials gateway_creds(cc, shop.http);
  const auto other = gateway_creds.token("billing", {"billing:charge"});
  REQUIRE(other);
  tokenpass::HttpHeaders headers = ShopFixture::bearer(user);
  headers.emplace_back("X-MS-TOKEN", other->access_token);
  const Reply wrong = shop.post(shop.hop("product"), headers);
  CHECK(wrong.status == 401);
  CHECK(wrong.body["error"] == "bad_audience");
  // A user token in the service header is refused too: it is no service token.
  headers.back().second = user;
  const Reply user_as_service = shop.post(shop.hop("product"), headers);
  CHECK(user_as_service.status == 401);
  CHECK(user_as_service.body["error"] == "bad_type");
}

TEST_CASE("user and service tokens are told apart, and billing cannot be called past the gateway",
          "[e2e][roles]") {
  // Issue 14 item 8 (RFC 8725 §3.12): a service token is never taken for a user's, and a
  // user token alone does not reach billing.
  ShopFixture shop;
  const std::string user = shop.login("alice", "wonderland");
  const std::string billing = shop.service_token("billing", "billing-secret", "product", "product:reserve");
  const std::string gateway = shop.service_token("gateway", "gateway-secret", "billing", "billing:charge");
  // Billing's service token as "the user's" at product (both headers): bad_type.
  const Reply as_user = shop.post(shop.hop("product"), {{"Authorization", "Bearer " + billing},
                                                        {"X-MS-TOKEN", billing}});
  CHECK(as_user.status == 401);
  CHECK(as_user.body["error"] == "bad_type");
  // The user's token straight at billing, skipping the gateway: no service token.
  const Reply direct = shop.post(shop.hop("billing"), ShopFixture::bearer(user));
  CHECK(direct.status == 401);
  CHECK(direct.body["error"] == "no_token");
  // With the gateway's token it is served (what the gateway itself sends).
  tokenpass::HttpHeaders via_gateway = ShopFixture::bearer(user);
  via_gateway.emplace_back("X-MS-TOKEN", gateway);
  const Reply ok = shop.post(shop.hop("billing"), via_gateway);
  CHECK(ok.status == 200);
  CHECK(ok.body["charged"] == "alice");
  // Billing's token in the gateway's place: not the calling service billing expects.
  via_gateway.back().second = billing;
  CHECK(shop.post(shop.hop("billing"), via_gateway).status == 401);
}

TEST_CASE("unknown names cost the same PBKDF2 work, and failed logins are throttled",
          "[e2e][login]") {
  ShopFixture shop;
  const auto attempt = [&](const std::string& user, const std::string& password) {
    return shop.post(shop.tokens->url() + "/login",
                     {{"Content-Type", "application/x-www-form-urlencoded"}},
                     "username=" + user + "&password=" + password);
  };
  auto before = shop.tokens->pbkdf2_runs();
  CHECK(attempt("alice", "guess").status == 401);
  CHECK(shop.tokens->pbkdf2_runs() == before + 1);
  before = shop.tokens->pbkdf2_runs();
  CHECK(attempt("nobody", "guess").status == 401);  // no such user: the same work
  CHECK(shop.tokens->pbkdf2_runs() == before + 1);

  // Five failures for a name within a minute: the sixth attempt, even with the right
  // password, is 429 with Retry-After, and no secret is checked.
  for (int i = 0; i < 4; ++i) CHECK(attempt("alice", "guess").status == 401);
  before = shop.tokens->pbkdf2_runs();
  const Reply throttled = attempt("alice", "wonderland");
  CHECK(throttled.status == 429);
  CHECK(shop.tokens->pbkdf2_runs() == before);
  CHECK(attempt("bob", "builder").status == 200);  // another name is not affected

  // Twenty failures from one address across names: that address is throttled too.
  for (int i = 0; i < 14; ++i) CHECK(attempt("user" + std::to_string(i), "x").status == 401);
  CHECK(attempt("bob", "builder").status == 429);
}

TEST_CASE("a token service that refuses billing's credentials is a 500 along the chain", "[e2e]") {
  // invalid_client is billing's own misconfiguration, not an outage to wait out (503).
  ShopFixture shop("not-the-secret");
  const std::string user = shop.login("alice", "wonderland");
  const Reply r = shop.post(shop.gateway->url() + "/orders", ShopFixture::bearer(user));
  CHECK(r.status == 500);
  CHECK(r.body["error"] == "token_request_refused");
  CHECK(r.challenge.empty());
  CHECK(shop.billing->credentials().stats().failures == 1);
}

TEST_CASE("token exchange gives a token for another audience that keeps the user", "[e2e][exchange]") {
  ShopFixture shop;
  const std::string user = shop.login("alice", "wonderland");
  auto at_gateway = shop.trust->verifier("gateway")->verify(user);
  REQUIRE(at_gateway);
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = shop.tokens->url() + "/token";
  cc.client_id = "gateway";
  cc.client_secret = "gateway-secret";
  cc.auth = tokenpass::ClientAuth::client_secret_post;
  cc.allow_http = true;
  auto exchange = std::make_shared<const tokenpass::TokenExchange>(cc, shop.http);
  tokenpass::Outbound out = tokenpass::Outbound::exchange(exchange);
  out.allow("billing", {"billing", {"orders:write"}});
  auto headers = out.headers_for("billing", *at_gateway);
  REQUIRE(headers);
  const std::string exchanged = headers->front().second.substr(7);
  auto at_billing = shop.trust->verifier("billing")->verify(exchanged);
  REQUIRE(at_billing);
  CHECK(at_billing->claims().subject() == "alice");
  CHECK(at_billing->claims().audience() == std::vector<std::string>{"billing"});
  CHECK((*at_billing->claims().get("act"))["sub"] == "gateway");
  // Cached per subject token and audience.
  REQUIRE(out.headers_for("billing", *at_gateway));
  CHECK(exchange->stats().requests == 1);
  // A scope the user does not hold cannot be had by exchange.
  tokenpass::Outbound greedy = tokenpass::Outbound::exchange(exchange);
  greedy.allow("billing", {"billing", {"admin"}});
  CHECK(greedy.headers_for("billing", *at_gateway).error().code ==
        tokenpass::errc::token_request_refused);
}

TEST_CASE("single-use service tokens: a new one per call, and a replay is refused", "[e2e][replay]") {
  // Issue 16: product accepts each of billing's service tokens once; billing asks for a
  // new one for every call (the token service issues billing short single-use tokens).
  auto replays = std::make_shared<tokenpass::MemoryReplayStore>();
  ShopFixture shop("billing-secret", replays);
  const std::string user = shop.login("alice", "wonderland");
  for (int i = 0; i < 3; ++i) {
    const Reply r = shop.post(shop.gateway->url() + "/orders", ShopFixture::bearer(user));
    REQUIRE(r.status == 200);
    CHECK(r.body["requested_by"] == "billing");
  }
  CHECK(shop.billing->credentials().stats().requests == 3);  // one token per call
  CHECK(replays->stats().accepted == 3);
  // A captured service token, used once, then replayed: 401 replayed.
  const std::string captured =
      shop.service_token("billing", "billing-secret", "product", "product:reserve");
  tokenpass::HttpHeaders headers = ShopFixture::bearer(user);
  headers.emplace_back("X-MS-TOKEN", captured);
  CHECK(shop.post(shop.hop("product"), headers).status == 200);
  const Reply again = shop.post(shop.hop("product"), headers);
  CHECK(again.status == 401);
  CHECK(again.body["error"] == "replayed");
  CHECK(again.challenge == "Bearer realm=\"product\", error=\"invalid_token\"");
}

#include "tokenpass/token_endpoint.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/client_credentials.h"
#include "tokenpass/issuer.h"
#include "tokenpass/jws.h"
#include "tokenpass/verifier.h"

// TokenEndpoint served by mount_token_endpoint on a real cpp-httplib server on
// 127.0.0.1, driven over HTTP with HttplibClient (raw requests, so that malformed ones
// can be crafted) and with the library's own ClientCredentials and TokenExchange. Issued
// tokens are checked with a Verifier built from the JWKS the endpoint serves. Real time
// throughout; nothing is asserted about how long anything took.

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::Alg;
using tokenpass::ClientAuth;
using tokenpass::ClientRecord;
using tokenpass::HttpHeaders;
using tokenpass::HttpResponse;
using tokenpass::Key;
using tokenpass::KeySet;
using tokenpass::SecretHash;
using tokenpass::TokenEndpoint;
using tokenpass::TokenEndpointOptions;

namespace {

constexpr int kIterations = 1000;  // PBKDF2 work, low to keep the tests fast
constexpr const char* kForm = "application/x-www-form-urlencoded";
constexpr const char* kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
constexpr const char* kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const std::string kCC(tokenpass::kClientCredentialsGrant);
const std::string kExchange(tokenpass::kTokenExchangeGrant);

// A client id and secret with ':', space, '+', '%', non-ASCII (é, ü) and more.
const std::string kWeirdId = "we:ird +%\xC3\xA9";
const std::string kWeirdSecret = "s:e +%\xC3\xBC/=&?";

// Every audience a client below may get, for the verifier of issued tokens.
const std::vector<std::string> kAllAudiences = {
    "orders-api", "billing-api", "https://api.example/orders", "https://api.example/billing",
    "not-a-uri",  "https://x/#frag", "x-api", "y-api", "w-api"};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return sorted(out);
}

long long now_secs() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// enc: one value application/x-www-form-urlencoded.
std::string enc(const std::string& s) { return tokenpass::form_encode({{"x", s}}).substr(2); }

// basic: an RFC 6749 §2.3.1 Basic header value: both parts form-encoded, then Base64.
std::string basic(const std::string& id, const std::string& secret, const std::string& scheme = "Basic") {
  return scheme + " " + tp_test::ossl::base64(enc(id) + ":" + enc(secret));
}

ClientRecord secret_client(std::string id, const std::string& secret, std::vector<std::string> scopes,
                           std::vector<std::string> audiences, std::vector<std::string> defaults = {}) {
  ClientRecord c;
  c.id = std::move(id);
  c.secret = SecretHash::make(secret, kIterations);
  c.scopes = std::move(scopes);
  c.audiences = std::move(audiences);
  c.default_audiences = std::move(defaults);
  return c;
}

class Fixture;
using Configure = std::function<void(Fixture&, TokenEndpointOptions&)>;

// Fixture: an httplib::Server bound to 127.0.0.1 first (its URL is the issuer), then a
// TokenEndpoint with the clients below, mounted, then listening. Stopped at the end.
//  - svc-a / secret-a: client_credentials; three scopes; six audiences, default orders-api
//  - svc-b / secret-b: one scope, two audiences, no default (both are)
//  - kWeirdId / kWeirdSecret: one scope, audience w-api
//  - exchanger / secret-ex: client_credentials and token exchange
//  - jwt-client: private_key_jwt only, with the public half of assertion_key
class Fixture {
 public:
  explicit Fixture(const Configure& configure = {}, tokenpass::TokenEndpointMountOptions mount = {}) {
    server_.set_payload_max_length(64 * 1024);
    server_.set_read_timeout(10, 0);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("Fixture: cannot bind to 127.0.0.1");
    base = "http://127.0.0.1:" + std::to_string(port_);
    TokenEndpointOptions o;
    o.issuer = base;
    o.unknown_client_iterations = kIterations;
    o.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> g(log_mu_);
      log_.push_back(line);
    };
    if (configure) configure(*this, o);
    endpoint = std::make_shared<TokenEndpoint>(key, std::make_shared<tokenpass::MemoryClientRegistry>(clients()),
                                               o);
    tokenpass::mount_token_endpoint(server_, endpoint, mount);
    auto ended = std::make_shared<std::atomic<bool>>(false);
    thread_ = std::thread([this, ended] {
      server_.listen_after_bind();
      *ended = true;
    });
    // cpp-httplib's stop() does nothing until the accept loop has started.
    while (!server_.is_running() && !*ended) std::this_thread::sleep_for(1ms);
  }
  ~Fixture() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  std::vector<ClientRecord> clients() const {
    std::vector<ClientRecord> out;
    out.push_back(secret_client("svc-a", "secret-a", {"orders:read", "orders:write", "billing:read"},
                                {"orders-api", "billing-api", "https://api.example/orders",
                                 "https://api.example/billing", "not-a-uri", "https://x/#frag"},
                                {"orders-api"}));
    out.push_back(secret_client("svc-b", "secret-b", {"x:read"}, {"x-api", "y-api"}));
    out.push_back(secret_client(kWeirdId, kWeirdSecret, {"w"}, {"w-api"}));
    ClientRecord ex = secret_client("exchanger", "secret-ex", {"orders:read"}, {"orders-api", "billing-api"});
    ex.grant_types = {kCC, kExchange};
    out.push_back(ex);
    ClientRecord jwt;
    jwt.id = "jwt-client";
    jwt.assertion_keys = KeySet({assertion_key.public_key().value()});
    jwt.auth_methods = {ClientAuth::private_key_jwt};
    jwt.scopes = {"orders:read"};
    jwt.audiences = {"orders-api"};
    out.push_back(jwt);
    return out;
  }

  std::string url(const std::string& path) const { return base + path; }

  HttpResponse send(const std::string& method, const std::string& url, HttpHeaders headers, std::string body) {
    tokenpass::HttpRequest r;
    r.method = method;
    r.url = url;
    r.headers = std::move(headers);
    r.body = std::move(body);
    r.timeout = 20000ms;
    auto res = http->send(r);
    INFO("request failed: " << (res ? std::string() : res.error().detail));
    REQUIRE(res);
    return *res;
  }

  // post: a raw POST to the token endpoint (Content-Type `type` unless empty).
  HttpResponse post(HttpHeaders headers, std::string body, const std::string& type = kForm) {
    if (!type.empty()) headers.emplace_back("Content-Type", type);
    return send("POST", endpoint->token_endpoint(), std::move(headers), std::move(body));
  }
  HttpResponse post_basic(const std::string& id, const std::string& secret, const HttpHeaders& params) {
    return post({{"Authorization", basic(id, secret)}}, tokenpass::form_encode(params));
  }
  HttpResponse get(const std::string& path) { return send("GET", url(path), {}, {}); }

  // verifier: from the JWKS fetched over HTTP from the endpoint's jwks_uri.
  const tokenpass::Verifier& verifier() {
    if (!verifier_) {
      const HttpResponse r = send("GET", endpoint->jwks_uri(), {}, {});
      REQUIRE(r.status == 200);
      auto keys = KeySet::from_public_jwks(json::parse(r.body));
      REQUIRE(keys);
      REQUIRE(keys->size() == 1);
      verifier_.emplace(*keys, tokenpass::Policy::access_token_profile({base}, kAllAudiences));
    }
    return *verifier_;
  }
  tokenpass::VerifiedToken verify(const std::string& token) {
    auto r = verifier().verify(token);
    INFO("verify: " << (r ? std::string("ok") : std::string(tokenpass::to_string(r.error().code))));
    REQUIRE(r);
    return *r;
  }

  std::uint64_t secret_checks() const { return endpoint->stats().secret_checks; }
  std::vector<std::string> log() const {
    std::lock_guard<std::mutex> g(log_mu_);
    return log_;
  }

  // Subject and actor tokens for token exchange.
  std::string subject_token(const Key& signer, std::chrono::seconds lifetime = 60s, json act = nullptr) const {
    tokenpass::IssuerOptions io;
    io.typ = "at+jwt";
    tokenpass::Issuer issuer(signer, base, lifetime, io);
    tokenpass::ClaimsBuilder c;
    c.subject("alice").client_id("web-app").scopes({"orders:read", "orders:write"}).audience("gateway");
    c.jwt_id("subject-" + std::to_string(++counter_));
    if (!act.is_null()) c.claim("act", std::move(act));
    auto t = issuer.issue(c);
    REQUIRE(t);
    return *t;
  }
  std::string actor_token(const std::string& sub) const {
    tokenpass::Issuer issuer(actor_key, "https://actors.example", 60s);
    tokenpass::ClaimsBuilder c;
    c.subject(sub).audience("token-service");
    auto t = issuer.issue(c);
    REQUIRE(t);
    return *t;
  }

  // A private_key_jwt assertion signed with `signer`.
  json assertion_claims() const {
    const long long now = now_secs();
    return {{"iss", "jwt-client"},
            {"sub", "jwt-client"},
            {"aud", endpoint->token_endpoint()},
            {"iat", now},
            {"exp", now + 60},
            {"jti", "assertion-" + std::to_string(++counter_)}};
  }
  static std::string sign(const Key& signer, const json& claims) {
    auto r = tokenpass::sign_jws(signer, claims.dump());
    REQUIRE(r);
    return *r;
  }
  HttpResponse post_assertion(const std::string& assertion, HttpHeaders extra = {}) {
    HttpHeaders params = {{"grant_type", kCC}, {"client_assertion_type", kJwtBearer}, {"client_assertion", assertion}};
    for (auto& p : extra) params.push_back(std::move(p));
    return post({}, tokenpass::form_encode(params));
  }

  tokenpass::ClientCredentialsOptions client_options(const std::string& id, const std::string& secret) const {
    tokenpass::ClientCredentialsOptions o;
    o.token_endpoint = endpoint->token_endpoint();
    o.client_id = id;
    o.client_secret = secret;
    o.allow_http = true;
    o.timeout = 20000ms;
    return o;
  }

  const Key key = Key::generate(Alg::ES256);            // the endpoint's signing key
  const Key assertion_key = Key::generate(Alg::ES256);  // jwt-client's
  const Key actor_key = Key::generate(Alg::ES256);      // signs actor tokens
  const Key other_key = Key::generate(Alg::ES256);      // trusted by nobody
  std::string base;
  std::shared_ptr<TokenEndpoint> endpoint;
  std::shared_ptr<tokenpass::HttplibClient> http = std::make_shared<tokenpass::HttplibClient>();

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::optional<tokenpass::Verifier> verifier_;
  mutable std::mutex log_mu_;
  std::vector<std::string> log_;
  mutable int counter_ = 0;
};

// Token exchange offered: subject tokens are the endpoint's own at+jwt tokens for
// "gateway"; with `actors`, actor tokens from https://actors.example for "token-service".
Configure exchange(bool actors = false) {
  return [actors](Fixture& f, TokenEndpointOptions& o) {
    o.subject_tokens = std::make_shared<tokenpass::Verifier>(
        KeySet({f.key.public_key().value()}), tokenpass::Policy::access_token_profile({f.base}, {"gateway"}));
    if (actors) {
      tokenpass::Policy p;
      p.issuers = {"https://actors.example"};
      p.audiences = {"token-service"};
      o.actor_tokens = std::make_shared<tokenpass::Verifier>(KeySet({f.actor_key.public_key().value()}), p);
    }
  };
}

std::string header_or(const HttpResponse& r, const std::string& name) {
  return r.header(name).value_or("<absent>");
}

// check_no_store: RFC 6749 §5.1 headers and a JSON body type, on every answer.
void check_no_store(const HttpResponse& r) {
  INFO("status " << r.status << ", body " << r.body);
  CHECK(header_or(r, "Cache-Control") == "no-store");
  CHECK(header_or(r, "Pragma") == "no-cache");
  CHECK(header_or(r, "Content-Type") == "application/json");
}

json parse_object(const HttpResponse& r) {
  INFO("body " << r.body);
  const json j = json::parse(r.body, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

// check_error: an RFC 6749 §5.2 answer with this status and error code.
void check_error(const HttpResponse& r, int status, const std::string& error) {
  INFO("status " << r.status << ", body " << r.body);
  CHECK(r.status == status);
  check_no_store(r);
  const json j = parse_object(r);
  CHECK(j.value("error", std::string("<absent>")) == error);
  CHECK((j.contains("error_description") && j["error_description"].is_string()));
}

// check_basic_challenge: the WWW-Authenticate of a 401 invalid_client.
void check_basic_challenge(const HttpResponse& r, const Fixture& f) {
  CHECK(header_or(r, "WWW-Authenticate") == "Basic realm=\"" + f.base + "\"");
}

// check_token: a §5.1 answer; its token verifies and is returned with the body.
struct Issued {
  json body;
  tokenpass::VerifiedToken token;
};
Issued check_token(Fixture& f, const HttpResponse& r) {
  INFO("status " << r.status << ", body " << r.body);
  REQUIRE(r.status == 200);
  check_no_store(r);
  json j = parse_object(r);
  CHECK(j.value("token_type", std::string()) == "Bearer");
  REQUIRE(j.contains("access_token"));
  REQUIRE(j["access_token"].is_string());
  REQUIRE(j.contains("expires_in"));
  CHECK(j["expires_in"].is_number_integer());
  auto token = f.verify(j["access_token"].get<std::string>());
  return Issued{std::move(j), std::move(token)};
}

HttpHeaders cc(HttpHeaders more = {}) {
  HttpHeaders p = {{"grant_type", kCC}};
  for (auto& m : more) p.push_back(std::move(m));
  return p;
}

HttpHeaders exchange_params(const std::string& subject, HttpHeaders more = {}) {
  HttpHeaders p = {{"grant_type", kExchange},
                   {"subject_token", subject},
                   {"subject_token_type", kAccessTokenType},
                   {"audience", "orders-api"}};
  for (auto& m : more) p.push_back(std::move(m));
  return p;
}

}  // namespace

// ---- 1. repeated parameters ----------------------------------------------------------

TEST_CASE("token endpoint: a repeated parameter is invalid_request, but audience and resource may repeat",
          "[token_endpoint]") {
  Fixture f;
  const auto checks = f.secret_checks();
  SECTION("grant_type twice") {
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a")}},
                    "grant_type=client_credentials&grant_type=client_credentials");
    check_error(r, 400, "invalid_request");
    CHECK(f.secret_checks() == checks);
  }
  SECTION("scope twice") {
    auto r = f.post_basic("svc-a", "secret-a", cc({{"scope", "orders:read"}, {"scope", "orders:write"}}));
    check_error(r, 400, "invalid_request");
  }
  SECTION("client_secret twice (client_secret_post)") {
    auto r = f.post({}, tokenpass::form_encode(cc({{"client_id", "svc-a"},
                                                   {"client_secret", "secret-a"},
                                                   {"client_secret", "secret-a"}})));
    check_error(r, 400, "invalid_request");
    CHECK(f.secret_checks() == checks);
  }
  SECTION("client_secret once (client_secret_post) is fine") {
    auto r = f.post({}, tokenpass::form_encode(cc({{"client_id", "svc-a"}, {"client_secret", "secret-a"}})));
    auto t = check_token(f, r);
    CHECK(t.token.claims().subject() == std::optional<std::string>("svc-a"));
  }
  SECTION("audience twice: two targets") {
    auto r = f.post_basic("svc-a", "secret-a", cc({{"audience", "orders-api"}, {"audience", "billing-api"}}));
    auto t = check_token(f, r);
    CHECK(sorted(t.token.claims().audience()) == std::vector<std::string>{"billing-api", "orders-api"});
  }
  SECTION("resource twice: two targets") {
    auto r = f.post_basic("svc-a", "secret-a",
                          cc({{"resource", "https://api.example/orders"}, {"resource", "https://api.example/billing"}}));
    auto t = check_token(f, r);
    CHECK(sorted(t.token.claims().audience()) ==
          std::vector<std::string>{"https://api.example/billing", "https://api.example/orders"});
  }
}

// ---- 2. one authentication method --------------------------------------------------

TEST_CASE("token endpoint: exactly one client authentication method per request", "[token_endpoint]") {
  Fixture f;
  SECTION("Basic and client_secret in the body: invalid_request") {
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a")}},
                    tokenpass::form_encode(cc({{"client_id", "svc-a"}, {"client_secret", "secret-a"}})));
    check_error(r, 400, "invalid_request");
  }
  SECTION("Basic and a client assertion: invalid_request") {
    auto a = Fixture::sign(f.assertion_key, f.assertion_claims());
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a")}},
                    tokenpass::form_encode(cc({{"client_assertion_type", kJwtBearer}, {"client_assertion", a}})));
    check_error(r, 400, "invalid_request");
  }
  SECTION("Basic and the same client_id in the body: fine") {
    auto r = f.post_basic("svc-a", "secret-a", cc({{"client_id", "svc-a"}}));
    auto t = check_token(f, r);
    CHECK(t.token.claims().client_id() == std::optional<std::string>("svc-a"));
  }
  SECTION("Basic and another client_id in the body: invalid_client") {
    auto r = f.post_basic("svc-a", "secret-a", cc({{"client_id", "svc-b"}}));
    check_error(r, 401, "invalid_client");
    check_basic_challenge(r, f);
  }
  SECTION("two Authorization headers: refused") {
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a")}, {"Authorization", basic("svc-a", "secret-a")}},
                    tokenpass::form_encode(cc()));
    check_error(r, 400, "invalid_request");
  }
  SECTION("no authentication at all: invalid_client") {
    auto r = f.post({}, tokenpass::form_encode(cc({{"client_id", "svc-a"}})));
    check_error(r, 401, "invalid_client");
    check_basic_challenge(r, f);
  }
}

// ---- 3. grant_type ----------------------------------------------------------------

TEST_CASE("token endpoint: grant_type missing, empty, unsupported or not allowed for the client",
          "[token_endpoint]") {
  SECTION("no grant_type: invalid_request") {
    Fixture f;
    check_error(f.post_basic("svc-a", "secret-a", {{"scope", "orders:read"}}), 400, "invalid_request");
  }
  SECTION("grant_type= (empty): invalid_request") {
    Fixture f;
    check_error(f.post({{"Authorization", basic("svc-a", "secret-a")}}, "grant_type="), 400, "invalid_request");
  }
  SECTION("password with a target the client may not have: unsupported_grant_type, not invalid_target") {
    Fixture f;
    auto r = f.post_basic("svc-a", "secret-a", {{"grant_type", "password"}, {"audience", "evil-api"}});
    check_error(r, 400, "unsupported_grant_type");
  }
  SECTION("token exchange where it is not offered: unsupported_grant_type") {
    Fixture f;
    auto r = f.post_basic("exchanger", "secret-ex", exchange_params(f.subject_token(f.key)));
    check_error(r, 400, "unsupported_grant_type");
  }
  SECTION("token exchange by a client not registered for it: unauthorized_client") {
    Fixture f(exchange());
    auto r = f.post_basic("svc-a", "secret-a", exchange_params(f.subject_token(f.key)));
    check_error(r, 400, "unauthorized_client");
    // The same request from a client registered for it works.
    check_token(f, f.post_basic("exchanger", "secret-ex", exchange_params(f.subject_token(f.key))));
  }
}

// ---- 4. Basic authentication -----------------------------------------------------

TEST_CASE("token endpoint: Basic credentials are form-encoded, then Base64, and the scheme is case-insensitive",
          "[token_endpoint]") {
  Fixture f;
  SECTION("scheme in lower case") {
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a", "basic")}}, tokenpass::form_encode(cc()));
    check_token(f, r);
  }
  SECTION("scheme in upper case") {
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a", "BASIC")}}, tokenpass::form_encode(cc()));
    check_token(f, r);
  }
  SECTION("another scheme: invalid_client") {
    auto r = f.post({{"Authorization", basic("svc-a", "secret-a", "Bearer")}}, tokenpass::form_encode(cc()));
    check_error(r, 401, "invalid_client");
  }
  SECTION("id and secret with ':', space, '+', '%' and non-ASCII, by hand") {
    auto r = f.post({{"Authorization", basic(kWeirdId, kWeirdSecret)}}, tokenpass::form_encode(cc()));
    auto t = check_token(f, r);
    CHECK(t.token.claims().subject() == std::optional<std::string>(kWeirdId));
    CHECK(t.token.claims().client_id() == std::optional<std::string>(kWeirdId));
  }
  SECTION("the same id and secret through ClientCredentials (client_secret_basic)") {
    tokenpass::ClientCredentials client(f.client_options(kWeirdId, kWeirdSecret), f.http);
    auto r = client.token("w-api", {"w"});
    INFO((r ? std::string() : r.error().detail));
    REQUIRE(r);
    auto t = f.verify(r->access_token);
    CHECK(t.claims().subject() == std::optional<std::string>(kWeirdId));
    CHECK(t.claims().audience() == std::vector<std::string>{"w-api"});
    CHECK(r->scope == "w");
  }
  SECTION("the same id and secret through ClientCredentials (client_secret_post)") {
    auto o = f.client_options(kWeirdId, kWeirdSecret);
    o.auth = ClientAuth::client_secret_post;
    tokenpass::ClientCredentials client(o, f.http);
    auto r = client.token();
    INFO((r ? std::string() : r.error().detail));
    REQUIRE(r);
    CHECK(f.verify(r->access_token).claims().subject() == std::optional<std::string>(kWeirdId));
  }
  SECTION("the weird client with a wrong secret through ClientCredentials: token_request_refused") {
    tokenpass::ClientCredentials client(f.client_options(kWeirdId, kWeirdSecret + "x"), f.http);
    CHECK(tp_test::error_of(client.token()) == tokenpass::errc::token_request_refused);
  }
  SECTION("the same credentials Base64'd without the form encoding are not the client") {
    auto r = f.post({{"Authorization", "Basic " + tp_test::ossl::base64(kWeirdId + ":" + kWeirdSecret)}},
                    tokenpass::form_encode(cc()));
    check_error(r, 401, "invalid_client");
  }
  SECTION("Basic with bad Base64: invalid_client with a Basic challenge") {
    for (const std::string bad : {"Basic !!!!", "Basic c3ZjLWE6c2VjcmV0LWE", "Basic c3ZjLWE6c2VjcmV0LWE===",
                                  "Basic c3ZjLWE6c2VjcmV0LWE_", "Basic "}) {
      INFO(bad);
      auto r = f.post({{"Authorization", bad}}, tokenpass::form_encode(cc()));
      check_error(r, 401, "invalid_client");
      check_basic_challenge(r, f);
    }
  }
}

// ---- 5. content type and method ------------------------------------------------------

TEST_CASE("token endpoint: the body must be a form, and only POST is allowed", "[token_endpoint]") {
  Fixture f;
  const std::string body = tokenpass::form_encode(cc());
  const HttpHeaders auth = {{"Authorization", basic("svc-a", "secret-a")}};
  SECTION("text/plain: invalid_request") {
    check_error(f.post(auth, body, "text/plain"), 400, "invalid_request");
  }
  SECTION("application/json: invalid_request") {
    check_error(f.post(auth, R"({"grant_type":"client_credentials"})", "application/json"), 400,
                "invalid_request");
  }
  SECTION("no Content-Type: invalid_request") { check_error(f.post(auth, body, ""), 400, "invalid_request"); }
  SECTION("with charset=UTF-8: accepted") {
    check_token(f, f.post(auth, body, "application/x-www-form-urlencoded; charset=UTF-8"));
  }
  SECTION("media type in another case: accepted") {
    check_token(f, f.post(auth, body, "Application/X-WWW-Form-URLEncoded"));
  }
  SECTION("GET /token: 405 with Allow: POST") {
    auto r = f.send("GET", f.endpoint->token_endpoint(), auth, {});
    CHECK(r.status == 405);
    CHECK(header_or(r, "Allow") == "POST");
    check_no_store(r);
  }
  SECTION("PUT /token: 405 with Allow: POST") {
    HttpHeaders h = auth;
    h.emplace_back("Content-Type", kForm);
    auto r = f.send("PUT", f.endpoint->token_endpoint(), h, body);
    CHECK(r.status == 405);
    CHECK(header_or(r, "Allow") == "POST");
    check_no_store(r);
  }
}

// ---- 6. no-store on every answer ------------------------------------------------------

TEST_CASE("token endpoint: every answer has no-store, no-cache and a JSON body, and errors name error and error_description",
          "[token_endpoint]") {
  Fixture f([](Fixture&, TokenEndpointOptions& o) { o.throttle_per_client = 1; });
  // 200
  check_token(f, f.post_basic("svc-a", "secret-a", cc()));
  // 400
  check_error(f.post_basic("svc-a", "secret-a", cc({{"scope", "admin"}})), 400, "invalid_scope");
  check_error(f.post_basic("svc-a", "secret-a", cc({{"audience", "evil-api"}})), 400, "invalid_target");
  check_error(f.post({}, "%zz"), 400, "invalid_request");
  // 401
  check_error(f.post_basic("svc-b", "wrong", cc()), 401, "invalid_client");
  // 429 (svc-b is now over its limit of one failure)
  auto throttled = f.post_basic("svc-b", "secret-b", cc());
  CHECK(throttled.status == 429);
  check_no_store(throttled);
  const json t = parse_object(throttled);
  CHECK(t.contains("error"));
  CHECK(t.contains("error_description"));
  // 405
  auto not_allowed = f.send("DELETE", f.endpoint->token_endpoint(), {}, {});
  check_error(not_allowed, 405, "invalid_request");
}

// ---- 7. invalid_client ------------------------------------------------------------

TEST_CASE("token endpoint: a wrong secret and an unknown client are both 401 invalid_client for one secret check",
          "[token_endpoint]") {
  Fixture f;
  SECTION("wrong secret, Basic") {
    const auto before = f.secret_checks();
    auto r = f.post_basic("svc-a", "not-the-secret", cc());
    check_error(r, 401, "invalid_client");
    check_basic_challenge(r, f);
    CHECK(f.secret_checks() == before + 1);
  }
  SECTION("unknown client, Basic") {
    const auto before = f.secret_checks();
    auto r = f.post_basic("nobody", "not-the-secret", cc());
    check_error(r, 401, "invalid_client");
    check_basic_challenge(r, f);
    CHECK(f.secret_checks() == before + 1);
  }
  SECTION("wrong secret and unknown client, client_secret_post") {
    const auto before = f.secret_checks();
    auto r1 = f.post({}, tokenpass::form_encode(cc({{"client_id", "svc-a"}, {"client_secret", "nope"}})));
    check_error(r1, 401, "invalid_client");
    check_basic_challenge(r1, f);
    CHECK(f.secret_checks() == before + 1);
    auto r2 = f.post({}, tokenpass::form_encode(cc({{"client_id", "nobody"}, {"client_secret", "nope"}})));
    check_error(r2, 401, "invalid_client");
    CHECK(f.secret_checks() == before + 2);
  }
  SECTION("the right secret: one secret check too") {
    const auto before = f.secret_checks();
    check_token(f, f.post_basic("svc-a", "secret-a", cc()));
    CHECK(f.secret_checks() == before + 1);
  }
  SECTION("the answers and the log do not tell which") {
    auto wrong = f.post_basic("svc-a", "guess-1234", cc());
    auto unknown = f.post_basic("nobody", "guess-1234", cc());
    CHECK(wrong.status == unknown.status);
    CHECK(wrong.body == unknown.body);
    for (const auto& line : f.log()) {
      INFO(line);
      CHECK(line.find("guess-1234") == std::string::npos);
    }
  }
}

// ---- 8. throttling -----------------------------------------------------------------

TEST_CASE("token endpoint: after throttle_per_client failures the right secret gets 429 unchecked",
          "[token_endpoint]") {
  Fixture f([](Fixture&, TokenEndpointOptions& o) { o.throttle_per_client = 3; });
  for (int i = 0; i < 3; ++i) {
    INFO("failure " << i);
    check_error(f.post_basic("svc-a", "wrong-" + std::to_string(i), cc()), 401, "invalid_client");
  }
  const auto before = f.secret_checks();
  auto r = f.post_basic("svc-a", "secret-a", cc());
  CHECK(r.status == 429);
  check_no_store(r);
  const std::string retry = header_or(r, "Retry-After");
  INFO("Retry-After: " << retry);
  REQUIRE(!retry.empty());
  REQUIRE(std::all_of(retry.begin(), retry.end(), [](char c) { return c >= '0' && c <= '9'; }));
  CHECK(std::stoll(retry) >= 1);
  CHECK(std::stoll(retry) <= 61);
  CHECK(f.secret_checks() == before);
  // Another client is not affected.
  check_token(f, f.post_basic("svc-b", "secret-b", cc()));
  CHECK(f.secret_checks() == before + 1);
}

TEST_CASE("token endpoint: failures below the limit do not throttle, and a success does not count",
          "[token_endpoint]") {
  Fixture f([](Fixture&, TokenEndpointOptions& o) { o.throttle_per_client = 3; });
  check_error(f.post_basic("svc-a", "wrong-1", cc()), 401, "invalid_client");
  check_error(f.post_basic("svc-a", "wrong-2", cc()), 401, "invalid_client");
  for (int i = 0; i < 3; ++i) check_token(f, f.post_basic("svc-a", "secret-a", cc()));
}

TEST_CASE("token endpoint: guesses at a secret do not lock out a client that authenticates by assertion",
          "[token_endpoint]") {
  Fixture f([](Fixture&, TokenEndpointOptions& o) { o.throttle_per_client = 3; });
  // Someone guesses secrets (and forges nothing) in jwt-client's name.
  for (int i = 0; i < 5; ++i) {
    const auto r = f.post_basic("jwt-client", "guess-" + std::to_string(i), cc());
    CHECK((r.status == 401 || r.status == 429));
  }
  // The real client, by assertion, is not locked out.
  check_token(f, f.post_assertion(Fixture::sign(f.assertion_key, f.assertion_claims())));
}

namespace {
// DownStore: a replay store that cannot answer (a Redis outage).
class DownStore final : public tokenpass::ReplayStore {
 public:
  tokenpass::Result<void> first_use(std::string_view, std::string_view,
                                    std::chrono::system_clock::time_point) const override {
    return tokenpass::make_error(tokenpass::errc::replay_store_unavailable, "down");
  }
};
}  // namespace

TEST_CASE("token endpoint: a replay store outage is 503 for an assertion, not invalid_client", "[token_endpoint]") {
  Fixture f([](Fixture&, TokenEndpointOptions& o) {
    o.assertion_replay = std::make_shared<DownStore>();
    o.throttle_per_address = 2;
  });
  for (int i = 0; i < 3; ++i) {  // nothing counted against the client or its address
    const auto r = f.post_assertion(Fixture::sign(f.assertion_key, f.assertion_claims()));
    check_error(r, 503, "temporarily_unavailable");
  }
  check_token(f, f.post_basic("svc-a", "secret-a", cc()));
}

TEST_CASE("FailureThrottle: attempt counts in one step, and max_keys 0 is refused", "[token_endpoint]") {
  CHECK_THROWS_AS(tokenpass::FailureThrottle(5, 60s, 0), std::invalid_argument);
  tokenpass::FailureThrottle t(2, 60s, 1);
  const auto now = std::chrono::system_clock::now();
  CHECK(t.attempt("a", now));
  CHECK(t.attempt("a", now));
  t.settle("a");  // both failed
  t.settle("a");
  std::chrono::seconds wait{0};
  CHECK_FALSE(t.attempt("a", now, &wait));
  CHECK(wait.count() >= 1);
  t.forgive("a");
  CHECK(t.attempt("a", now));
  // One key at most: a new key pushes the old one out, and never crashes.
  CHECK(t.attempt("b", now));
  CHECK(t.attempt("a", now));
  CHECK(t.attempt("a", now + 61s));
}

TEST_CASE("FailureThrottle: attempts still under way are waited for, failures refuse at once",
          "[token_endpoint][throttle]") {
  const auto now = std::chrono::system_clock::now();
  SECTION("a third attempt waits for one of two pending ones to succeed") {
    tokenpass::FailureThrottle t(2, 60s);
    REQUIRE(t.attempt("a", now));
    REQUIRE(t.attempt("a", now));
    std::thread ender([&] {
      std::this_thread::sleep_for(50ms);
      t.forgive("a");
    });
    CHECK(t.attempt("a", now));
    ender.join();
  }
  SECTION("when the pending attempts fail, the waiting one is refused") {
    tokenpass::FailureThrottle t(2, 60s);
    REQUIRE(t.attempt("a", now));
    REQUIRE(t.attempt("a", now));
    std::thread ender([&] {
      std::this_thread::sleep_for(50ms);
      t.settle("a");
      t.settle("a");
    });
    std::chrono::seconds wait{0};
    CHECK_FALSE(t.attempt("a", now, &wait));
    CHECK(wait.count() >= 1);
    ender.join();
  }
  SECTION("pending attempts that never end: refused after max_wait") {
    tokenpass::FailureThrottle t(1, 60s);
    t.set_max_wait(20ms);
    REQUIRE(t.attempt("a", now));
    CHECK_FALSE(t.attempt("a", now));
    CHECK(t.attempt("b", now));  // another key is not held up
  }
}

TEST_CASE("token endpoint: a client asking for more tokens at once than the failure limit is not throttled",
          "[token_endpoint][throttle]") {
  // Found by scripts/load.sh: billing asking for a fresh token per call, 8 at a time,
  // was answered 429 because attempts under way counted as failures (limit 5).
  Fixture f;
  // post_as: a token request with client_secret_basic, from any thread.
  const auto post_as = [&f](const std::string& id, const std::string& secret) {
    tokenpass::HttpRequest r;
    r.method = "POST";
    r.url = f.endpoint->token_endpoint();
    r.headers = {{"Authorization", basic(id, secret)}, {"Content-Type", kForm}};
    r.body = tokenpass::form_encode(cc());
    r.timeout = 20000ms;
    return f.http->send(r);
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::atomic<int> throttled{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto res = post_as("svc-a", "secret-a");
      if (res && res->status == 200) ++ok;
      if (res && res->status == 429) ++throttled;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(throttled == 0);
  CHECK(ok == 16);
  // Wrong secrets at the same time are still held to the limit: of 16 concurrent
  // guesses, at most 5 are checked; the rest are refused unchecked.
  const auto checks_before = f.endpoint->stats().secret_checks;
  threads.clear();
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] { (void)post_as("svc-b", "wrong"); });
  }
  for (auto& t : threads) t.join();
  CHECK(f.endpoint->stats().secret_checks - checks_before <= 5);
}

TEST_CASE("token endpoint: signing keys rotate with the old ones still published, then retired",
          "[token_endpoint][rotation]") {
  Fixture f;
  const auto token_of = [&](const HttpResponse& r) {
    INFO(r.body);
    REQUIRE(r.status == 200);
    return parse_object(r)["access_token"].get<std::string>();
  };
  const auto published = [&] {
    const HttpResponse r = f.get(tokenpass::parse_url(f.endpoint->jwks_uri())->target);
    REQUIRE(r.status == 200);
    return KeySet::from_public_jwks(json::parse(r.body)).value();
  };
  const auto kid_of = [](const std::string& token) { return tokenpass::decode_unverified(token)->header()["kid"]; };
  const auto verifier_of = [&](KeySet keys) {
    return tokenpass::Verifier(std::move(keys), tokenpass::Policy::access_token_profile({f.base}, kAllAudiences));
  };
  const std::string before = token_of(f.post_basic("svc-a", "secret-a", cc()));
  CHECK(kid_of(before) == f.key.kid());
  CHECK(f.endpoint->signing_kid() == f.key.kid());

  // Published ahead: in the JWKS, not yet signing.
  tokenpass::GenerateOptions go;
  go.kid = "next";
  const Key next = Key::generate(Alg::ES256, go);
  f.endpoint->publish_key(next);
  CHECK(published().size() == 2);
  CHECK(kid_of(token_of(f.post_basic("svc-a", "secret-a", cc()))) == f.key.kid());

  f.endpoint->rotate_key(next);
  CHECK(f.endpoint->signing_kid() == "next");
  const std::string after = token_of(f.post_basic("svc-a", "secret-a", cc()));
  CHECK(kid_of(after) == "next");
  const KeySet both = published();
  REQUIRE(both.size() == 2);
  CHECK(both.keys()[0].kid() == "next");  // the signing key first
  const auto v = verifier_of(both);
  CHECK(v.verify(before));  // signed before the rotation: still verifies
  CHECK(v.verify(after));

  // Retiring the old key: tokens it signed no longer verify against the JWKS.
  CHECK_FALSE(f.endpoint->retire_key("next"));  // never the signing key
  CHECK(f.endpoint->retire_key(f.key.kid()));
  CHECK_FALSE(f.endpoint->retire_key(f.key.kid()));
  const auto v2 = verifier_of(published());
  CHECK(tp_test::error_of(v2.verify(before)) == tokenpass::errc::key_not_found);
  CHECK(v2.verify(after));

  // At most max_published_keys (3): the oldest that does not sign goes first.
  for (const char* kid : {"k1", "k2", "k3"}) {
    tokenpass::GenerateOptions o;
    o.kid = kid;
    f.endpoint->rotate_key(Key::generate(Alg::ES256, o));
  }
  std::vector<std::string> kids;
  const KeySet now_published = published();
  for (const auto& k : now_published.keys()) kids.push_back(k.kid());
  CHECK(kids == std::vector<std::string>{"k3", "k2", "k1"});

  // Refused: a public key, a kid published with other key material.
  CHECK_THROWS_AS(f.endpoint->rotate_key(next.public_key().value()), std::invalid_argument);
  tokenpass::GenerateOptions other;
  other.kid = "k2";
  CHECK_THROWS_AS(f.endpoint->rotate_key(Key::generate(Alg::ES256, other)), std::invalid_argument);
  CHECK_THROWS_AS(f.endpoint->publish_key(Key::generate(Alg::ES256, other)), std::invalid_argument);
  CHECK(f.endpoint->signing_kid() == "k3");
}

// ---- 9. targets ----------------------------------------------------------------------

TEST_CASE("token endpoint: audience and resource are checked against the client's registration",
          "[token_endpoint]") {
  Fixture f;
  SECTION("no target: the client's default_audiences") {
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc()));
    CHECK(t.token.claims().audience() == std::vector<std::string>{"orders-api"});
  }
  SECTION("no target and no defaults: all the client's audiences") {
    auto t = check_token(f, f.post_basic("svc-b", "secret-b", cc()));
    CHECK(sorted(t.token.claims().audience()) == std::vector<std::string>{"x-api", "y-api"});
  }
  SECTION("resource=https://api.example/orders: aud is that URI") {
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc({{"resource", "https://api.example/orders"}})));
    CHECK(t.token.claims().audience() == std::vector<std::string>{"https://api.example/orders"});
    CHECK(t.token.claims().get("aud") == std::optional<json>(json("https://api.example/orders")));
  }
  SECTION("audience=billing-api: aud is billing-api") {
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc({{"audience", "billing-api"}})));
    CHECK(t.token.claims().audience() == std::vector<std::string>{"billing-api"});
  }
  SECTION("resource=not-a-uri: invalid_target, though registered as an audience") {
    check_error(f.post_basic("svc-a", "secret-a", cc({{"resource", "not-a-uri"}})), 400, "invalid_target");
    // As an audience it is allowed: the refusal above is for not being a URI.
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc({{"audience", "not-a-uri"}})));
    CHECK(t.token.claims().audience() == std::vector<std::string>{"not-a-uri"});
  }
  SECTION("resource with a fragment: invalid_target, though registered") {
    check_error(f.post_basic("svc-a", "secret-a", cc({{"resource", "https://x/#frag"}})), 400, "invalid_target");
    check_token(f, f.post_basic("svc-a", "secret-a", cc({{"audience", "https://x/#frag"}})));
  }
  SECTION("an audience not registered for the client: invalid_target") {
    check_error(f.post_basic("svc-a", "secret-a", cc({{"audience", "evil-api"}})), 400, "invalid_target");
    check_error(f.post_basic("svc-a", "secret-a", cc({{"audience", "x-api"}})), 400, "invalid_target");
    check_error(f.post_basic("svc-a", "secret-a", cc({{"resource", "https://evil.example/"}})), 400,
                "invalid_target");
  }
  SECTION("one allowed and one not: invalid_target") {
    check_error(f.post_basic("svc-a", "secret-a", cc({{"audience", "orders-api"}, {"audience", "evil-api"}})), 400,
                "invalid_target");
  }
}

// ---- 10. scopes ----------------------------------------------------------------------

TEST_CASE("token endpoint: scopes are narrowed to what the client may have", "[token_endpoint]") {
  Fixture f;
  SECTION("a scope not allowed: invalid_scope") {
    check_error(f.post_basic("svc-a", "secret-a", cc({{"scope", "orders:read admin"}})), 400, "invalid_scope");
  }
  SECTION("no scope: all the client's scopes") {
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc()));
    const std::vector<std::string> all = {"billing:read", "orders:read", "orders:write"};
    CHECK(split_spaces(t.body.value("scope", std::string())) == all);
    CHECK(sorted(t.token.claims().scopes()) == all);
  }
  SECTION("a subset: exactly the subset") {
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc({{"scope", "orders:write orders:read"}})));
    const std::vector<std::string> want = {"orders:read", "orders:write"};
    CHECK(split_spaces(t.body.value("scope", std::string())) == want);
    CHECK(sorted(t.token.claims().scopes()) == want);
  }
  SECTION("one scope") {
    auto t = check_token(f, f.post_basic("svc-a", "secret-a", cc({{"scope", "billing:read"}})));
    CHECK(t.body.value("scope", std::string()) == "billing:read");
    CHECK(t.token.claims().scopes() == std::vector<std::string>{"billing:read"});
  }
}

// ---- 11. token exchange ---------------------------------------------------------------

TEST_CASE("token endpoint: token exchange (RFC 8693)", "[token_endpoint]") {
  Fixture f(exchange());
  const std::string subject = f.subject_token(f.key);
  const auto subject_claims = json::parse(tp_test::unb64(tp_test::split(subject).payload));

  SECTION("missing subject_token: invalid_request") {
    check_error(f.post_basic("exchanger", "secret-ex",
                             {{"grant_type", kExchange}, {"subject_token_type", kAccessTokenType}}),
                400, "invalid_request");
  }
  SECTION("missing subject_token_type: invalid_request") {
    check_error(f.post_basic("exchanger", "secret-ex", {{"grant_type", kExchange}, {"subject_token", subject}}), 400,
                "invalid_request");
  }
  SECTION("subject_token_type saml2: invalid_request") {
    check_error(f.post_basic("exchanger", "secret-ex",
                             {{"grant_type", kExchange},
                              {"subject_token", subject},
                              {"subject_token_type", "urn:ietf:params:oauth:token-type:saml2"}}),
                400, "invalid_request");
  }
  SECTION("actor_token without actor_token_type: invalid_request") {
    check_error(f.post_basic("exchanger", "secret-ex", exchange_params(subject, {{"actor_token", subject}})), 400,
                "invalid_request");
  }
  SECTION("actor_token_type without actor_token: invalid_request") {
    check_error(f.post_basic("exchanger", "secret-ex",
                             exchange_params(subject, {{"actor_token_type", kAccessTokenType}})),
                400, "invalid_request");
  }
  SECTION("an actor token where none are accepted: invalid_request") {
    check_error(f.post_basic("exchanger", "secret-ex",
                             exchange_params(subject, {{"actor_token", f.actor_token("svc-x")},
                                                       {"actor_token_type", kAccessTokenType}})),
                400, "invalid_request");
  }
  SECTION("a subject token signed by another key: invalid_request, not invalid_grant") {
    check_error(f.post_basic("exchanger", "secret-ex", exchange_params(f.subject_token(f.other_key))), 400,
                "invalid_request");
  }
  SECTION("a tampered subject token: invalid_request") {
    std::string bad = subject;
    bad.back() = bad.back() == 'A' ? 'B' : 'A';
    check_error(f.post_basic("exchanger", "secret-ex", exchange_params(bad)), 400, "invalid_request");
  }
  SECTION("a good exchange") {
    auto t = check_token(f, f.post_basic("exchanger", "secret-ex", exchange_params(subject)));
    CHECK(t.body.value("issued_token_type", std::string()) == kAccessTokenType);
    const auto& c = t.token.claims();
    CHECK(c.subject() == std::optional<std::string>("alice"));
    CHECK(c.client_id() == std::optional<std::string>("exchanger"));
    CHECK(c.audience() == std::vector<std::string>{"orders-api"});
    CHECK(c.get("act") == std::optional<json>(json{{"sub", "exchanger"}}));
    // The subject's scopes when none are asked for.
    CHECK(sorted(c.scopes()) == std::vector<std::string>{"orders:read", "orders:write"});
    REQUIRE(c.json().contains("exp"));
    CHECK(c.json()["exp"].get<long long>() <= subject_claims["exp"].get<long long>());
    CHECK(t.body["expires_in"].get<long long>() <= 60);
    CHECK(t.body["expires_in"].get<long long>() > 0);
    CHECK(t.token.header().value("typ", std::string()) == "at+jwt");
  }
  SECTION("a narrower scope") {
    auto t = check_token(f, f.post_basic("exchanger", "secret-ex", exchange_params(subject, {{"scope", "orders:read"}})));
    CHECK(t.body.value("scope", std::string()) == "orders:read");
    CHECK(t.token.claims().scopes() == std::vector<std::string>{"orders:read"});
  }
  SECTION("a scope the subject lacks: invalid_scope") {
    check_error(f.post_basic("exchanger", "secret-ex", exchange_params(subject, {{"scope", "orders:read billing:read"}})),
                400, "invalid_scope");
  }
  SECTION("an audience the client may not ask for: invalid_target") {
    HttpHeaders p = {{"grant_type", kExchange},
                     {"subject_token", subject},
                     {"subject_token_type", kAccessTokenType},
                     {"audience", "x-api"}};
    check_error(f.post_basic("exchanger", "secret-ex", p), 400, "invalid_target");
  }
  SECTION("a subject token that already has act: nested") {
    const std::string chained = f.subject_token(f.key, 60s, json{{"sub", "frontend"}});
    auto t = check_token(f, f.post_basic("exchanger", "secret-ex", exchange_params(chained)));
    CHECK(t.token.claims().subject() == std::optional<std::string>("alice"));
    CHECK(t.token.claims().get("act") ==
          std::optional<json>(json{{"sub", "exchanger"}, {"act", {{"sub", "frontend"}}}}));
  }
  SECTION("TokenExchange, the library's client, against it") {
    const tokenpass::Verifier subjects(KeySet({f.key.public_key().value()}),
                                       tokenpass::Policy::access_token_profile({f.base}, {"gateway"}));
    auto verified = subjects.verify(subject);
    REQUIRE(verified);
    tokenpass::TokenExchange client(f.client_options("exchanger", "secret-ex"), f.http);
    auto r = client.exchange(*verified, "orders-api", {"orders:read"});
    INFO((r ? std::string() : r.error().detail));
    REQUIRE(r);
    CHECK(r->issued_token_type == kAccessTokenType);
    CHECK(r->token_type == "Bearer");
    CHECK(r->scope == "orders:read");
    auto t = f.verify(r->access_token);
    CHECK(t.claims().subject() == std::optional<std::string>("alice"));
    CHECK(t.claims().get("act") == std::optional<json>(json{{"sub", "exchanger"}}));
    CHECK(t.claims().audience() == std::vector<std::string>{"orders-api"});
  }
}

TEST_CASE("token endpoint: token exchange with actor tokens", "[token_endpoint]") {
  Fixture f(exchange(true));
  const std::string subject = f.subject_token(f.key);
  SECTION("a valid actor token names the actor") {
    auto t = check_token(f, f.post_basic("exchanger", "secret-ex",
                                         exchange_params(subject, {{"actor_token", f.actor_token("svc-x")},
                                                                   {"actor_token_type", kAccessTokenType}})));
    CHECK(t.token.claims().subject() == std::optional<std::string>("alice"));
    CHECK(t.token.claims().get("act") == std::optional<json>(json{{"sub", "svc-x"}}));
  }
  SECTION("a valid actor token and a subject with act: nested under the actor") {
    const std::string chained = f.subject_token(f.key, 60s, json{{"sub", "frontend"}});
    auto t = check_token(f, f.post_basic("exchanger", "secret-ex",
                                         exchange_params(chained, {{"actor_token", f.actor_token("svc-x")},
                                                                   {"actor_token_type", kAccessTokenType}})));
    CHECK(t.token.claims().get("act") == std::optional<json>(json{{"sub", "svc-x"}, {"act", {{"sub", "frontend"}}}}));
  }
  SECTION("an actor token signed by another key: invalid_request") {
    tokenpass::Issuer issuer(f.other_key, "https://actors.example", 60s);
    auto forged = issuer.issue(tokenpass::ClaimsBuilder().subject("svc-x").audience("token-service"));
    REQUIRE(forged);
    check_error(f.post_basic("exchanger", "secret-ex",
                             exchange_params(subject, {{"actor_token", *forged}, {"actor_token_type", kAccessTokenType}})),
                400, "invalid_request");
  }
  SECTION("no actor token: the client is the actor") {
    auto t = check_token(f, f.post_basic("exchanger", "secret-ex", exchange_params(subject)));
    CHECK(t.token.claims().get("act") == std::optional<json>(json{{"sub", "exchanger"}}));
  }
}

// ---- 12. metadata ------------------------------------------------------------------

TEST_CASE("token endpoint: RFC 8414 metadata lists what is configured", "[token_endpoint]") {
  SECTION("defaults, no token exchange") {
    Fixture f;
    auto r = f.get("/.well-known/oauth-authorization-server");
    REQUIRE(r.status == 200);
    const json m = parse_object(r);
    CHECK(m.value("issuer", std::string()) == f.base);
    CHECK(m.value("token_endpoint", std::string()) == f.base + "/token");
    CHECK(m.value("jwks_uri", std::string()) == f.base + "/.well-known/jwks.json");
    REQUIRE(m.contains("response_types_supported"));
    CHECK(m["response_types_supported"].is_array());
    CHECK(m["grant_types_supported"] == json::array({"client_credentials"}));
    CHECK(m["token_endpoint_auth_methods_supported"] ==
          json::array({"client_secret_basic", "client_secret_post", "private_key_jwt"}));
    REQUIRE(m.contains("token_endpoint_auth_signing_alg_values_supported"));
    const json& algs = m["token_endpoint_auth_signing_alg_values_supported"];
    REQUIRE(algs.is_array());
    CHECK(std::find(algs.begin(), algs.end(), json("ES256")) != algs.end());
    CHECK(std::find(algs.begin(), algs.end(), json("none")) == algs.end());
    CHECK(std::find(algs.begin(), algs.end(), json("HS256")) == algs.end());
    CHECK(f.get("/.well-known/openid-configuration").status == 404);
    // The JWKS it names is served.
    auto jwks = f.send("GET", m.value("jwks_uri", std::string()), {}, {});
    CHECK(jwks.status == 200);
    CHECK(KeySet::from_public_jwks(json::parse(jwks.body)));
  }
  SECTION("configured URLs, secret methods only, token exchange, openid-configuration") {
    tokenpass::TokenEndpointMountOptions mount;
    mount.openid_configuration = true;
    Fixture f(
        [](Fixture& fx, TokenEndpointOptions& o) {
          exchange()(fx, o);
          o.token_endpoint = fx.base + "/oauth2/token";
          o.jwks_uri = fx.base + "/keys.json";
          o.auth_methods = {ClientAuth::client_secret_post, ClientAuth::client_secret_basic};
        },
        mount);
    auto r = f.get("/.well-known/oauth-authorization-server");
    REQUIRE(r.status == 200);
    const json m = parse_object(r);
    CHECK(m.value("issuer", std::string()) == f.base);
    CHECK(m.value("token_endpoint", std::string()) == f.base + "/oauth2/token");
    CHECK(m.value("jwks_uri", std::string()) == f.base + "/keys.json");
    CHECK(m["response_types_supported"].is_array());
    CHECK(m["grant_types_supported"] == json::array({kCC, kExchange}));
    CHECK(m["token_endpoint_auth_methods_supported"] == json::array({"client_secret_post", "client_secret_basic"}));
    CHECK_FALSE(m.contains("token_endpoint_auth_signing_alg_values_supported"));
    for (const auto& g : m["grant_types_supported"]) CHECK(g != json("password"));
    auto oidc = f.get("/.well-known/openid-configuration");
    REQUIRE(oidc.status == 200);
    CHECK(json::parse(oidc.body) == m);
    // The configured paths are the ones served.
    check_token(f, f.post_basic("svc-a", "secret-a", cc()));
    CHECK(f.get("/keys.json").status == 200);
    CHECK(f.send("POST", f.base + "/token", {{"Content-Type", kForm}, {"Authorization", basic("svc-a", "secret-a")}},
                 tokenpass::form_encode(cc()))
              .status == 404);
  }
  SECTION("private_key_jwt alone") {
    Fixture f([](Fixture&, TokenEndpointOptions& o) { o.auth_methods = {ClientAuth::private_key_jwt}; });
    const json m = parse_object(f.get("/.well-known/oauth-authorization-server"));
    CHECK(m["token_endpoint_auth_methods_supported"] == json::array({"private_key_jwt"}));
    CHECK(m.contains("token_endpoint_auth_signing_alg_values_supported"));
    // Basic is not offered: refused, and since the client tried the Authorization
    // header, 401 with a challenge of the scheme it used (RFC 6749 §5.2).
    auto r = f.post_basic("svc-a", "secret-a", cc());
    check_error(r, 401, "invalid_client");
    CHECK(r.header("WWW-Authenticate").value_or("").rfind("Basic realm=", 0) == 0);
    r = f.post({{"Authorization", "Bearer abc"}}, tokenpass::form_encode(cc()));
    check_error(r, 401, "invalid_client");
    CHECK(r.header("WWW-Authenticate").value_or("").rfind("Bearer realm=", 0) == 0);
    // No Authorization header and no Basic to offer: 400, no challenge.
    r = f.post({}, tokenpass::form_encode(cc({{"client_id", "svc-a"}, {"client_secret", "secret-a"}})));
    check_error(r, 400, "invalid_client");
    CHECK_FALSE(r.header("WWW-Authenticate"));
  }
}

// ---- 13. private_key_jwt ------------------------------------------------------------

TEST_CASE("token endpoint: private_key_jwt client authentication (RFC 7523)", "[token_endpoint]") {
  Fixture f;
  SECTION("ClientCredentials with ClientAuth::private_key_jwt gets a token") {
    auto o = f.client_options("jwt-client", "");
    o.auth = ClientAuth::private_key_jwt;
    o.assertion_key = f.assertion_key;
    tokenpass::ClientCredentials client(o, f.http);
    auto r = client.token("orders-api", {"orders:read"});
    INFO((r ? std::string() : r.error().detail));
    REQUIRE(r);
    auto t = f.verify(r->access_token);
    CHECK(t.claims().subject() == std::optional<std::string>("jwt-client"));
    CHECK(t.claims().scopes() == std::vector<std::string>{"orders:read"});
  }
  SECTION("a hand-made assertion works once; the second use is refused") {
    const std::string a = Fixture::sign(f.assertion_key, f.assertion_claims());
    auto t = check_token(f, f.post_assertion(a));
    CHECK(t.token.claims().subject() == std::optional<std::string>("jwt-client"));
    auto again = f.post_assertion(a);
    check_error(again, 401, "invalid_client");
    check_basic_challenge(again, f);
  }
  SECTION("aud = the issuer is accepted too; the matching client_id is fine") {
    json c = f.assertion_claims();
    c["aud"] = f.base;
    check_token(f, f.post_assertion(Fixture::sign(f.assertion_key, c), {{"client_id", "jwt-client"}}));
  }
  SECTION("a client_id that is not the assertion's sub: invalid_client") {
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, f.assertion_claims()), {{"client_id", "svc-a"}}), 401,
                "invalid_client");
  }
  SECTION("wrong aud: invalid_client") {
    json c = f.assertion_claims();
    c["aud"] = "https://elsewhere.example/token";
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, c)), 401, "invalid_client");
  }
  SECTION("signed by another key: invalid_client") {
    check_error(f.post_assertion(Fixture::sign(f.other_key, f.assertion_claims())), 401, "invalid_client");
  }
  SECTION("exp beyond max_assertion_lifetime: invalid_client") {
    json c = f.assertion_claims();
    c["exp"] = now_secs() + 3600;
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, c)), 401, "invalid_client");
  }
  SECTION("expired: invalid_client") {
    json c = f.assertion_claims();
    c["iat"] = now_secs() - 600;
    c["exp"] = now_secs() - 300;
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, c)), 401, "invalid_client");
  }
  SECTION("iss != sub: invalid_client") {
    json c = f.assertion_claims();
    c["iss"] = "svc-a";
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, c)), 401, "invalid_client");
  }
  SECTION("no jti: invalid_client") {
    json c = f.assertion_claims();
    c.erase("jti");
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, c)), 401, "invalid_client");
  }
  SECTION("a wrong client_assertion_type: invalid_client") {
    HttpHeaders p = {{"grant_type", kCC},
                     {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
                     {"client_assertion", Fixture::sign(f.assertion_key, f.assertion_claims())}};
    check_error(f.post({}, tokenpass::form_encode(p)), 401, "invalid_client");
  }
  SECTION("client_secret_post for that client: invalid_client") {
    const auto before = f.secret_checks();
    check_error(f.post({}, tokenpass::form_encode(cc({{"client_id", "jwt-client"}, {"client_secret", "anything"}}))),
                401, "invalid_client");
    CHECK(f.secret_checks() == before + 1);
  }
  SECTION("client_secret_basic for that client: invalid_client") {
    check_error(f.post_basic("jwt-client", "anything", cc()), 401, "invalid_client");
  }
  SECTION("a secret client cannot use private_key_jwt") {
    json c = f.assertion_claims();
    c["iss"] = c["sub"] = "svc-a";
    check_error(f.post_assertion(Fixture::sign(f.assertion_key, c)), 401, "invalid_client");
  }
}

// ---- 14. body size ----------------------------------------------------------------

TEST_CASE("token endpoint: a body over max_body_bytes is invalid_request", "[token_endpoint]") {
  Fixture f([](Fixture&, TokenEndpointOptions& o) { o.max_body_bytes = 512; });
  const HttpHeaders auth = {{"Authorization", basic("svc-a", "secret-a")}};
  // Just under: fine (the unknown parameter is ignored).
  std::string under = tokenpass::form_encode(cc({{"pad", ""}}));
  under += std::string(512 - under.size(), 'x');
  REQUIRE(under.size() == 512);
  check_token(f, f.post(auth, under));
  // One byte more: refused, before the client is checked.
  const auto before = f.secret_checks();
  check_error(f.post(auth, under + "x"), 400, "invalid_request");
  check_error(f.post(auth, tokenpass::form_encode(cc({{"pad", std::string(2000, 'y')}}))), 400, "invalid_request");
  CHECK(f.secret_checks() == before);
}

TEST_CASE("token endpoint: a form of 20 KiB within max_body_bytes is read, past cpp-httplib's own 8 KiB form limit",
          "[token_endpoint]") {
  Fixture f;  // max_body_bytes 64 KiB
  const HttpHeaders auth = {{"Authorization", basic("svc-a", "secret-a")}};
  check_token(f, f.post(auth, tokenpass::form_encode(cc({{"pad", std::string(20000, 'y')}}))));
  // Past max_body_bytes: the endpoint's own JSON refusal, not a bare 413.
  const HttpResponse r = f.post(auth, tokenpass::form_encode(cc({{"pad", std::string(70000, 'y')}})));
  check_error(r, 400, "invalid_request");
  CHECK(r.header("Cache-Control") == "no-store");
}

// ---- 15. configuration ------------------------------------------------------------

TEST_CASE("token endpoint: MemoryClientRegistry and TokenEndpoint refuse unusable configuration",
          "[token_endpoint]") {
  const Key signer = Key::generate(Alg::ES256);
  const Key client_key = Key::generate(Alg::ES256);
  const auto good = [] { return secret_client("a", "s", {"x"}, {"aud-1", "aud-2"}, {"aud-1"}); };
  const auto registry = [](std::vector<ClientRecord> v) { return tokenpass::MemoryClientRegistry(std::move(v)); };

  SECTION("the good records are accepted") {
    ClientRecord k;
    k.id = "k";
    k.assertion_keys = KeySet({client_key.public_key().value()});
    k.audiences = {"aud-1"};
    CHECK_NOTHROW(registry({good(), k}));
    CHECK(registry({good(), k}).find("k").has_value());
    CHECK_FALSE(registry({good()}).find("nobody").has_value());
  }
  SECTION("a repeated id") { CHECK_THROWS_AS(registry({good(), good()}), std::invalid_argument); }
  SECTION("an empty id") {
    auto c = good();
    c.id.clear();
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }
  SECTION("no secret and no keys") {
    auto c = good();
    c.secret.reset();
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }
  SECTION("a secret method without a secret") {
    ClientRecord c;
    c.id = "k";
    c.assertion_keys = KeySet({client_key.public_key().value()});
    c.audiences = {"aud-1"};
    c.auth_methods = {ClientAuth::client_secret_basic};
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }
  SECTION("no audiences") {
    auto c = good();
    c.audiences.clear();
    c.default_audiences.clear();
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }
  SECTION("a default audience not among the audiences") {
    auto c = good();
    c.default_audiences = {"aud-3"};
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }
  SECTION("an unknown grant type") {
    auto c = good();
    c.grant_types = {kCC, "password"};
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }
  SECTION("a private key among the assertion keys") {
    ClientRecord c;
    c.id = "k";
    c.assertion_keys = KeySet({client_key});
    c.audiences = {"aud-1"};
    CHECK_THROWS_AS(registry({c}), std::invalid_argument);
  }

  const auto clients = std::make_shared<tokenpass::MemoryClientRegistry>(std::vector<ClientRecord>{good()});
  TokenEndpointOptions o;
  o.issuer = "https://auth.example";
  SECTION("the endpoint with a private key, a registry and an issuer is built") {
    TokenEndpoint e(signer, clients, o);
    CHECK(e.token_endpoint() == "https://auth.example/token");
    CHECK(e.jwks_uri() == "https://auth.example/.well-known/jwks.json");
  }
  SECTION("a public signing key") {
    CHECK_THROWS_AS(TokenEndpoint(signer.public_key().value(), clients, o), std::invalid_argument);
  }
  SECTION("a null registry") { CHECK_THROWS_AS(TokenEndpoint(signer, nullptr, o), std::invalid_argument); }
  SECTION("an empty issuer") {
    o.issuer.clear();
    CHECK_THROWS_AS(TokenEndpoint(signer, clients, o), std::invalid_argument);
  }
  SECTION("an issuer that is not an http(s) URL") {
    o.issuer = "auth.example";
    CHECK_THROWS_AS(TokenEndpoint(signer, clients, o), std::invalid_argument);
  }
  SECTION("no auth method") {
    o.auth_methods.clear();
    CHECK_THROWS_AS(TokenEndpoint(signer, clients, o), std::invalid_argument);
  }
}

// ---- 16. SecretHash ----------------------------------------------------------------

TEST_CASE("token endpoint: SecretHash round trip and refusals", "[token_endpoint]") {
  const SecretHash h = SecretHash::make("correct horse", kIterations);
  CHECK(h.iterations == kIterations);
  CHECK(h.matches("correct horse"));
  CHECK_FALSE(h.matches("correct horsf"));
  CHECK_FALSE(h.matches("correct horse "));
  CHECK_FALSE(h.matches(""));
  // A fresh salt each time.
  const SecretHash h2 = SecretHash::make("correct horse", kIterations);
  CHECK(h2.salt != h.salt);
  CHECK(h2.hash != h.hash);
  CHECK(h2.matches("correct horse"));

  SECTION("a salt that is not base64url") {
    SecretHash bad = h;
    bad.salt = "not base64!";
    CHECK_FALSE(bad.matches("correct horse"));
  }
  SECTION("another salt") {
    SecretHash bad = h;
    bad.salt = h2.salt;
    CHECK_FALSE(bad.matches("correct horse"));
  }
  SECTION("a hash that is not base64url") {
    SecretHash bad = h;
    bad.hash = "*" + h.hash.substr(1);
    CHECK_FALSE(bad.matches("correct horse"));
  }
  SECTION("a hash of the wrong length") {
    SecretHash bad = h;
    bad.hash = h.hash.substr(0, 22);
    CHECK_FALSE(bad.matches("correct horse"));
  }
  SECTION("iterations 0 or other") {
    SecretHash bad = h;
    bad.iterations = 0;
    CHECK_FALSE(bad.matches("correct horse"));
    bad.iterations = -1;
    CHECK_FALSE(bad.matches("correct horse"));
    bad.iterations = kIterations + 1;
    CHECK_FALSE(bad.matches("correct horse"));
  }
}

// ---- 17. garbage -------------------------------------------------------------------

TEST_CASE("token endpoint: garbage bodies never crash it and are answered 400", "[token_endpoint]") {
  Fixture f;
  const HttpHeaders auth = {{"Authorization", basic("svc-a", "secret-a")}};
  std::mt19937 rng(20240517);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(1, 2000);
  for (int i = 0; i < 60; ++i) {
    std::string body(static_cast<std::size_t>(length(rng)), '\0');
    for (auto& c : body) c = static_cast<char>(byte(rng));
    INFO("iteration " << i);
    // Authenticated: whatever the form holds, it is no valid request.
    check_error(f.post(auth, body), 400, "invalid_request");
    // Unauthenticated: a malformed form is invalid_request, anything else invalid_client.
    auto r = f.post({}, body);
    CHECK((r.status == 400 || r.status == 401));
    const std::string error = parse_object(r).value("error", std::string());
    CHECK(error == (r.status == 400 ? "invalid_request" : "invalid_client"));
    check_no_store(r);
  }
  for (const std::string& body : std::vector<std::string>{
           "%zz", "%", "%4", "grant_type=%G1", "grant_type=client_credentials&%", "&&&&", "=", "==&==",
        "grant_type", "\xff\xfe\xfd", std::string(7000, '&'), std::string(7000, '%'),
        std::string(7000, 'a'), std::string(7000, 'a') + "=1", std::string(3500, 'n') + "=1&" + std::string(3500, 'n') + "=2"}) {
    INFO("body " << body.substr(0, 40) << " (" << body.size() << " bytes)");
    check_error(f.post(auth, body), 400, "invalid_request");
  }
  for (const std::string body : {"%zz", "%", "a=%4"}) check_error(f.post({}, body), 400, "invalid_request");
  // Many parameters.
  std::string many;
  for (int i = 0; i < 900; ++i) many += "p" + std::to_string(i) + "=1&";
  check_error(f.post(auth, many), 400, "invalid_request");
  // Still serving.
  check_token(f, f.post_basic("svc-a", "secret-a", cc()));
}

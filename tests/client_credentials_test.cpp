#include "tokenpass/client_credentials.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/issuer.h"
#include "tokenpass/verifier.h"

// ClientCredentials and TokenExchange against a real cpp-httplib token endpoint on
// 127.0.0.1 whose answers the test sets and which records every request. Time comes
// from TestClock; the only real waits are a slow answer (single flight) and a hang past
// the client's timeout, and nothing is asserted about how long anything took.

using namespace std::chrono_literals;
using tokenpass::AccessToken;
using tokenpass::Alg;
using tokenpass::ClientAuth;
using tokenpass::ClientCredentials;
using tokenpass::ClientCredentialsOptions;
using tokenpass::errc;
using tokenpass::HttpHeaders;
using tokenpass::TokenExchange;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

constexpr long long kNow = 1900000000;  // 2030-03-17
constexpr const char* kClientId = "svc:1";
constexpr const char* kSecret = "p@ss word";
constexpr const char* kTokenPath = "/oauth2/token";
constexpr const char* kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

using TimePoint = std::chrono::system_clock::time_point;

// TestClock: time that moves only when the test says so; safe to read from any thread.
class TestClock {
 public:
  TimePoint now() const { return TimePoint(std::chrono::seconds(secs_->load())); }
  void advance(std::chrono::seconds s) { *secs_ += s.count(); }
  // set: kNow + `s`.
  void set(std::chrono::seconds s) { *secs_ = kNow + s.count(); }
  tokenpass::Clock fn() const {
    auto secs = secs_;
    return [secs] { return TimePoint(std::chrono::seconds(secs->load())); };
  }

 private:
  std::shared_ptr<std::atomic<long long>> secs_ = std::make_shared<std::atomic<long long>>(kNow);
};

// Recorded: one request the token endpoint received.
struct Recorded {
  HttpHeaders headers;
  std::string body;
  HttpHeaders form;  // the body, form-decoded
  bool form_ok = false;

  std::optional<std::string> header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (tokenpass::header_name_equals(k, name)) return v;
    }
    return std::nullopt;
  }
  std::optional<std::string> field(const std::string& name) const {
    for (const auto& [k, v] : form) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  int count(const std::string& name) const {
    int n = 0;
    for (const auto& f : form) n += f.first == name ? 1 : 0;
    return n;
  }
};

// Reply: what the endpoint answers, after waiting `delay` (cut short when the server
// stops).
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds delay{0};
};

// Responder: computes a reply for the n-th request (1-based), under the server's mutex.
using Responder = std::function<Reply(const Recorded&, int n)>;

// issue: a successful §5.1 answer with access token "at-<n>".
Responder issue(std::optional<long long> expires_in = 100, std::string scope = {}) {
  return [expires_in, scope](const Recorded&, int n) {
    json body = {{"access_token", "at-" + std::to_string(n)}, {"token_type", "Bearer"}};
    if (expires_in) body["expires_in"] = *expires_in;
    if (!scope.empty()) body["scope"] = scope;
    return Reply{200, body.dump()};
  };
}

Responder fixed(int status, std::string body, std::string content_type = "application/json") {
  return [status, body, content_type](const Recorded&, int) {
    return Reply{status, body, content_type};
  };
}

Responder delayed(std::chrono::milliseconds delay, Responder inner) {
  return [delay, inner](const Recorded& r, int n) {
    Reply out = inner(r, n);
    out.delay = delay;
    return out;
  };
}

// TokenServer: a token endpoint at http://127.0.0.1:PORT/oauth2/token.
class TokenServer {
 public:
  TokenServer() {
    server_.Post(kTokenPath, [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("TokenServer: cannot bind to 127.0.0.1");
    auto ended = std::make_shared<std::atomic<bool>>(false);
    thread_ = std::thread([this, ended] {
      server_.listen_after_bind();
      *ended = true;
    });
    // cpp-httplib's stop() does nothing until the accept loop has started.
    while (!server_.is_running() && !*ended) std::this_thread::sleep_for(1ms);
  }
  ~TokenServer() { stop(); }
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + kTokenPath; }

  void respond(Responder r) {
    std::lock_guard<std::mutex> g(mu_);
    responder_ = std::move(r);
  }
  int requests() const {
    std::lock_guard<std::mutex> g(mu_);
    return static_cast<int>(recorded_.size());
  }
  std::vector<Recorded> recorded() const {
    std::lock_guard<std::mutex> g(mu_);
    return recorded_;
  }
  Recorded last() const {
    std::lock_guard<std::mutex> g(mu_);
    return recorded_.empty() ? Recorded{} : recorded_.back();
  }

  // stop: ends delayed answers and closes the port (connections are refused).
  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    Recorded rec;
    for (const auto& [k, v] : req.headers) rec.headers.emplace_back(k, v);
    rec.body = req.body;
    if (auto form = tokenpass::form_decode(req.body)) {
      rec.form = std::move(*form);
      rec.form_ok = true;
    }
    std::unique_lock<std::mutex> lock(mu_);
    recorded_.push_back(rec);
    const Reply reply = responder_(rec, static_cast<int>(recorded_.size()));
    if (reply.delay.count() > 0) cv_.wait_for(lock, reply.delay, [&] { return stopping_; });
    res.status = reply.status;
    res.set_content(reply.body, reply.content_type.c_str());
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Responder responder_ = issue();  // guarded by mu_
  std::vector<Recorded> recorded_;  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

ClientCredentialsOptions options_for(const TokenServer& server, const TestClock& clock) {
  ClientCredentialsOptions o;
  o.token_endpoint = server.url();
  o.client_id = kClientId;
  o.client_secret = kSecret;
  o.allow_http = true;
  o.timeout = 3000ms;
  o.clock = clock.fn();
  return o;
}

std::shared_ptr<tokenpass::HttpClient> http() { return std::make_shared<tokenpass::HttplibClient>(); }

// The client_secret_basic header value for kClientId / kSecret, form-encoded first.
std::string basic_header() { return "Basic " + tp_test::ossl::base64("svc%3A1:p%40ss+word"); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Subjects: an issuer and a verifier on the test clock, for TokenExchange.
struct Subjects {
  TestClock clock;
  tokenpass::Key key = tp_test::key_for(Alg::ES256);
  tokenpass::Issuer issuer;
  tokenpass::Verifier verifier;

  explicit Subjects(const TestClock& c)
      : clock(c),
        issuer(key, "https://issuer.example", 60s, issuer_options(c)),
        verifier(tokenpass::KeySet({key.public_key().value()}), policy(c)) {}

  static tokenpass::IssuerOptions issuer_options(const TestClock& c) {
    tokenpass::IssuerOptions o;
    o.audience = {"gateway"};
    o.clock = c.fn();
    return o;
  }
  static tokenpass::Policy policy(const TestClock& c) {
    tokenpass::Policy p;
    p.issuers = {"https://issuer.example"};
    p.audiences = {"gateway"};
    p.leeway = 0s;
    p.clock = c.fn();
    return p;
  }
  tokenpass::VerifiedToken user(const std::string& sub) const {
    auto compact = issuer.issue(tokenpass::ClaimsBuilder().subject(sub).scopes({"orders:read"}));
    REQUIRE(compact);
    auto verified = verifier.verify(*compact);
    REQUIRE(verified);
    return *verified;
  }
};

}  // namespace

// ---- client authentication --------------------------------------------------------

TEST_CASE("client_secret_basic sends the form-encoded id and secret in a Basic header",
          "[oauth][auth]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  auto r = cc.token("orders-api", {"orders:write", "orders:read"});
  REQUIRE(r);
  CHECK(r->access_token == "at-1");
  REQUIRE(server.requests() == 1);
  const Recorded req = server.last();
  CHECK(req.header("Authorization") == basic_header());
  CHECK(req.header("Content-Type") == "application/x-www-form-urlencoded");
  REQUIRE(req.form_ok);
  CHECK(req.field("grant_type") == "client_credentials");
  CHECK(req.field("scope") == "orders:read orders:write");
  CHECK(req.field("audience") == "orders-api");
  CHECK(req.count("resource") == 0);
  CHECK(req.count("client_secret") == 0);
  CHECK(req.count("client_id") == 0);
  CHECK_FALSE(contains(req.body, "p%40ss"));
  CHECK_FALSE(contains(req.body, "p@ss"));
}

TEST_CASE("client_secret_post sends client_id and client_secret in the form and no Basic header",
          "[oauth][auth]") {
  TestClock clock;
  TokenServer server;
  auto opts = options_for(server, clock);
  opts.auth = ClientAuth::client_secret_post;
  ClientCredentials cc(opts, http());
  REQUIRE(cc.token("orders-api"));
  const Recorded req = server.last();
  CHECK_FALSE(req.header("Authorization"));
  REQUIRE(req.form_ok);
  CHECK(req.field("grant_type") == "client_credentials");
  CHECK(req.field("client_id") == kClientId);
  CHECK(req.field("client_secret") == kSecret);
  CHECK(req.field("audience") == "orders-api");
  CHECK(req.count("scope") == 0);
}

TEST_CASE("private_key_jwt sends an RFC 7523 assertion the token service verifies",
          "[oauth][auth]") {
  TestClock clock;
  TokenServer server;
  const tokenpass::Key key = tp_test::key_for(Alg::ES256);
  const tokenpass::Key pub = key.public_key().value();
  // The server answers only when the assertion verifies under the client's public key.
  server.respond([pub, inner = issue()](const Recorded& r, int n) {
    const auto assertion = r.field("client_assertion");
    if (!assertion || !tokenpass::verify_jws(*assertion, pub)) {
      return Reply{401, R"({"error":"invalid_client"})"};
    }
    return inner(r, n);
  });
  auto opts = options_for(server, clock);
  opts.auth = ClientAuth::private_key_jwt;
  opts.client_secret.clear();
  opts.assertion_key = key;
  opts.assertion_lifetime = 45s;
  ClientCredentials cc(opts, http());
  auto r = cc.token("orders-api");
  REQUIRE(r);
  CHECK(r->access_token == "at-1");

  const auto claims_of = [&](const Recorded& req) {
    CHECK_FALSE(req.header("Authorization"));
    CHECK(req.count("client_secret") == 0);
    CHECK(req.field("client_id") == kClientId);
    CHECK(req.field("client_assertion_type") ==
          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    auto verified = tokenpass::verify_jws(req.field("client_assertion").value_or(""), pub);
    REQUIRE(verified);
    auto claims = tokenpass::Claims::from_json(json::parse(verified->payload()));
    REQUIRE(claims);
    return *claims;
  };
  const auto first = claims_of(server.last());
  CHECK(first.issuer() == kClientId);
  CHECK(first.subject() == kClientId);
  CHECK(first.audience() == std::vector<std::string>{server.url()});
  REQUIRE(first.jwt_id());
  CHECK_FALSE(first.jwt_id()->empty());
  REQUIRE(first.issued_at());
  REQUIRE(first.expires_at());
  CHECK(first.issued_at()->time_since_epoch().count() == double(kNow));
  CHECK((*first.expires_at() - *first.issued_at()).count() == 45.0);

  // A new assertion (and jti) for every request.
  clock.advance(80s);
  REQUIRE(cc.token("orders-api"));
  REQUIRE(server.requests() == 2);
  const auto second = claims_of(server.last());
  CHECK(second.jwt_id() != first.jwt_id());
  CHECK(second.issued_at()->time_since_epoch().count() == double(kNow + 80));
}

TEST_CASE("resource_parameter sends resource instead of audience", "[oauth][params]") {
  TestClock clock;
  TokenServer server;
  auto opts = options_for(server, clock);
  opts.resource_parameter = true;
  ClientCredentials cc(opts, http());
  REQUIRE(cc.token("https://orders.example/api", {"orders:read"}));
  const Recorded req = server.last();
  CHECK(req.field("resource") == "https://orders.example/api");
  CHECK(req.count("audience") == 0);
  CHECK(req.field("scope") == "orders:read");
}

// ---- RFC 6749 §5.1 responses ------------------------------------------------------

TEST_CASE("a 5.1 response gives access_token, token_type, expires_in and scope", "[oauth][parse]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(200, R"({"access_token":"abc.def","token_type":"Bearer",)"
                            R"("expires_in":3600,"scope":"orders:read","extra":1})"));
  ClientCredentials cc(options_for(server, clock), http());
  auto r = cc.token();
  REQUIRE(r);
  CHECK(r->access_token == "abc.def");
  CHECK(r->token_type == "Bearer");
  CHECK(r->scope == "orders:read");
  CHECK(r->issued_token_type.empty());
  CHECK(r->expires_at == clock.now() + 3600s);
}

TEST_CASE("a response without access_token or token_type is http_error", "[oauth][parse]") {
  TestClock clock;
  TokenServer server;
  const auto body = GENERATE(std::string(R"({"token_type":"Bearer","expires_in":60})"),
                             std::string(R"({"access_token":"","token_type":"Bearer"})"),
                             std::string(R"({"access_token":"at","expires_in":60})"),
                             std::string(R"({"access_token":7,"token_type":"Bearer"})"),
                             std::string(R"({"access_token":"at","token_type":null})"));
  CAPTURE(body);
  server.respond(fixed(200, body));
  ClientCredentials cc(options_for(server, clock), http());
  auto r = cc.token();
  CHECK(error_of(r) == errc::http_error);
  CHECK(server.requests() == 1);
  CHECK(cc.stats().failures == 1);
}

TEST_CASE("a response with anything but white space after its JSON is http_error",
          "[oauth][parse]") {
  const std::string good = R"({"access_token":"at","token_type":"Bearer","expires_in":60})";
  for (const std::string& tail :
       {std::string(1, '\0'), std::string("\0{}", 3), std::string(" x"), std::string("{}")}) {
    TestClock clock;
    TokenServer server;
    server.respond(fixed(200, good + tail));
    ClientCredentials cc(options_for(server, clock), http());
    CHECK(error_of(cc.token()) == errc::http_error);
  }
  TestClock clock;
  TokenServer server;
  server.respond(fixed(200, good + " \r\n\t"));
  ClientCredentials cc(options_for(server, clock), http());
  CHECK(error_of(cc.token()) == errc{});
}

TEST_CASE("an access_token that is not token68 is http_error and never reaches a header",
          "[oauth][parse][hostile]") {
  // Issue 14 item 3: CR/LF in the token would write headers into every downstream call.
  for (const std::string& bad : {std::string("at\r\nX-Injected: 1"), std::string("a b"),
                                 std::string("a\nb"), std::string("=abc"), std::string("a\"b"),
                                 std::string("a,b")}) {
    TestClock clock;
    TokenServer server;
    server.respond(fixed(200, json{{"access_token", bad}, {"token_type", "Bearer"},
                                   {"expires_in", 60}}.dump()));
    auto cc = std::make_shared<const ClientCredentials>(options_for(server, clock), http());
    CAPTURE(bad);
    CHECK(error_of(cc->token()) == errc::http_error);
    tokenpass::Outbound out = tokenpass::Outbound::service_token(cc);
    out.allow("api", {"api", {}});
    CHECK(error_of(out.headers_for("api", nullptr)) == errc::http_error);
  }
  for (const std::string& good : {std::string("abc.DEF-_~+/"), std::string("abc==")}) {
    TestClock clock;
    TokenServer server;
    server.respond(fixed(200, json{{"access_token", good}, {"token_type", "Bearer"},
                                   {"expires_in", 60}}.dump()));
    ClientCredentials cc(options_for(server, clock), http());
    CHECK(error_of(cc.token()) == errc{});
  }
}

TEST_CASE("a response that is not a JSON object is http_error", "[oauth][parse]") {
  TestClock clock;
  TokenServer server;
  const auto body = GENERATE(std::string("<html>ok</html>"), std::string(R"({"access_token":)"),
                             std::string(R"(["at","Bearer"])"), std::string(""));
  CAPTURE(body);
  server.respond(fixed(200, body, "text/html"));
  ClientCredentials cc(options_for(server, clock), http());
  CHECK(error_of(cc.token()) == errc::http_error);
  CHECK(cc.stats().failures == 1);
}

TEST_CASE("a negative, zero, sub-second or string expires_in is http_error", "[oauth][parse]") {
  TestClock clock;
  TokenServer server;
  const auto expires = GENERATE(std::string("-5"), std::string("0"), std::string("0.5"),
                                std::string("1e-300"), std::string(R"("3600")"),
                                std::string("null"), std::string("1e300"));
  CAPTURE(expires);
  server.respond(fixed(200, R"({"access_token":"at","token_type":"Bearer","expires_in":)" +
                                expires + "}"));
  ClientCredentials cc(options_for(server, clock), http());
  CHECK(error_of(cc.token()) == errc::http_error);
}

TEST_CASE("a response without expires_in lives default_lifetime", "[oauth][parse][time]") {
  TestClock clock;
  TokenServer server;
  server.respond(issue(std::nullopt));
  auto opts = options_for(server, clock);
  opts.default_lifetime = 200s;
  ClientCredentials cc(opts, http());
  auto r = cc.token();
  REQUIRE(r);
  CHECK(r->expires_at == clock.now() + 200s);
  // Refreshed at 80% of the default lifetime.
  clock.advance(159s);
  CHECK(cc.token()->access_token == "at-1");
  clock.advance(1s);
  CHECK(cc.token()->access_token == "at-2");
  CHECK(server.requests() == 2);
}

// ---- RFC 6749 §5.2 errors ---------------------------------------------------------

TEST_CASE("a 400 invalid_scope error is token_request_refused whose detail names it",
          "[oauth][errors]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(400, R"({"error":"invalid_scope","error_description":"scope admin not allowed"})"));
  ClientCredentials cc(options_for(server, clock), http());
  auto r = cc.token("orders-api", {"admin"});
  REQUIRE(error_of(r) == errc::token_request_refused);
  CHECK(tokenpass::http_status(r.error()) == 500);
  CHECK(contains(r.error().detail, "400"));
  CHECK(contains(r.error().detail, "invalid_scope"));
  CHECK(contains(r.error().detail, "scope admin not allowed"));
  CHECK(cc.stats().failures == 1);
}

TEST_CASE("a 401 invalid_client error is token_request_refused whose detail names it",
          "[oauth][errors]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(401, R"({"error":"invalid_client"})"));
  ClientCredentials cc(options_for(server, clock), http());
  auto r = cc.token();
  REQUIRE(error_of(r) == errc::token_request_refused);
  CHECK(contains(r.error().detail, "401"));
  CHECK(contains(r.error().detail, "invalid_client"));
}

TEST_CASE("every RFC 6749 5.2 refusal is token_request_refused, an outage is http_error",
          "[oauth][errors]") {
  // A refusal will be refused again (wrong credentials or configuration: 500); an outage
  // or an answer outside the protocol may pass later (503).
  for (const char* code : {"invalid_request", "invalid_client", "invalid_grant",
                           "unauthorized_client", "unsupported_grant_type", "invalid_scope",
                           "invalid_target"}) {
    TestClock clock;
    TokenServer server;
    server.respond(fixed(400, json{{"error", code}}.dump()));
    ClientCredentials cc(options_for(server, clock), http());
    INFO(code);
    CHECK(error_of(cc.token()) == errc::token_request_refused);
  }
  struct Outage {
    int status;
    const char* body;
  };
  for (const Outage& o : {Outage{503, R"({"error":"temporarily_unavailable"})"},
                          Outage{500, R"({"error":"invalid_client"})"},
                          Outage{400, R"({"error":"slow_down"})"}, Outage{400, "not json"},
                          Outage{429, R"({"error":"invalid_scope"})"}}) {
    TestClock clock;
    TokenServer server;
    server.respond(fixed(o.status, o.body));
    ClientCredentials cc(options_for(server, clock), http());
    auto r = cc.token();
    INFO(o.status << " " << o.body);
    CHECK(error_of(r) == errc::http_error);
    if (!r) CHECK(tokenpass::http_status(r.error()) == 503);
  }
}

TEST_CASE("error details never contain the client secret or a token", "[oauth][errors][secrets]") {
  TestClock clock;
  TokenServer server;
  const std::string access = "secret-access-token-value";
  const auto reply = GENERATE_COPY(
      fixed(401, R"({"error":"invalid_client","error_description":"bad credentials"})"),
      fixed(500, "internal error", "text/plain"),
      fixed(200, R"({"access_token":")" + access + R"(","token_type":"Bearer","expires_in":-1})"),
      fixed(200, R"({"access_token":")" + access + R"(","expires_in":60})"));
  server.respond(reply);
  const auto auth = GENERATE(ClientAuth::client_secret_basic, ClientAuth::client_secret_post);
  auto opts = options_for(server, clock);
  opts.auth = auth;
  ClientCredentials cc(opts, http());
  auto r = cc.token("orders-api");
  REQUIRE((error_of(r) == errc::http_error || error_of(r) == errc::token_request_refused));
  const std::string& d = r.error().detail;
  CAPTURE(d);
  CHECK_FALSE(contains(d, kSecret));
  CHECK_FALSE(contains(d, "p%40ss"));
  CHECK_FALSE(contains(d, tp_test::ossl::base64("svc%3A1:p%40ss+word")));
  CHECK_FALSE(contains(d, access));
}

// ---- the cache --------------------------------------------------------------------

TEST_CASE("a second call for the same audience and scopes is a cache hit", "[oauth][cache]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  auto a = cc.token("orders-api", {"orders:read"});
  auto b = cc.token("orders-api", {"orders:read"});
  REQUIRE(a);
  REQUIRE(b);
  CHECK(b->access_token == a->access_token);
  CHECK(server.requests() == 1);
  CHECK(cc.stats().requests == 1);
  CHECK(cc.stats().cache_hits == 1);
  CHECK(cc.stats().failures == 0);
}

TEST_CASE("another audience or other scopes get their own cache entry", "[oauth][cache]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  CHECK(cc.token("orders-api", {"orders:read"})->access_token == "at-1");
  CHECK(cc.token("billing-api", {"orders:read"})->access_token == "at-2");
  CHECK(cc.token("orders-api", {"orders:read", "orders:write"})->access_token == "at-3");
  CHECK(cc.token("orders-api")->access_token == "at-4");
  CHECK(cc.token()->access_token == "at-5");
  CHECK(server.requests() == 5);
  // Each entry is now a hit.
  CHECK(cc.token("orders-api", {"orders:read"})->access_token == "at-1");
  CHECK(cc.token("billing-api", {"orders:read"})->access_token == "at-2");
  CHECK(cc.token("orders-api", {"orders:read", "orders:write"})->access_token == "at-3");
  CHECK(cc.token("orders-api")->access_token == "at-4");
  CHECK(cc.token()->access_token == "at-5");
  CHECK(server.requests() == 5);
  CHECK(cc.stats().cache_hits == 5);
}

TEST_CASE("scopes in another order share one cache entry", "[oauth][cache]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  CHECK(cc.token("orders-api", {"b", "c", "a"})->access_token == "at-1");
  CHECK(cc.token("orders-api", {"a", "b", "c"})->access_token == "at-1");
  CHECK(cc.token("orders-api", {"c", "a", "b", "a"})->access_token == "at-1");
  CHECK(server.requests() == 1);
  CHECK(server.last().field("scope") == "a b c");
  CHECK(cc.stats().cache_hits == 2);
}

TEST_CASE("a full cache does not evict the entry it has just fetched", "[oauth][cache]") {
  TestClock clock;
  TokenServer server;
  auto opts = options_for(server, clock);
  opts.max_cache_entries = 1;
  ClientCredentials cc(opts, http());
  CHECK(cc.token("b-api")->access_token == "at-1");
  CHECK(cc.token("a-api")->access_token == "at-2");  // the cache is full: "b-api" goes
  CHECK(cc.token("a-api")->access_token == "at-2");
  CHECK(server.requests() == 2);
  CHECK(cc.stats().cache_hits == 1);
}

TEST_CASE("failed entries are trimmed to max_cache_entries too", "[oauth][cache][failure]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(500, "internal error", "text/plain"));
  auto opts = options_for(server, clock);
  opts.max_cache_entries = 1;
  ClientCredentials cc(opts, http());
  CHECK(error_of(cc.token("a-api")) == errc::http_error);
  CHECK(error_of(cc.token("a-api")) == errc::http_error);  // backing off: no request
  CHECK(server.requests() == 1);
  CHECK(error_of(cc.token("b-api")) == errc::http_error);
  CHECK(server.requests() == 2);
  // "a-api" and its back-off were dropped for "b-api": asking again is a new request.
  CHECK(error_of(cc.token("a-api")) == errc::http_error);
  CHECK(server.requests() == 3);
  CHECK(cc.stats().failures == 3);
}

// ---- refresh ahead ----------------------------------------------------------------

TEST_CASE("a token is refreshed once 80% of its lifetime has passed", "[oauth][time]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  CHECK(cc.token("orders-api")->access_token == "at-1");
  clock.set(79s);
  CHECK(cc.token("orders-api")->access_token == "at-1");
  CHECK(server.requests() == 1);
  clock.set(80s);
  auto r = cc.token("orders-api");
  REQUIRE(r);
  CHECK(r->access_token == "at-2");
  CHECK(r->expires_at == clock.now() + 100s);
  CHECK(server.requests() == 2);
  // The new token is cached from then on.
  clock.set(159s);
  CHECK(cc.token("orders-api")->access_token == "at-2");
  CHECK(server.requests() == 2);
}

TEST_CASE("refresh_at 0.5 refreshes at half the lifetime", "[oauth][time]") {
  TestClock clock;
  TokenServer server;
  auto opts = options_for(server, clock);
  opts.refresh_at = 0.5;
  ClientCredentials cc(opts, http());
  CHECK(cc.token()->access_token == "at-1");
  clock.set(49s);
  CHECK(cc.token()->access_token == "at-1");
  CHECK(server.requests() == 1);
  clock.set(50s);
  CHECK(cc.token()->access_token == "at-2");
  CHECK(server.requests() == 2);
}

TEST_CASE("a token in its last moments is not served, even when the endpoint is down",
          "[oauth][time][failure]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  REQUIRE(cc.token());
  server.respond(fixed(503, R"({"error":"temporarily_unavailable"})"));
  clock.set(95s);  // 5 s left of 100: past the usable margin
  auto r = cc.token();
  CHECK(error_of(r) == errc::http_error);
  CHECK(server.requests() == 2);
  CHECK(cc.stats().failures == 1);
}

// ---- single flight ----------------------------------------------------------------

TEST_CASE("16 threads asking at once with an empty cache make one request",
          "[oauth][concurrency]") {
  TestClock clock;
  TokenServer server;
  server.respond(delayed(200ms, issue()));
  ClientCredentials cc(options_for(server, clock), http());
  constexpr int kThreads = 16;
  std::vector<tokenpass::Result<AccessToken>> results(
      kThreads, tokenpass::make_error(errc::malformed, "not run"));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (!go) std::this_thread::yield();
      results[static_cast<std::size_t>(i)] = cc.token("orders-api", {"orders:read"});
    });
  }
  while (ready < kThreads) std::this_thread::yield();
  go = true;
  for (auto& t : threads) t.join();
  CHECK(server.requests() == 1);
  for (const auto& r : results) {
    REQUIRE(r);
    CHECK(r->access_token == "at-1");
  }
  CHECK(cc.stats().requests == 1);
  CHECK(cc.stats().cache_hits == kThreads - 1);
}

// ---- failures and back-off --------------------------------------------------------

namespace {

enum class Outage { status_500, hang, refused };

// served_through: a valid cached token keeps being served while the endpoint fails.
void served_through(Outage outage) {
  TestClock clock;
  TokenServer server;
  auto opts = options_for(server, clock);
  opts.timeout = 300ms;
  ClientCredentials cc(opts, http());
  REQUIRE(cc.token("orders-api")->access_token == "at-1");
  switch (outage) {
    case Outage::status_500:
      server.respond(fixed(500, "internal error", "text/plain"));
      break;
    case Outage::hang:
      server.respond(delayed(5000ms, issue()));  // cut short when the server stops
      break;
    case Outage::refused:
      server.stop();
      break;
  }
  clock.set(80s);
  auto r = cc.token("orders-api");
  REQUIRE(r);
  CHECK(r->access_token == "at-1");
  CHECK(cc.stats().failures == 1);
  if (outage != Outage::refused) CHECK(server.requests() == 2);
  // Back-off: no new request until min_retry (1 s) has passed.
  CHECK(cc.token("orders-api")->access_token == "at-1");
  CHECK(cc.stats().requests == 2);
  clock.set(81s);
  CHECK(cc.token("orders-api")->access_token == "at-1");
  CHECK(cc.stats().requests == 3);
  CHECK(cc.stats().failures == 2);
  if (outage != Outage::refused) CHECK(server.requests() == 3);
}

}  // namespace

TEST_CASE("a valid cached token is served while the endpoint answers 500", "[oauth][failure]") {
  served_through(Outage::status_500);
}

TEST_CASE("a valid cached token is served while the endpoint hangs past the timeout",
          "[oauth][failure]") {
  served_through(Outage::hang);
}

TEST_CASE("a valid cached token is served while the endpoint refuses connections",
          "[oauth][failure]") {
  served_through(Outage::refused);
}

TEST_CASE("after a failure the next request waits for the back-off, then a success resets it",
          "[oauth][backoff]") {
  TestClock clock;
  TokenServer server;
  ClientCredentials cc(options_for(server, clock), http());
  REQUIRE(cc.token());
  server.respond(fixed(500, "down", "text/plain"));
  clock.set(80s);
  CHECK(cc.token()->access_token == "at-1");  // request 2 failed
  CHECK(cc.token()->access_token == "at-1");  // still within min_retry: no request
  CHECK(server.requests() == 2);
  clock.set(81s);
  CHECK(cc.token()->access_token == "at-1");  // request 3 failed, back-off now 2 s
  CHECK(server.requests() == 3);
  clock.set(82s);
  CHECK(cc.token()->access_token == "at-1");
  CHECK(server.requests() == 3);
  server.respond(issue());
  clock.set(83s);
  auto r = cc.token();
  REQUIRE(r);
  CHECK(r->access_token == "at-4");
  CHECK(server.requests() == 4);
  CHECK(cc.stats().failures == 2);
  // The success reset the back-off: the next failure waits min_retry again.
  server.respond(fixed(500, "down", "text/plain"));
  clock.set(163s);
  CHECK(cc.token()->access_token == "at-4");
  CHECK(server.requests() == 5);
  clock.set(164s);
  CHECK(cc.token()->access_token == "at-4");
  CHECK(server.requests() == 6);
}

TEST_CASE("a failure with no valid token is repeated without a request during back-off",
          "[oauth][failure][backoff]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(400, R"({"error":"invalid_scope"})"));
  ClientCredentials cc(options_for(server, clock), http());
  auto first = cc.token("orders-api", {"admin"});
  REQUIRE(error_of(first) == errc::token_request_refused);
  auto again = cc.token("orders-api", {"admin"});
  REQUIRE(error_of(again) == errc::token_request_refused);
  CHECK(again.error().detail == first.error().detail);
  CHECK(server.requests() == 1);
  CHECK(cc.stats().failures == 1);
  // Another entry is not held back by this one's back-off.
  server.respond(issue());
  CHECK(cc.token("orders-api", {"orders:read"}));
  CHECK(server.requests() == 2);
}

TEST_CASE("the back-off doubles from min_retry up to max_retry", "[oauth][backoff]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(500, "down", "text/plain"));
  auto opts = options_for(server, clock);
  opts.min_retry = 1s;
  opts.max_retry = 4s;
  ClientCredentials cc(opts, http());
  // Failures at 0, 1, 3, 7, 11, 15: waits of 1, 2, 4, 4, 4 s.
  int expected = 0;
  for (long long t = 0; t <= 15; ++t) {
    clock.set(std::chrono::seconds(t));
    CAPTURE(t);
    CHECK(error_of(cc.token()) == errc::http_error);
    if (t == 0 || t == 1 || t == 3 || t == 7 || t == 11 || t == 15) ++expected;
    CHECK(server.requests() == expected);
  }
  CHECK(cc.stats().failures == 6);
}

// ---- configuration ----------------------------------------------------------------

TEST_CASE("the constructor refuses unusable options", "[oauth][config]") {
  TestClock clock;
  ClientCredentialsOptions good;
  good.token_endpoint = "http://127.0.0.1:9/token";
  good.client_id = kClientId;
  good.client_secret = kSecret;
  good.allow_http = true;
  good.clock = clock.fn();
  CHECK_NOTHROW(ClientCredentials(good, http()));
  CHECK_NOTHROW(TokenExchange(good, http()));

  auto bad = good;
  SECTION("http:// without allow_http") { bad.allow_http = false; }
  SECTION("no endpoint") { bad.token_endpoint.clear(); }
  SECTION("not an http(s) URL") { bad.token_endpoint = "ftp://127.0.0.1/token"; }
  SECTION("no client_id") { bad.client_id.clear(); }
  SECTION("client_secret_basic without a secret") { bad.client_secret.clear(); }
  SECTION("client_secret_post without a secret") {
    bad.auth = ClientAuth::client_secret_post;
    bad.client_secret.clear();
  }
  SECTION("private_key_jwt without a key") { bad.auth = ClientAuth::private_key_jwt; }
  SECTION("private_key_jwt with a public key") {
    bad.auth = ClientAuth::private_key_jwt;
    bad.assertion_key = tp_test::key_for(Alg::ES256).public_key().value();
  }
  SECTION("refresh_at 0") { bad.refresh_at = 0.0; }
  SECTION("refresh_at 1.5") { bad.refresh_at = 1.5; }
  SECTION("refresh_at -0.5") { bad.refresh_at = -0.5; }
  CHECK_THROWS_AS(ClientCredentials(bad, http()), std::invalid_argument);
  CHECK_THROWS_AS(TokenExchange(bad, http()), std::invalid_argument);
  // A null client is refused whatever the options.
  CHECK_THROWS_AS(ClientCredentials(good, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(TokenExchange(good, nullptr), std::invalid_argument);
}

TEST_CASE("private_key_jwt with a private key and refresh_at 1 are accepted", "[oauth][config]") {
  ClientCredentialsOptions o;
  o.token_endpoint = "https://auth.example/token";
  o.client_id = kClientId;
  o.auth = ClientAuth::private_key_jwt;
  o.assertion_key = tp_test::key_for(Alg::ES256);
  o.refresh_at = 1.0;
  CHECK_NOTHROW(ClientCredentials(o, http()));
}

// ---- token exchange ---------------------------------------------------------------

TEST_CASE("TokenExchange posts an RFC 8693 request for the verified subject token",
          "[oauth][exchange]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(200, json{{"access_token", "exchanged"},
                                 {"token_type", "Bearer"},
                                 {"issued_token_type", kAccessTokenType},
                                 {"expires_in", 30}}
                                .dump()));
  Subjects subjects(clock);
  const auto user = subjects.user("user-1");
  TokenExchange tx(options_for(server, clock), http());
  auto r = tx.exchange(user, "billing-api", {"billing:write", "billing:read"});
  REQUIRE(r);
  CHECK(r->access_token == "exchanged");
  CHECK(r->issued_token_type == kAccessTokenType);
  CHECK(r->expires_at == clock.now() + 30s);
  REQUIRE(server.requests() == 1);
  const Recorded req = server.last();
  CHECK(req.header("Authorization") == basic_header());
  CHECK(req.field("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange");
  CHECK(req.field("subject_token") == user.compact());
  CHECK(req.field("subject_token_type") == kAccessTokenType);
  CHECK(req.field("requested_token_type") == kAccessTokenType);
  CHECK(req.field("audience") == "billing-api");
  CHECK(req.field("scope") == "billing:read billing:write");
  CHECK(req.count("client_secret") == 0);
}

TEST_CASE("TokenExchange caches per subject token, audience and scopes",
          "[oauth][exchange][cache]") {
  TestClock clock;
  TokenServer server;
  Subjects subjects(clock);
  const auto alice = subjects.user("alice");
  const auto bob = subjects.user("bob");
  REQUIRE(alice.compact() != bob.compact());
  TokenExchange tx(options_for(server, clock), http());
  CHECK(tx.exchange(alice, "billing-api", {"b", "a"})->access_token == "at-1");
  CHECK(tx.exchange(alice, "billing-api", {"a", "b"})->access_token == "at-1");
  CHECK(server.requests() == 1);
  CHECK(tx.stats().cache_hits == 1);
  CHECK(tx.exchange(bob, "billing-api", {"a", "b"})->access_token == "at-2");
  CHECK(server.last().field("subject_token") == bob.compact());
  CHECK(tx.exchange(alice, "product-api", {"a", "b"})->access_token == "at-3");
  CHECK(tx.exchange(alice, "billing-api", {"a"})->access_token == "at-4");
  CHECK(server.requests() == 4);
  CHECK(tx.exchange(bob, "billing-api", {"a", "b"})->access_token == "at-2");
  CHECK(server.requests() == 4);
}

TEST_CASE("TokenExchange never caches an exchanged token past the subject token's exp",
          "[oauth][exchange][time]") {
  TestClock clock;
  TokenServer server;
  server.respond(issue(300));  // outlives the 60 s subject token
  Subjects subjects(clock);
  const auto user = subjects.user("user-1");
  TokenExchange tx(options_for(server, clock), http());
  CHECK(tx.exchange(user, "billing-api")->access_token == "at-1");
  clock.set(30s);
  CHECK(tx.exchange(user, "billing-api")->access_token == "at-1");
  CHECK(server.requests() == 1);
  // One second before the subject expires, the cached token is not served.
  clock.set(59s);
  auto r = tx.exchange(user, "billing-api");
  REQUIRE(r);
  CHECK(r->access_token == "at-2");
  CHECK(server.requests() == 2);
}

TEST_CASE("TokenExchange refuses an expired subject token with expired and no request",
          "[oauth][exchange][time]") {
  TestClock clock;
  TokenServer server;
  Subjects subjects(clock);
  const auto user = subjects.user("user-1");
  TokenExchange tx(options_for(server, clock), http());
  REQUIRE(tx.exchange(user, "billing-api"));
  CHECK(server.requests() == 1);
  clock.set(60s);  // the subject's exp
  auto r = tx.exchange(user, "billing-api");
  CHECK(error_of(r) == errc::expired);
  CHECK_FALSE(contains(r.error().detail, user.compact()));
  // Also for an entry never asked for before.
  CHECK(error_of(tx.exchange(user, "product-api")) == errc::expired);
  CHECK(server.requests() == 1);
}

TEST_CASE("TokenExchange error details never contain the subject token",
          "[oauth][exchange][errors][secrets]") {
  TestClock clock;
  TokenServer server;
  server.respond(fixed(400, R"({"error":"invalid_target"})"));
  Subjects subjects(clock);
  const auto user = subjects.user("user-1");
  TokenExchange tx(options_for(server, clock), http());
  auto r = tx.exchange(user, "billing-api");
  REQUIRE(error_of(r) == errc::token_request_refused);
  CHECK(contains(r.error().detail, "invalid_target"));
  CHECK_FALSE(contains(r.error().detail, user.compact()));
  CHECK_FALSE(contains(r.error().detail, tp_test::split(user.compact()).signature));
  CHECK_FALSE(contains(r.error().detail, kSecret));
}

// ---- form encoding ----------------------------------------------------------------

TEST_CASE("form_encode writes + for space and %XX for everything but *-._ and alphanumerics",
          "[oauth][form]") {
  CHECK(tokenpass::form_encode({{"a b", "c&d=e"}, {"x", "\xC3\xBC*-._~+%"}}) ==
        "a+b=c%26d%3De&x=%C3%BC*-._%7E%2B%25");
  CHECK(tokenpass::form_encode({{"client_id", "svc:1"}, {"client_secret", "p@ss word"}}) ==
        "client_id=svc%3A1&client_secret=p%40ss+word");
  CHECK(tokenpass::form_encode({}).empty());
  CHECK(tokenpass::form_encode({{"empty", ""}}) == "empty=");
}

TEST_CASE("form_decode reverses form_encode", "[oauth][form]") {
  const HttpHeaders fields = {{"grant_type", "client_credentials"},
                              {"scope", "a b  c"},
                              {"weird name", "=&%+?#/\xC3\xBC\x01"},
                              {"empty", ""},
                              {"grant_type", "repeated"}};
  auto back = tokenpass::form_decode(tokenpass::form_encode(fields));
  REQUIRE(back);
  CHECK(*back == fields);
}

TEST_CASE("form_decode reads + as space, %XX in either case, and skips empty pairs",
          "[oauth][form]") {
  auto r = tokenpass::form_decode("a+b=c%2fd%2F&&flag&x=1=2&");
  REQUIRE(r);
  const HttpHeaders expected = {{"a b", "c/d/"}, {"flag", ""}, {"x", "1=2"}};
  CHECK(*r == expected);
  CHECK(tokenpass::form_decode("")->empty());
}

TEST_CASE("form_decode rejects malformed percent-escapes with malformed", "[oauth][form]") {
  const auto body = GENERATE(std::string("a=%"), std::string("a=%4"), std::string("a=%zz"),
                             std::string("a=%4g"), std::string("%g1=b"), std::string("a=1&b=%"),
                             std::string("a=%%41"));
  CAPTURE(body);
  CHECK(error_of(tokenpass::form_decode(body)) == errc::malformed);
}

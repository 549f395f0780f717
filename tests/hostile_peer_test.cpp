// Hostile peers (issue 14): servers that trickle, send endless headers or announce huge
// bodies (tests/support/hostile_server.py, a real process on 127.0.0.1), clients that
// announce a body and never send it, public key sets holding secrets, and HTTP clients
// that throw. Every case has a real peer; each failed before its fix (a hang, memory
// without bound, or an exception). Nothing here asserts how long anything took: a hang
// shows up as the ctest timeout, and the destructor case waits with a generous bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/catch.h"
#include "support/jwks_server.h"
#include "support/script_server.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/tokenpass.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using tp_test::error_of;
using tp_test::ScriptServer;
using json = nlohmann::json;

namespace {

tokenpass::HttpRequest get(const std::string& url, std::chrono::milliseconds timeout = 500ms) {
  tokenpass::HttpRequest req;
  req.url = url;
  req.timeout = timeout;
  return req;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

tokenpass::RemoteJwksOptions jwks_options(const std::string& url, std::chrono::milliseconds timeout) {
  tokenpass::RemoteJwksOptions o;
  o.url = url;
  o.allow_http = true;
  o.timeout = timeout;
  return o;
}

tokenpass::ClientCredentialsOptions client_options(const std::string& url) {
  tokenpass::ClientCredentialsOptions o;
  o.token_endpoint = url;
  o.client_id = "svc";
  o.client_secret = "secret";
  o.allow_http = true;
  o.timeout = 500ms;
  return o;
}

// ThrowingClient: an HttpClient whose send throws (a std::exception, or anything).
class ThrowingClient final : public tokenpass::HttpClient {
 public:
  explicit ThrowingClient(bool std_exception) : std_exception_(std_exception) {}
  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest&) override {
    if (std_exception_) throw std::runtime_error("client bug");
    throw 42;  // NOLINT: a client that throws anything at all
  }

 private:
  bool std_exception_;
};

}  // namespace

// ---- 1. one deadline for the whole exchange -----------------------------------------

TEST_CASE("HttplibClient ends the exchange at its deadline, however the server trickles",
          "[hostile][deadline]") {
  for (const char* mode : {"trickle-body", "trickle-headers"}) {
    CAPTURE(mode);
    ScriptServer server(mode);
    tokenpass::HttplibClient client;
    auto r = client.send(get(server.url("/jwks.json")));
    REQUIRE(error_of(r) == errc::http_error);
    CHECK(contains(r.error().detail, "deadline"));
  }
  ScriptServer fine("fine");  // the control: the same client reads a good answer
  tokenpass::HttplibClient client;
  auto r = client.send(get(fine.url()));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "{}");
}

TEST_CASE("RemoteJwks against a trickling server fails its fetch and keeps working",
          "[hostile][deadline][remote]") {
  ScriptServer server("trickle-body");
  auto jwks = std::make_shared<tokenpass::RemoteJwks>(jwks_options(server.url("/jwks.json"), 300ms),
                                                      std::make_shared<tokenpass::HttplibClient>());
  CHECK(error_of(jwks->prefetch(2s)) == errc::key_source_unavailable);
  // The worker came back from the exchange: the failure is counted, and it can fetch
  // again (before the fix it stayed in the first exchange for good).
  for (int i = 0; i < 200 && jwks->stats().failures == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(jwks->stats().failures == 1);
}

// (A name starting with '~' would be an exclusion filter to Catch, and so to ctest.)
TEST_CASE("RemoteJwks' destructor does not wait for a peer", "[hostile][deadline][remote]") {
  ScriptServer server("trickle-body");
  // A deadline of ten minutes: the destructor must not wait for it.
  auto jwks = std::make_unique<tokenpass::RemoteJwks>(jwks_options(server.url("/jwks.json"), 600s),
                                                      std::make_shared<tokenpass::HttplibClient>());
  CHECK(error_of(jwks->prefetch(200ms)) == errc::key_source_unavailable);
  auto destroyed = std::async(std::launch::async, [&jwks] { jwks.reset(); });
  REQUIRE(destroyed.wait_for(60s) == std::future_status::ready);
}

TEST_CASE("ClientCredentials::token against a trickling endpoint returns http_error",
          "[hostile][deadline][oauth]") {
  for (const char* mode : {"trickle-body", "trickle-headers"}) {
    CAPTURE(mode);
    ScriptServer server(mode);
    tokenpass::ClientCredentials cc(client_options(server.url("/token")),
                                    std::make_shared<tokenpass::HttplibClient>());
    CHECK(error_of(cc.token("api")) == errc::http_error);
  }
}

// ---- 2. bounded response headers and bodies ----------------------------------------

TEST_CASE("endless response headers are refused at the header limit", "[hostile][headers]") {
  ScriptServer server("endless-headers");
  tokenpass::HttplibClient client;
  auto r = client.send(get(server.url(), 10s));
  REQUIRE(error_of(r) == errc::http_error);
  CHECK(contains(r.error().detail, "headers over the size limit"));
}

TEST_CASE("more response header lines than max_header_lines are refused", "[hostile][headers]") {
  ScriptServer server("many-headers");  // 200 header lines, well under 64 KiB
  tokenpass::HttplibClient strict;
  auto r = strict.send(get(server.url(), 5s));
  REQUIRE(error_of(r) == errc::http_error);
  CHECK(contains(r.error().detail, "too many response header lines"));
  tokenpass::HttplibClientOptions o;
  o.max_header_lines = 300;
  tokenpass::HttplibClient lenient(o);
  auto ok = lenient.send(get(server.url(), 5s));
  REQUIRE(ok);
  CHECK(ok->body == "{}");
  CHECK(ok->header("X-Header-0199") == "00199");
}

TEST_CASE("a Content-Length over max_response_bytes is refused before the body",
          "[hostile][body]") {
  ScriptServer server("huge-length");
  tokenpass::HttplibClient client;
  tokenpass::HttpRequest req = get(server.url(), 10s);
  auto r = client.send(req);
  REQUIRE(error_of(r) == errc::http_error);
  CHECK(contains(r.error().detail, "body over the size limit"));
}

// ---- 3. no header injection --------------------------------------------------------

TEST_CASE("HttplibClient never sends a header value with CR, LF or NUL", "[hostile][injection]") {
  tp_test::JwksServer server;
  tokenpass::HttplibClient client;
  for (const std::string& value :
       {std::string("a\r\nX-Injected: 1"), std::string("a\nb"), std::string("a\rb"),
        std::string("a\0b", 3)}) {
    tokenpass::HttpRequest req = get(server.jwks_url());
    req.headers = {{"X-Value", value}};
    CHECK(error_of(client.send(req)) == errc::invalid_request);
  }
  tokenpass::HttpRequest bad_name = get(server.jwks_url());
  bad_name.headers = {{"X Value", "a"}};
  CHECK(error_of(client.send(bad_name)) == errc::invalid_request);
  CHECK(server.requests(tp_test::JwksServer::kJwksPath) == 0);  // nothing was sent
}

TEST_CASE("add_headers refuses values with CR, LF or NUL", "[hostile][injection]") {
  httplib::Headers out;
  CHECK_FALSE(tokenpass::add_headers(out, {{"Authorization", "Bearer a\r\nX-Injected: 1"}}));
  CHECK(out.empty());
  CHECK(tokenpass::add_headers(out, {{"Authorization", "Bearer abc"}}));
  CHECK(out.size() == 1);
}

TEST_CASE("an ETag that is no entity-tag is never echoed in If-None-Match",
          "[hostile][injection][remote]") {
  tp_test::JwksServer server;
  server.set_keys({tp_test::key_for(Alg::ES256)});
  auto fetch_twice = [&](const std::string& etag) {
    server.set_etag(etag);
    const int before = server.requests(tp_test::JwksServer::kJwksPath);
    tokenpass::RemoteJwksOptions o = jwks_options(server.jwks_url(), 2s);
    long long now = 1900000000;
    o.clock = [&now] { return std::chrono::system_clock::time_point(std::chrono::seconds(now)); };
    tokenpass::RemoteJwks jwks(o, std::make_shared<tokenpass::HttplibClient>());
    REQUIRE(jwks.prefetch(2s));
    now += 3600;  // past the TTL
    REQUIRE(jwks.prefetch(2s));
    (void)jwks.keys_for(tokenpass::KeyQuery{});
    // The second request (the refresh) has arrived: its If-None-Match is the last one.
    for (int i = 0; i < 500 && server.requests(tp_test::JwksServer::kJwksPath) < before + 2; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(server.requests(tp_test::JwksServer::kJwksPath) == before + 2);
    return server.last_header("If-None-Match");
  };
  CHECK(fetch_twice("\"v1\"") == "\"v1\"");  // the control
  CHECK(fetch_twice("W/\"v2\"") == "W/\"v2\"");
  CHECK(fetch_twice("v3").empty());          // unquoted
  CHECK(fetch_twice("\"v4\", \"v5\"").empty());  // a list
  CHECK(fetch_twice("\"a\"b\"").empty());    // a quote inside
}

// ---- 5. no secret keys from a public set -------------------------------------------

TEST_CASE("RemoteJwks never loads an oct key from a fetched set", "[hostile][remote][jwk]") {
  // A misconfigured JWKS endpoint publishing the HMAC secret: anyone could mint tokens.
  const tokenpass::Key& secret = tp_test::key_for(Alg::HS256);
  const tokenpass::Key& es = tp_test::key_for(Alg::ES256);
  tp_test::JwksServer server;
  json leaked = secret.to_private_jwk();
  leaked["kid"] = "hmac";
  server.set_jwks(json{{"keys", {leaked, tp_test::public_of(es).to_public_jwk()}}}.dump());
  auto jwks = std::make_shared<tokenpass::RemoteJwks>(jwks_options(server.jwks_url(), 2s),
                                                      std::make_shared<tokenpass::HttplibClient>());
  REQUIRE(jwks->prefetch(2s));
  tokenpass::KeyQuery q;
  auto set = jwks->keys_for(q);
  REQUIRE(set);
  CHECK((*set)->size() == 1);
  CHECK((*set)->find("hmac") == nullptr);
  REQUIRE((*set)->skipped().size() == 1);
  CHECK((*set)->skipped()[0].kid == "hmac");
  CHECK((*set)->skipped()[0].error.code == errc::key_unusable);

  tokenpass::Policy p;
  p.any_issuer().any_audience();
  const tokenpass::Verifier v(jwks, p);
  tokenpass::ClaimsBuilder c;
  c.expires_at(std::chrono::system_clock::now() + 1h);
  const auto minted = tokenpass::Issuer(secret.with_kid("hmac"), "https://anyone", 5min).issue(c);
  REQUIRE(minted);
  CHECK(error_of(v.verify(*minted)) == errc::key_not_found);
  // KeySet::from_public_jwks is the same rule for a set read by other means.
  auto direct = tokenpass::KeySet::from_public_jwks(json{{"keys", {leaked}}});
  REQUIRE(direct);
  CHECK(direct->empty());
  CHECK(direct->skipped().at(0).error.code == errc::key_unusable);
}

// ---- 7. no exception escapes -------------------------------------------------------

TEST_CASE("a throwing HttpClient never makes a never-throwing function throw",
          "[hostile][exceptions]") {
  for (const bool std_exception : {true, false}) {
    CAPTURE(std_exception);
    auto http = std::make_shared<ThrowingClient>(std_exception);
    tokenpass::RemoteJwksOptions o = jwks_options("http://127.0.0.1:1/jwks.json", 200ms);
    tokenpass::Result<std::shared_ptr<tokenpass::RemoteJwks>> found = tokenpass::make_error(errc::malformed, "");
    REQUIRE_NOTHROW(found = tokenpass::RemoteJwks::from_issuer("http://127.0.0.1:1", o, http));
    CHECK(error_of(found) == errc::http_error);

    auto jwks = std::make_shared<tokenpass::RemoteJwks>(o, http);
    CHECK(error_of(jwks->prefetch(2s)) == errc::key_source_unavailable);
    tokenpass::Policy p;
    p.any_issuer().any_audience();
    const tokenpass::Verifier v(jwks, p);
    const auto token = tokenpass::sign_jws(tp_test::key_for(Alg::ES256), "{}").value();
    CHECK(error_of(v.verify(token)) == errc::key_source_unavailable);

    auto cc = std::make_shared<const tokenpass::ClientCredentials>(client_options("http://127.0.0.1:1/token"), http);
    tokenpass::Result<tokenpass::AccessToken> t = tokenpass::make_error(errc::malformed, "");
    REQUIRE_NOTHROW(t = cc->token("api"));
    CHECK(error_of(t) == errc::http_error);
    const tokenpass::Outbound out =
        tokenpass::Outbound::service_token(cc).allow("api", {"api", {}});
    tokenpass::Result<tokenpass::HttpHeaders> h = tokenpass::make_error(errc::malformed, "");
    REQUIRE_NOTHROW(h = out.headers_for("api", nullptr));
    CHECK(error_of(h) == errc::http_error);
  }
}

// ---- 4. bodies bounded before the token is checked -----------------------------------

namespace {

// raw_exchange: `request` sent as it is on a new connection to 127.0.0.1:port; what the
// server answers until it closes or 10 s pass without a byte.
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<long>(request.size()));
  std::string answer;
  char buf[4096];
  long n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return answer;
}

struct ProtectedServer {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int bodies_read = 0;

  explicit ProtectedServer(std::shared_ptr<const tokenpass::TokenResolver> resolver) {
    server.Post("/upload", tokenpass::protect_with_reader(
                               resolver,
                               [this](const httplib::Request&, httplib::Response& res,
                                      const httplib::ContentReader& read,
                                      const tokenpass::RequestContext&) {
                                 std::string body;
                                 read([&](const char* data, std::size_t n) {
                                   body.append(data, n);
                                   return true;
                                 });
                                 ++bodies_read;
                                 res.set_content(std::to_string(body.size()), "text/plain");
                               }));
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    // Bound and listening already: connections wait in the backlog until it accepts.
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~ProtectedServer() {
    server.stop();
    thread.join();
  }
};

}  // namespace

TEST_CASE("protect_with_reader answers a request without a valid token before its body",
          "[hostile][server][body]") {
  const tokenpass::Key& key = tp_test::key_for(Alg::ES256);
  tokenpass::Policy p;
  p.issuers = {"https://issuer"};
  p.audiences = {"api"};
  auto verifier = std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({tp_test::public_of(key)}), p);
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr);
  ProtectedServer srv(resolver);

  // A gigabyte announced and never sent: the 401 comes at once, and the connection is
  // closed rather than read on.
  const std::string answer =
      raw_exchange(srv.port, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(contains(answer, "WWW-Authenticate: Bearer"));
  CHECK(contains(answer, "Connection: close"));
  CHECK(srv.bodies_read == 0);

  // A body that is itself a request is never read as the next one on the connection.
  const std::string smuggled = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  const std::string two = raw_exchange(
      srv.port, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                    std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
  CHECK(two.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(two.find("HTTP/1.1 ", 1) == std::string::npos);

  // With a valid token the handler reads the body.
  tokenpass::ClaimsBuilder c;
  c.audience("api").expires_at(std::chrono::system_clock::now() + 1h);
  const auto token = tokenpass::Issuer(key, "https://issuer", 5min).issue(c).value();
  const std::string ok = raw_exchange(
      srv.port, "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
                    token + "\r\nContent-Length: 5\r\n\r\nhello");
  CHECK(ok.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ok.substr(ok.size() - 1) == "5");
  CHECK(srv.bodies_read == 1);
}

// ---- HTTPS: the wire client's TLS against a real cpp-httplib SSLServer ----------------

namespace {

std::string tls_file(const std::string& name) {
  return std::string(TOKENPASS_TEST_DATA_DIR) + "/tls/" + name;
}

// TlsServer: an HTTPS server on 127.0.0.1 with the given certificate (tests/data/tls).
struct TlsServer {
  httplib::SSLServer server;
  std::thread thread;
  int port = 0;
  explicit TlsServer(const std::string& cert)
      : server(tls_file(cert + ".pem").c_str(), tls_file(cert + ".key").c_str()) {
    REQUIRE(server.is_valid());
    server.Get("/x", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{}", "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~TlsServer() {
    server.stop();
    thread.join();
  }
  std::string url(const std::string& host) const {
    return "https://" + host + ":" + std::to_string(port) + "/x";
  }
};

tokenpass::HttplibClient trusting_test_ca() {
  tokenpass::HttplibClientOptions o;
  o.ca_cert_file = tls_file("ca.pem");
  return tokenpass::HttplibClient(o);
}

}  // namespace

TEST_CASE("HttplibClient over TLS: the server's certificate and name are checked",
          "[hostile][tls]") {
  TlsServer good("server");  // SAN DNS:localhost, IP:127.0.0.1, issued by the test CA
  auto client = trusting_test_ca();
  for (const char* host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    auto r = client.send(get(good.url(host), 5s));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "{}");
  }
  // The system's trust store does not know the test CA.
  tokenpass::HttplibClient system_store;
  auto untrusted = system_store.send(get(good.url("127.0.0.1"), 5s));
  REQUIRE(error_of(untrusted) == errc::http_error);
  CHECK(contains(untrusted.error().detail, "certificate is refused"));

  TlsServer other("other_host");  // DNS:other.example only
  auto mismatch = client.send(get(other.url("127.0.0.1"), 5s));
  REQUIRE(error_of(mismatch) == errc::http_error);
  CHECK(contains(mismatch.error().detail, "certificate is refused"));
  TlsServer expired("expired_server");
  CHECK(error_of(client.send(get(expired.url("localhost"), 5s))) == errc::http_error);

  // verify_tls off (tests only) takes any certificate.
  tokenpass::HttplibClientOptions lax;
  lax.verify_tls = false;
  tokenpass::HttplibClient insecure(lax);
  CHECK(error_of(insecure.send(get(other.url("127.0.0.1"), 5s))) == errc{});
}

TEST_CASE("HttplibClient refuses a CA file it cannot load, at construction", "[hostile][tls]") {
  tokenpass::HttplibClientOptions o;
  o.ca_cert_file = tls_file("no-such-ca.pem");
  CHECK_THROWS_AS(tokenpass::HttplibClient(o), std::invalid_argument);
}

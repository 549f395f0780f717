// opaque_introspect: a resource server that accepts opaque (non-JWT) access tokens by
// asking their issuer about them (RFC 7662), beside JWTs it verifies itself
// (docs/guide/opaque-tokens.md). One cpp-httplib server on 127.0.0.1 carries the token
// service (a TokenEndpoint with an introspection endpoint; client "reports" gets opaque
// tokens, client "billing" JWTs) and the resource, GET /orders. The program checks who
// gets in, that a repeated token is answered from the introspection cache, that the cache
// lets go after cache_ttl, and what an unknown token and an unreachable endpoint get.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

tokenpass::ClientRecord client(const std::string& id, const std::string& secret) {
  tokenpass::ClientRecord c;
  c.id = id;
  c.secret = tokenpass::SecretHash::make(secret);
  c.scopes = {"orders:read"};
  c.audiences = {"orders-api"};
  return c;
}

// [snippet:direct]
// check_opaque: what a TokenResolver with an introspector does for a token without a '.'.
tokenpass::Result<tokenpass::VerifiedToken> check_opaque(const tokenpass::Introspector& introspector,
                                                         const tokenpass::Verifier& verifier,
                                                         std::string_view token) {
  auto answer = introspector.introspect(token);  // errors: inactive (401), http_error (503)
  if (!answer) return answer.error();
  // The answer's members as claims: types, iss, aud, exp, scopes, custom checks, cnf.
  return verifier.verify_introspected(token, *answer);
}
// [/snippet]

}  // namespace

int main() {
  using namespace std::chrono_literals;
  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  // [snippet:endpoint]
  tokenpass::ClientRecord reports = client("reports", "reports-secret");
  reports.opaque_tokens = true;  // random strings; only the endpoint can say what they mean
  tokenpass::ClientRecord orders = client("orders-api", "orders-secret");
  orders.may_introspect = true;  // the resource authenticates to ask about tokens
  tokenpass::ClientRecord billing = client("billing", "billing-secret");  // JWTs, as usual

  tokenpass::TokenEndpointOptions eo;
  eo.issuer = base;  // "https://tokens.example.com" in production
  eo.introspection_endpoint = base + "/introspect";
  eo.max_opaque_tokens = 100000;  // held in this process's memory
  auto clients = std::make_shared<const tokenpass::MemoryClientRegistry>(
      std::vector{reports, orders, billing});
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256), clients, eo);
  tokenpass::mount_token_endpoint(server, endpoint);  // POST /token, POST /introspect, ...
  // [/snippet]

  // The introspector's clock runs `skew` ahead, to show the cache letting go.
  std::atomic<int> skew{0};
  const tokenpass::Clock clock = [&skew] {
    return std::chrono::system_clock::now() + std::chrono::seconds{skew.load()};
  };
  auto http = std::make_shared<tokenpass::HttplibClient>();

  // [snippet:introspector]
  tokenpass::IntrospectionOptions io;
  io.endpoint = endpoint->introspection_endpoint();
  io.client_id = "orders-api";  // HTTP Basic, as at the token endpoint
  io.client_secret = "orders-secret";
  io.allow_http = true;                       // 127.0.0.1 only; https otherwise
  io.cache_ttl = std::chrono::seconds{60};    // an active answer: until exp, at most this long
  io.negative_ttl = std::chrono::seconds{5};  // an inactive one
  io.clock = clock;                           // default std::chrono::system_clock::now
  auto introspector = std::make_shared<const tokenpass::Introspector>(io, http);
  // [/snippet]

  // [snippet:resolver]
  // The same Verifier checks JWTs (signature and claims) and, for opaque tokens, the
  // introspection answer's claims: one policy for both kinds.
  tokenpass::Policy policy = tokenpass::Policy::access_token_profile({base}, {"orders-api"});
  policy.required_scopes = {"orders:read"};
  auto verifier = std::make_shared<const tokenpass::Verifier>(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(endpoint->jwks())).value(), policy);
  tokenpass::TokenResolverOptions ro;
  ro.introspector = introspector;  // a token without a '.' is asked about there
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr, ro);
  const auto handler = [](const httplib::Request&, httplib::Response& res,
                          const tokenpass::RequestContext& ctx) {
    const tokenpass::VerifiedToken& user = *ctx.user();
    const char* kind = user.introspected() ? " (introspected)" : " (JWT)";
    res.set_content(user.claims().client_id().value_or("?") + kind, "text/plain");
  };
  server.Get("/orders", tokenpass::protect(resolver, handler));
  // [/snippet]

  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  const auto token_of = [&](const std::string& id, const std::string& secret) {
    tokenpass::ClientCredentialsOptions cc;
    cc.token_endpoint = endpoint->token_endpoint();
    cc.client_id = id;
    cc.client_secret = secret;
    cc.allow_http = true;
    const tokenpass::ClientCredentials credentials(cc, http);
    return credentials.token("orders-api", {"orders:read"}).value().access_token;
  };
  const auto call = [&](const std::string& token) {
    tokenpass::HttpRequest req;
    req.url = base + "/orders";
    req.headers = {{"Authorization", "Bearer " + token}};
    auto res = http->send(req);
    return res ? std::to_string(res->status) + " " + res->body : std::string("no answer");
  };

  const std::string opaque = token_of("reports", "reports-secret");
  const std::string jwt = token_of("billing", "billing-secret");
  check(opaque.find('.') == std::string::npos, "the reports client's token is opaque");
  check(call(opaque) == "200 reports (introspected)", "an opaque token is introspected");
  check(call(opaque).rfind("200", 0) == 0 && introspector->stats().requests == 1,
        "the same token again is answered from the cache");
  check(call(jwt) == "200 billing (JWT)" && introspector->stats().requests == 1,
        "a JWT is verified here, never sent to the endpoint");
  check(call("not-a-token-of-ours") == "401 {\"error\":\"inactive\"}",
        "an unknown opaque token is inactive");

  skew = 61;  // past cache_ttl: the next use asks again
  check(call(opaque).rfind("200", 0) == 0 && introspector->stats().requests == 3,
        "after cache_ttl the endpoint is asked again");

  auto token = check_opaque(*introspector, *verifier, opaque);
  check(token && token->introspected() && token->claims().client_id() == "reports" &&
            token->header().empty() && token->compact() == opaque,
        "verify_introspected checks an answer's claims");
  auto answer = introspector->introspect(opaque);
  check(answer && (*answer)["active"] == true && (*answer)["token_type"] == "Bearer",
        "the answer says active, Bearer");

  // [snippet:down]
  tokenpass::IntrospectionOptions down = io;
  down.endpoint = "http://127.0.0.1:1/introspect";  // nobody listens there
  auto failed = tokenpass::Introspector(down, http).introspect(opaque);
  // failed.error().code == errc::http_error: 503 without a challenge, and not cached
  // [/snippet]
  check(!failed && failed.error().code == tokenpass::errc::http_error &&
            tokenpass::http_status(failed.error()) == 503 &&
            !tokenpass::www_authenticate(failed.error(), "orders"),
        "an unreachable endpoint is http_error, 503");

  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

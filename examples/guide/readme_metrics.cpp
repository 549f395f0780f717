// README "Metrics, load and faults": one PrometheusMetrics observing the verifies of a
// policy and the fetches of a remote JWK set, served at GET /metrics. The program
// serves the JWK set and /metrics on 127.0.0.1, verifies a good and a forged token
// with keys fetched from there, and checks what /metrics then reports.
#include <tokenpass/tokenpass.h>
#include <tokenpass/adapters/httplib.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5}, io);
  const std::string good = issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711")).value();
  const tokenpass::Issuer forger(tokenpass::Key::generate(tokenpass::Alg::ES256).with_kid(key.kid()),
                                 "https://auth.example.com", std::chrono::minutes{5}, io);
  const std::string forged = forger.issue(tokenpass::ClaimsBuilder().subject("user-4711")).value();

  httplib::Server server;
  const int port = server.bind_to_any_port("127.0.0.1");
  expect(port > 0, "the server binds a port");
  const std::string jwks = tokenpass::KeySet({key.public_key().value()}).to_public_jwks().dump();
  server.Get("/jwks", [&jwks](const httplib::Request&, httplib::Response& res) {
    res.set_content(jwks, "application/jwk-set+json");
  });
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  tokenpass::RemoteJwksOptions jwks_options;
  jwks_options.url = "http://127.0.0.1:" + std::to_string(port) + "/jwks";
  jwks_options.allow_http = true;  // loopback only
  jwks_options.metrics_issuer = "https://auth.example.com";

  // [snippet:code]
  auto metrics = std::make_shared<tokenpass::PrometheusMetrics>();
  policy.observer = metrics;         // every verify: issuer, result, code, algorithm, duration
  jwks_options.observer = metrics;   // fetches, keys held, unknown kids, stale serving
  tokenpass::serve_metrics(server, metrics);  // GET /metrics, Prometheus text format
  // [/snippet]

  std::thread serving([&] { server.listen_after_bind(); });
  {
    const auto http = std::make_shared<tokenpass::HttplibClient>();
    const tokenpass::Verifier verifier(std::make_shared<tokenpass::RemoteJwks>(jwks_options, http), policy);
    expect(verifier.verify(good).has_value(), "a good token verifies with the fetched keys");
    const auto refused = verifier.verify(forged);
    expect(!refused && refused.error().code == tokenpass::errc::bad_signature, "a forged token is bad_signature");

    httplib::Client client("127.0.0.1", port);
    const auto res = client.Get("/metrics");
    expect(res && res->status == 200, "GET /metrics answers");
    const std::string text = res ? res->body : std::string();
    const auto has = [&text](const char* s) { return text.find(s) != std::string::npos; };
    expect(has("tokenpass_verify_total{issuer=\"https://auth.example.com\",result=\"allowed\",reason=\"ok\"} 1"),
           "the accepted verify is counted");
    expect(has("tokenpass_verify_total{issuer=\"https://auth.example.com\",result=\"denied\",reason=\"bad_signature\"} 1"),
           "the refusal is counted with its code");
    expect(has("tokenpass_jwks_fetch_total{issuer=\"https://auth.example.com\",outcome=\"success\"} 1"),
           "the key set fetch is counted");
    expect(has("tokenpass_jwks_keys{issuer=\"https://auth.example.com\"} 1"), "the keys held are reported");
    if (failures != 0) std::fputs(text.c_str(), stderr);
  }
  server.stop();
  serving.join();
  if (failures != 0) return 1;
  std::puts("readme_metrics: ok");
  return 0;
}

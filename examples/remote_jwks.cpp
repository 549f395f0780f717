// remote_jwks: a resource server that takes its keys from the issuer's JWKS endpoint.
// To stay self-contained, this program also plays the issuer: it serves
// /.well-known/openid-configuration and /jwks.json on 127.0.0.1 and rotates its key
// half-way. The verifying side finds the JWKS through discovery, caches it, and picks
// up the new key on the first token that names it.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

int main() {
  using namespace std::chrono_literals;
  // ---- the issuer (normally another service) ----
  std::mutex mu;
  tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256, {"key-1", 2048, {}});
  httplib::Server server;
  const int port = server.bind_to_any_port("127.0.0.1");
  const std::string issuer_url = "http://127.0.0.1:" + std::to_string(port);
  server.Get("/.well-known/openid-configuration", [&](const httplib::Request&, httplib::Response& res) {
    const nlohmann::json doc = {{"issuer", issuer_url}, {"jwks_uri", issuer_url + "/jwks.json"}};
    res.set_content(doc.dump(), "application/json");
  });
  server.Get("/jwks.json", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(tokenpass::KeySet({signing.public_key().value()}).to_public_jwks().dump(),
                    "application/jwk-set+json");
  });
  std::thread listener([&] { server.listen_after_bind(); });
  // bind_to_any_port already listens: connections queue until the loop accepts them.
  const auto issue = [&] {
    std::lock_guard<std::mutex> lock(mu);
    tokenpass::IssuerOptions io;
    io.audience = {"orders-api"};
    return tokenpass::Issuer(signing, issuer_url, 5min, io)
        .issue(tokenpass::ClaimsBuilder().subject("user-4711"))
        .value();
  };

  // ---- the resource server ----
  tokenpass::RemoteJwksOptions options;
  options.allow_http = true;  // loopback demo only: real issuers are https
  options.on_event = [](const tokenpass::RemoteJwksEvent& e) {
    std::printf("  [jwks] %s\n", e.detail.c_str());
  };
  auto keys = tokenpass::RemoteJwks::from_issuer(
      issuer_url, options, std::make_shared<tokenpass::HttplibClient>());
  int failures = 0;
  if (!keys || !(*keys)->prefetch(2s)) {
    std::printf("could not reach the issuer\n");
    failures = 1;
  } else {
    tokenpass::Policy policy;
    policy.issuers = {issuer_url};
    policy.audiences = {"orders-api"};
    const tokenpass::Verifier verifier(*keys, policy);

    for (int i = 0; i < 3; ++i) {
      const auto r = verifier.verify(issue());
      std::printf("token %d (kid key-1): %s\n", i + 1,
                  r ? "verified" : std::string(tokenpass::to_string(r.error().code)).c_str());
      failures += r ? 0 : 1;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      signing = tokenpass::Key::generate(tokenpass::Alg::ES256, {"key-2", 2048, {}});
    }
    std::printf("the issuer rotated to key-2\n");
    const auto r = verifier.verify(issue());
    std::printf("token 4 (kid key-2): %s\n",
                r ? "verified" : std::string(tokenpass::to_string(r.error().code)).c_str());
    failures += r ? 0 : 1;
    const auto s = (*keys)->stats();
    std::printf("fetches: %llu, kid misses: %llu, failures: %llu\n",
                static_cast<unsigned long long>(s.fetches),
                static_cast<unsigned long long>(s.kid_misses),
                static_cast<unsigned long long>(s.failures));
  }
  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

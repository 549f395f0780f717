// operate_tuning: the knobs that trade freshness for work (docs/guide/operate.md): the
// verified-token cache, a RemoteJwks' refresh, and when ClientCredentials refreshes a
// service token. A token service (TokenEndpoint) runs on 127.0.0.1; the client's clock is
// moved forward to show a token refreshed at 80% of its life, and kept in use while the
// token endpoint is down, until it is too close to its expiry.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string issuer = "http://127.0.0.1:" + std::to_string(port);
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");
  billing.scopes = {"orders:read"};
  billing.audiences = {"orders-api"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = issuer;
  eo.token_lifetime = 300s;
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256),
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), eo);
  tokenpass::mount_token_endpoint(server, endpoint);
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);
  auto http = std::make_shared<tokenpass::HttplibClient>();

  // [snippet:jwks]
  tokenpass::RemoteJwksOptions jo;
  jo.url = issuer + "/.well-known/jwks.json";
  jo.allow_http = true;                                // 127.0.0.1 only
  jo.default_ttl = std::chrono::seconds{300};          // without Cache-Control max-age
  jo.min_ttl = std::chrono::seconds{30};               // max-age is kept within these two
  jo.max_ttl = std::chrono::hours{24};
  jo.refresh_ahead = std::chrono::seconds{30};         // background refresh before the TTL ends
  jo.unknown_kid_interval = std::chrono::seconds{30};  // one fetch per 30 s for unknown kids
  jo.max_stale = std::chrono::hours{6};                // last good set served while fetches fail
  jo.timeout = std::chrono::milliseconds{5000};        // a fetch; the longest a verify waits
  jo.on_event = [](const tokenpass::RemoteJwksEvent& e) {  // fetching thread: short, no throw
    std::printf("  [jwks] %s\n", e.detail.c_str());
  };
  auto keys = std::make_shared<tokenpass::RemoteJwks>(jo, http);
  if (!keys->prefetch(std::chrono::seconds{2})) {
    std::printf("  keys not reachable yet: the first verifies will fetch them\n");
  }
  // [/snippet]
  check(keys->stats().fetches == 1, "one fetch at start-up");

  // [snippet:cache]
  tokenpass::Policy policy = tokenpass::Policy::access_token_profile({issuer}, {"orders-api"});
  policy.cache.max_entries = 10000;           // 0 (the default): no cache
  policy.cache.max_bytes = 16 * 1024 * 1024;  // what the entries may hold at most
  const tokenpass::Verifier verifier(keys, policy);
  // [/snippet]

  // The client's clock, moved forward by `skew` seconds.
  std::atomic<int> skew{0};
  const tokenpass::Clock clock = [&skew] {
    return std::chrono::system_clock::now() + std::chrono::seconds{skew.load()};
  };

  // [snippet:client]
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = endpoint->token_endpoint();
  cc.client_id = "billing";
  cc.client_secret = "billing-secret";
  cc.allow_http = true;                             // 127.0.0.1 only
  cc.refresh_at = 0.8;                              // a new token after 80% of its life
  cc.default_lifetime = std::chrono::seconds{300};  // when the answer has no expires_in
  cc.min_retry = std::chrono::seconds{1};           // back-off after a failure, doubling
  cc.max_retry = std::chrono::seconds{30};
  cc.timeout = std::chrono::milliseconds{5000};     // one token request, whole
  cc.clock = clock;                                 // default std::chrono::system_clock::now
  const tokenpass::ClientCredentials credentials(cc, http);
  // [/snippet]

  auto first = credentials.token("orders-api");
  check(first && verifier.verify(first->access_token), "a service token, verified");
  check(verifier.verify(first->access_token) && verifier.cache_stats().hits == 1 &&
            verifier.cache_stats().entries == 1,
        "the same token again is a cache hit");

  skew = 200;  // 67% of its life: the cached token
  auto at200 = credentials.token("orders-api");
  check(at200 && at200->access_token == first->access_token && credentials.stats().requests == 1,
        "at 200 s: the cached token, no request");
  server.stop();  // the token service goes down
  listener.join();
  skew = 245;  // past 80%: a refresh is due, and fails
  auto at245 = credentials.token("orders-api");
  check(at245 && at245->access_token == first->access_token && credentials.stats().requests == 2 &&
            credentials.stats().failures == 1,
        "at 245 s, token service down: the refresh failed, the cached token is still served");
  skew = 291;  // within its last tenth (at most 10 s): no longer handed out
  auto at291 = credentials.token("orders-api");
  check(!at291 && at291.error().code == tokenpass::errc::http_error,
        "at 291 s: no usable token left, http_error (503)");
  return failures == 0 ? 0 : 1;
}

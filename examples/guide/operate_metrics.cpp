// operate_metrics: what a service shows its operators (docs/guide/operate.md). One
// PrometheusMetrics hears the Verifier (with its token cache), the RemoteJwks the keys come
// from, the ClientCredentials that gets service tokens and, on the token service's side,
// the TokenEndpoint; /metrics serves it on a listener of its own. A second, hand-written
// Observer turns refusals into audit events. The program scrapes /metrics over HTTP and
// checks that the families of docs/OPERATIONS.md are there.
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

// [snippet:audit]
// AuditLog: refusals as OWASP logging vocabulary events. Called on request threads and
// the key source's worker, never under a lock of tokenpass's: thread-safe, short, no
// throwing, no call back into what called it.
class AuditLog final : public tokenpass::Observer {
 public:
  void verified(const tokenpass::VerifyEvent& e) noexcept override {
    if (!e.error) return;
    const char* event = *e.error == tokenpass::errc::replayed             ? "authn_token_reuse"
                        : *e.error == tokenpass::errc::insufficient_scope ? "authz_fail"
                        : *e.error == tokenpass::errc::malformed          ? "input_validation_fail"
                                                                          : "authn_fail";
    const std::string issuer(e.issuer);  // a view, valid during this call only
    std::fprintf(stderr, "audit: %s issuer=%s code=%s\n", event, issuer.c_str(),
                 std::string(tokenpass::to_string(*e.error)).c_str());
    ++refusals;
  }
  void jwks_kid_miss(std::string_view issuer, tokenpass::KidMissOutcome outcome) noexcept override {
    if (outcome == tokenpass::KidMissOutcome::rate_limited) {
      std::fprintf(stderr, "audit: excess_rate_limit_exceeded issuer=%s\n",
                   std::string(issuer).c_str());
    }
  }
  std::atomic<int> refusals{0};
};
// [/snippet]

}  // namespace

int main() {
  using namespace std::chrono_literals;
  // The token service: a TokenEndpoint on 127.0.0.1.
  httplib::Server tokens;
  tokens.set_payload_max_length(64 * 1024);
  const int tokens_port = tokens.bind_to_any_port("127.0.0.1");
  const std::string issuer = "http://127.0.0.1:" + std::to_string(tokens_port);
  auto service_metrics = std::make_shared<tokenpass::PrometheusMetrics>();
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");
  billing.scopes = {"orders:read"};
  billing.audiences = {"orders-api"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = issuer;
  eo.observer = service_metrics;  // tokenpass_token_endpoint_requests_total
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256),
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), eo);
  tokenpass::mount_token_endpoint(tokens, endpoint);
  std::thread tokens_thread([&] { tokens.listen_after_bind(); });

  auto http = std::make_shared<tokenpass::HttplibClient>();

  // [snippet:wire]
  auto metrics = std::make_shared<tokenpass::PrometheusMetrics>();

  tokenpass::RemoteJwksOptions jo;
  jo.allow_http = true;  // 127.0.0.1 only
  jo.observer = metrics;  // fetches, keys held, unknown kids, stale serving
  auto keys = tokenpass::RemoteJwks::from_issuer(issuer, jo, http).value();  // label: the issuer

  tokenpass::Policy policy = tokenpass::Policy::access_token_profile({issuer}, {"orders-api"});
  policy.cache.max_entries = 10000;  // verified-token cache: tokenpass_token_cache_total
  policy.observer = metrics;         // every verify, the cache, replay checks, DPoP refusals
  const tokenpass::Verifier verifier(keys, policy);

  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = endpoint->token_endpoint();
  cc.client_id = "billing";
  cc.client_secret = "billing-secret";
  cc.allow_http = true;
  cc.observer = metrics;  // service tokens asked for, and the time the current one has left
  const tokenpass::ClientCredentials credentials(cc, http);

  httplib::Server admin;  // a listener of its own, that only the scraper reaches
  tokenpass::serve_metrics(admin, metrics);  // GET /metrics
  // [/snippet]
  const int admin_port = admin.bind_to_any_port("127.0.0.1");
  std::thread admin_thread([&] { admin.listen_after_bind(); });
  while (!tokens.is_running() || !admin.is_running()) std::this_thread::sleep_for(1ms);

  // Traffic: a token, verified twice (the second from the cache), and a forged one.
  const std::string token = credentials.token("orders-api").value().access_token;
  check(credentials.token("orders-api").has_value(), "a second token() is a cache hit");
  check(verifier.verify(token) && verifier.verify(token),
        "the token verifies (then from the cache)");
  std::string forged = token;
  char& c = forged[forged.size() - 10];  // inside the signature
  c = c == 'A' ? 'B' : 'A';
  check(!verifier.verify(forged), "a forged token is refused");

  // The audit observer on a Verifier of its own.
  auto audit = std::make_shared<AuditLog>();
  tokenpass::Policy audited = policy;
  audited.observer = audit;
  audited.required_scopes = {"orders:write"};
  const tokenpass::Verifier strict(keys, audited);
  check(!strict.verify(token) && !strict.verify("not-a-token") && audit->refusals == 2,
        "the audit log heard two refusals");

  // The key source reports a fetch just after the verifies waiting for it go on.
  for (int i = 0; i < 2000; ++i) {
    if (metrics->render().find("tokenpass_jwks_fetch_total") != std::string::npos) break;
    std::this_thread::sleep_for(1ms);
  }
  tokenpass::HttpRequest scrape;
  scrape.url = "http://127.0.0.1:" + std::to_string(admin_port) + "/metrics";
  auto res = http->send(scrape);
  const std::string text = res ? res->body : "";
  check(res && res->status == 200 &&
            res->header("Content-Type").value_or("").rfind("text/plain; version=0.0.4", 0) == 0,
        "GET /metrics answers the Prometheus text format");
  const std::string iss = "issuer=\"" + issuer + "\"";
  for (const std::string& sample : {
           "tokenpass_verify_total{" + iss + ",result=\"allowed\",reason=\"ok\"} 2",
           "tokenpass_verify_total{" + iss + ",result=\"denied\",reason=\"bad_signature\"} 1",
           "tokenpass_verify_duration_seconds_count{" + iss + ",cache=\"hit\"} 1",
           std::string("tokenpass_token_cache_total{outcome=\"hit\"} 1"),
           "tokenpass_jwks_fetch_total{" + iss + ",outcome=\"success\"} 1",
           "tokenpass_jwks_keys{" + iss + "} 1",
           std::string("tokenpass_client_token_requests_total{client=\"billing\",outcome=\"success\"} 1"),
           std::string("tokenpass_client_token_requests_total{client=\"billing\",outcome=\"cache_hit\"} 1"),
           std::string("tokenpass_client_token_remaining_seconds{client=\"billing\",audience=\"orders-api\"}"),
       }) {
    check(text.find(sample) != std::string::npos, sample);
  }
  check(service_metrics->render().find("tokenpass_token_endpoint_requests_total{endpoint=\"token\","
                                       "grant=\"client_credentials\",outcome=\"issued\"} 1") !=
            std::string::npos,
        "the token service counted the token it issued");

  admin.stop();
  tokens.stop();
  admin_thread.join();
  tokens_thread.join();
  return failures == 0 ? 0 : 1;
}

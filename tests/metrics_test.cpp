#include "tokenpass/metrics.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/catch.h"
#include "support/jwks_server.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/client_credentials.h"
#include "tokenpass/dpop.h"
#include "tokenpass/key_source.h"
#include "tokenpass/replay.h"
#include "tokenpass/token_endpoint.h"
#include "tokenpass/verifier.h"

// Observers and PrometheusMetrics, fed by the real parts: Verifiers (with and without a
// token cache and a replay store), a RemoteJwks reading a JWKS server on 127.0.0.1, and
// ClientCredentials asking a TokenEndpoint mounted on a cpp-httplib server on 127.0.0.1.
// The rendered text is read back sample by sample and checked with `promtool check
// metrics` (Debian's prometheus package, installed by scripts/setup.sh).

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::PrometheusMetrics;
using tp_test::error_of;
using tp_test::JwksServer;

namespace {

constexpr long long kNow = 1900000000;
constexpr const char* kIss = "https://issuer.example";

using TimePoint = std::chrono::system_clock::time_point;

struct TestClock : tp_test::ManualClock {
  TestClock() : ManualClock(kNow) {}
};
using tp_test::eventually;

tokenpass::Key es256(const std::string& kid) {
  tokenpass::GenerateOptions o;
  o.kid = kid;
  return tokenpass::Key::generate(Alg::ES256, o);
}

std::string mint(const tokenpass::Key& key, const std::string& iss = kIss, long long exp = kNow + 3600,
                 const std::string& jti = "") {
  json claims{{"iss", iss}, {"sub", "user-1"}, {"aud", "orders-api"}, {"iat", kNow - 10}, {"exp", exp}};
  if (!jti.empty()) claims["jti"] = jti;
  return tokenpass::sign_jws(key, claims.dump()).value();
}

tokenpass::Policy policy(const TestClock& clock, std::shared_ptr<tokenpass::Observer> observer) {
  tokenpass::Policy p;
  p.issuers = {kIss};
  p.audiences = {"orders-api"};
  p.clock = clock.fn();
  p.observer = std::move(observer);
  return p;
}

// Samples: the rendered text read back: "name{labels}" -> value, plus the families'
// # TYPE lines.
struct Samples {
  std::map<std::string, double> values;
  std::map<std::string, std::string> types;
  std::vector<std::string> order;  // sample keys in the order rendered

  explicit Samples(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# TYPE ", 0) == 0) {
        const auto sp = line.find(' ', 7);
        types[line.substr(7, sp - 7)] = line.substr(sp + 1);
        continue;
      }
      if (line.empty() || line[0] == '#') continue;
      const auto sp = line.rfind(' ');
      values[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
      order.push_back(line.substr(0, sp));
    }
  }
  double operator[](const std::string& key) const {
    const auto it = values.find(key);
    return it == values.end() ? -1 : it->second;
  }
};

// promtool: `promtool check metrics` over `text`; returns its exit status and output.
std::pair<int, std::string> promtool(const std::string& text) {
  const std::string path = "metrics_test_" + std::to_string(::getpid()) + ".prom";
  {
    std::ofstream f(path);
    f << text;
  }
  std::string out;
  FILE* p = ::popen(("promtool check metrics < " + path + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  std::remove(path.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Recorder: an Observer that keeps what it hears, to check the events themselves.
struct Recorder : tokenpass::Observer {
  std::mutex mu;
  std::vector<tokenpass::VerifyEvent> verifies;
  std::vector<std::string> issuers;  // copies of VerifyEvent::issuer
  std::vector<std::pair<std::string, tokenpass::ReplayOutcome>> replays;
  void verified(const tokenpass::VerifyEvent& e) noexcept override {
    std::lock_guard<std::mutex> g(mu);
    verifies.push_back(e);
    issuers.emplace_back(e.issuer);
    verifies.back().issuer = {};
  }
  void replay_check(std::string_view store, tokenpass::ReplayOutcome o) noexcept override {
    std::lock_guard<std::mutex> g(mu);
    replays.emplace_back(std::string(store), o);
  }
};

}  // namespace

TEST_CASE("metrics: verify events carry the configured issuer, the code, the algorithm and a duration",
          "[metrics]") {
  TestClock clock;
  const auto key = es256("k1");
  auto rec = std::make_shared<Recorder>();
  tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), policy(clock, rec));

  REQUIRE(v.verify(mint(key)));
  CHECK(error_of(v.verify(mint(key, kIss, kNow - 100))) == errc::expired);
  CHECK(error_of(v.verify(mint(key, "https://evil.example"))) == errc::bad_issuer);
  auto forged = tp_test::tamper::flip_each_signature_bit(mint(key)).front();
  CHECK(error_of(v.verify(forged)) == errc::bad_signature);
  CHECK(error_of(v.verify("not.a.token")) == errc::malformed);

  std::lock_guard<std::mutex> g(rec->mu);
  REQUIRE(rec->verifies.size() == 5);
  CHECK(!rec->verifies[0].error);
  CHECK(rec->issuers[0] == kIss);
  REQUIRE(rec->verifies[0].alg);
  CHECK(*rec->verifies[0].alg == Alg::ES256);
  CHECK(rec->verifies[0].duration > 0ns);
  CHECK(!rec->verifies[0].cache);
  CHECK(rec->verifies[1].error == errc::expired);
  CHECK(rec->issuers[1] == kIss);
  // An issuer that is not configured is a label of its own, never the token's text.
  CHECK(rec->verifies[2].error == errc::bad_issuer);
  CHECK(rec->issuers[2] == "other");
  // A forged token still names the configured issuer it claims (a label only).
  CHECK(rec->verifies[3].error == errc::bad_signature);
  CHECK(rec->issuers[3] == kIss);
  CHECK(rec->verifies[4].error == errc::malformed);
  CHECK(rec->issuers[4] == "other");
  CHECK(!rec->verifies[4].alg);
}

TEST_CASE("metrics: PrometheusMetrics counts verifies by issuer, result and reason, with a histogram",
          "[metrics]") {
  TestClock clock;
  const auto key = es256("k1");
  auto metrics = std::make_shared<PrometheusMetrics>();
  tokenpass::Policy p = policy(clock, metrics);
  p.cache.max_entries = 2;
  tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), p);

  const std::string a = mint(key, kIss, kNow + 3600, "a");
  REQUIRE(v.verify(a));
  REQUIRE(v.verify(a));  // a cache hit
  REQUIRE(v.verify(a));  // another
  CHECK(error_of(v.verify(mint(key, kIss, kNow - 100))) == errc::expired);
  REQUIRE(v.verify(mint(key, kIss, kNow + 3600, "b")));
  REQUIRE(v.verify(mint(key, kIss, kNow + 3600, "c")));  // the cache holds 2: a is evicted
  CHECK(error_of(v.verify(mint(key, "https://evil.example"))) == errc::bad_issuer);

  const std::string text = metrics->render();
  INFO(text);
  const Samples s(text);
  const std::string iss = std::string("issuer=\"") + kIss + "\"";
  CHECK(s["tokenpass_verify_total{" + iss + ",result=\"allowed\",reason=\"ok\"}"] == 5);
  CHECK(s["tokenpass_verify_total{" + iss + ",result=\"denied\",reason=\"expired\"}"] == 1);
  CHECK(s["tokenpass_verify_total{issuer=\"other\",result=\"denied\",reason=\"bad_issuer\"}"] == 1);
  CHECK(s["tokenpass_token_cache_total{outcome=\"hit\"}"] == 2);
  CHECK(s["tokenpass_token_cache_total{outcome=\"miss\"}"] == 5);
  CHECK(s["tokenpass_token_cache_total{outcome=\"eviction\"}"] == 1);
  CHECK(v.cache_stats().evictions == 1);
  CHECK(s.types.at("tokenpass_verify_total") == "counter");
  CHECK(s.types.at("tokenpass_verify_duration_seconds") == "histogram");

  // The histogram: cumulative buckets ending in +Inf, which equals _count.
  const std::string hit = iss + ",cache=\"hit\"";
  const std::string miss = iss + ",cache=\"miss\"";
  CHECK(s["tokenpass_verify_duration_seconds_count{" + hit + "}"] == 2);
  CHECK(s["tokenpass_verify_duration_seconds_count{" + miss + "}"] == 4);
  CHECK(s["tokenpass_verify_duration_seconds_bucket{" + miss + ",le=\"+Inf\"}"] == 4);
  CHECK(s["tokenpass_verify_duration_seconds_sum{" + miss + "}"] > 0);
  double last = 0;
  int buckets = 0;
  for (const auto& key_name : s.order) {
    if (key_name.rfind("tokenpass_verify_duration_seconds_bucket{" + miss, 0) != 0) continue;
    CHECK(s[key_name] >= last);
    last = s[key_name];
    ++buckets;
  }
  CHECK(buckets == 13);  // 12 bounds and +Inf

  const auto [status, out] = promtool(text);
  INFO(out);
  CHECK(status == 0);
}

TEST_CASE("metrics: single-use checks are counted by store and outcome", "[metrics]") {
  TestClock clock;
  const auto key = es256("k1");
  auto rec = std::make_shared<Recorder>();
  auto metrics = std::make_shared<PrometheusMetrics>();
  tokenpass::Policy p = policy(clock, metrics);
  tokenpass::MemoryReplayStoreOptions ro;
  ro.clock = clock.fn();
  p.replay_store = std::make_shared<tokenpass::MemoryReplayStore>(ro);
  tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), p);
  const std::string t = mint(key, kIss, kNow + 60, "once");
  REQUIRE(v.verify(t));
  CHECK(error_of(v.verify(t)) == errc::replayed);
  CHECK(error_of(v.verify(t)) == errc::replayed);

  // A store that cannot answer, through a custom store (kind "custom").
  struct Down : tokenpass::ReplayStore {
    tokenpass::Result<void> first_use(std::string_view, std::string_view, TimePoint) const override {
      return tokenpass::make_error(errc::replay_store_unavailable, "down");
    }
  };
  tokenpass::Policy q = policy(clock, rec);
  q.replay_store = std::make_shared<Down>();
  tokenpass::Verifier down(tokenpass::KeySet({key.public_key().value()}), q);
  CHECK(error_of(down.verify(t)) == errc::replay_store_unavailable);

  const Samples s(metrics->render());
  CHECK(s["tokenpass_replay_checks_total{store=\"memory\",outcome=\"fresh\"}"] == 1);
  CHECK(s["tokenpass_replay_checks_total{store=\"memory\",outcome=\"replayed\"}"] == 2);
  CHECK(s["tokenpass_verify_total{issuer=\"https://issuer.example\",result=\"denied\",reason=\"replayed\"}"] == 2);
  std::lock_guard<std::mutex> g(rec->mu);
  REQUIRE(rec->replays.size() == 1);
  CHECK(rec->replays[0].first == "custom");
  CHECK(rec->replays[0].second == tokenpass::ReplayOutcome::unavailable);
}

TEST_CASE("metrics: a RemoteJwks reports fetches, the set held, unknown kids, the rate limit and stale serving",
          "[metrics][remote]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  server.set_etag("\"v1\"");
  TestClock clock;
  auto metrics = std::make_shared<PrometheusMetrics>(tokenpass::PrometheusOptions{{0.001, 0.01}, clock.fn()});
  tokenpass::RemoteJwksOptions o;
  o.url = server.jwks_url();
  o.allow_http = true;
  o.clock = clock.fn();
  o.observer = metrics;
  o.metrics_issuer = kIss;
  o.timeout = 2000ms;
  auto keys = std::make_shared<tokenpass::RemoteJwks>(o, std::make_shared<tokenpass::HttplibClient>());
  tokenpass::Verifier v(keys, policy(clock, metrics));
  const auto fetch = [&](const std::string& outcome) {
    return Samples(metrics->render())["tokenpass_jwks_fetch_total{issuer=\"https://issuer.example\",outcome=\"" +
                                      outcome + "\"}"];
  };

  REQUIRE(v.verify(mint(k1)));
  REQUIRE(eventually([&] { return fetch("success") == 1; }));
  clock.advance(5s);
  {
    const Samples s(metrics->render());
    CHECK(s["tokenpass_jwks_keys{issuer=\"https://issuer.example\"}"] == 1);
    CHECK(s["tokenpass_jwks_age_seconds{issuer=\"https://issuer.example\"}"] == 5);
  }

  // Unknown kids: the first one may fetch (a 304 here), the next within 30 s may not.
  const auto stranger = es256("k9");
  CHECK(error_of(v.verify(mint(stranger))) == errc::key_not_found);
  REQUIRE(eventually([&] { return fetch("not_modified") == 1; }));
  CHECK(error_of(v.verify(mint(es256("k8")))) == errc::key_not_found);
  {
    const Samples s(metrics->render());
    CHECK(s["tokenpass_jwks_kid_miss_total{issuer=\"https://issuer.example\"}"] == 2);
    CHECK(s["tokenpass_jwks_rate_limited_total{issuer=\"https://issuer.example\"}"] == 1);
    CHECK(s["tokenpass_jwks_kid_fetches_total{issuer=\"https://issuer.example\"}"] == 1);
    CHECK(s["tokenpass_jwks_age_seconds{issuer=\"https://issuer.example\"}"] == 0);  // the 304 confirmed it
  }

  // The server goes away; past the TTL (300 s) the set is served stale.
  server.stop_listening();
  clock.advance(400s);
  REQUIRE(v.verify(mint(k1)));
  REQUIRE(eventually([&] { return fetch("failure") >= 1; }));
  REQUIRE(v.verify(mint(k1)));
  const std::string text = metrics->render();
  INFO(text);
  const Samples s(text);
  CHECK(s["tokenpass_jwks_stale_serves_total{issuer=\"https://issuer.example\"}"] >= 1);
  CHECK(s["tokenpass_jwks_age_seconds{issuer=\"https://issuer.example\"}"] == 400);
  CHECK(s["tokenpass_jwks_keys{issuer=\"https://issuer.example\"}"] == 1);
  CHECK(s["tokenpass_verify_total{issuer=\"https://issuer.example\",result=\"allowed\",reason=\"ok\"}"] == 3);
  CHECK(s["tokenpass_verify_total{issuer=\"other\",result=\"denied\",reason=\"key_not_found\"}"] == -1);
  CHECK(s["tokenpass_verify_total{issuer=\"https://issuer.example\",result=\"denied\",reason=\"key_not_found\"}"] ==
        2);
  const auto [status, out] = promtool(text);
  INFO(out);
  CHECK(status == 0);
}

namespace {

// TokenService: a TokenEndpoint mounted on a cpp-httplib server on 127.0.0.1.
class TokenService {
 public:
  explicit TokenService(std::shared_ptr<tokenpass::Observer> observer) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind");
    tokenpass::TokenEndpointOptions o;
    o.issuer = url();
    o.unknown_client_iterations = 1000;
    o.observer = std::move(observer);
    tokenpass::ClientRecord c;
    c.id = "svc-a";
    c.secret = tokenpass::SecretHash::make("secret-a", 1000);
    c.scopes = {"orders:read"};
    c.audiences = {"orders-api"};
    endpoint = std::make_shared<tokenpass::TokenEndpoint>(
        tokenpass::Key::generate(Alg::ES256),
        std::make_shared<tokenpass::MemoryClientRegistry>(std::vector<tokenpass::ClientRecord>{c}), o);
    tokenpass::mount_token_endpoint(server_, endpoint);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~TokenService() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<tokenpass::TokenEndpoint> endpoint;

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace

TEST_CASE("metrics: service tokens and the token endpoint are counted, with the time a token has left",
          "[metrics][client_credentials]") {
  auto service_metrics = std::make_shared<PrometheusMetrics>();
  TokenService service(service_metrics);
  auto metrics = std::make_shared<PrometheusMetrics>();
  const auto client = [&](const std::string& secret) {
    tokenpass::ClientCredentialsOptions o;
    o.token_endpoint = service.endpoint->token_endpoint();
    o.client_id = "svc-a";
    o.client_secret = secret;
    o.allow_http = true;
    o.observer = metrics;
    return tokenpass::ClientCredentials(o, std::make_shared<tokenpass::HttplibClient>());
  };
  const auto good = client("secret-a");
  REQUIRE(good.token("orders-api", {"orders:read"}));
  REQUIRE(good.token("orders-api", {"orders:read"}));  // from the cache
  CHECK(!good.token("billing-api", {"orders:read"}));  // an audience the client may not have
  CHECK(!client("wrong").token("orders-api", {}));

  const std::string text = metrics->render();
  INFO(text);
  const Samples s(text);
  CHECK(s["tokenpass_client_token_requests_total{client=\"svc-a\",outcome=\"success\"}"] == 1);
  CHECK(s["tokenpass_client_token_requests_total{client=\"svc-a\",outcome=\"cache_hit\"}"] == 1);
  CHECK(s["tokenpass_client_token_requests_total{client=\"svc-a\",outcome=\"failure\"}"] == 2);
  const double left = s["tokenpass_client_token_remaining_seconds{client=\"svc-a\",audience=\"orders-api\"}"];
  CHECK(left > 200);  // the endpoint's default lifetime is 300 s
  CHECK(left <= 300);

  const std::string served = service_metrics->render();
  INFO(served);
  const Samples e(served);
  CHECK(e["tokenpass_token_endpoint_requests_total{endpoint=\"token\",grant=\"client_credentials\",outcome=\"issued\"}"] ==
        1);
  CHECK(e["tokenpass_token_endpoint_requests_total{endpoint=\"token\",grant=\"client_credentials\",outcome=\"invalid_client\"}"] ==
        1);
  CHECK(e["tokenpass_token_endpoint_requests_total{endpoint=\"token\",grant=\"client_credentials\",outcome=\"invalid_target\"}"] ==
        1);

  // /metrics over HTTP, as a scraper sees it.
  httplib::Server http;
  tokenpass::serve_metrics(http, metrics);
  const int port = http.bind_to_any_port("127.0.0.1");
  std::thread t([&] { http.listen_after_bind(); });
  while (!http.is_running()) std::this_thread::sleep_for(1ms);
  httplib::Client scraper("127.0.0.1", port);
  auto res = scraper.Get("/metrics");
  http.stop();
  t.join();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(res->body.find("tokenpass_client_token_requests_total{client=\"svc-a\",outcome=\"success\"} 1\n") !=
        std::string::npos);
  // promtool does judge: a counter without _total is refused.
  const auto [status, out] = promtool("# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n");
  INFO(out);
  CHECK(status != 0);
  const auto [ok, out2] = promtool(res->body);
  INFO(out2);
  CHECK(ok == 0);
}

TEST_CASE("metrics: label values are escaped and bad buckets are refused", "[metrics]") {
  PrometheusMetrics m;
  tokenpass::VerifyEvent e;
  e.issuer = "https://a\"b\\c\nd";
  e.error = errc::bad_audience;
  m.verified(e);
  m.jwks_fetch("x\"y", tokenpass::FetchOutcome::failure);
  const std::string text = m.render();
  CHECK(text.find(R"(tokenpass_verify_total{issuer="https://a\"b\\c\nd",result="denied",reason="bad_audience"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(tokenpass_jwks_fetch_total{issuer="x\"y",outcome="failure"} 1)") != std::string::npos);
  const auto [status, out] = promtool(text);
  INFO(out);
  CHECK(status == 0);
  CHECK(PrometheusMetrics().render().empty());  // nothing observed, nothing rendered

  CHECK_THROWS_AS(PrometheusMetrics(tokenpass::PrometheusOptions{{}, {}}), std::invalid_argument);
  CHECK_THROWS_AS(PrometheusMetrics(tokenpass::PrometheusOptions{{0.1, 0.01}, {}}), std::invalid_argument);
}

TEST_CASE("metrics: observers hear from many threads at once and the counts add up", "[metrics][threads]") {
  TestClock clock;
  const auto key = es256("k1");
  auto metrics = std::make_shared<PrometheusMetrics>();
  tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), policy(clock, metrics));
  const std::string good = mint(key);
  const std::string expired = mint(key, kIss, kNow - 100);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!v.verify(good)) ++wrong;
        if (v.verify(expired)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  const Samples s(metrics->render());
  CHECK(s["tokenpass_verify_total{issuer=\"https://issuer.example\",result=\"allowed\",reason=\"ok\"}"] == 1600);
  CHECK(s["tokenpass_verify_total{issuer=\"https://issuer.example\",result=\"denied\",reason=\"expired\"}"] == 1600);
  CHECK(s["tokenpass_verify_duration_seconds_count{issuer=\"https://issuer.example\",cache=\"miss\"}"] == 3200);
}

TEST_CASE("metrics: DPoP refusals are counted by code, and the proof's replay check by store",
          "[metrics][dpop]") {
  TestClock clock;
  const auto key = es256("k1");
  const auto holder = tokenpass::Key::generate(Alg::ES256);
  const json claims{{"iss", kIss},       {"sub", "user-1"},       {"aud", "orders-api"},
                    {"iat", kNow - 10}, {"exp", kNow + 3600},    {"cnf", {{"jkt", holder.thumbprint()}}}};
  const std::string token = tokenpass::sign_jws(key, claims.dump()).value();
  auto metrics = std::make_shared<PrometheusMetrics>();
  tokenpass::Policy p = policy(clock, metrics);
  tokenpass::MemoryReplayStoreOptions ro;
  ro.clock = clock.fn();
  p.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>(ro);
  tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), p);
  tokenpass::DpopOptions options;
  options.clock = clock.fn();
  const tokenpass::DpopSigner signer(holder, std::nullopt, clock.fn());
  const std::string htu = "https://api.example/orders";
  const auto verify = [&](const std::string& proof, const std::string& at) {
    tokenpass::DpopRequest req{proof, "GET", at, &options};
    tokenpass::Presented presented;
    presented.dpop = &req;
    return v.verify(token, presented);
  };
  const std::string proof = signer.proof("GET", htu, token).value();
  REQUIRE(verify(proof, htu));
  CHECK(error_of(verify(proof, htu)) == errc::replayed);
  CHECK(error_of(verify(signer.proof("GET", htu, token).value(), "https://api.example/other")) == errc::bad_proof);

  const std::string text = metrics->render();
  INFO(text);
  const Samples s(text);
  CHECK(s["tokenpass_dpop_failures_total{reason=\"replayed\"}"] == 1);
  CHECK(s["tokenpass_dpop_failures_total{reason=\"bad_proof\"}"] == 1);
  CHECK(s["tokenpass_replay_checks_total{store=\"memory\",outcome=\"fresh\"}"] == 1);
  CHECK(s["tokenpass_replay_checks_total{store=\"memory\",outcome=\"replayed\"}"] == 1);
  CHECK(s["tokenpass_verify_total{issuer=\"https://issuer.example\",result=\"denied\",reason=\"bad_proof\"}"] == 1);
}

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/catch.h"
#include "support/jwks_server.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/key_source.h"
#include "tokenpass/verifier.h"

// RemoteJwks, discovery and IssuerKeySources against real cpp-httplib servers on
// 127.0.0.1. Time comes from TestClock; the background fetch thread is waited for by
// polling (a synchronisation wait with a generous deadline, never a timing assertion).

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::RemoteJwks;
using tokenpass::RemoteJwksEvent;
using tokenpass::RemoteJwksOptions;
using tp_test::error_of;
using tp_test::JwksServer;
using json = nlohmann::json;
using Kind = RemoteJwksEvent::Kind;

namespace {

constexpr long long kNow = 1900000000;  // 2030-03-17
constexpr const char* kIss = "https://issuer.example";
constexpr const char* kJwks = JwksServer::kJwksPath;

using TimePoint = std::chrono::system_clock::time_point;

// TestClock: time that moves only when the test says so, from kNow.
struct TestClock : tp_test::ManualClock {
  TestClock() : ManualClock(kNow) {}
};
using tp_test::eventually;

// Events: what on_event heard. `completed` counts finished fetches.
struct Events {
  std::mutex mu;
  std::vector<RemoteJwksEvent> list;
  std::atomic<int> completed{0};

  void add(const RemoteJwksEvent& e) {
    {
      std::lock_guard<std::mutex> g(mu);
      list.push_back(e);
    }
    if (e.kind == Kind::fetched || e.kind == Kind::not_modified || e.kind == Kind::fetch_failed) {
      ++completed;
    }
  }
  std::vector<RemoteJwksEvent> all() {
    std::lock_guard<std::mutex> g(mu);
    return list;
  }
};

tokenpass::Key es256(const std::string& kid) {
  tokenpass::GenerateOptions o;
  o.kid = kid;
  return tokenpass::Key::generate(Alg::ES256, o);
}

// mint: a token valid for 30 days from kNow, signed by `key` (its kid in the header).
std::string mint(const tokenpass::Key& key, const std::string& iss = kIss) {
  const json claims{{"iss", iss},       {"sub", "user-1"},         {"aud", "orders-api"},
                    {"iat", kNow - 10}, {"exp", kNow + 30 * 86400}};
  return tokenpass::sign_jws(key, claims.dump()).value();
}

tokenpass::Policy policy_at(const TestClock& clock, std::vector<std::string> issuers = {kIss}) {
  tokenpass::Policy p;
  p.issuers = std::move(issuers);
  p.audiences = {"orders-api"};
  p.leeway = 0s;
  p.clock = clock.fn();
  return p;
}

std::shared_ptr<tokenpass::HttpClient> http_client() {
  return std::make_shared<tokenpass::HttplibClient>();
}

// Rig: a RemoteJwks on one server, with a test clock, an event log and a Verifier.
// Tweak `options`, then start().
struct Rig {
  TestClock clock;
  std::shared_ptr<Events> events = std::make_shared<Events>();
  RemoteJwksOptions options;
  std::shared_ptr<RemoteJwks> jwks;
  std::unique_ptr<tokenpass::Verifier> verifier;

  explicit Rig(const JwksServer& server) {
    options.url = server.jwks_url();
    options.allow_http = true;
    options.timeout = 500ms;
    options.clock = clock.fn();
    auto ev = events;
    options.on_event = [ev](const RemoteJwksEvent& e) { ev->add(e); };
  }
  Rig& start() {
    return use(std::make_shared<RemoteJwks>(options, http_client()));
  }
  Rig& use(std::shared_ptr<RemoteJwks> source, std::vector<std::string> issuers = {kIss}) {
    jwks = std::move(source);
    verifier = std::make_unique<tokenpass::Verifier>(jwks, policy_at(clock, std::move(issuers)));
    return *this;
  }
  tokenpass::Result<tokenpass::VerifiedToken> verify(const std::string& token) const {
    return verifier->verify(token);
  }
  errc code(const std::string& token) const { return error_of(verify(token)); }
  tokenpass::RemoteJwksStats stats() const { return jwks->stats(); }
  // wait_completed: until `n` fetches have finished (fetched, not modified or failed).
  bool wait_completed(int n) const {
    return eventually([&] { return events->completed.load() >= n; });
  }
};

// run_threads: `n` threads run `body` once, released together.
void run_threads(int n, const std::function<void()>& body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      while (!go) std::this_thread::yield();
      body();
    });
  }
  go = true;
  for (auto& t : threads) t.join();
}

// Verifiers: `n` threads verifying `token` in a loop until stopped, counting outcomes
// (Catch2 assertions are not thread-safe: the test checks the counts afterwards).
class Verifiers {
 public:
  Verifiers(const Rig& rig, std::function<std::string()> token, int n = 4) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, &rig, token] {
        while (!stop_) {
          if (rig.verify(token())) {
            ++ok;
          } else {
            ++failed;
          }
        }
      });
    }
  }
  ~Verifiers() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// RewritingClient: sends requests for `from...` to `to...`, so that a local http server
// can stand in for an https issuer.
class RewritingClient final : public tokenpass::HttpClient {
 public:
  RewritingClient(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest& request) override {
    tokenpass::HttpRequest copy = request;
    if (copy.url.rfind(from_, 0) == 0) copy.url = to_ + copy.url.substr(from_.size());
    return inner_.send(copy);
  }

 private:
  std::string from_, to_;
  tokenpass::HttplibClient inner_;
};

// bad_ec_jwk: `key`'s public JWK with a point that is not on P-256.
json bad_ec_jwk(const tokenpass::Key& key, const std::string& kid) {
  json j = key.to_public_jwk();
  j["y"] = j["x"];
  j["kid"] = kid;
  return j;
}

}  // namespace

// --- cache -------------------------------------------------------------------------

TEST_CASE("the first verify fetches the set once and verifies within the TTL fetch nothing",
          "[remote][cache]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.start();
  const auto token = mint(k1);
  CHECK(server.requests(kJwks) == 0);  // the constructor does not fetch

  REQUIRE(rig.verify(token));
  CHECK(rig.stats().fetches == 1);
  for (int i = 0; i < 50; ++i) REQUIRE(rig.verify(token));
  rig.clock.advance(269s);  // TTL 300 s, refresh ahead 30 s: nothing to do before 270 s
  REQUIRE(rig.verify(token));
  CHECK(rig.stats().fetches == 1);
  CHECK(rig.stats().stale_serves == 0);
  CHECK(server.requests(kJwks) == 1);
}

TEST_CASE("Cache-Control max-age sets the TTL within [min_ttl, max_ttl]", "[remote][cache]") {
  // {Cache-Control, expected TTL} with min_ttl 60, max_ttl 600, default_ttl 300.
  const auto row = GENERATE(table<std::string, int>({{"max-age=120", 120},
                                                     {"public, max-age=100000", 600},
                                                     {"max-age=5", 60},
                                                     {"", 300},
                                                     {"no-cache", 60},
                                                     {"no-store", 60}}));
  const std::string cache_control = std::get<0>(row);
  const auto ttl = std::chrono::seconds(std::get<1>(row));
  CAPTURE(cache_control);

  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  server.set_cache_control(cache_control);
  Rig rig(server);
  rig.options.min_ttl = 60s;
  rig.options.max_ttl = 600s;
  rig.options.default_ttl = 300s;
  rig.options.refresh_ahead = 0s;  // so the TTL's end is the first sign of it
  rig.start();
  const auto token = mint(k1);

  REQUIRE(rig.verify(token));
  rig.clock.advance(ttl - 1s);
  REQUIRE(rig.verify(token));
  CHECK(rig.stats().stale_serves == 0);
  CHECK(rig.stats().fetches == 1);
  rig.clock.advance(1s);
  REQUIRE(rig.verify(token));  // the TTL has ended: served stale, refreshed behind
  CHECK(rig.stats().stale_serves == 1);
  REQUIRE(rig.wait_completed(2));
  CHECK(rig.stats().fetches == 2);
  CHECK(server.requests(kJwks) == 2);
}

TEST_CASE("an ETag is sent back as If-None-Match and a 304 keeps the keys", "[remote][cache]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  server.set_etag("\"v1\"");
  Rig rig(server);
  rig.start();
  const auto token = mint(k1);

  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(1));
  CHECK(server.last_header("If-None-Match").empty());

  rig.clock.advance(301s);
  REQUIRE(rig.verify(token));  // stale; the refresh is conditional
  REQUIRE(rig.wait_completed(2));
  CHECK(server.last_header("If-None-Match") == "\"v1\"");
  const auto s = rig.stats();
  CHECK(s.fetches == 2);
  CHECK(s.not_modified == 1);
  CHECK(s.failures == 0);
  CHECK(s.stale_serves == 1);

  // The 304 renewed the TTL and the same set goes on serving.
  REQUIRE(rig.verify(token));
  rig.clock.advance(200s);
  REQUIRE(rig.verify(token));
  CHECK(rig.stats().stale_serves == 1);
  CHECK(rig.stats().fetches == 2);
}

TEST_CASE("refresh ahead serves the current set at once and refreshes in the background",
          "[remote][cache]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.options.timeout = 3000ms;
  rig.start();
  const auto token = mint(k1);
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(1));

  server.set_delay(10s);    // the refresh is held at the server until set_delay(0) below
  rig.clock.advance(271s);  // TTL 300 s, refresh ahead 30 s
  REQUIRE(rig.verify(token));
  REQUIRE(eventually([&] { return server.waiting() == 1; }));
  // A verify that had waited for that fetch could only have returned once it failed.
  CHECK(rig.events->completed == 1);
  CHECK(rig.stats().failures == 0);
  for (int i = 0; i < 20; ++i) REQUIRE(rig.verify(token));
  CHECK(server.requests(kJwks) == 2);  // one refresh, however many verifies

  server.set_delay(0ms);  // releases the held answer
  REQUIRE(rig.wait_completed(2));
  CHECK(rig.stats().fetches == 2);
  CHECK(rig.stats().failures == 0);
  rig.clock.advance(30s);  // past the first TTL, within the refreshed one
  REQUIRE(rig.verify(token));
  CHECK(rig.stats().stale_serves == 0);
  CHECK(rig.stats().fetches == 2);
}

// --- rotation ----------------------------------------------------------------------

TEST_CASE("tokens with a new kid that arrive while its fetch is under way wait for it",
          "[remote][rotation]") {
  // After a rotation, many requests bring the new kid at once: the first one's fetch is
  // out; the others used to be refused (key_not_found, rate limited) instead of waiting.
  JwksServer server;
  const auto k1 = es256("k1");
  const auto k2 = es256("k2");
  server.set_keys({k1});
  Rig rig(server);
  rig.options.timeout = 5000ms;
  rig.start();
  REQUIRE(rig.verify(mint(k1)));
  server.set_keys({k1, k2});
  server.set_delay(300ms);  // the kid-miss fetch stays out for a while
  const std::string t2 = mint(k2);
  std::atomic<int> ok{0};
  std::vector<errc> refused;
  std::mutex mu;
  run_threads(8, [&] {
    auto r = rig.verify(t2);
    if (r) {
      ++ok;
    } else {
      std::lock_guard<std::mutex> g(mu);
      refused.push_back(r.error().code);
    }
  });
  CHECK(refused.empty());
  CHECK(ok == 8);
  CHECK(rig.stats().fetches == 2);  // one for the new kid, for all eight
  CHECK(rig.stats().rate_limited == 0);
  CHECK(rig.stats().kid_fetches == 1);
  CHECK(rig.stats().kid_joins == 7);
  // With no fetch under way, another unknown kid within the window is refused at once.
  server.set_delay(0ms);
  CHECK(rig.code(mint(es256("k3"))) == errc::key_not_found);
  CHECK(rig.stats().rate_limited == 1);
  CHECK(rig.stats().fetches == 2);
}

TEST_CASE("a new kid is fetched on first sight and a removed kid ends in key_not_found",
          "[remote][rotation]") {
  JwksServer server;
  const auto k0 = es256("k0");  // stays throughout
  const auto k1 = es256("k1");  // retired
  const auto k2 = es256("k2");  // introduced
  server.set_keys({k0, k1});
  Rig rig(server);
  rig.start();
  const auto t0 = mint(k0), t1 = mint(k1), t2 = mint(k2);
  REQUIRE(rig.verify(t1));

  Verifiers background(rig, [&] { return t0; });

  server.set_keys({k0, k1, k2});
  REQUIRE(rig.verify(t2));  // one kid-miss refresh
  CHECK(rig.stats().fetches == 2);
  CHECK(rig.stats().kid_misses == 1);

  server.set_keys({k0, k2});
  REQUIRE(rig.verify(t1));  // still in the cached set
  CHECK(rig.stats().fetches == 2);

  rig.clock.advance(301s);
  REQUIRE(rig.verify(t2));  // stale: refreshed behind
  REQUIRE(rig.wait_completed(3));
  CHECK(rig.stats().fetches == 3);
  // k1 is gone: one kid-miss refresh (the last one was 301 s ago), then remembered.
  CHECK(rig.code(t1) == errc::key_not_found);
  CHECK(rig.stats().fetches == 4);
  CHECK(rig.code(t1) == errc::key_not_found);
  CHECK(rig.stats().fetches == 4);
  REQUIRE(rig.verify(t2));

  background.stop();
  CHECK(background.ok > 0);
  CHECK(background.failed == 0);
}

// OtherThread: one thread that runs what it is given, so that a test can verify twice
// from the same thread (a thread keeps its own snapshot of the set) around something
// another thread did.
class OtherThread {
 public:
  OtherThread() : thread_([this] { loop(); }) {}
  ~OtherThread() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  template <class F>
  auto run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    {
      std::lock_guard<std::mutex> g(mu_);
      work_ = [&task] { task(); };
    }
    cv_.notify_all();
    return result.get();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || work_; });
      if (stop_) return;
      auto work = std::move(work_);
      work_ = nullptr;
      lock.unlock();
      work();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> work_;
  bool stop_ = false;
  std::thread thread_;
};

namespace {

// cached_verifier: a Verifier on `rig`'s source with the verified-token cache on.
tokenpass::Verifier cached_verifier(const Rig& rig) {
  tokenpass::Policy p = policy_at(rig.clock);
  p.cache.max_entries = 16;
  return tokenpass::Verifier(rig.jwks, p);
}

}  // namespace

TEST_CASE("a set another thread refreshed is what every thread verifies with next",
          "[remote][rotation][threads]") {
  JwksServer server;
  const auto k1 = es256("k1");
  const auto k2 = es256("k2");
  server.set_keys({k1});
  Rig rig(server);
  rig.start();
  const auto t1 = mint(k1), t2 = mint(k2);
  REQUIRE(rig.verify(t1));
  OtherThread other;
  CHECK(other.run([&] { return rig.code(t1); }) == errc{});

  // The key is replaced and this thread's unknown kid fetches the new set. No time
  // passes: the other thread's view of the old set is still fresh, and must not be used.
  server.set_keys({k2});
  REQUIRE(rig.verify(t2));
  CHECK(rig.stats().fetches == 2);
  CHECK(other.run([&] { return rig.code(t1); }) == errc::key_not_found);
  CHECK(other.run([&] { return rig.code(t2); }) == errc{});
  CHECK(rig.stats().fetches == 2);
}

TEST_CASE("a token cached by one thread is a cache hit on another, until the set changes",
          "[remote][cache][threads]") {
  JwksServer server;
  const auto k1 = es256("k1");
  const auto k2 = es256("k2");
  server.set_keys({k1});
  Rig rig(server);
  rig.start();
  const tokenpass::Verifier cached = cached_verifier(rig);
  const auto t1 = mint(k1), t2 = mint(k2);
  REQUIRE(cached.verify(t1));
  OtherThread other;
  CHECK(other.run([&] { return error_of(cached.verify(t1)); }) == errc{});
  CHECK(cached.cache_stats().hits == 1);
  CHECK(cached.cache_stats().misses == 1);
  CHECK(cached.cache_stats().evictions == 0);

  // A new set (k1 kept): the entry was verified with the old one and is not used.
  server.set_keys({k1, k2});
  REQUIRE(cached.verify(t2));
  REQUIRE(rig.stats().fetches == 2);
  CHECK(other.run([&] { return error_of(cached.verify(t1)); }) == errc{});
  CHECK(cached.cache_stats().hits == 1);
  CHECK(cached.cache_stats().evictions == 1);
  CHECK(error_of(cached.verify(t1)) == errc{});
  CHECK(cached.cache_stats().hits == 2);
}

TEST_CASE("a token cached by a thread that has exited is still a cache hit",
          "[remote][cache][threads]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.start();
  const tokenpass::Verifier cached = cached_verifier(rig);
  const auto t1 = mint(k1);
  {
    OtherThread gone;
    CHECK(gone.run([&] { return error_of(cached.verify(t1)); }) == errc{});
  }  // that thread, and its view of the set, are gone
  CHECK(error_of(cached.verify(t1)) == errc{});
  CHECK(cached.cache_stats().hits == 1);
  CHECK(cached.cache_stats().evictions == 0);
}

TEST_CASE("one thread verifying through more sources than it keeps views of gets each one's keys",
          "[remote][threads]") {
  JwksServer server;
  const auto k1 = es256("k1");
  const auto stranger = es256("k-unknown");
  server.set_keys({k1});
  TestClock clock;
  std::map<std::string, std::shared_ptr<const tokenpass::KeySource>> sources;
  std::vector<std::shared_ptr<RemoteJwks>> remotes;
  std::vector<std::string> issuers;
  for (int i = 0; i < 11; ++i) {  // a thread keeps 8
    RemoteJwksOptions opt;
    opt.url = server.jwks_url();
    opt.allow_http = true;
    opt.timeout = 2000ms;
    opt.clock = clock.fn();
    auto remote = std::make_shared<RemoteJwks>(opt, http_client());
    REQUIRE(error_of(remote->prefetch()) == errc{});
    issuers.push_back("https://issuer-" + std::to_string(i) + ".example");
    sources[issuers.back()] = remote;
    remotes.push_back(std::move(remote));
  }
  const tokenpass::Verifier verifier(std::make_shared<tokenpass::IssuerKeySources>(sources),
                                     policy_at(clock, issuers));
  for (int round = 0; round < 3; ++round) {
    for (const auto& iss : issuers) {
      CHECK(error_of(verifier.verify(mint(k1, iss))) == errc{});
      CHECK(error_of(verifier.verify(mint(stranger, iss))) == errc::key_not_found);
    }
  }
  // One fetch each, plus one for the first unknown kid (then rate-limited).
  for (const auto& remote : remotes) CHECK(remote->stats().fetches == 2);
}

// --- single flight -------------------------------------------------------------------

TEST_CASE("16 threads verifying at expiry cause exactly one fetch", "[remote][singleflight]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  const auto token = mint(k1);
  std::atomic<int> ok{0};
  const auto verify16 = [&] {
    run_threads(16, [&] {
      if (rig.verify(token)) ++ok;
    });
  };

  SECTION("cold start: no set yet, every thread waits for the same fetch") {
    rig.start();
    server.set_delay(200ms);
    verify16();
    CHECK(ok == 16);
    CHECK(rig.stats().fetches == 1);
    CHECK(server.requests(kJwks) == 1);
  }
  SECTION("past the TTL: the stale set serves while one refresh runs") {
    rig.start();
    REQUIRE(rig.verify(token));
    REQUIRE(rig.wait_completed(1));
    server.set_delay(200ms);
    rig.clock.advance(301s);
    verify16();
    CHECK(ok == 16);
    REQUIRE(rig.wait_completed(2));
    CHECK(rig.stats().fetches == 2);
    CHECK(server.requests(kJwks) == 2);
  }
  SECTION("past max_stale: every thread waits for the same fetch") {
    rig.options.max_stale = 60s;
    rig.start();
    REQUIRE(rig.verify(token));
    REQUIRE(rig.wait_completed(1));
    server.set_delay(200ms);
    rig.clock.advance(361s);
    verify16();
    CHECK(ok == 16);
    CHECK(rig.stats().fetches == 2);
    CHECK(server.requests(kJwks) == 2);
  }
}

// --- unknown kids ------------------------------------------------------------------

TEST_CASE("a flood of random kids costs at most one fetch per interval", "[remote][flood]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.start();
  REQUIRE(rig.verify(mint(k1)));

  const auto attacker = es256("attacker");  // never in the set
  std::mt19937_64 rng(std::random_device{}());
  const auto random_kid_token = [&] { return mint(attacker.with_kid(std::to_string(rng()))); };
  std::vector<std::string> tokens;
  for (int i = 0; i < 1000; ++i) tokens.push_back(random_kid_token());

  std::atomic<int> not_found{0};
  std::atomic<std::size_t> next{0};
  run_threads(4, [&] {
    for (std::size_t i = next++; i < tokens.size(); i = next++) {
      if (rig.code(tokens[i]) == errc::key_not_found) ++not_found;
    }
  });
  CHECK(not_found == 1000);
  auto s = rig.stats();
  CHECK(s.fetches == 2);  // the first fetch, and one for the whole flood
  CHECK(s.kid_misses == 1000);
  CHECK(s.kid_fetches == 1);
  // The other 999 were refused without a fetch, or waited for the one under way.
  CHECK(s.rate_limited + s.kid_joins == 999);
  CHECK(s.kid_joins <= 3);
  REQUIRE(rig.verify(mint(k1)));

  rig.clock.advance(30s);  // unknown_kid_interval
  CHECK(rig.code(random_kid_token()) == errc::key_not_found);
  CHECK(rig.stats().fetches == 3);
  CHECK(rig.code(random_kid_token()) == errc::key_not_found);
  CHECK(rig.stats().fetches == 3);
  CHECK(rig.stats().rate_limited + rig.stats().kid_joins == 1000);
  CHECK(rig.stats().kid_fetches == 2);
}

// --- outages -----------------------------------------------------------------------

TEST_CASE("during an outage the last set serves until max_stale, then recovers",
          "[remote][outage]") {
  const std::string outage = GENERATE(as<std::string>{}, "500", "hang", "refused");
  CAPTURE(outage);
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.options.max_stale = 600s;  // TTL 300 s: usable until T0 + 900 s
  rig.start();
  const auto token = mint(k1);
  REQUIRE(rig.verify(token));  // T0
  REQUIRE(rig.wait_completed(1));

  if (outage == "500") server.set_mode(JwksServer::Mode::status_500);
  if (outage == "hang") server.set_delay(5s);  // past the 500 ms timeout
  if (outage == "refused") server.stop_listening();

  rig.clock.advance(301s);  // T0+301: past the TTL
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(2));
  CHECK(rig.stats().failures == 1);
  REQUIRE(rig.verify(token));  // back-off 1 s: no fetch
  CHECK(rig.stats().fetches == 2);

  rig.clock.advance(1s);  // T0+302
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(3));  // back-off now 2 s
  rig.clock.advance(597s);         // T0+899: the last second within max_stale
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(4));  // back-off now 4 s: until T0+903
  auto s = rig.stats();
  CHECK(s.fetches == 4);
  CHECK(s.failures == 3);
  CHECK(s.stale_serves == 4);

  rig.clock.advance(1s);  // T0+900: nothing usable; in back-off, so no fetch either
  CHECK(rig.code(token) == errc::key_source_unavailable);
  CHECK(rig.stats().fetches == 4);
  rig.clock.advance(3s);  // T0+903: a fetch is made, waited for, and fails
  CHECK(rig.code(token) == errc::key_source_unavailable);
  REQUIRE(rig.wait_completed(5));  // back-off now 8 s: until T0+911
  CHECK(rig.stats().fetches == 5);
  CHECK(rig.stats().failures == 4);

  if (outage == "500") server.set_mode(JwksServer::Mode::jwks);
  if (outage == "hang") server.set_delay(0ms);
  if (outage == "refused") server.resume_listening();
  CHECK(rig.code(token) == errc::key_source_unavailable);  // still in back-off
  CHECK(rig.stats().fetches == 5);
  rig.clock.advance(8s);  // T0+911
  REQUIRE(rig.verify(token));
  s = rig.stats();
  CHECK(s.fetches == 6);
  CHECK(s.failures == 4);
  rig.clock.advance(1s);
  REQUIRE(rig.verify(token));
  CHECK(rig.stats().stale_serves == 4);  // fresh again
}

TEST_CASE("with no set and the server down, prefetch and verify give key_source_unavailable",
          "[remote][outage]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  const auto token = mint(k1);

  SECTION("connection refused") {
    server.stop_listening();
    rig.start();
    CHECK(error_of(rig.jwks->prefetch(2000ms)) == errc::key_source_unavailable);
    CHECK(rig.stats().fetches == 1);
    CHECK(rig.code(token) == errc::key_source_unavailable);  // back-off: no fetch, no wait
    CHECK(rig.stats().fetches == 1);
    rig.clock.advance(1s);
    CHECK(rig.code(token) == errc::key_source_unavailable);
    CHECK(rig.stats().fetches == 2);

    server.resume_listening();
    rig.clock.advance(2s);
    CHECK(rig.jwks->prefetch());
    REQUIRE(rig.verify(token));
    CHECK(rig.stats().fetches == 3);
  }
  SECTION("status 500") {
    server.set_mode(JwksServer::Mode::status_500);
    rig.start();
    CHECK(error_of(rig.jwks->prefetch(2000ms)) == errc::key_source_unavailable);
    CHECK(rig.code(token) == errc::key_source_unavailable);
    CHECK(rig.stats().fetches == 1);
    CHECK(rig.stats().failures == 1);
  }
  SECTION("a hanging server: prefetch gives up after max_wait") {
    server.set_delay(5s);
    rig.start();
    CHECK(error_of(rig.jwks->prefetch(100ms)) == errc::key_source_unavailable);
    REQUIRE(rig.wait_completed(1));  // the fetch ends at its 500 ms timeout
    CHECK(rig.stats().failures == 1);
    CHECK(rig.code(token) == errc::key_source_unavailable);
    CHECK(rig.stats().fetches == 1);
  }
}

// --- documents and limits ------------------------------------------------------------

namespace {
// serve_bad: makes `server` answer a document of this kind that must be refused.
void serve_bad(JwksServer& server, const std::string& kind) {
  if (kind == "malformed JSON") server.set_mode(JwksServer::Mode::malformed_json);
  if (kind == "not a JWKS") server.set_mode(JwksServer::Mode::not_jwks);
  if (kind == "over max_body_bytes") server.set_mode(JwksServer::Mode::huge);  // 600 KiB
  if (kind == "no usable key") {
    server.set_jwks(json{{"keys", {tp_test::ossl::rsa_1024().public_jwk}}}.dump());
  }
  if (kind == "no keys") server.set_jwks(R"({"keys":[]})");
  if (kind == "NUL after the JSON") {
    const json set = {{"keys", {tp_test::public_of(tp_test::key_for(Alg::ES256)).to_public_jwk()}}};
    server.set_jwks(set.dump() + std::string(1, '\0'));
  }
  if (kind == "only ROCA keys") {
    // CVE-2017-15361: factorable moduli (tests/data/roca/make_roca.py).
    json keys = json::array();
    const json roca = tp_test::read_data_json("roca/roca_keys.json");  // outlives the loop
    for (const auto& k : roca["fingerprinted"]) {
      keys.push_back(json{{"kty", "RSA"}, {"kid", "roca"}, {"n", k["n"]}, {"e", k["e"]}});
    }
    server.set_jwks(json{{"keys", keys}}.dump());
  }
}
}  // namespace

TEST_CASE("a refused document keeps the old set", "[remote][limits]") {
  const std::string kind =
      GENERATE(as<std::string>{}, "malformed JSON", "not a JWKS", "over max_body_bytes",
               "no usable key", "no keys", "NUL after the JSON", "only ROCA keys");
  CAPTURE(kind);
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.start();
  const auto token = mint(k1);
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(1));

  serve_bad(server, kind);
  rig.clock.advance(301s);
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(2));
  CHECK(rig.stats().failures == 1);
  CHECK(rig.events->all().back().kind == Kind::fetch_failed);
  REQUIRE(rig.verify(token));  // the old set, kept
  CHECK(rig.stats().stale_serves == 2);
}

TEST_CASE("a refused first document leaves no set", "[remote][limits]") {
  const std::string kind =
      GENERATE(as<std::string>{}, "malformed JSON", "not a JWKS", "over max_body_bytes",
               "no usable key", "no keys", "NUL after the JSON", "only ROCA keys");
  CAPTURE(kind);
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  serve_bad(server, kind);
  Rig rig(server);
  rig.start();
  CHECK(error_of(rig.jwks->prefetch()) == errc::key_source_unavailable);
  CHECK(rig.code(mint(k1)) == errc::key_source_unavailable);
  CHECK(rig.stats().failures == 1);
}

TEST_CASE("a set over the default max_body_bytes is accepted under a larger limit",
          "[remote][limits]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  server.set_mode(JwksServer::Mode::huge);  // 600 KiB, valid JSON padded with spaces
  Rig rig(server);
  rig.options.max_body_bytes = 1024 * 1024;
  rig.options.timeout = 10s;  // 600 KiB to send and parse: slow under the sanitizers
  rig.start();
  CHECK(rig.code(mint(k1)) == errc{});
}

TEST_CASE("an unusable key in the set is skipped and the others are kept", "[remote][limits]") {
  JwksServer server;
  const auto k1 = es256("k1");
  const auto k2 = es256("k2");
  json keys = json::array();
  keys.push_back(k1.to_public_jwk());
  keys.push_back(tp_test::ossl::rsa_1024().public_jwk);
  keys.push_back(bad_ec_jwk(k2, "bad-ec"));
  server.set_jwks(json{{"keys", keys}}.dump());
  Rig rig(server);
  rig.start();

  REQUIRE(rig.verify(mint(k1)));
  REQUIRE(rig.wait_completed(1));
  const auto events = rig.events->all();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::fetched);
  CAPTURE(events[0].detail);
  CHECK(events[0].detail.find("fetched 1 key, skipped 2 unusable") != std::string::npos);
  // The key published under "bad-ec" was not loaded: its kid is unknown.
  CHECK(rig.code(mint(k2.with_kid("bad-ec"))) == errc::key_not_found);
}

TEST_CASE("the constructor refuses a bad URL, plain http and a null client", "[remote][limits]") {
  const auto http = http_client();
  RemoteJwksOptions o;
  o.url = "http://127.0.0.1:9/jwks.json";
  CHECK_THROWS_AS(RemoteJwks(o, http), std::invalid_argument);  // http without allow_http
  o.allow_http = true;
  CHECK_NOTHROW(RemoteJwks(o, http));
  CHECK_THROWS_AS(RemoteJwks(o, nullptr), std::invalid_argument);
  o.url = "";
  CHECK_THROWS_AS(RemoteJwks(o, http), std::invalid_argument);
  o.url = "ftp://127.0.0.1/jwks.json";
  CHECK_THROWS_AS(RemoteJwks(o, http), std::invalid_argument);
  o.url = "https://issuer.example/jwks.json";
  o.allow_http = false;
  CHECK_NOTHROW(RemoteJwks(o, http));
  o.min_ttl = 600s;
  o.max_ttl = 60s;
  CHECK_THROWS_AS(RemoteJwks(o, http), std::invalid_argument);
}

// --- discovery and several issuers ---------------------------------------------------

TEST_CASE("from_issuer finds the set through OpenID Connect discovery", "[remote][discovery]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  const std::string issuer = server.url();
  server.set_document(JwksServer::kOpenIdPath,
                      json{{"issuer", issuer}, {"jwks_uri", server.jwks_url()}});
  Rig rig(server);
  auto found = RemoteJwks::from_issuer(issuer, rig.options, http_client());
  REQUIRE(found);
  CHECK((*found)->url() == server.jwks_url());
  CHECK(server.requests(JwksServer::kOpenIdPath) == 1);
  CHECK(server.requests(JwksServer::kOAuthPath) == 0);
  rig.use(*found, {issuer});
  REQUIRE(rig.verify(mint(k1, issuer)));
  CHECK(server.requests(kJwks) == 1);
}

TEST_CASE("from_issuer falls back to RFC 8414 metadata when OpenID discovery is 404",
          "[remote][discovery]") {
  const std::string path = GENERATE(as<std::string>{}, "", "/tenant");
  CAPTURE(path);
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  const std::string issuer = server.url() + path;
  // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
  server.set_document(std::string(JwksServer::kOAuthPath) + path,
                      json{{"issuer", issuer}, {"jwks_uri", server.jwks_url()}});
  Rig rig(server);
  auto found = RemoteJwks::from_issuer(issuer, rig.options, http_client());
  REQUIRE(found);
  CHECK(server.requests(path + JwksServer::kOpenIdPath) == 1);  // 404
  CHECK(server.requests(std::string(JwksServer::kOAuthPath) + path) == 1);
  rig.use(*found, {issuer});
  REQUIRE(rig.verify(mint(k1, issuer)));
}

TEST_CASE("from_issuer refuses metadata that is wrong or missing", "[remote][discovery]") {
  JwksServer server;
  const std::string issuer = server.url();
  Rig rig(server);
  const auto from = [&](const std::string& iss, const RemoteJwksOptions& o,
                        std::shared_ptr<tokenpass::HttpClient> http = http_client()) {
    return error_of(RemoteJwks::from_issuer(iss, o, std::move(http)));
  };

  SECTION("another issuer named in the metadata: bad_issuer") {
    server.set_document(JwksServer::kOpenIdPath,
                        json{{"issuer", "https://evil.example"}, {"jwks_uri", server.jwks_url()}});
    CHECK(from(issuer, rig.options) == errc::bad_issuer);
  }
  SECTION("no jwks_uri: malformed") {
    server.set_document(JwksServer::kOpenIdPath, json{{"issuer", issuer}});
    CHECK(from(issuer, rig.options) == errc::malformed);
  }
  SECTION("metadata followed by a NUL byte: malformed") {
    server.set_raw_document(
        JwksServer::kOpenIdPath,
        json{{"issuer", issuer}, {"jwks_uri", server.jwks_url()}}.dump() + std::string(1, '\0'));
    CHECK(from(issuer, rig.options) == errc::malformed);
  }
  SECTION("metadata that is not a JSON object: malformed") {
    server.set_document(JwksServer::kOpenIdPath, json::array({1, 2}));
    CHECK(from(issuer, rig.options) == errc::malformed);
  }
  SECTION("no metadata at either place: http_error") {
    CHECK(from(issuer, rig.options) == errc::http_error);
    CHECK(server.requests(JwksServer::kOpenIdPath) == 1);
    CHECK(server.requests(JwksServer::kOAuthPath) == 1);
  }
  SECTION("an http:// issuer without allow_http: invalid_request, nothing fetched") {
    rig.options.allow_http = false;
    CHECK(from(issuer, rig.options) == errc::invalid_request);
    CHECK(server.requests(JwksServer::kOpenIdPath) == 0);
  }
  SECTION("an https issuer whose jwks_uri is http:// without allow_http: invalid_request") {
    const std::string https_issuer = "https://issuer.test";
    const auto http = std::make_shared<RewritingClient>(https_issuer, server.url());
    rig.options.allow_http = false;
    server.set_document(JwksServer::kOpenIdPath,
                        json{{"issuer", https_issuer}, {"jwks_uri", server.jwks_url()}});
    CHECK(from(https_issuer, rig.options, http) == errc::invalid_request);
    CHECK(server.requests(JwksServer::kOpenIdPath) == 1);  // refused after reading it

    // The same with an https jwks_uri is accepted, and the set is fetched through it.
    const auto k1 = es256("k1");
    server.set_keys({k1});
    server.set_document(JwksServer::kOpenIdPath,
                        json{{"issuer", https_issuer}, {"jwks_uri", https_issuer + kJwks}});
    auto found = RemoteJwks::from_issuer(https_issuer, rig.options, http);
    REQUIRE(found);
    rig.use(*found, {https_issuer});
    REQUIRE(rig.verify(mint(k1, https_issuer)));
    CHECK(server.requests(kJwks) == 1);
  }
}

TEST_CASE("IssuerKeySources chooses the set by iss and never crosses issuers",
          "[remote][discovery]") {
  JwksServer a, b;
  const auto ka = es256("a1");
  const auto kb = es256("b1");
  a.set_keys({ka});
  b.set_keys({kb});
  const std::string iss_a = a.url(), iss_b = b.url();
  Rig rig_a(a), rig_b(b);
  rig_a.start();
  rig_b.start();
  TestClock clock;
  const auto sources = std::make_shared<tokenpass::IssuerKeySources>(
      std::map<std::string, std::shared_ptr<const tokenpass::KeySource>>{{iss_a, rig_a.jwks},
                                                                         {iss_b, rig_b.jwks}});
  const tokenpass::Verifier verifier(sources, policy_at(clock, {iss_a, iss_b}));
  const auto code = [&](const std::string& token) { return error_of(verifier.verify(token)); };

  CHECK(code(mint(ka, iss_a)) == errc{});
  CHECK(code(mint(kb, iss_b)) == errc{});
  CHECK(a.requests(kJwks) == 1);
  CHECK(b.requests(kJwks) == 1);

  // B's key claiming A: its kid b1 is not in A's set (A refreshes once; B is not asked).
  CHECK(code(mint(kb, iss_a)) == errc::key_not_found);
  CHECK(a.requests(kJwks) == 2);
  CHECK(b.requests(kJwks) == 1);
  // Without a kid, or under A's kid, A's keys are tried and the signature fails.
  CHECK(code(mint(kb.with_kid(""), iss_a)) == errc::bad_signature);
  CHECK(code(mint(kb.with_kid("a1"), iss_a)) == errc::bad_signature);
  // An issuer that is not configured: no key source is asked.
  CHECK(code(mint(ka, "https://evil.example")) == errc::bad_issuer);
  CHECK(a.requests(kJwks) == 2);
  CHECK(b.requests(kJwks) == 1);
}

// --- HttplibClient -----------------------------------------------------------------

TEST_CASE("HttplibClient refuses a body over max_response_bytes", "[remote][limits]") {
  JwksServer server;
  server.set_mode(JwksServer::Mode::huge);
  tokenpass::HttplibClient client;
  tokenpass::HttpRequest req;
  req.url = server.jwks_url();
  req.timeout = 2000ms;
  req.max_response_bytes = 4096;
  CHECK(error_of(client.send(req)) == errc::http_error);
  req.max_response_bytes = 1024 * 1024;
  auto res = client.send(req);
  REQUIRE(res);
  CHECK(res->body.size() == 600 * 1024);
}

TEST_CASE("HttplibClient reports a refused connection and a timeout as http_error",
          "[remote][outage]") {
  JwksServer server;
  tokenpass::HttplibClient client;
  tokenpass::HttpRequest req;
  req.url = server.jwks_url();
  req.timeout = 300ms;
  SECTION("refused") {
    server.stop_listening();
    CHECK(error_of(client.send(req)) == errc::http_error);
  }
  SECTION("no answer within the timeout") {
    server.set_delay(5s);
    CHECK(error_of(client.send(req)) == errc::http_error);
  }
}

TEST_CASE("HttplibClient sends the request headers and returns any status", "[remote][cache]") {
  JwksServer server;
  server.set_etag("\"abc\"");
  tokenpass::HttplibClient client;
  tokenpass::HttpRequest req;
  req.url = server.jwks_url();
  req.timeout = 2000ms;
  req.headers = {{"If-None-Match", "\"abc\""}, {"X-Test", "1"}};
  auto res = client.send(req);
  REQUIRE(res);
  CHECK(res->status == 304);
  CHECK(res->header("etag") == "\"abc\"");
  CHECK(server.last_header("If-None-Match") == "\"abc\"");
  CHECK(server.last_header("X-Test") == "1");
  CHECK(server.last_header("User-Agent") == "tokenpass");

  server.set_mode(JwksServer::Mode::status_500);
  res = client.send(req);
  REQUIRE(res);
  CHECK(res->status == 500);
  req.url = server.url() + "/nothing-here";
  res = client.send(req);
  REQUIRE(res);
  CHECK(res->status == 404);
}

// --- events ------------------------------------------------------------------------

TEST_CASE("on_event hears fetched, not_modified and fetch_failed", "[remote][events]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  server.set_etag("\"v1\"");
  Rig rig(server);
  rig.start();
  const auto token = mint(k1);
  REQUIRE(rig.verify(token));
  rig.clock.advance(301s);
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(2));
  server.set_mode(JwksServer::Mode::status_500);
  rig.clock.advance(301s);
  REQUIRE(rig.verify(token));
  REQUIRE(rig.wait_completed(3));

  const auto events = rig.events->all();
  std::vector<Kind> kinds;
  for (const auto& e : events) kinds.push_back(e.kind);
  CHECK(kinds == std::vector<Kind>{Kind::fetched, Kind::not_modified, Kind::fetch_failed});
  for (const auto& e : events) CHECK(e.detail.rfind(server.jwks_url(), 0) == 0);
  CHECK(events[2].detail.find("500") != std::string::npos);
}

TEST_CASE("a verify waiting for a fetch is not held up by the event callback", "[remote][events]") {
  JwksServer server;
  const auto k1 = es256("k1");
  server.set_keys({k1});
  Rig rig(server);
  rig.options.timeout = 5000ms;
  std::atomic<bool> verified{false};
  std::atomic<bool> callback_done{false};
  std::atomic<bool> saw_verified{false};
  rig.options.on_event = [&](const RemoteJwksEvent& e) {
    if (e.kind != Kind::fetched) return;
    // A slow logger: it returns once the verify has (or after 2 s, so that a
    // regression fails instead of hanging).
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!verified && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    saw_verified = verified.load();
    callback_done = true;
  };
  rig.start();
  REQUIRE(rig.verify(mint(k1)));
  verified = true;
  REQUIRE(eventually([&] { return callback_done.load(); }));
  CHECK(saw_verified);
}

// --- threads (for ThreadSanitizer) ---------------------------------------------------

TEST_CASE("verifies from several threads while the server rotates and fails",
          "[remote][threads]") {
  JwksServer server;
  const auto k0 = es256("k0");
  std::vector<tokenpass::Key> rotating;
  std::vector<std::string> rotating_tokens;
  for (int i = 0; i < 8; ++i) {
    rotating.push_back(es256("r" + std::to_string(i)));
    rotating_tokens.push_back(mint(rotating.back()));
  }
  server.set_keys({k0, rotating[0]});
  Rig rig(server);
  rig.options.timeout = 300ms;
  rig.start();
  const auto t0 = mint(k0);
  REQUIRE(rig.verify(t0));

  // Two threads on the stable key (always served, from a fresh or a stale set), two on
  // the rotating one (served, or key_not_found around a rotation).
  std::atomic<int> current{0};
  std::atomic<int> other_outcome{0};
  Verifiers stable(rig, [&] { return t0; }, 2);
  std::atomic<bool> stop{false};
  std::vector<std::thread> rotators;
  for (int i = 0; i < 2; ++i) {
    rotators.emplace_back([&] {
      while (!stop) {
        const auto r = rig.verify(rotating_tokens[static_cast<std::size_t>(current.load())]);
        if (!r && r.error().code != errc::key_not_found) ++other_outcome;
      }
    });
  }

  for (int round = 1; round < 8; ++round) {
    const int before = rig.events->completed;
    switch (round % 4) {
      case 0:
        server.set_mode(JwksServer::Mode::status_500);
        break;
      case 1:
        server.set_keys({k0, rotating[static_cast<std::size_t>(round - 1)],
                         rotating[static_cast<std::size_t>(round)]});
        current = round;
        break;
      case 2:
        server.set_mode(JwksServer::Mode::malformed_json);
        break;
      case 3:
        server.set_keys({k0, rotating[static_cast<std::size_t>(round)]});
        current = round;
        break;
    }
    rig.clock.advance(301s);
    REQUIRE(rig.verify(t0));
    REQUIRE(rig.wait_completed(before + 1));
  }
  stop = true;
  for (auto& t : rotators) t.join();
  stable.stop();
  CHECK(stable.failed == 0);
  CHECK(stable.ok > 0);
  CHECK(other_outcome == 0);
  const auto s = rig.stats();
  CHECK(s.failures >= 1);
  CHECK(s.stale_serves >= 1);
}

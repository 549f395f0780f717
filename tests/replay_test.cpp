// Single-use tokens in one process: MemoryReplayStore on its own, and a Verifier with
// Policy::replay_store (the order of checks, cache hits, fail closed or open). Redis,
// shared by processes, is redis_test.cpp.
#include "tokenpass/replay.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/tokenpass.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using tp_test::error_of;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

constexpr long long kNow = 1900000000;
TimePoint at(long long s) { return TimePoint(std::chrono::seconds(s)); }

// FailingStore: a store that cannot answer (as Redis down would).
class FailingStore final : public tokenpass::ReplayStore {
 public:
  tokenpass::Result<void> first_use(std::string_view, std::string_view, TimePoint) const override {
    ++calls;
    return tokenpass::make_error(errc::replay_store_unavailable, "down");
  }
  mutable std::atomic<int> calls{0};
};

struct Fixture {
  std::shared_ptr<std::atomic<long long>> now = std::make_shared<std::atomic<long long>>(kNow);
  std::shared_ptr<tokenpass::MemoryReplayStore> store;
  tokenpass::Policy policy;
  Fixture() {
    tokenpass::MemoryReplayStoreOptions o;
    auto clock = now;
    o.clock = [clock] { return at(clock->load()); };
    store = std::make_shared<tokenpass::MemoryReplayStore>(o);
    policy.issuers = {"https://issuer"};
    policy.audiences = {"api"};
    policy.leeway = 0s;
    policy.clock = [clock] { return at(clock->load()); };
    policy.replay_store = store;
  }
  std::string mint(const std::function<void(tokenpass::ClaimsBuilder&)>& edit = {}) const {
    tokenpass::IssuerOptions io;
    io.audience = {"api"};
    io.clock = [] { return at(kNow); };
    tokenpass::ClaimsBuilder c;
    c.subject("svc");
    if (edit) edit(c);
    return tokenpass::Issuer(tp_test::key_for(Alg::ES256), "https://issuer", 60s, io).issue(c).value();
  }
  tokenpass::Verifier verifier() const {
    return tokenpass::Verifier(tokenpass::KeySet({tp_test::public_of(tp_test::key_for(Alg::ES256))}), policy);
  }
};

}  // namespace

TEST_CASE("MemoryReplayStore: a pair is accepted once until it expires", "[replay][memory]") {
  long long now = kNow;
  tokenpass::MemoryReplayStoreOptions o;
  o.clock = [&now] { return at(now); };
  tokenpass::MemoryReplayStore store(o);
  CHECK(error_of(store.first_use("iss", "j1", at(kNow + 10))) == errc{});
  CHECK(error_of(store.first_use("iss", "j1", at(kNow + 10))) == errc::replayed);
  CHECK(error_of(store.first_use("other", "j1", at(kNow + 10))) == errc{});  // per issuer
  // No confusion between (issuer, jti) splits of the same bytes.
  CHECK(error_of(store.first_use("is", "sj1", at(kNow + 10))) == errc{});
  now = kNow + 9;
  CHECK(error_of(store.first_use("iss", "j1", at(kNow + 10))) == errc::replayed);
  now = kNow + 10;  // expired: dropped
  CHECK(store.stats().entries == 3);
  CHECK(error_of(store.first_use("iss", "j2", at(kNow + 20))) == errc{});
  CHECK(store.stats().replays == 2);
}

TEST_CASE("MemoryReplayStore refuses new pairs when full, never forgets old ones",
          "[replay][memory][limits]") {
  long long now = kNow;
  tokenpass::MemoryReplayStoreOptions o;
  o.max_entries = 3;
  o.clock = [&now] { return at(now); };
  tokenpass::MemoryReplayStore store(o);
  for (const char* j : {"a", "b", "c"}) REQUIRE(error_of(store.first_use("i", j, at(kNow + 10))) == errc{});
  CHECK(error_of(store.first_use("i", "d", at(kNow + 10))) == errc::replay_store_unavailable);
  CHECK(store.stats().full == 1);
  CHECK(error_of(store.first_use("i", "a", at(kNow + 10))) == errc::replayed);  // still known
  now = kNow + 10;  // they expire: room again
  CHECK(error_of(store.first_use("i", "d", at(kNow + 20))) == errc{});

  tokenpass::MemoryReplayStoreOptions small;
  small.max_bytes = 200;
  small.clock = o.clock;
  tokenpass::MemoryReplayStore tiny(small);
  CHECK(error_of(tiny.first_use("i", "a", at(kNow + 30))) == errc{});
  CHECK(error_of(tiny.first_use("i", std::string(100, 'x'), at(kNow + 30))) == errc::replay_store_unavailable);
  CHECK(tiny.stats().bytes <= 200);
}

TEST_CASE("MemoryReplayStore: 16 threads racing one jti, exactly one is accepted",
          "[replay][memory][concurrency]") {
  tokenpass::MemoryReplayStore store;
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> accepted{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    const std::string jti = "race-" + std::to_string(round);
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        if (store.first_use("iss", jti, std::chrono::system_clock::now() + 60s)) ++accepted;
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    CHECK(accepted.load() == 1);
  }
}

TEST_CASE("single use: the second verify of a token is replayed", "[replay][verifier]") {
  Fixture fx;
  const auto v = fx.verifier();
  const auto token = fx.mint([](tokenpass::ClaimsBuilder& c) { c.jwt_id("j-1"); });
  CHECK(error_of(v.verify(token)) == errc{});
  auto again = v.verify(token);
  REQUIRE(error_of(again) == errc::replayed);
  CHECK(tokenpass::http_status(again.error()) == 401);
  CHECK(*tokenpass::www_authenticate(again.error(), "api") ==
        "Bearer realm=\"api\", error=\"invalid_token\"");
  // Another Verifier on the same store knows it too.
  CHECK(error_of(fx.verifier().verify(token)) == errc::replayed);
}

TEST_CASE("single use needs jti and exp, and burns nothing for a refused token",
          "[replay][verifier]") {
  Fixture fx;
  const auto v = fx.verifier();
  tokenpass::Policy no_exp = fx.policy;
  no_exp.require_exp = false;
  const tokenpass::Verifier lenient(tokenpass::KeySet({tp_test::public_of(tp_test::key_for(Alg::ES256))}), no_exp);
  // Issuer fills in jti by default; one without it:
  tokenpass::IssuerOptions io;
  io.audience = {"api"};
  io.generate_jti = false;
  io.clock = [] { return at(kNow); };
  tokenpass::ClaimsBuilder c;
  c.subject("svc");
  const auto without_jti =
      tokenpass::Issuer(tp_test::key_for(Alg::ES256), "https://issuer", 60s, io).issue(c).value();
  CHECK(error_of(v.verify(without_jti)) == errc::missing_claim);

  // Refused for another reason first (audience): the jti is not recorded.
  const auto wrong_aud = fx.mint([](tokenpass::ClaimsBuilder& b) { b.audience("other").jwt_id("j-2"); });
  CHECK(error_of(v.verify(wrong_aud)) == errc::bad_audience);
  CHECK(fx.store->stats().accepted == 0);
  // Expired: nothing recorded either.
  *fx.now = kNow + 61;
  const auto expired_then = fx.mint([](tokenpass::ClaimsBuilder& b) { b.jwt_id("j-3"); });
  CHECK(error_of(v.verify(expired_then)) == errc::expired);
  CHECK(fx.store->stats().accepted == 0);
}

TEST_CASE("single use applies to tokens the cache answers", "[replay][verifier][cache]") {
  Fixture fx;
  fx.policy.cache.max_entries = 100;
  const auto v = fx.verifier();
  const auto token = fx.mint([](tokenpass::ClaimsBuilder& c) { c.jwt_id("j-cached"); });
  CHECK(error_of(v.verify(token)) == errc{});
  CHECK(error_of(v.verify(token)) == errc::replayed);
  CHECK(v.cache_stats().hits == 1);  // answered from the cache, and still a replay
}

TEST_CASE("single use: a store that cannot answer fails closed, or open when told",
          "[replay][verifier][failure]") {
  Fixture fx;
  auto failing = std::make_shared<FailingStore>();
  fx.policy.replay_store = failing;
  const auto token = fx.mint([](tokenpass::ClaimsBuilder& c) { c.jwt_id("j-4"); });
  auto r = fx.verifier().verify(token);
  REQUIRE(error_of(r) == errc::replay_store_unavailable);
  CHECK(tokenpass::http_status(r.error()) == 503);
  CHECK_FALSE(tokenpass::www_authenticate(r.error(), "api").has_value());
  fx.policy.replay_fail_open = true;
  CHECK(error_of(fx.verifier().verify(token)) == errc{});
  CHECK(failing->calls == 2);
}

TEST_CASE("single_use_max_lifetime bounds what the store must hold", "[replay][verifier][limits]") {
  Fixture fx;
  fx.policy.single_use_max_lifetime = 30s;
  const auto v = fx.verifier();
  const auto long_lived = fx.mint([](tokenpass::ClaimsBuilder& c) { c.jwt_id("j-5"); });  // 60 s
  CHECK(error_of(v.verify(long_lived)) == errc::bad_claim);
  const auto short_lived = fx.mint([](tokenpass::ClaimsBuilder& c) {
    c.jwt_id("j-6").expires_at(at(kNow + 20));
  });
  CHECK(error_of(v.verify(short_lived)) == errc{});
}

// Policy::cache: a token verified once is answered from the cache, and only when the
// answer is the one a full verify would give now: exp, nbf, iat and the claim rules
// run on every hit against the clock; a changed key set, a changed byte or a passed exp
// means no hit; the bounds hold.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/verifier.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

constexpr long long kNow = 1900000000;  // 2030-03-17

std::chrono::system_clock::time_point at(long long epoch) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(epoch));
}

// SwappableKeys: a key source whose whole set is replaced, as RemoteJwks does on a
// refresh.
// SwappableKeys: a key source of the user's, whose set the test replaces; it says the
// version of each set (with `versioned`), as a source must for the cache to answer.
class SwappableKeys final : public tokenpass::KeySource {
 public:
  explicit SwappableKeys(std::vector<tokenpass::Key> keys, bool versioned = true)
      : versioned_(versioned) {
    swap(std::move(keys));
  }
  void swap(std::vector<tokenpass::Key> keys) {
    auto set = std::make_shared<const tokenpass::KeySet>(std::move(keys));
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = std::move(set);
    version_ = next_version();
  }
  tokenpass::Result<std::shared_ptr<const tokenpass::KeySet>> keys_for(
      const tokenpass::KeyQuery& /*query*/) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }
  tokenpass::Result<tokenpass::ServedKeys> served_keys(
      const tokenpass::KeyQuery& query) const override {
    if (!versioned_) return KeySource::served_keys(query);
    std::lock_guard<std::mutex> lock(mu_);
    return tokenpass::ServedKeys{keys_, version_};
  }

 private:
  bool versioned_;
  mutable std::mutex mu_;
  std::shared_ptr<const tokenpass::KeySet> keys_;
  std::uint64_t version_ = 0;
};

// A policy with a clock the test moves, and tokens with the claims a test gives.
struct Fixture {
  tokenpass::Key key = tp_test::key_for(Alg::ES256);
  std::shared_ptr<std::atomic<long long>> now = std::make_shared<std::atomic<long long>>(kNow);
  tokenpass::Policy policy;

  Fixture() {
    policy.issuers = {"https://auth.example.com"};
    policy.audiences = {"orders-api"};
    policy.leeway = 0s;
    auto clock = now;
    policy.clock = [clock] { return at(clock->load()); };
    policy.cache.max_entries = 100;
  }
  static json claims(long long exp = kNow + 300) {
    return json{{"iss", "https://auth.example.com"}, {"sub", "user-1"}, {"aud", "orders-api"},
                {"exp", exp}, {"iat", kNow - 10}, {"scope", "orders:read orders:write"}};
  }
  std::string mint(const json& c) const { return tokenpass::sign_jws(key, c.dump()).value(); }
  std::string mint() const { return mint(claims()); }
  tokenpass::Key public_key() const { return key.public_key().value(); }
  tokenpass::Verifier verifier() const {
    return tokenpass::Verifier(tokenpass::KeySet({public_key()}), policy);
  }
};

}  // namespace

TEST_CASE("a token seen again is answered from the cache with the same result",
          "[verifier][cache]") {
  Fixture fx;
  const auto v = fx.verifier();
  const auto token = fx.mint();
  auto first = v.verify(token);
  REQUIRE(first);
  CHECK(v.cache_stats().entries == 1);
  CHECK(v.cache_stats().misses == 1);
  auto second = v.verify(" " + token + "\n");  // the same token, white space around it
  REQUIRE(second);
  CHECK(v.cache_stats().hits == 1);
  CHECK(second->compact() == first->compact());
  CHECK(second->kid() == first->kid());
  CHECK(second->alg() == first->alg());
  CHECK(second->header() == first->header());
  CHECK(second->claims().json() == first->claims().json());
  CHECK(second->claims().subject() == "user-1");
  CHECK(second->claims().scopes() == std::vector<std::string>{"orders:read", "orders:write"});
  CHECK(second->expires_at() == first->expires_at());
}

TEST_CASE("a verifier without Policy::cache keeps nothing", "[verifier][cache]") {
  Fixture fx;
  fx.policy.cache = {};
  const auto v = fx.verifier();
  const auto token = fx.mint();
  REQUIRE(v.verify(token));
  REQUIRE(v.verify(token));
  const auto stats = v.cache_stats();
  CHECK(stats.entries == 0);
  CHECK(stats.hits == 0);
  CHECK(stats.misses == 0);
}

TEST_CASE("a cache with room for no bytes is a policy mistake", "[verifier][cache]") {
  Fixture fx;
  fx.policy.cache.max_bytes = 0;
  CHECK_THROWS_AS(fx.verifier(), std::invalid_argument);
}

TEST_CASE("a cached token expires on its exp, leeway or not", "[verifier][cache][time]") {
  Fixture fx;
  fx.policy.leeway = 30s;
  const auto v = fx.verifier();
  const auto token = fx.mint(Fixture::claims(kNow + 100));
  REQUIRE(v.verify(token));
  *fx.now = kNow + 99;
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 1);
  // At exp the entry is gone; the leeway still accepts the token, from a full verify,
  // and it is not kept again.
  *fx.now = kNow + 100;
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 1);
  CHECK(v.cache_stats().entries == 0);
  *fx.now = kNow + 129;
  REQUIRE(v.verify(token));
  *fx.now = kNow + 130;
  CHECK(error_of(v.verify(token)) == errc::expired);
  CHECK(v.cache_stats().hits == 1);
}

TEST_CASE("exp is checked on a hit against the clock of now", "[verifier][cache][time]") {
  Fixture fx;
  fx.policy.leeway = 0s;
  const auto v = fx.verifier();
  const auto token = fx.mint(Fixture::claims(kNow + 100));
  REQUIRE(v.verify(token));
  *fx.now = kNow + 100;
  CHECK(error_of(v.verify(token)) == errc::expired);
  CHECK(v.cache_stats().entries == 0);
}

TEST_CASE("nbf and iat are checked on every hit", "[verifier][cache][time]") {
  Fixture fx;
  auto c = Fixture::claims();
  c["nbf"] = kNow - 5;
  const auto v = fx.verifier();
  const auto token = fx.mint(c);
  REQUIRE(v.verify(token));
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 1);
  // A clock set back: the cached token is not valid yet, then issued in the future.
  *fx.now = kNow - 6;
  CHECK(error_of(v.verify(token)) == errc::not_yet_valid);
  CHECK(v.cache_stats().hits == 2);
  c.erase("nbf");
  const auto no_nbf = fx.mint(c);
  *fx.now = kNow;
  REQUIRE(v.verify(no_nbf));
  *fx.now = kNow - 11;
  CHECK(error_of(v.verify(no_nbf)) == errc::issued_in_future);
}

TEST_CASE("max_age is checked on every hit", "[verifier][cache][time]") {
  Fixture fx;
  fx.policy.max_age = 60s;
  const auto v = fx.verifier();
  const auto token = fx.mint();  // iat = now - 10
  REQUIRE(v.verify(token));
  *fx.now = kNow + 50;
  REQUIRE(v.verify(token));
  *fx.now = kNow + 51;
  CHECK(error_of(v.verify(token)) == errc::too_old);
  CHECK(v.cache_stats().hits == 2);
}

TEST_CASE("custom checks run on every hit", "[verifier][cache]") {
  Fixture fx;
  auto revoked = std::make_shared<std::atomic<bool>>(false);
  fx.policy.custom_checks.push_back([revoked](const tokenpass::Claims&) -> tokenpass::Result<void> {
    if (*revoked) return tokenpass::make_error(errc::replayed, "revoked");
    return {};
  });
  const auto v = fx.verifier();
  const auto token = fx.mint();
  REQUIRE(v.verify(token));
  REQUIRE(v.verify(token));
  *revoked = true;
  CHECK(error_of(v.verify(token)) == errc::replayed);
  CHECK(v.cache_stats().hits == 2);
  *revoked = false;
  CHECK(v.verify(token));
}

TEST_CASE("a hit gives what a full verify would, for claims beyond the fast path",
          "[verifier][cache]") {
  Fixture fx;
  const auto v = fx.verifier();
  // Escapes and a fraction send the payload through the full JSON parser.
  const std::string payload =
      R"({"iss":"https:\/\/auth.example.com","sub":"J\u00fcrgen","aud":["x","orders-api"],)"
      R"("exp":1900000300.5,"scope":"orders:read"})";
  const auto token = tokenpass::sign_jws(fx.key, payload).value();
  auto first = v.verify(token);
  REQUIRE(first);
  auto second = v.verify(token);
  REQUIRE(second);
  CHECK(v.cache_stats().hits == 1);
  CHECK(second->claims().issuer() == "https://auth.example.com");
  CHECK(second->claims().subject() == "J\xc3\xbcrgen");
  CHECK(second->claims().audience() == std::vector<std::string>{"x", "orders-api"});
  CHECK(second->claims().json() == first->claims().json());
  *fx.now = kNow + 301;
  CHECK(error_of(v.verify(token)) == errc::expired);
}

TEST_CASE("a token without exp is never kept", "[verifier][cache]") {
  Fixture fx;
  fx.policy.require_exp = false;
  const auto v = fx.verifier();
  auto c = Fixture::claims();
  c.erase("exp");
  const auto token = fx.mint(c);
  REQUIRE(v.verify(token));
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().entries == 0);
  CHECK(v.cache_stats().hits == 0);
}

TEST_CASE("a new key set from the key source invalidates what the old one verified",
          "[verifier][cache][jwks]") {
  Fixture fx;
  const auto other = tokenpass::Key::generate(Alg::ES256).public_key().value();
  auto source = std::make_shared<SwappableKeys>(std::vector<tokenpass::Key>{fx.public_key()});
  const tokenpass::Verifier v(source, fx.policy);
  const auto token = fx.mint();
  REQUIRE(v.verify(token));
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 1);

  // Rotated out: the token's key is gone, and the cache does not answer for it.
  source->swap({other});
  CHECK(error_of(v.verify(token)) == errc::key_not_found);
  CHECK(v.cache_stats().hits == 1);
  CHECK(v.cache_stats().entries == 0);

  // A new set that holds the key again: verified afresh once, then cached again.
  source->swap({other, fx.public_key()});
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 1);
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 2);

  // Even an identical set, as a refresh hands out, counts as a change: the entry is
  // found, refused (a miss) and replaced.
  source->swap({other, fx.public_key()});
  const auto misses = v.cache_stats().misses;
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 2);
  CHECK(v.cache_stats().misses == misses + 1);
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 3);
}

TEST_CASE("a tampered token never hits the cache", "[verifier][cache][tamper]") {
  Fixture fx;
  const auto v = fx.verifier();
  const auto token = fx.mint();
  REQUIRE(v.verify(token));
  for (const auto& t : tp_test::tamper::flip_each_signature_bit(token)) {
    CHECK(error_of(v.verify(t)) == errc::bad_signature);
  }
  auto parts = tp_test::split(token);
  const std::string payload = tp_test::unb64(parts.payload);
  for (std::size_t i = 0; i < payload.size(); i += 7) {
    std::string changed = payload;
    changed[i] = changed[i] == 'a' ? 'b' : 'a';
    auto p = parts;
    p.payload = tp_test::b64(changed);
    CHECK(error_of(v.verify(tp_test::join(p))) != errc{});
  }
  // One character more or less, anywhere, is another token.
  CHECK(error_of(v.verify(token.substr(0, token.size() - 1))) != errc{});
  CHECK(error_of(v.verify(token + "A")) != errc{});
  CHECK(error_of(v.verify("A" + token)) != errc{});
  CHECK(v.cache_stats().hits == 0);
  REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 1);
}

TEST_CASE("the cache holds at most max_entries tokens", "[verifier][cache][limits]") {
  Fixture fx;
  fx.policy.cache.max_entries = 5;
  const auto v = fx.verifier();
  std::vector<std::string> tokens;
  for (int i = 0; i < 20; ++i) {
    auto c = Fixture::claims();
    c["jti"] = "token-" + std::to_string(i);
    tokens.push_back(fx.mint(c));
    REQUIRE(v.verify(tokens.back()));
    CHECK(v.cache_stats().entries <= 5);
  }
  CHECK(v.cache_stats().entries == 5);
  CHECK(v.cache_stats().evictions == 15);
  // The most recently used stay.
  for (int i = 15; i < 20; ++i) REQUIRE(v.verify(tokens[static_cast<std::size_t>(i)]));
  CHECK(v.cache_stats().hits == 5);
}

TEST_CASE("the cache holds at most max_bytes", "[verifier][cache][limits]") {
  Fixture fx;
  const auto token = fx.mint();
  std::size_t one = 0;
  {
    const auto v = fx.verifier();
    REQUIRE(v.verify(token));
    one = v.cache_stats().bytes;
  }
  REQUIRE(one > token.size());
  fx.policy.cache.max_entries = 1000;
  fx.policy.cache.max_bytes = one * 5 / 2;
  const auto v = fx.verifier();
  for (int i = 0; i < 10; ++i) {
    auto c = Fixture::claims();
    c["jti"] = "token-" + std::to_string(i);
    REQUIRE(v.verify(fx.mint(c)));
    CHECK(v.cache_stats().bytes <= fx.policy.cache.max_bytes);
  }
  CHECK(v.cache_stats().entries == 2);

  // A token larger than the whole budget is verified and not kept.
  fx.policy.cache.max_bytes = one / 2;
  const auto tiny = fx.verifier();
  REQUIRE(tiny.verify(token));
  CHECK(tiny.cache_stats().entries == 0);
  CHECK(tiny.cache_stats().bytes == 0);
}

TEST_CASE("a large cache stays within its bounds across its shards", "[verifier][cache][limits]") {
  Fixture fx;
  fx.key = tp_test::key_for(Alg::HS256);
  fx.policy.cache.max_entries = 1000;
  fx.policy.cache.max_bytes = 400 * 1024;
  const tokenpass::Verifier v(tokenpass::KeySet({fx.key}), fx.policy);
  for (int i = 0; i < 3000; ++i) {
    auto c = Fixture::claims();
    c["jti"] = std::to_string(i);
    REQUIRE(v.verify(fx.mint(c)));
  }
  const auto stats = v.cache_stats();
  CHECK(stats.entries <= 1000);
  CHECK(stats.bytes <= 400 * 1024);
  CHECK(stats.entries > 0);
}

// Run under ThreadSanitizer with scripts/test.sh --tsan.
TEST_CASE("threads share a cache while keys rotate", "[verifier][cache][threads]") {
  Fixture fx;
  fx.key = tp_test::key_for(Alg::HS256);
  fx.policy.cache.max_entries = 64;
  const auto other = tokenpass::Key::generate(Alg::HS256);
  auto source = std::make_shared<SwappableKeys>(std::vector<tokenpass::Key>{fx.key});
  const tokenpass::Verifier v(source, fx.policy);
  std::vector<std::string> tokens;
  for (int i = 0; i < 40; ++i) {
    auto c = Fixture::claims();
    c["jti"] = std::to_string(i);
    tokens.push_back(fx.mint(c));
  }
  // Signed with another secret under the same kid: never valid, whatever the cache holds.
  const auto impostor =
      tokenpass::Key::from_secret(std::string(32, 'x'), Alg::HS256, fx.key.kid()).value();
  const std::string foreign = tokenpass::sign_jws(impostor, Fixture::claims().dump()).value();

  std::atomic<int> wrong{0};
  std::atomic<bool> stop{false};
  std::thread rotator([&] {
    while (!stop) {
      source->swap({other, fx.key});
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 300; ++round) {
        const auto& token = tokens[static_cast<std::size_t>(round * 7 + t) % tokens.size()];
        const auto r = v.verify(token);
        if (!r || r->compact() != token || r->claims().subject() != "user-1") ++wrong;
        if (round % 10 == 0 && (!r || r->claims().json()["jti"].get<std::string>().empty()))
          ++wrong;
        const auto bad = v.verify(foreign);
        if (bad || bad.error().code != errc::bad_signature) ++wrong;
        if (round % 50 == 0) (void)v.cache_stats();
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  rotator.join();
  CHECK(wrong == 0);
  CHECK(v.cache_stats().entries <= 64);
}

TEST_CASE("a key source that says no versions is verified every time, never from the cache",
          "[verifier][cache]") {
  Fixture fx;
  auto source =
      std::make_shared<SwappableKeys>(std::vector<tokenpass::Key>{fx.public_key()}, false);
  const tokenpass::Verifier v(source, fx.policy);
  const auto token = fx.mint();
  for (int i = 0; i < 3; ++i) REQUIRE(v.verify(token));
  CHECK(v.cache_stats().hits == 0);
  CHECK(v.cache_stats().entries == 0);
  // The set changes: the answer follows at once.
  source->swap({tokenpass::Key::generate(Alg::ES256).public_key().value()});
  CHECK(error_of(v.verify(token)) == errc::key_not_found);
}

TEST_CASE("key sources say versions: static ones one for good, remote ones one per set",
          "[verifier][cache][jwks]") {
  Fixture fx;
  const tokenpass::StaticKeySource a(tokenpass::KeySet({fx.public_key()}));
  const tokenpass::StaticKeySource b(tokenpass::KeySet({fx.public_key()}));
  const auto va = a.served_keys({});
  const auto vb = b.served_keys({});
  REQUIRE(va);
  REQUIRE(vb);
  CHECK(va->version != 0);
  CHECK(va->version != vb->version);  // equal sets, different sources: different versions
  CHECK(a.served_keys({})->version == va->version);
  CHECK(a.fixed());
  CHECK(tokenpass::KeySource::next_version() != tokenpass::KeySource::next_version());
}

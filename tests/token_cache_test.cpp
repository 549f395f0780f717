// The verified-token cache on its own (src/internal/token_cache.h): what it keeps, for how
// long, tied to which key set version, and its bounds. The Verifier's use of it is in
// verifier_cache_test.cpp.
#include "internal/token_cache.h"

#include <functional>
#include <memory>
#include <string>

#include "support/catch.h"

using tokenpass::Alg;
using tokenpass::internal::TokenCache;
using tokenpass::internal::TokenData;

namespace {

std::shared_ptr<const TokenData> data_of(const std::string& compact) {
  auto d = std::make_shared<TokenData>();
  d->compact = compact;
  d->claims.text = "{}";
  d->claims.lazy = true;
  return d;
}

std::size_t hash_of(const std::string& s) { return std::hash<std::string>{}(s); }

}  // namespace

TEST_CASE("TokenCache answers the exact bytes it kept, with their alg and version",
          "[token_cache]") {
  TokenCache cache(100, 1 << 20);
  cache.insert(hash_of("a.b.c"), data_of("a.b.c"), Alg::ES256, 7, 2000, 1000);
  auto hit = cache.find("a.b.c", hash_of("a.b.c"), 1000, 0);
  REQUIRE(hit);
  CHECK(hit->alg == Alg::ES256);
  CHECK(hit->version == 7);
  CHECK(hit->data->compact == "a.b.c");
  CHECK_FALSE(cache.find("a.b.d", hash_of("a.b.d"), 1000, 0));
  // The same hash with other bytes is no hit.
  CHECK_FALSE(cache.find("x.y.z", hash_of("a.b.c"), 1000, 0));
  CHECK(cache.stats().hits == 1);
  CHECK(cache.stats().misses == 2);
}

TEST_CASE("TokenCache ties an entry to its key set version", "[token_cache]") {
  TokenCache cache(100, 1 << 20);
  cache.insert(hash_of("t"), data_of("t"), Alg::HS256, 5, 2000, 1000);
  CHECK(cache.find("t", hash_of("t"), 1000, 5));         // the fixed version it was verified with
  CHECK_FALSE(cache.find("t", hash_of("t"), 1000, 6));   // another: dropped
  CHECK(cache.stats().entries == 0);
  CHECK(TokenCache::same_set(3, 3));
  CHECK_FALSE(TokenCache::same_set(3, 4));
  CHECK_FALSE(TokenCache::same_set(0, 0));  // no version is never the same set
  // A set without a version is never kept.
  cache.insert(hash_of("u"), data_of("u"), Alg::HS256, 0, 2000, 1000);
  CHECK(cache.stats().entries == 0);
}

TEST_CASE("TokenCache never keeps an entry past its exp", "[token_cache][time]") {
  TokenCache cache(100, 1 << 20);
  cache.insert(hash_of("t"), data_of("t"), Alg::HS256, 1, 1500, 1000);
  CHECK(cache.find("t", hash_of("t"), 1499, 0));
  CHECK_FALSE(cache.find("t", hash_of("t"), 1500, 0));
  CHECK(cache.stats().entries == 0);
  cache.insert(hash_of("late"), data_of("late"), Alg::HS256, 1, 1000, 1000);  // exp == now
  CHECK(cache.stats().entries == 0);
}

TEST_CASE("TokenCache holds its entry and byte bounds, the least recently used going first",
          "[token_cache][limits]") {
  TokenCache cache(3, 1 << 20);  // small: one shard, exact LRU
  for (const char* t : {"t1", "t2", "t3"}) cache.insert(hash_of(t), data_of(t), Alg::HS256, 1, 2000, 1000);
  REQUIRE(cache.find("t1", hash_of("t1"), 1000, 0));  // t1 is now the most recent
  cache.insert(hash_of("t4"), data_of("t4"), Alg::HS256, 1, 2000, 1000);
  CHECK(cache.stats().entries == 3);
  CHECK_FALSE(cache.find("t2", hash_of("t2"), 1000, 0));  // the least recently used went
  CHECK(cache.find("t1", hash_of("t1"), 1000, 0));
  CHECK(cache.stats().evictions == 1);

  // An entry over the byte bound by itself is not kept.
  TokenCache tiny(100, 64);
  tiny.insert(hash_of("t"), data_of("t"), Alg::HS256, 1, 2000, 1000);
  CHECK(tiny.stats().entries == 0);
  const std::size_t one = TokenCache::entry_bytes(*data_of("t"));
  TokenCache two(100, 2 * one + one / 2);
  for (const char* t : {"t", "u", "v"}) two.insert(hash_of(t), data_of(t), Alg::HS256, 1, 2000, 1000);
  CHECK(two.stats().entries == 2);
  CHECK(two.stats().bytes <= 2 * one + one / 2);
}

TEST_CASE("TokenCache::refuse turns a hit into a miss and drops the entry", "[token_cache]") {
  TokenCache cache(100, 1 << 20);
  cache.insert(hash_of("t"), data_of("t"), Alg::HS256, 1, 2000, 1000);
  auto hit = cache.find("t", hash_of("t"), 1000, 0);
  REQUIRE(hit);
  cache.refuse(hash_of("t"), hit->data);
  CHECK(cache.stats().hits == 0);
  CHECK(cache.stats().misses == 1);
  CHECK(cache.stats().entries == 0);
}

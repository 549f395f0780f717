// TokenCache: the verified-token cache (Policy::cache). Shards, each with its own lock,
// hold entries in least-recently-used order, indexed by the hash of the token and by
// exp. A lock is held only to look up, insert or drop an entry, never across a
// signature check or a claim check. Bounds are per shard (the totals divided by the
// shard count), so the totals hold. An entry is tied to the KeySource version of the
// set that verified it, and never outlives its token's exp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "internal/token_data.h"
#include "tokenpass/algorithm.h"
#include "tokenpass/verifier.h"

namespace tokenpass::internal {

class TokenCache {
 public:
  struct Hit {
    std::shared_ptr<const TokenData> data;
    Alg alg;
    std::uint64_t version;  // the KeySource version of the set that verified it
  };

  // observer (may be null) hears of evictions, after the shard's lock is released.
  TokenCache(std::size_t max_entries, std::size_t max_bytes, std::shared_ptr<Observer> observer = nullptr);

  // entry_bytes: what an entry counts against max_bytes: its token, kid and payload,
  // bookkeeping (the entry, the record, the nodes that index it, allocator overhead),
  // and, for claims that went through the full JSON parser (kept as a JSON object), an
  // allowance of 16 bytes per byte of payload for that object.
  static std::size_t entry_bytes(const TokenData& d);

  // find: the entry for exactly these bytes, if any. With `fixed_version` (not 0: a
  // source whose set never changes), the entry must have been verified with that
  // version, compared here under the lock (a mismatch drops the entry). Without, the
  // caller compares `Hit::version` with the version its source serves now (same_set).
  std::optional<Hit> find(std::string_view compact, std::size_t hash, double now,
                          std::uint64_t fixed_version);

  // same_set: the version that verified an entry is the one served now. 0 is no
  // version: nothing from such a source is ever kept.
  static bool same_set(std::uint64_t seen, std::uint64_t current) {
    return seen != 0 && seen == current;
  }

  // insert keeps `data`, verified with `alg` by the set of `version`, until `exp` (not
  // at all when now >= exp, when version is 0, or when it alone is over a shard's
  // bounds); the least recently used entries make room.
  void insert(std::size_t hash, std::shared_ptr<const TokenData> data, Alg alg,
              std::uint64_t version, double exp, double now);

  // refuse: a found entry was not used after all (its key set is no longer served):
  // it counts as a miss, and is dropped if it is still there.
  void refuse(std::size_t hash, const std::shared_ptr<const TokenData>& data);

  TokenCacheStats stats() const;

 private:
  struct Entry;
  using List = std::list<Entry>;
  struct Entry {
    std::shared_ptr<const TokenData> data;
    Alg alg;
    std::uint64_t version;
    double exp;
    std::size_t bytes;
    std::size_t hash;
    std::multimap<double, List::iterator>::iterator by_exp;
  };
  // alignas: shards used by different threads do not share a cache line.
  struct alignas(64) Shard {
    mutable std::mutex mu;
    List lru;  // most recently used first
    std::unordered_multimap<std::size_t, List::iterator> index;
    std::multimap<double, List::iterator> by_exp;
    std::size_t bytes = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
  };

  Shard& shard_for(std::size_t hash) {
    // The index takes the hash modulo a prime; the shard, a few bits above the lowest.
    return shards_[(hash >> 8) & (shard_count_ - 1)];
  }
  static void drop(Shard& s, List::iterator e);
  // purge_expired returns how many entries it dropped.
  static std::uint64_t purge_expired(Shard& s, double now);
  void evicted(std::uint64_t n) const {
    if (n != 0 && observer_) observer_->token_cache(CacheOutcome::eviction, n);
  }

  std::shared_ptr<Observer> observer_;

  std::unique_ptr<Shard[]> shards_;
  std::size_t shard_count_ = 1;
  std::size_t entries_per_shard_ = 0;
  std::size_t bytes_per_shard_ = 0;
};

}  // namespace tokenpass::internal

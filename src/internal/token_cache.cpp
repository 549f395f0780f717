#include "internal/token_cache.h"

#include <iterator>
#include <utility>

namespace tokenpass::internal {

TokenCache::TokenCache(std::size_t max_entries, std::size_t max_bytes, std::shared_ptr<Observer> observer)
    : observer_(std::move(observer)) {
  // Small caches get one shard (exact LRU); large ones up to 16, each with room for at
  // least 32 entries and 64 KiB, which request threads rarely want at the same time.
  std::size_t shards = 1;
  while (shards < 16 && max_entries / (shards * 2) >= 32 &&
         max_bytes / (shards * 2) >= 64 * 1024) {
    shards *= 2;
  }
  shard_count_ = shards;
  entries_per_shard_ = max_entries / shards;
  bytes_per_shard_ = max_bytes / shards;
  shards_ = std::make_unique<Shard[]>(shards);
}

std::size_t TokenCache::entry_bytes(const TokenData& d) {
  const std::size_t text = d.claims.text.size();
  return sizeof(Entry) + sizeof(TokenData) + 256 + d.compact.size() + d.kid.size() + text +
         (d.claims.lazy ? 0 : 16 * text);
}

std::optional<TokenCache::Hit> TokenCache::find(std::string_view compact, std::size_t hash,
                                                double now, std::uint64_t fixed_version) {
  Shard& s = shard_for(hash);
  std::uint64_t dropped = 0;
  std::optional<Hit> hit;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    dropped = purge_expired(s, now);
    const auto range = s.index.equal_range(hash);
    for (auto i = range.first; i != range.second; ++i) {
      const List::iterator e = i->second;
      if (e->data->compact != compact) continue;
      if (fixed_version != 0 && !same_set(e->version, fixed_version)) {
        drop(s, e);
        ++s.evictions;
        ++dropped;
        break;
      }
      s.lru.splice(s.lru.begin(), s.lru, e);
      ++s.hits;
      hit = Hit{e->data, e->alg, e->version};
      break;
    }
    if (!hit) ++s.misses;
  }
  evicted(dropped);
  return hit;
}

void TokenCache::insert(std::size_t hash, std::shared_ptr<const TokenData> data, Alg alg,
                        std::uint64_t version, double exp, double now) {
  // An entry never outlives its token's exp, nor is kept without a version.
  if (!(now < exp) || version == 0) return;
  const std::size_t bytes = entry_bytes(*data);
  if (entries_per_shard_ == 0 || bytes > bytes_per_shard_) return;
  Shard& s = shard_for(hash);
  std::uint64_t dropped = 0;
  std::unique_lock<std::mutex> lock(s.mu);
  dropped = purge_expired(s, now);
  // Another thread may have verified the same token meanwhile: keep one entry.
  const auto range = s.index.equal_range(hash);
  for (auto i = range.first; i != range.second; ++i) {
    if (i->second->data->compact == data->compact) {
      drop(s, i->second);
      break;
    }
  }
  s.lru.push_front(Entry{std::move(data), alg, version, exp, bytes, hash, {}});
  const List::iterator e = s.lru.begin();
  e->by_exp = s.by_exp.emplace(exp, e);
  s.index.emplace(hash, e);
  s.bytes += bytes;
  while (s.lru.size() > entries_per_shard_ || s.bytes > bytes_per_shard_) {
    drop(s, std::prev(s.lru.end()));
    ++s.evictions;
    ++dropped;
  }
  lock.unlock();
  evicted(dropped);
}

void TokenCache::refuse(std::size_t hash, const std::shared_ptr<const TokenData>& data) {
  Shard& s = shard_for(hash);
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    --s.hits;
    ++s.misses;
    const auto range = s.index.equal_range(hash);
    for (auto i = range.first; i != range.second; ++i) {
      if (i->second->data == data) {
        drop(s, i->second);
        ++s.evictions;
        dropped = true;
        break;
      }
    }
  }
  evicted(dropped ? 1 : 0);
}

TokenCacheStats TokenCache::stats() const {
  TokenCacheStats out;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    const Shard& s = shards_[i];
    std::lock_guard<std::mutex> lock(s.mu);
    out.entries += s.lru.size();
    out.bytes += s.bytes;
    out.hits += s.hits;
    out.misses += s.misses;
    out.evictions += s.evictions;
  }
  return out;
}

void TokenCache::drop(Shard& s, List::iterator e) {
  const auto range = s.index.equal_range(e->hash);
  for (auto i = range.first; i != range.second; ++i) {
    if (i->second == e) {
      s.index.erase(i);
      break;
    }
  }
  s.by_exp.erase(e->by_exp);
  s.bytes -= e->bytes;
  s.lru.erase(e);
}

std::uint64_t TokenCache::purge_expired(Shard& s, double now) {
  std::uint64_t n = 0;
  while (!s.by_exp.empty() && s.by_exp.begin()->first <= now) {
    drop(s, s.by_exp.begin()->second);
    ++s.evictions;
    ++n;
  }
  return n;
}

}  // namespace tokenpass::internal

#include "tokenpass/replay.h"

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace tokenpass {

ReplayStore::~ReplayStore() = default;

namespace {

constexpr std::size_t kShards = 16;

// key_of: issuer and jti in one string, unambiguous whatever bytes either holds.
std::string key_of(std::string_view issuer, std::string_view jti) {
  std::string key = std::to_string(issuer.size());
  key.push_back(':');
  key.append(issuer);
  key.append(jti);
  return key;
}

}  // namespace

struct MemoryReplayStore::State {
  struct alignas(64) Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::chrono::system_clock::time_point> entries;
    std::multimap<std::chrono::system_clock::time_point, std::string> by_expiry;
    std::size_t bytes = 0;
    ReplayStoreStats stats;
  };
  MemoryReplayStoreOptions opt;
  std::array<Shard, kShards> shards;
  // The totals the bounds apply to, across shards: reserved before an entry is added,
  // so that they hold exactly whatever the shards do at once.
  std::atomic<std::size_t> total_entries{0};
  std::atomic<std::size_t> total_bytes{0};

  // What an entry counts against max_bytes: its key twice (map and expiry index) and
  // the nodes around it.
  static std::size_t entry_bytes(const std::string& key) { return 2 * key.size() + 128; }

  void purge(Shard& s, std::chrono::system_clock::time_point now) {
    while (!s.by_expiry.empty() && s.by_expiry.begin()->first <= now) {
      const auto it = s.by_expiry.begin();
      const std::size_t bytes = entry_bytes(it->second);
      s.bytes -= bytes;
      total_bytes.fetch_sub(bytes, std::memory_order_relaxed);
      total_entries.fetch_sub(1, std::memory_order_relaxed);
      s.entries.erase(it->second);
      s.by_expiry.erase(it);
    }
  }

  // reserve: room for one more entry of `bytes`, or false (the store is full).
  bool reserve(std::size_t bytes) {
    if (total_entries.fetch_add(1, std::memory_order_relaxed) >= opt.max_entries) {
      total_entries.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    if (total_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes > opt.max_bytes) {
      total_bytes.fetch_sub(bytes, std::memory_order_relaxed);
      total_entries.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
};

MemoryReplayStore::MemoryReplayStore(MemoryReplayStoreOptions options)
    : state_(std::make_unique<State>()) {
  state_->opt = std::move(options);
  if (!state_->opt.clock) state_->opt.clock = [] { return std::chrono::system_clock::now(); };
}

MemoryReplayStore::~MemoryReplayStore() = default;

Result<void> MemoryReplayStore::first_use(std::string_view issuer, std::string_view jti,
                                          std::chrono::system_clock::time_point expires) const {
  try {
    State& st = *state_;
    const auto now = st.opt.clock();
    std::string key = key_of(issuer, jti);
    // At a bound, what expired anywhere makes room first (each shard under its own lock,
    // none held together).
    if (st.total_entries.load(std::memory_order_relaxed) >= st.opt.max_entries ||
        st.total_bytes.load(std::memory_order_relaxed) + State::entry_bytes(key) > st.opt.max_bytes) {
      for (auto& other : st.shards) {
        std::lock_guard<std::mutex> lock(other.mu);
        st.purge(other, now);
      }
    }
    State::Shard& s = st.shards[std::hash<std::string>{}(key) % kShards];
    std::lock_guard<std::mutex> lock(s.mu);
    st.purge(s, now);
    if (s.entries.count(key) != 0) {
      ++s.stats.replays;
      return make_error(errc::replayed, "the token's jti was used before");
    }
    // A token already expired is refused before it gets here; nothing to remember.
    if (!(now < expires)) {
      ++s.stats.accepted;
      return {};
    }
    const std::size_t bytes = State::entry_bytes(key);
    // Security: full means refusing new tokens, never forgetting used ones early.
    if (!st.reserve(bytes)) {
      ++s.stats.full;
      return make_error(errc::replay_store_unavailable, "the replay store is full");
    }
    s.by_expiry.emplace(expires, key);
    s.entries.emplace(std::move(key), expires);
    s.bytes += bytes;
    ++s.stats.accepted;
    return {};
  } catch (const std::exception&) {
    return make_error(errc::replay_store_unavailable, "the replay store failed");
  }
}

ReplayStoreStats MemoryReplayStore::stats() const {
  ReplayStoreStats out;
  for (auto& s : state_->shards) {
    std::lock_guard<std::mutex> lock(s.mu);
    out.accepted += s.stats.accepted;
    out.replays += s.stats.replays;
    out.full += s.stats.full;
    out.entries += s.entries.size();
    out.bytes += s.bytes;
  }
  return out;
}

}  // namespace tokenpass

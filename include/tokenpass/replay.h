// tokenpass/replay.h: single-use tokens. A `ReplayStore` answers "has this (issuer, jti)
// been used before its expiry?" atomically: the first use is accepted and remembered
// until the token expires; any later use is `replayed`. `MemoryReplayStore` serves one
// process; `RedisReplayStore` (<tokenpass/adapters/redis.h>, target tokenpass::redis)
// is shared by every replica of a service. A `Verifier` with `Policy::replay_store` asks
// its store after the signature and every claim rule, so that a forged or expired token
// never burns a jti.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "tokenpass/error.h"
#include "tokenpass/export.h"

namespace tokenpass {

// ReplayStore: the interface of a store of (issuer, jti) pairs; implement it to keep
// them elsewhere.
class TOKENPASS_EXPORT ReplayStore {
 public:
  virtual ~ReplayStore();

  // first_use records (`issuer`, `jti`) until `expires` and succeeds when it was not
  // recorded yet. Errors: replayed (recorded before, and not expired);
  // replay_store_unavailable (the store could not answer: unreachable, timed out, full;
  // nothing was recorded). Atomic: of any number of concurrent calls with one pair, at
  // most one succeeds. Must be safe to call concurrently; must not throw.
  virtual Result<void> first_use(std::string_view issuer, std::string_view jti,
                                 std::chrono::system_clock::time_point expires) const = 0;
  // kind: the store's label in metrics (tokenpass_replay_checks_total{store}): "memory",
  // "redis", or "custom" for a store that does not say.
  virtual std::string_view kind() const noexcept { return "custom"; }
};

// MemoryReplayStoreOptions: the bounds and clock of a MemoryReplayStore.
struct MemoryReplayStoreOptions {
  // Bounds: when either is reached, new pairs are refused (replay_store_unavailable)
  // until expired ones make room; recorded pairs are never forgotten early, since that
  // would let a replay through.
  std::size_t max_entries = 1000000;
  std::size_t max_bytes = 128 * 1024 * 1024;  // as ReplayStoreStats::bytes counts them
  // clock: what "expired" is measured against (default system_clock::now).
  std::function<std::chrono::system_clock::time_point()> clock;
};

// ReplayStoreStats: a MemoryReplayStore's counters since construction, and its size now.
struct ReplayStoreStats {
  std::uint64_t accepted = 0;  // first uses recorded
  std::uint64_t replays = 0;   // uses refused as replayed
  std::uint64_t full = 0;      // first uses refused because the store was full
  std::size_t entries = 0;     // pairs held now
  std::size_t bytes = 0;       // what they count against max_bytes
};

// MemoryReplayStore: in this process, sharded (a lock per shard), entries dropped at
// their expiry. Thread-safe.
class TOKENPASS_EXPORT MemoryReplayStore final : public ReplayStore {
 public:
  // MemoryReplayStore: an empty store with these bounds.
  explicit MemoryReplayStore(MemoryReplayStoreOptions options = {});
  ~MemoryReplayStore() override;
  MemoryReplayStore(const MemoryReplayStore&) = delete;
  MemoryReplayStore& operator=(const MemoryReplayStore&) = delete;

  Result<void> first_use(std::string_view issuer, std::string_view jti,
                         std::chrono::system_clock::time_point expires) const override;
  std::string_view kind() const noexcept override { return "memory"; }
  // stats: the counters and size now. Thread-safe.
  ReplayStoreStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tokenpass

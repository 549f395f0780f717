// Per-thread snapshots of remote key sets: how a verify reads the current set without
// taking the source's mutex. Each thread keeps the sets it used last (per source: the
// set, the source state's version it was taken at, and until when it needs no refresh).
// A snapshot answers while the source's version is unchanged, it is fresh and it has the
// kid asked for; anything else goes the source's locked way, which renews it. The
// snapshot's shared_ptr has a control block of its own, owned by the thread, that holds
// the source's: a verify's copy writes only that thread's reference count, never one
// that every thread shares. A thread holds at most kSnapshots sets this way (kept alive
// until it replaces them or exits).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tokenpass/key_source.h"

namespace tokenpass::internal {

constexpr std::size_t kSnapshots = 8;

struct Snapshot {
  std::uint64_t source = 0;   // the source's id; 0: empty
  std::uint64_t version = 0;  // the source state's version when it was taken
  std::chrono::system_clock::time_point fresh_until{};
  std::shared_ptr<const KeySet> keys;  // the thread's own control block
  std::uint64_t set_version = 0;       // the set's KeySource version
};

// read_snapshot: this thread's snapshot of `source` if it answers `query` at `t` for
// the source's current `version`; null otherwise (also once the thread's snapshots
// are destroyed, in a late thread_local or static destructor).
const Snapshot* read_snapshot(std::uint64_t source, std::uint64_t version,
                              std::chrono::system_clock::time_point t, const KeyQuery& query);

// renew_snapshot: this thread's snapshot of `source` taken or renewed, as the served
// keys; without snapshots (see above) the set itself.
ServedKeys renew_snapshot(std::uint64_t source, std::uint64_t version,
                          std::chrono::system_clock::time_point fresh_until,
                          const std::shared_ptr<const KeySet>& keys, std::uint64_t set_version);

// next_source_id: an id for a new source (never 0).
std::uint64_t next_source_id() noexcept;

}  // namespace tokenpass::internal

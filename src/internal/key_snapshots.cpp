#include "internal/key_snapshots.h"

#include <array>
#include <atomic>

namespace tokenpass::internal {

namespace {

// Set once this thread's snapshots are destroyed (trivially destructible, so it can
// still be read): a verify from a later thread_local or static destructor goes the
// locked way without them.
thread_local bool t_snapshots_gone = false;

struct Snapshots {
  std::array<Snapshot, kSnapshots> slots;
  std::size_t next = 0;  // round-robin replacement
  Snapshots() = default;
  Snapshots(const Snapshots&) = delete;
  Snapshots& operator=(const Snapshots&) = delete;
  ~Snapshots() { t_snapshots_gone = true; }
};

// thread_snapshots: this thread's snapshots, or null once they are destroyed.
Snapshots* thread_snapshots() {
  if (t_snapshots_gone) return nullptr;
  thread_local Snapshots snapshots;
  return &snapshots;
}

std::atomic<std::uint64_t> g_next_source_id{1};

}  // namespace

const Snapshot* read_snapshot(std::uint64_t source, std::uint64_t version,
                              std::chrono::system_clock::time_point t, const KeyQuery& query) {
  const Snapshots* mine = thread_snapshots();
  if (mine == nullptr) return nullptr;
  for (const auto& slot : mine->slots) {
    if (slot.source != source) continue;
    if (slot.version != version || !(t < slot.fresh_until)) return nullptr;
    if (query.has_kid && slot.keys->find(query.kid) == nullptr) return nullptr;
    return &slot;
  }
  return nullptr;
}

ServedKeys renew_snapshot(std::uint64_t source, std::uint64_t version,
                          std::chrono::system_clock::time_point fresh_until,
                          const std::shared_ptr<const KeySet>& keys, std::uint64_t set_version) {
  Snapshots* mine = thread_snapshots();
  if (mine == nullptr) return ServedKeys{keys, set_version};
  Snapshot* slot = nullptr;
  for (auto& candidate : mine->slots) {
    if (candidate.source == source) slot = &candidate;
  }
  if (slot == nullptr) {
    slot = &mine->slots[mine->next];
    mine->next = (mine->next + 1) % kSnapshots;
  }
  if (slot->source != source || slot->keys.get() != keys.get()) {
    const std::shared_ptr<const KeySet> held = keys;
    slot->keys = std::shared_ptr<const KeySet>(held.get(), [held](const KeySet*) {});
  }
  slot->source = source;
  slot->version = version;
  slot->fresh_until = fresh_until;
  slot->set_version = set_version;
  return ServedKeys{slot->keys, slot->set_version};
}

std::uint64_t next_source_id() noexcept {
  return g_next_source_id.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace tokenpass::internal

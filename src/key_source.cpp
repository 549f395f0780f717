#include "tokenpass/key_source.h"

#include <atomic>
#include <utility>

namespace tokenpass {

namespace {
std::atomic<std::uint64_t> g_next_version{1};
}  // namespace

KeySource::~KeySource() = default;

Result<ServedKeys> KeySource::served_keys(const KeyQuery& query) const {
  auto keys = keys_for(query);
  if (!keys) return keys.error();
  return ServedKeys{std::move(*keys), 0};
}

std::uint64_t KeySource::next_version() noexcept {
  return g_next_version.fetch_add(1, std::memory_order_relaxed);
}

StaticKeySource::StaticKeySource(KeySet keys)
    : keys_(std::make_shared<const KeySet>(std::move(keys))), version_(next_version()) {}

Result<std::shared_ptr<const KeySet>> StaticKeySource::keys_for(const KeyQuery& /*query*/) const {
  return keys_;
}

Result<ServedKeys> StaticKeySource::served_keys(const KeyQuery& /*query*/) const {
  return ServedKeys{keys_, version_};
}

}  // namespace tokenpass

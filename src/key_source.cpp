#include "tokenpass/key_source.h"

#include <utility>

namespace tokenpass {

KeySource::~KeySource() = default;

StaticKeySource::StaticKeySource(KeySet keys)
    : keys_(std::make_shared<const KeySet>(std::move(keys))) {}

Result<std::shared_ptr<const KeySet>> StaticKeySource::keys_for(const KeyQuery& /*query*/) const {
  return keys_;
}

}  // namespace tokenpass

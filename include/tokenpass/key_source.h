// tokenpass/key_source.h: where a Verifier gets its keys. A `KeySource` hands out
// immutable `KeySet` snapshots; a static source always hands out the same one. The
// remote JWKS source (fetched, cached, refreshed) implements the same interface.
#pragma once

#include <memory>
#include <string_view>

#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/jwk.h"

namespace tokenpass {

class TOKENPASS_EXPORT KeySource {
 public:
  virtual ~KeySource();

  // keys_for returns the key set to check a token whose header names `kid` ("" when
  // it names none). A remote source may refresh (rate-limited) when no key has `kid`.
  // Errors: key_source_unavailable when no usable key set exists. Must be safe to call
  // concurrently; must not throw.
  virtual Result<std::shared_ptr<const KeySet>> keys_for(std::string_view kid) const = 0;
};

// StaticKeySource: a fixed key set, for keys from files or configuration.
class TOKENPASS_EXPORT StaticKeySource final : public KeySource {
 public:
  explicit StaticKeySource(KeySet keys);
  Result<std::shared_ptr<const KeySet>> keys_for(std::string_view kid) const override;

 private:
  std::shared_ptr<const KeySet> keys_;
};

}  // namespace tokenpass

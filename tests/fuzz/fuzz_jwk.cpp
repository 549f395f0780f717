// Fuzz target: `Key::from_jwk` and `KeySet::from_jwks`. Input: JSON text. A key that
// loads is exported again, and a private one must sign a token that it then verifies.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;

void exercise(const tokenpass::Key& key) {
  (void)key.allowed_algs();
  (void)key.default_alg();
  (void)key.thumbprint();
  (void)key.to_private_jwk();
  if (key.is_symmetric()) return;
  const auto pub = key.public_key();
  check(pub.has_value() && !pub->is_private() && pub->thumbprint() == key.thumbprint());
  // The public JWK reads back as the same key.
  const auto again = tokenpass::Key::from_jwk(key.to_public_jwk());
  check(again.has_value() && again->thumbprint() == key.thumbprint());
  (void)key.to_public_pem();
}

void round_trip(const tokenpass::Key& key) {
  if (!key.can_sign() || !key.can_verify()) return;
  const auto token = tokenpass::sign_jws(key, "{}");
  if (!token) return;  // e.g. a kid that is not UTF-8 cannot be written
  check(tokenpass::verify_jws(*token, key).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_view(data, size);
  if (const auto key = tokenpass::Key::from_jwk(text)) {
    exercise(*key);
    round_trip(*key);
  }
  if (const auto set = tokenpass::KeySet::from_jwks(text, 50)) {
    check(set->size() + set->skipped().size() <= 50);
    for (const auto& key : set->keys()) (void)key.thumbprint();
    (void)set->to_public_jwks();
  }
  return 0;
}

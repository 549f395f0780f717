// Fuzz target: a JWKS endpoint's answer as RemoteJwks reads it: the body through
// `KeySet::from_jwks` with RemoteJwksOptions' limits (max_body_bytes, max_keys), then
// key lookups by kid as verifies do. Input: the response body.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenpass_fuzz;
  static const tokenpass::RemoteJwksOptions limits;  // the defaults RemoteJwks uses
  if (size > limits.max_body_bytes) return 0;      // the HTTP client refuses it first
  const auto set = tokenpass::KeySet::from_jwks(as_view(data, size), limits.max_keys);
  if (!set) return 0;
  check(set->size() + set->skipped().size() <= limits.max_keys);
  for (const auto& key : set->keys()) {
    const tokenpass::Key* found = set->find(key.kid());
    check(found != nullptr && found->kid() == key.kid());
    (void)key.can_verify();
  }
  (void)set->to_public_jwks();
  return 0;
}

// Fuzz target: `Key::from_pem` and `Key::from_der` (SPKI, PKCS#8, traditional RSA/EC,
// PKCS#1 RSA public keys, X.509 certificates). Input: the bytes, given to both.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;

void exercise(const tokenpass::Key& key) {
  check(!key.is_symmetric());
  (void)key.thumbprint();
  (void)key.allowed_algs();
  const auto again = tokenpass::Key::from_jwk(key.to_public_jwk());
  check(again.has_value() && again->thumbprint() == key.thumbprint());
  (void)key.to_public_pem();
  if (key.is_private()) (void)key.to_private_pem();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = as_view(data, size);
  if (const auto key = tokenpass::Key::from_pem(bytes)) exercise(*key);
  if (const auto key = tokenpass::Key::from_der(bytes)) exercise(*key);
  return 0;
}

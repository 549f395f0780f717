// The JWS signature primitives on OpenSSL (RFC 7518 §3): per-key prepared contexts
// (made on first use, then copied for each operation), HMAC, the ECDSA R || S <-> DER
// codec, and the exact-length rules. jws.cpp applies the JWS rules around them.
#pragma once

#include <cstddef>
#include <string_view>

#include "internal/key_data.h"
#include "tokenpass/algorithm.h"

namespace tokenpass::internal {

// SigCheck: the signature holds, does not hold, or could not be checked (OpenSSL
// failed: memory, an internal error), which is no verdict on the token.
enum class SigCheck { ok, bad, failed };

// check_signature checks `sig` over `input` with `k` for `alg`: ECDSA signatures must be
// exactly R || S of the field size, RSA ones exactly the modulus size; MACs compare in
// constant time. The error queue is left empty.
SigCheck check_signature(const KeyData& k, Alg alg, std::string_view input,
                         const unsigned char* sig, std::size_t sig_len);

// max_signature_size: room for any signature `k` makes with `alg`.
std::size_t max_signature_size(const KeyData& k, Alg alg);

// compute_signature writes the JWS signature of `input` into `out` (room for
// max_signature_size) and returns its length; 0 when OpenSSL fails.
std::size_t compute_signature(const KeyData& k, Alg alg, std::string_view input,
                              unsigned char* out);

}  // namespace tokenpass::internal

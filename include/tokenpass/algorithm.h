// tokenpass/algorithm.h: the JWS signature algorithms tokenpass knows (RFC 7518, RFC
// 8037, RFC 8812 for ES256K, RFC 9864 for the fully specified Ed25519 and Ed448), and
// which keys fit each. There is no `none`: an unsecured JWS cannot be expressed.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "tokenpass/export.h"

namespace tokenpass {

// Alg: a JWS `alg` value. Enumerators keep their registered spelling.
enum class Alg {
  HS256,
  HS384,
  HS512,
  RS256,
  RS384,
  RS512,
  PS256,
  PS384,
  PS512,
  ES256,
  ES384,
  ES512,
  ES256K,
  EdDSA,    // RFC 8037: Ed25519 or Ed448, as the key's curve says
  Ed25519,  // RFC 9864: fully specified
  Ed448,    // RFC 9864: fully specified
};

// KeyType: a JWK `kty`.
enum class KeyType { oct, RSA, EC, OKP };

// Curve: a JWK `crv` (none for oct and RSA keys).
enum class Curve { none, P256, P384, P521, secp256k1, Ed25519, Ed448 };

// to_string returns the registered name ("RS256", "EdDSA").
TOKENPASS_EXPORT std::string_view to_string(Alg alg) noexcept;
TOKENPASS_EXPORT std::string_view to_string(KeyType kty) noexcept;
// to_string returns the JWK `crv` spelling ("P-256", "secp256k1", "Ed25519"), "" for none.
TOKENPASS_EXPORT std::string_view to_string(Curve crv) noexcept;

// alg_from_string parses a registered JWS signature algorithm name, case-sensitively
// (RFC 7515 §4.1.1). nullopt for anything else, including every spelling of "none".
TOKENPASS_EXPORT std::optional<Alg> alg_from_string(std::string_view name) noexcept;
TOKENPASS_EXPORT std::optional<KeyType> key_type_from_string(std::string_view kty) noexcept;
TOKENPASS_EXPORT std::optional<Curve> curve_from_string(std::string_view crv) noexcept;

// all_algs lists every `Alg`, in declaration order.
TOKENPASS_EXPORT const std::vector<Alg>& all_algs() noexcept;

// key_type_for is the key type `alg` needs.
TOKENPASS_EXPORT KeyType key_type_for(Alg alg) noexcept;

// hmac_min_secret_bytes is the shortest HMAC secret `alg` accepts: the hash output size
// (RFC 7518 §3.2). 0 for non-HMAC algorithms.
TOKENPASS_EXPORT std::size_t hmac_min_secret_bytes(Alg alg) noexcept;

// Smallest RSA modulus tokenpass accepts, in bits (RFC 7518 §3.3 requires 2048).
inline constexpr std::size_t kMinRsaBits = 2048;

// alg_fits tells whether `alg` can be used with a key of this type, curve and size
// (`size` is bits for RSA, bytes of secret for oct, ignored otherwise).
TOKENPASS_EXPORT bool alg_fits(Alg alg, KeyType kty, Curve crv, std::size_t size) noexcept;


}  // namespace tokenpass

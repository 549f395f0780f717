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
  HS256,    // HMAC with SHA-256 (RFC 7518 §3.2)
  HS384,    // HMAC with SHA-384
  HS512,    // HMAC with SHA-512
  RS256,    // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3)
  RS384,    // RSASSA-PKCS1-v1_5 with SHA-384
  RS512,    // RSASSA-PKCS1-v1_5 with SHA-512
  PS256,    // RSASSA-PSS with SHA-256 (RFC 7518 §3.5)
  PS384,    // RSASSA-PSS with SHA-384
  PS512,    // RSASSA-PSS with SHA-512
  ES256,    // ECDSA with P-256 and SHA-256 (RFC 7518 §3.4)
  ES384,    // ECDSA with P-384 and SHA-384
  ES512,    // ECDSA with P-521 and SHA-512
  ES256K,   // ECDSA with secp256k1 and SHA-256 (RFC 8812)
  EdDSA,    // RFC 8037: Ed25519 or Ed448, as the key's curve says
  Ed25519,  // RFC 9864: fully specified
  Ed448,    // RFC 9864: fully specified
};

// KeyType: a JWK `kty`: `oct` (an HMAC secret), `RSA`, `EC` or `OKP` (Ed25519, Ed448).
enum class KeyType { oct, RSA, EC, OKP };

// Curve: a JWK `crv` (none for oct and RSA keys).
enum class Curve { none, P256, P384, P521, secp256k1, Ed25519, Ed448 };

// to_string returns the registered name ("RS256", "EdDSA").
TOKENPASS_EXPORT std::string_view to_string(Alg alg) noexcept;
// to_string returns the JWK `kty` spelling ("oct", "RSA", "EC", "OKP").
TOKENPASS_EXPORT std::string_view to_string(KeyType kty) noexcept;
// to_string returns the JWK `crv` spelling ("P-256", "secp256k1", "Ed25519"), "" for none.
TOKENPASS_EXPORT std::string_view to_string(Curve crv) noexcept;

// alg_from_string parses a registered JWS signature algorithm name, case-sensitively
// (RFC 7515 §4.1.1). nullopt for anything else, including every spelling of "none".
TOKENPASS_EXPORT std::optional<Alg> alg_from_string(std::string_view name) noexcept;
// key_type_from_string parses a JWK `kty` ("RSA"); nullopt for anything else.
TOKENPASS_EXPORT std::optional<KeyType> key_type_from_string(std::string_view kty) noexcept;
// curve_from_string parses a JWK `crv` ("P-256"); nullopt for anything else.
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

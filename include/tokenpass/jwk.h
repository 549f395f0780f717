// tokenpass/jwk.h: keys. A `Key` is an immutable, cheaply copyable handle to one
// parsed key (an OpenSSL key or an HMAC secret) plus its JWK metadata: kid, alg, use,
// key_ops. A `KeySet` is an ordered list of keys, as in a JWK set. Keys are checked
// when they are made (RSA under 2048 bits, EC points off the curve, HMAC secrets too
// short for any algorithm are refused with `key_unusable`), so a `Key` that exists is
// safe to use. Both types are safe to share across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/algorithm.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"

namespace tokenpass {

namespace internal {
struct KeyData;
struct KeyAccess;
}  // namespace internal

// GenerateOptions: what `Key::generate` makes besides the algorithm.
struct GenerateOptions {
  std::string kid;              // empty: the RFC 7638 thumbprint
  std::size_t rsa_bits = 2048;  // RSA only; under 2048 is refused
  std::optional<Curve> curve;   // EdDSA only: Ed25519 (default) or Ed448
};

// Key: one parsed key and its JWK metadata. Made only by the functions below, so it is
// always usable; immutable, cheap to copy, safe to share across threads.
class TOKENPASS_EXPORT Key {
 public:
  // from_jwk reads one JWK (RFC 7517/7518/8037): RSA, EC (P-256, P-384, P-521,
  // secp256k1), OKP (Ed25519, Ed448) or oct, public or private. Errors: malformed when
  // the text is not a JSON object; key_unusable when the object is not a usable
  // signature key (unknown kty or crv, missing or ill-encoded members, RSA under 2048
  // bits, a point off its curve, a private part that does not match the public one,
  // an `alg` that the key does not fit or that is no JWS signature algorithm).
  static Result<Key> from_jwk(std::string_view json);
  // from_jwk (parsed): the same, for a JWK already parsed.
  static Result<Key> from_jwk(const nlohmann::json& jwk);
  // Text overloads: without them a std::string or literal is ambiguous between the two.
  static Result<Key> from_jwk(const std::string& json) { return from_jwk(std::string_view(json)); }
  // from_jwk (C string): as for a std::string.
  static Result<Key> from_jwk(const char* json) { return from_jwk(std::string_view(json)); }

  // from_pem reads the first PEM block it understands: SPKI public key, PKCS#8 or
  // traditional RSA/EC private key, PKCS#1 RSA public key, or an X.509 certificate
  // (its public key; `x5t_s256` is set). Encrypted private keys are not read.
  // Errors: malformed (no PEM key or certificate), key_unusable (refused as above).
  static Result<Key> from_pem(std::string_view pem);

  // from_der reads DER bytes: an X.509 certificate, SPKI, PKCS#8 or a traditional key.
  static Result<Key> from_der(std::string_view der);

  // from_secret makes an oct (HMAC) key from raw bytes. With `alg`, the key is pinned
  // to it. Errors: key_unusable when the secret is shorter than the hash output of
  // `alg` (or, without `alg`, than 32 bytes).
  static Result<Key> from_secret(std::string_view secret, std::optional<Alg> alg = {},
                                 std::string kid = {});

  // generate makes a new private key for `alg` with fresh randomness from OpenSSL.
  // The key carries `alg`, `use` "sig" (asymmetric keys) and a kid (the thumbprint
  // unless `options.kid` is set). Throws std::invalid_argument for RSA under 2048 bits
  // or a curve that does not fit `alg`.
  static Key generate(Alg alg, const GenerateOptions& options = {});

  // type: the JWK `kty`.
  KeyType type() const noexcept;
  // curve: the JWK `crv`; Curve::none for RSA and oct keys.
  Curve curve() const noexcept;
  // bits is the RSA modulus size, the curve order size, or the secret size in bits.
  std::size_t bits() const noexcept;
  // is_private: the key can sign (it holds a private key or an HMAC secret).
  bool is_private() const noexcept;
  // is_symmetric: an oct (HMAC) key.
  bool is_symmetric() const noexcept { return type() == KeyType::oct; }

  // kid: the JWK `kid` ("" when it has none).
  const std::string& kid() const noexcept;
  // alg is the key's pinned `alg`, if it has one.
  std::optional<Alg> alg() const noexcept;
  // use is the JWK `use` ("" when absent).
  const std::string& use() const noexcept;
  // key_ops is the JWK `key_ops` (empty when absent).
  const std::vector<std::string>& key_ops() const noexcept;
  // x5t_s256 is the base64url SHA-256 of the certificate the key came from, if any.
  const std::optional<std::string>& x5t_s256() const noexcept;

  // allowed_algs: the key's `alg` if set, else every algorithm its type and size fit.
  std::vector<Alg> allowed_algs() const;
  // fits: `alg` is one of `allowed_algs()`, with EdDSA matching Ed25519/Ed448 of the
  // key's curve (RFC 9864). (`alg_fits` in algorithm.h: the same for a key's shape.)
  bool fits(Alg alg) const noexcept;
  // default_alg: the key's `alg`, else the first algorithm it fits (RS256 for RSA,
  // the curve's ES algorithm for EC, EdDSA for OKP, HS256/384/512 for oct by size).
  Alg default_alg() const noexcept;

  // can_verify / can_sign: `use` is absent or "sig" and `key_ops`, when present (also
  // when it is `[]`), contains "verify" / "sign"; can_sign also needs a private key.
  bool can_verify() const noexcept;
  bool can_sign() const noexcept;

  // with_kid / with_alg return a copy with other metadata, sharing the key material.
  // with_alg fails with key_unusable when the key does not fit `alg`.
  Key with_kid(std::string kid) const;
  Result<Key> with_alg(Alg alg) const;

  // public_key returns the public half (the same key when it is already public).
  // Errors: key_unusable for an oct key, which has no public half.
  Result<Key> public_key() const;

  // to_public_jwk: the public JWK with kid, alg, use and key_ops kept. Throws
  // std::invalid_argument for an oct key. to_private_jwk: every member, secrets
  // included; never log it.
  nlohmann::json to_public_jwk() const;
  nlohmann::json to_private_jwk() const;

  // to_public_pem (SPKI) / to_private_pem (PKCS#8): for interop; throw
  // std::invalid_argument for oct keys (and to_private_pem for public keys).
  std::string to_public_pem() const;
  std::string to_private_pem() const;

  // thumbprint is the RFC 7638 JWK thumbprint with SHA-256, base64url.
  std::string thumbprint() const;

 private:
  explicit Key(std::shared_ptr<const internal::KeyData> data);
  friend struct internal::KeyAccess;
  std::shared_ptr<const internal::KeyData> data_;
};

// SkippedKey: a member of a JWK set that was not loaded, and why.
struct SkippedKey {
  std::size_t index = 0;  // position in "keys"
  std::string kid;        // its "kid" if it had a string one
  Error error;            // why it was not loaded (key_unusable or malformed)
};

// KeySet: keys in order, as in a JWK set, with the members that could not be loaded.
// Immutable after construction and safe to share across threads.
class TOKENPASS_EXPORT KeySet {
 public:
  // KeySet: an empty set.
  KeySet() = default;
  // KeySet holds `keys`, in this order.
  explicit KeySet(std::vector<Key> keys);

  // from_jwks reads a JWK set (`{"keys":[...]}`). A key that cannot be loaded is
  // skipped and reported in `skipped()`; the others are kept. Errors: malformed when
  // the document is not a JSON object with a "keys" array; too_large when it holds
  // more than `max_keys` keys.
  static Result<KeySet> from_jwks(std::string_view json, std::size_t max_keys = 1000);
  // from_jwks (parsed): the same, for a document already parsed.
  static Result<KeySet> from_jwks(const nlohmann::json& jwks, std::size_t max_keys = 1000);
  // from_jwks (std::string): the text overload; without it a std::string is ambiguous.
  static Result<KeySet> from_jwks(const std::string& json, std::size_t max_keys = 1000) {
    return from_jwks(std::string_view(json), max_keys);
  }
  // from_jwks (C string): as for a std::string.
  static Result<KeySet> from_jwks(const char* json, std::size_t max_keys = 1000) {
    return from_jwks(std::string_view(json), max_keys);
  }

  // from_public_jwks reads a JWK set published for verifying (a JWKS endpoint), as
  // from_jwks does, with two rules for a document anyone may have written: private
  // members (`d`, `p`, `q`, `dp`, `dq`, `qi`) are dropped unread, and a symmetric
  // (`oct`) key is never loaded (skipped, key_unusable): a public set holding a secret
  // would let anyone mint tokens. RemoteJwks reads every fetched set this way.
  static Result<KeySet> from_public_jwks(const nlohmann::json& jwks, std::size_t max_keys = 1000);

  // find returns the first key with this kid, or null. The pointer lives as long as
  // the set.
  const Key* find(std::string_view kid) const noexcept;
  // keys: the keys, in order.
  const std::vector<Key>& keys() const noexcept { return keys_; }
  // skipped: the members that were not loaded, and why.
  const std::vector<SkippedKey>& skipped() const noexcept { return skipped_; }
  // empty: the set holds no key.
  bool empty() const noexcept { return keys_.empty(); }
  // size: the number of keys.
  std::size_t size() const noexcept { return keys_.size(); }

  // to_public_jwks: `{"keys":[...]}` of the public halves (oct keys are left out).
  nlohmann::json to_public_jwks() const;
  // to_private_jwks: every key with its secrets.
  nlohmann::json to_private_jwks() const;

 private:
  std::vector<Key> keys_;
  std::vector<SkippedKey> skipped_;
};

}  // namespace tokenpass

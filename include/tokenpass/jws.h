// tokenpass/jws.h: compact JWS (RFC 7515) signing and verification. Verification here
// checks the signature and the header rules only (RFC 8725): the algorithm comes from
// the key, never from the token; `none` does not exist; header keys (`jwk`, `jku`,
// `x5u`, `x5c`) are never used; an unknown `crit` rejects (so `b64:false` does);
// base64url must be canonical; duplicate JSON members reject; sizes are bounded. The
// payload is returned as bytes and is not parsed: claims are the verifier's business.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/algorithm.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/jwk.h"

namespace tokenpass {

namespace internal {
struct JwsAccess;
struct LazyHeader;
}  // namespace internal

// Limits on untrusted JSON (headers, payloads, JWKs). In a token's header and payload
// a string may be as long as the token's size limit allows (`max_token_size`, when that
// is larger than `max_string`): the size limit the user sets is the one that counts.
struct JsonLimits {
  std::size_t max_depth = 32;       // nesting of arrays and objects
  std::size_t max_members = 1000;   // members of one object, elements of one array
  std::size_t max_string = 16384;   // bytes of one string (or member name)
};

// Default largest token accepted, in bytes, before any decoding.
inline constexpr std::size_t kDefaultMaxTokenSize = 64 * 1024;

// JwsSignOptions: how sign_jws writes the header.
struct JwsSignOptions {
  // alg: the algorithm to sign with; default the key's `default_alg()`. It must be
  // one the key accepts.
  std::optional<Alg> alg;
  // kid: written into the header; default the key's kid (omitted when empty).
  std::optional<std::string> kid;
  // typ: written into the header; nullopt leaves it out.
  std::optional<std::string> typ = std::string("JWT");
  // extra_header: more protected header members (`cty`, private names; `kid` and
  // `typ` here win over the fields above). `alg`, `crit` and `b64` are refused.
  nlohmann::json extra_header = nlohmann::json::object();
};

// JwsVerifyOptions: what verify_jws requires besides a signature that holds.
struct JwsVerifyOptions {
  // algorithms: narrows what the keys accept; empty means no narrowing.
  std::vector<Alg> algorithms;
  // typ: when set, the header `typ` must match, case-insensitively and ignoring an
  // `application/` prefix on either side (RFC 7515 §4.1.9); missing is bad_type.
  std::optional<std::string> typ;
  // critical: `crit` names the caller handles itself; any other name is unknown_crit.
  std::vector<std::string> critical;
  std::size_t max_token_size = kDefaultMaxTokenSize;  // bytes; a longer token is too_large
  JsonLimits json_limits;                             // for the header's JSON (too_large)
  // typ_if_present: when not empty, a header `typ`, if there is one, must match one of
  // these (as `typ` matches); else bad_type.
  std::vector<std::string> typ_if_present;
  // header_members: when not empty, the header may hold only these members; any other
  // is malformed (the JWT-SVID profile: alg, kid, typ).
  std::vector<std::string> header_members;
  // jwt_svid_keys: keys whose `use` is "jwt-svid" (SPIFFE bundles) verify too. Off, they
  // are refused as any key whose `use` is not "sig" (key_unusable): a SPIFFE bundle's
  // keys vouch for JWT-SVIDs and nothing else.
  bool jwt_svid_keys = false;
};

// VerifiedJws: a JWS whose signature held under one of the caller's keys. Only
// `verify_jws` makes one.
class TOKENPASS_EXPORT VerifiedJws {
 public:
  // header: the protected header. Its JSON object is built on first use (thread-safe);
  // later calls return the same object.
  const nlohmann::json& header() const noexcept;
  // payload: the decoded payload bytes, exactly as signed.
  const std::string& payload() const noexcept { return payload_; }
  // alg: the algorithm the signature was checked with.
  Alg alg() const noexcept { return alg_; }
  // kid: the header's kid ("" when absent).
  const std::string& kid() const noexcept { return kid_; }
  // key: the key whose check succeeded.
  const Key& key() const noexcept { return key_; }

 private:
  friend struct internal::JwsAccess;
  VerifiedJws(std::shared_ptr<const internal::LazyHeader> header, std::string payload, Alg alg,
              std::string kid, Key key);
  std::shared_ptr<const internal::LazyHeader> header_;
  std::string payload_;
  Alg alg_;
  std::string kid_;
  Key key_;
};

// UnverifiedJws: a decoded JWS that nobody checked. For debugging and `inspect` only;
// it converts to nothing that a verified token is expected to be.
class TOKENPASS_EXPORT UnverifiedJws {
 public:
  // header: the protected header, parsed.
  const nlohmann::json& header() const noexcept { return header_; }
  // payload_bytes: the decoded payload; payload_json: it parsed as JSON, if it does.
  const std::string& payload_bytes() const noexcept { return payload_; }
  // payload_json: the payload parsed as JSON; nullopt when it is not JSON.
  const std::optional<nlohmann::json>& payload_json() const noexcept { return payload_json_; }
  // signature: the decoded signature bytes (empty for an unsecured JWS).
  const std::string& signature() const noexcept { return signature_; }

 private:
  friend struct internal::JwsAccess;
  UnverifiedJws() = default;
  nlohmann::json header_;
  std::string payload_;
  std::optional<nlohmann::json> payload_json_;
  std::string signature_;
};

// sign_jws signs `payload` with `key` and returns the compact JWS. Errors:
// key_unusable when the key cannot sign (public, `use`/`key_ops` forbid it);
// alg_not_allowed when `options.alg` does not fit the key; malformed when
// `extra_header` is not an object or names `alg`, `crit` or `b64`. Thread-safe.
TOKENPASS_EXPORT Result<std::string> sign_jws(const Key& key, std::string_view payload,
                                              const JwsSignOptions& options = {});

// verify_jws checks `compact` against `key` or `keys` (kid selection, else every key
// whose type and algorithm fit, in order). It does not throw. Errors, in the order
// they are checked: too_large, malformed (structure, characters outside the base64url
// alphabet, header base64url and JSON), unsupported_alg (`none` in any spelling, also
// with an empty or non-canonical signature part), malformed (an empty or non-canonical
// signature part), unknown_crit, bad_type, key_not_found,
// alg_not_allowed, key_unusable, bad_signature, then malformed for a payload that is
// not canonical base64url; internal_error when OpenSSL itself fails (memory).
// Leading and trailing white space around the token is ignored (up to 4 KiB of it;
// more is too_large).
// Thread-safe.
TOKENPASS_EXPORT Result<VerifiedJws> verify_jws(std::string_view compact, const Key& key,
                                                const JwsVerifyOptions& options = {});
TOKENPASS_EXPORT Result<VerifiedJws> verify_jws(std::string_view compact, const KeySet& keys,
                                                const JwsVerifyOptions& options = {});

// decode_unverified splits and decodes `compact` WITHOUT checking its signature (which
// may be empty, as in an unsecured JWS) or its alg. Errors: too_large, malformed.
TOKENPASS_EXPORT Result<UnverifiedJws> decode_unverified(
    std::string_view compact, std::size_t max_token_size = kDefaultMaxTokenSize);

// decode_unverified_header decodes only the protected header of `compact`, WITHOUT
// checking anything else; for choosing keys (its kid) before a verify. Errors:
// too_large, malformed.
TOKENPASS_EXPORT Result<nlohmann::json> decode_unverified_header(
    std::string_view compact, std::size_t max_token_size = kDefaultMaxTokenSize);

}  // namespace tokenpass

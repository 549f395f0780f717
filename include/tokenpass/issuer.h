// tokenpass/issuer.h: making tokens, for a token service or a gateway. An Issuer holds
// a signing key and the defaults every token gets (iss, lifetime, audience, typ, jti).
// Immutable after construction and safe to share across threads.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tokenpass/algorithm.h"
#include "tokenpass/claims.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/jwk.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

// IssuerOptions: what an Issuer writes into every token besides iss, iat and exp.
struct IssuerOptions {
  // audience: written as `aud` when the claims set none (one value: a string).
  std::vector<std::string> audience;
  // typ: the header `typ`; "at+jwt" for RFC 9068 access tokens.
  std::string typ = "JWT";
  // generate_jti: write a `jti` of 128 random bits (base64url) when the claims set none.
  bool generate_jti = true;
  // not_before: write `nbf` = `iat` when the claims set none.
  bool not_before = false;
  // alg: the signing algorithm; default the key's.
  std::optional<Alg> alg;
  // clock: defaults to std::chrono::system_clock::now.
  Clock clock;
};

// Issuer: signs tokens with one key as one issuer, with a fixed lifetime.
class TOKENPASS_EXPORT Issuer {
 public:
  // Issuer throws std::invalid_argument when `key` cannot sign (a public key, or `use`
  // / `key_ops` forbid it), `options.alg` does not fit it, `issuer` is empty, or
  // `lifetime` is not positive.
  Issuer(Key key, std::string issuer, std::chrono::seconds lifetime, IssuerOptions options = {});

  // issue signs `claims` after filling in what they leave out: `iss` (always this
  // issuer's), `iat` (now), `exp` (iat + lifetime), `aud`, `jti`, `nbf` per the
  // options. The header carries alg, typ and the key's kid. Errors: malformed when a
  // claim set by the caller has the wrong type (bad_claim rules of Claims) or a string
  // that is not UTF-8 (also this issuer's own iss, audience, kid or typ); internal_error
  // when signing fails for a reason of ours (memory, OpenSSL). Thread-safe.
  Result<std::string> issue(const ClaimsBuilder& claims) const;

  // key: the signing key.
  const Key& key() const noexcept { return key_; }
  // issuer: the `iss` of every token.
  const std::string& issuer() const noexcept { return issuer_; }
  // lifetime: `exp` - `iat` of every token.
  std::chrono::seconds lifetime() const noexcept { return lifetime_; }

 private:
  Key key_;
  std::string issuer_;
  std::chrono::seconds lifetime_;
  IssuerOptions options_;
  // Made by the constructor, the same for every token: the algorithm, the header in
  // base64url followed by '.', the JSON text of `iss` and of the default `aud` (nullopt
  // when not UTF-8), and the error a token's header gives, if any.
  Alg alg_;
  std::string header_b64_;
  std::optional<std::string> iss_json_;
  std::optional<std::string> aud_json_;
  std::optional<Error> header_error_;
};

}  // namespace tokenpass

// tokenpass/dpop.h: DPoP (RFC 9449), the resource side. A DPoP-bound access token
// (`cnf.jkt`) comes with a `DPoP` proof: a JWT signed with the client's key, whose public
// half is in the proof's header, naming the request (method and URI), the time, and a
// hash of the access token. `check_dpop_proof` checks a proof; `Verifier::verify(token,
// presented)` with `Presented::dpop` then checks the token's `cnf.jkt` against the
// proof's key and records the proof's `jti` (before the token's own, for single use).
// The key in the proof's header is used for the proof only, never for an access token.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/algorithm.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

struct DpopOptions {
  // max_age: the proof's `iat` may be at most this long before now.
  std::chrono::seconds max_age{60};
  // future_leeway: ... and at most this long after now (clock skew).
  std::chrono::seconds future_leeway{5};
  // algorithms: accepted proof algorithms; empty: every asymmetric one tokenpass has.
  std::vector<Alg> algorithms;
  // nonce: when set, the proof must carry this `nonce` (RFC 9449 §8), else use_dpop_nonce.
  std::optional<std::string> nonce;
  Clock clock;  // default std::chrono::system_clock::now
};

// DpopProof: a proof that passed check_dpop_proof.
struct DpopProof {
  std::string jkt;  // RFC 7638 SHA-256 thumbprint of the proof's public key
  std::string jti;
  std::chrono::system_clock::time_point iat;
  // replay_until: how long its `jti` must be remembered (iat + max_age + future_leeway).
  std::chrono::system_clock::time_point replay_until;
};

// check_dpop_proof checks `proof` (RFC 9449 §4.3) for a request with method `htm` and
// URI `htu`, carrying `access_token`: the header `typ` is exactly "dpop+jwt"; `alg` is an
// asymmetric algorithm (of `options.algorithms`) that fits the header's `jwk`, which is a
// public key with no private members; no `crit`; the signature verifies with that key;
// the claims hold `jti` (a string), `htm`, `htu`, `iat` (a number) and `ath`; `htm`
// equals `htm`; `htu` equals `htu` once both are normalised (normalize_htu); `ath` is
// the base64url SHA-256 of `access_token`; `iat` is within [now - max_age, now +
// future_leeway]. Errors: bad_proof (any of these); use_dpop_nonce (the proof passed
// the rest but lacks the nonce `options.nonce` requires, or names another). Does not
// record the `jti`: Verifier::verify does, in its order. Never throws.
TOKENPASS_EXPORT Result<DpopProof> check_dpop_proof(std::string_view proof, std::string_view htm,
                                                    std::string_view htu, std::string_view access_token,
                                                    const DpopOptions& options = {});

// normalize_htu: `uri` as RFC 9449 §4.3 compares it: query and fragment dropped, RFC 3986
// §6.2.2 syntax-based normalisation (scheme and host lower-cased, percent-encoding
// upper-cased and unreserved characters decoded, dot segments removed) and §6.2.3
// scheme-based (the default port dropped, an empty path as "/"). Errors: invalid_request
// for anything that is not an absolute http(s) URI.
TOKENPASS_EXPORT Result<std::string> normalize_htu(std::string_view uri);

}  // namespace tokenpass

// tokenpass/verifier.h: checking incoming tokens. Build a Verifier once from a
// KeySource and a Policy and share it across request threads. Callers learn about a
// token only through VerifiedToken, and only a Verifier can make one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/algorithm.h"
#include "tokenpass/binding.h"
#include "tokenpass/claims.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/jwk.h"
#include "tokenpass/jws.h"
#include "tokenpass/key_source.h"
#include "tokenpass/metrics.h"
#include "tokenpass/replay.h"

namespace tokenpass {

namespace internal {
struct TokenData;
class TokenCache;
struct VerifyTrace;
}  // namespace internal

// Clock: where a policy reads the time. Tests pass a fixed one.
using Clock = std::function<std::chrono::system_clock::time_point()>;

// CustomCheck: a rule of the service's own over verified claims; return an `Error`
// (its code is reported as is) to reject.
using CustomCheck = std::function<Result<void>(const Claims&)>;

// Largest leeway a Policy accepts.
inline constexpr std::chrono::seconds kMaxLeeway{600};

// TokenCacheOptions: the optional cache of verified tokens (`Policy::cache`). A token
// seen before, byte for byte, is answered without decoding it or checking its
// signature again; its exp, nbf, iat and every claim rule of the policy (custom checks
// included) are still checked on each hit, against the policy's clock. An entry is
// dropped at its token's `exp` (tokens without one are not kept), and is not used once
// the key source hands out another key set than the one that verified it. Entries
// are found by a hash of the token and matched by comparing all its bytes.
struct TokenCacheOptions {
  // max_entries: tokens kept at most; 0 (the default) turns the cache off.
  std::size_t max_entries = 0;
  // max_bytes: memory the entries may hold at most: each counts its token, payload and
  // kid and a fixed amount for bookkeeping. Must not be 0 when the cache is on.
  std::size_t max_bytes = 16 * 1024 * 1024;
};

// TokenCacheStats: counters of a Verifier's token cache (all 0 without one).
struct TokenCacheStats {
  std::size_t entries = 0;      // tokens held now
  std::size_t bytes = 0;        // what they count against max_bytes
  std::uint64_t hits = 0;       // verifies answered from the cache
  std::uint64_t misses = 0;     // verifies it could not answer
  std::uint64_t evictions = 0;  // dropped for room, at exp, or for a changed key set
};

// Policy: what a token must satisfy beyond its signature. Plain fields; a Verifier
// checks them once, at construction.
struct TOKENPASS_EXPORT Policy {
  // issuers: `iss` must equal one of them. Empty is a mistake unless `any_issuer()`.
  std::vector<std::string> issuers;
  bool accept_any_issuer = false;  // any `iss` is accepted; set by any_issuer()
  // audiences: one of the token's `aud` values must equal one of them. Empty is a
  // mistake unless `any_audience()`.
  std::vector<std::string> audiences;
  bool accept_any_audience = false;  // any `aud` is accepted; set by any_audience()
  // subject: when set, `sub` must equal it.
  std::optional<std::string> subject;
  // algorithms: narrows what the keys accept (empty: no narrowing).
  std::vector<Alg> algorithms;
  // leeway: allowed clock skew for exp, nbf and iat; 0 to 10 minutes.
  std::chrono::seconds leeway{60};
  // require_exp: a token without `exp` is missing_claim (RFC 8725 §3.10 advice).
  bool require_exp = true;
  // max_age: when set, `iat` is required and must be no older than this (+ leeway).
  std::optional<std::chrono::seconds> max_age;
  // typ: when set, the header `typ` must match (case-insensitive, `application/`
  // prefix ignored), e.g. "at+jwt" for RFC 9068 access tokens.
  std::optional<std::string> typ;
  // required_claims: each must be present.
  std::vector<std::string> required_claims;
  // required_scopes: every one must be granted.
  std::vector<std::string> required_scopes;
  // alternative_scopes: when not empty, at least one of these sets must be granted in
  // full (in addition to required_scopes).
  std::vector<std::vector<std::string>> alternative_scopes;
  // claim_rules: requirements on any claim by JSON Pointer (equals, contains, one of),
  // checked after the scopes and before custom checks: missing_claim, bad_claim.
  std::vector<ClaimRule> claim_rules;
  // custom_checks: run last, in order, over the claims of a token that passed the rest.
  std::vector<CustomCheck> custom_checks;
  // clock: defaults to std::chrono::system_clock::now.
  Clock clock;
  // critical: `crit` header names the service handles itself.
  std::vector<std::string> critical;
  std::size_t max_token_size = kDefaultMaxTokenSize;  // bytes; a longer token is too_large
  JsonLimits json_limits;                             // for header and claims (too_large)
  // cache: a cache of verified tokens; off unless `cache.max_entries` is set.
  TokenCacheOptions cache;
  // replay_store: when set, tokens are single use: a token must carry `jti` and `exp`
  // (else missing_claim), and its (`iss`, `jti`) is recorded in the store until exp +
  // leeway; a second use is `replayed`. Asked after the signature and every claim rule
  // (a forged or expired token never burns a jti), also for a token the cache answers.
  std::shared_ptr<const ReplayStore> replay_store;
  // single_use_max_lifetime: with a replay store, a token whose exp is further than this
  // from now is bad_claim, so that the store holds no pair longer than this.
  std::optional<std::chrono::seconds> single_use_max_lifetime;
  // replay_fail_open: when the store cannot answer, accept the token anyway. Off by
  // default (replay_store_unavailable, 503): turning it on lets replays through while the
  // store is down, which is a choice to make knowingly.
  bool replay_fail_open = false;
  // require_binding: a token must be bound (`cnf` with `x5t#S256`, RFC 8705 §3, or
  // `jkt`, RFC 9449) or it is bad_binding. Without it a bound token is still checked
  // against what the request presents (verify(token, presented)); an unbound one is an
  // ordinary bearer token.
  bool require_binding = false;
  // proof_replay_store: where DPoP proofs' `jti`s are recorded (RFC 9449 §11.1), after the
  // token's binding and before the token's own `jti`; a proof seen before is `replayed`.
  // Null: proofs are not checked for replay.
  std::shared_ptr<const ReplayStore> proof_replay_store;

  // typ_if_present, header_members, jwt_svid_keys: as JwsVerifyOptions says (jws.h);
  // set by jwt_svid_profile.
  std::vector<std::string> typ_if_present;
  std::vector<std::string> header_members;
  bool jwt_svid_keys = false;

  // observer: told about every verify (VerifyEvent: issuer label, code, algorithm,
  // cache hit, duration), the token cache, single-use checks and DPoP refusals
  // (metrics.h). Null (the default): nothing is timed or reported.
  std::shared_ptr<Observer> observer;

  // any_issuer / any_audience: the explicit way to skip those checks.
  Policy& any_issuer() {
    accept_any_issuer = true;
    return *this;
  }
  Policy& any_audience() {
    accept_any_audience = true;
    return *this;
  }

  // access_token_profile: RFC 9068 JWT access tokens: typ "at+jwt" and iss, exp, aud,
  // sub, client_id, iat and jti required.
  static Policy access_token_profile(std::vector<std::string> issuers,
                                     std::vector<std::string> audiences);

  // jwt_svid_profile: SPIFFE JWT-SVIDs (the JWT-SVID standard, spiffe.h): RS, ES and PS
  // algorithms only; a header of alg, kid and typ only (malformed otherwise), typ, when
  // present, JWT or JOSE; `aud` naming one of `audiences` and `exp` required; `sub` a
  // SPIFFE ID that one of `spiffe_ids` covers (spiffe_id_matches: a trust domain or a
  // path prefix), else bad_subject; any issuer. Keys with `"use": "jwt-svid"` verify
  // (jwt_svid_keys). Throws std::invalid_argument when `audiences` or `spiffe_ids` is
  // empty or a pattern is no SPIFFE ID.
  static Policy jwt_svid_profile(std::vector<std::string> audiences, std::vector<std::string> spiffe_ids);
};

// VerifiedToken: a token whose signature and claims passed a Verifier's policy. Cheap
// to copy (copies share one immutable record) and safe to share across threads.
class TOKENPASS_EXPORT VerifiedToken {
 public:
  // header: the protected header. Its JSON object is built on first use (thread-safe);
  // later calls return the same object.
  const nlohmann::json& header() const noexcept;
  // claims: the verified claims.
  const Claims& claims() const noexcept { return claims_; }
  // kid: the header's kid ("" when absent). alg: the algorithm that verified.
  const std::string& kid() const noexcept;
  // alg: the algorithm the signature was verified with (meaningless when introspected()).
  Alg alg() const noexcept { return alg_; }
  // compact: the token exactly as received (white space around it removed).
  const std::string& compact() const noexcept;
  // expires_at: the token's `exp`, if it has one.
  std::optional<NumericDate> expires_at() const { return claims_.expires_at(); }
  // introspected: the token is opaque and its claims are its issuer's introspection
  // answer (Verifier::verify_introspected): there is no header and no signature.
  bool introspected() const noexcept;

 private:
  friend class Verifier;
  VerifiedToken(std::shared_ptr<const internal::TokenData> data, Claims claims, Alg alg);
  std::shared_ptr<const internal::TokenData> data_;
  Claims claims_;
  Alg alg_;
};

// Verifier: checks tokens against a key source and a Policy, and makes VerifiedTokens.
// Immutable after construction and thread-safe; copies share the keys and the cache.
class TOKENPASS_EXPORT Verifier {
 public:
  // Verifier checks `policy` once and throws std::invalid_argument when it is
  // unusable: no issuers without any_issuer(), no audiences without any_audience(),
  // leeway outside 0..10 min, a negative max_age, an empty required scope, a null
  // custom check, a cache with no room in bytes, or no key source.
  Verifier(std::shared_ptr<const KeySource> keys, Policy policy);
  // Verifier with a fixed key set (a StaticKeySource); throws as the other constructor.
  Verifier(KeySet keys, Policy policy);

  // verify checks `compact` against the keys and the policy and returns its claims. It
  // does not throw. Checks run in a fixed order, and the first failure is reported:
  // size (too_large), structure and header (malformed, unsupported_alg, unknown_crit,
  // bad_type), key (key_source_unavailable, key_not_found, alg_not_allowed,
  // key_unusable), signature (bad_signature), then the claims, parsed only now:
  // malformed, bad_claim, missing_claim, expired, not_yet_valid, issued_in_future,
  // too_old, bad_issuer, bad_audience, bad_subject, insufficient_scope, and whatever the
  // custom checks return. internal_error (500) when something fails that is not the
  // token's fault: an exception from a custom check, the clock or memory, or OpenSSL's
  // own failure. With `Policy::cache`, a token verified before is answered
  // from the cache after the claim rules (see TokenCacheOptions). Thread-safe; no lock
  // is held across a signature or claim check (the cache's shards are locked only to
  // look up, insert or drop an entry).
  Result<VerifiedToken> verify(std::string_view compact) const;

  // verify with what the request presents besides the token (binding.h): after every
  // other rule and before single use, a token whose `cnf` holds `x5t#S256` must name
  // `presented.certificate_thumbprint` (else bad_binding: another certificate, or none);
  // with `presented.dpop`, the DPoP proof is checked (bad_proof, use_dpop_nonce), the
  // token must carry `cnf.jkt` equal to its key's thumbprint, and the proof's `jti` goes
  // to `Policy::proof_replay_store`; a `cnf.jkt` without a proof is bad_binding.
  // verify(token) is verify(token, {}):
  // a bound token is refused there. A `cnf` that is not an object, or an `x5t#S256` or
  // `jkt` that is not a string, is bad_claim (a claim rule). Thread-safe.
  Result<VerifiedToken> verify(std::string_view compact, const Presented& presented) const;

  // verify_introspected: an opaque (non-JWT) token that its issuer's introspection
  // endpoint called active (`answer`: Introspector::introspect's object, RFC 7662 §2.2),
  // checked as verify checks a token after its signature: the answer's members as claims
  // (types, then the claim rules: issuer, audience, exp, scopes, custom checks), then
  // the binding against `presented` (an answer's `cnf`, RFC 8705 §3.2, RFC 9449 §6.2),
  // then single use. The VerifiedToken's compact() is the token; its header() is an
  // empty object, its kid() empty, introspected() true and alg() meaningless. Errors
  // as verify's after the signature. Never throws. Thread-safe.
  Result<VerifiedToken> verify_introspected(std::string_view token, const nlohmann::json& answer,
                                            const Presented& presented = {}) const;

  // check_claims applies only the claim rules to already-verified claims (the
  // signature is not involved). Thread-safe.
  Result<void> check_claims(const Claims& claims) const;

  // policy: the policy it checks.
  const Policy& policy() const noexcept { return policy_; }

  // cache_stats: the token cache's counters. Thread-safe. Copies of a Verifier share
  // one cache.
  TokenCacheStats cache_stats() const;

 private:
  Result<VerifiedToken> verify_unguarded(std::string_view compact, const Presented& presented,
                                         internal::VerifyTrace* trace) const;
  Result<VerifiedToken> verify_observed(std::string_view compact, const Presented& presented) const;
  std::string_view issuer_label(std::string_view iss) const noexcept;
  Result<void> check_single_use(const Claims& claims) const;
  Result<void> check_binding(const Claims& claims, const Presented& presented, std::string_view compact) const;
  Result<VerifiedToken> verify_full(std::string_view compact, std::size_t hash,
                                    const Presented& presented, internal::VerifyTrace* trace) const;
  std::shared_ptr<const KeySource> keys_;
  Policy policy_;
  JwsVerifyOptions jws_options_;
  std::shared_ptr<internal::TokenCache> cache_;  // null when off
  std::shared_ptr<const KeySet> static_keys_;    // a fixed source's set, fetched once
  std::uint64_t static_version_ = 0;             // and its version
};

}  // namespace tokenpass

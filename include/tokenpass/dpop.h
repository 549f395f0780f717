// tokenpass/dpop.h: DPoP (RFC 9449), the resource side. A DPoP-bound access token
// (`cnf.jkt`) comes with a `DPoP` proof: a JWT signed with the client's key, whose public
// half is in the proof's header, naming the request (method and URI), the time, and a
// hash of the access token. `check_dpop_proof` checks a proof; `Verifier::verify(token,
// presented)` with `Presented::dpop` then checks the token's `cnf.jkt` against the
// proof's key and records the proof's `jti` (before the token's own, for single use).
// The key in the proof's header is used for the proof only, never for an access token.
// The client side: `DpopSigner` makes proofs (for token requests, and for each request
// that carries a DPoP-bound token) and remembers the nonces servers hand out.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/algorithm.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/jwk.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

// DpopOptions: how DPoP proofs are checked (check_dpop_proof, and the Verifier,
// TokenResolver or TokenEndpoint given them).
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
  std::string jti;  // its `jti`, to record against replay
  // iat: its `iat`, the time the client says it made the proof.
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
// the base64url SHA-256 of `access_token` (with an empty `access_token`, a proof for a
// token request, RFC 9449 §5, `ath` is not looked at); `iat` is within [now - max_age, now +
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

// www_authenticate_dpop: the RFC 9449 §7.1 `DPoP` challenge, `DPoP algs="ES256 ..."`
// (the proof algorithms accepted; empty: every asymmetric one), for a resource that
// takes DPoP-bound tokens. With `with_error`, `e` is named as www_authenticate does for
// Bearer, except bad_proof, which is `invalid_dpop_proof`, and use_dpop_nonce, which is
// `use_dpop_nonce` (send the nonce in a `DPoP-Nonce` header beside it). nullopt where
// www_authenticate has no challenge (server trouble, peer_not_allowed).
TOKENPASS_EXPORT std::optional<std::string> www_authenticate_dpop(const Error& e, std::string_view realm,
                                                                  const std::vector<Alg>& algs = {},
                                                                  const std::vector<std::string>& scopes = {},
                                                                  bool with_error = true);

// DpopSigner: a client's DPoP key (RFC 9449 §4): it signs one proof per request. A
// token endpoint binds the tokens it issues against a proof to the key's thumbprint
// (`cnf.jkt`); each later request with such a token needs a fresh proof naming the
// request and the token. Keep one signer per client for as long as its tokens live.
// Thread-safe; copies share their nonces.
class TOKENPASS_EXPORT DpopSigner {
 public:
  // DpopSigner takes a private asymmetric signing key (EC, RSA or OKP; generate one with
  // Key::generate). `alg`: default the key's default_alg(). Throws std::invalid_argument
  // for a public or symmetric key, or an `alg` that does not fit it.
  explicit DpopSigner(Key private_key, std::optional<Alg> alg = std::nullopt, Clock clock = {});

  // proof: a proof for a request with method `htm` to `htu` (query and fragment are
  // dropped, RFC 9449 §4.2): header typ "dpop+jwt", alg, and the public key as `jwk`;
  // claims a fresh random `jti`, `htm`, `htu`, `iat` = now, `ath` when `access_token` is
  // not empty, and `nonce`: the one given, else the last one remembered for `htu`'s
  // origin. Errors: invalid_request (`htu` is no absolute http(s) URI, `htm` is empty),
  // internal_error (signing failed). Never throws.
  Result<std::string> proof(std::string_view htm, std::string_view htu, std::string_view access_token = {},
                            std::string_view nonce = {}) const;

  // remember_nonce: the nonce a server at `htu`'s origin sent (`DPoP-Nonce`, RFC 9449
  // §8, §9): later proofs for that origin carry it. Nonces of at most 256 origins are
  // kept. A value that is no NQCHAR string (%x21 / %x23-5B / %x5D-7E) is ignored.
  void remember_nonce(std::string_view htu, std::string_view nonce) const;

  // jkt: the key's RFC 7638 SHA-256 thumbprint, what bound tokens carry as `cnf.jkt`.
  const std::string& jkt() const noexcept;
  // alg: the algorithm proofs are signed with.
  Alg alg() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace tokenpass

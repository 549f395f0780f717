// tokenpass/propagation.h: tokens in and out of a service. Incoming: take the bearer
// token (RFC 6750 §2.1) and the calling service's token from their headers, verify each
// with its own Verifier, and hand the handler a `RequestContext` (passed explicitly: no
// globals, no thread-locals). Outgoing: an `Outbound` policy says what a call to a named
// downstream service carries: the caller's verified token forwarded, this service's own
// token (client credentials), both, or the caller's token exchanged for one meant for
// the downstream audience (RFC 8693). Destinations not on its allow list get nothing.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/binding.h"
#include "tokenpass/client_credentials.h"
#include "tokenpass/dpop.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/http.h"
#include "tokenpass/introspection.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

// extract_bearer reads an `Authorization` header value: the `Bearer` scheme (any case),
// one or more spaces, and a b64token (RFC 6750 §2.1). Errors: no_token when the value is
// empty or uses another scheme; invalid_request when the token is missing, malformed,
// or followed by anything else. The view points into `header_value`.
TOKENPASS_EXPORT Result<std::string_view> extract_bearer(std::string_view header_value);

// extract_bearer over every value of the header a request carried: none is no_token,
// more than one is invalid_request (RFC 6750 §2: one method, one token).
TOKENPASS_EXPORT Result<std::string_view> extract_bearer(
    const std::vector<std::string_view>& header_values);

// is_b64token: RFC 6750 §2.1 token68 syntax.
TOKENPASS_EXPORT bool is_b64token(std::string_view token) noexcept;

// HeaderLookup: every value of one request header, the name compared case-insensitively.
using HeaderLookup = std::function<std::vector<std::string>(std::string_view name)>;

// RequestContext: the verified tokens of one request. Pass it to whatever needs them.
class TOKENPASS_EXPORT RequestContext {
 public:
  // user: the end user's token, from the user header; null when none was required or sent.
  const VerifiedToken* user() const noexcept { return user_ ? &*user_ : nullptr; }
  // service: the calling service's own token, from the service header.
  const VerifiedToken* service() const noexcept { return service_ ? &*service_ : nullptr; }
  // peer: the connection's client certificate (mTLS), when the adapter had one: who is
  // calling, by subject, SANs (SPIFFE IDs) and thumbprint.
  const PeerCertificate* peer() const noexcept { return peer_ ? &*peer_ : nullptr; }

 private:
  friend class TokenResolver;
  std::optional<VerifiedToken> user_;
  std::optional<VerifiedToken> service_;
  std::optional<PeerCertificate> peer_;
};

// TokenResolverOptions: where a TokenResolver finds the tokens, and which it requires.
struct TokenResolverOptions {
  // user_header carries `Bearer <token>` (RFC 6750).
  std::string user_header = "Authorization";
  // service_header carries the calling service's token, bare or as `Bearer <token>`.
  std::string service_header = "X-MS-TOKEN";
  bool require_user = true;      // a request without a user token is no_token
  bool require_service = false;  // a request without a service token is no_token
  // dpop: also accept DPoP-bound user tokens (RFC 9449 §7.1): `<user_header>: DPoP
  // <token>` with exactly one `DPoP` proof header, checked with these options against
  // the request's method and URI (resolve's `target`). A token bound with `cnf.jkt` that
  // comes as Bearer is refused (bad_binding, §7.2). Null: the DPoP scheme is no token.
  std::shared_ptr<const DpopOptions> dpop;
  // introspector: a user token that is not a JWT (no '.') is asked about there (RFC
  // 7662) and its answer checked by the user Verifier's claim rules
  // (Verifier::verify_introspected). Null: such a token is malformed, as any non-JWT.
  std::shared_ptr<const Introspector> introspector;
};

// RequestTarget: what a DPoP proof must name: the request's method and its absolute
// URI as the client addressed it ("https://api.example.com/orders?id=7": scheme and
// authority included; behind a proxy, the public ones).
struct RequestTarget {
  std::string_view method;  // "GET", "POST", ...
  std::string_view uri;     // absolute, as the client addressed it
};

// TokenResolver: finds and verifies the tokens of a request. Immutable, thread-safe.
class TOKENPASS_EXPORT TokenResolver {
 public:
  // Either verifier may be null: that role is then not accepted (and must not be
  // required). Throws std::invalid_argument for a required role without a verifier,
  // no verifier at all, or empty or equal header names.
  TokenResolver(std::shared_ptr<const Verifier> user_verifier,
                std::shared_ptr<const Verifier> service_verifier,
                TokenResolverOptions options = {});

  // resolve extracts and verifies each token present. Errors: no_token (a required
  // token is absent), invalid_request (bad header syntax, more than one token), and
  // any verify error of the user token, then of the service token. `peer`: the
  // connection's client certificate, if any: what certificate-bound tokens are checked
  // against (Verifier::verify(token, presented)), and it is kept in
  // the context. `target`: the request's method and URI, needed for DPoP (without it a
  // DPoP token is internal_error: the adapter did not say). With options().dpop, errors
  // also: bad_proof (no proof, more than one, or one that fails check_dpop_proof),
  // use_dpop_nonce, replayed (a proof seen before). With options().introspector:
  // inactive (the issuer says the opaque token is not active), http_error (the
  // introspection endpoint cannot be asked). Never throws.
  Result<RequestContext> resolve(const HeaderLookup& headers, const PeerCertificate* peer = nullptr,
                                 const RequestTarget* target = nullptr) const;

  // uses_dpop: the Authorization value `value` uses the DPoP scheme (any case): what a
  // challenge names the error under.
  static bool uses_dpop(std::string_view value) noexcept;

  // options: as given to the constructor.
  const TokenResolverOptions& options() const noexcept { return options_; }

 private:
  Result<VerifiedToken> verify_user(std::string_view token, const Presented& presented) const;
  std::shared_ptr<const Verifier> user_;
  std::shared_ptr<const Verifier> service_;
  TokenResolverOptions options_;
};

// check_access: what a route or method needs of its caller beyond valid tokens, checked
// on the user token, or without one on the service token: every scope of `scopes`, every
// role of `roles` and (when not empty) one of `any_roles`, the roles found by `mapping`.
// Errors: insufficient_scope, insufficient_role (both 403).
TOKENPASS_EXPORT Result<void> check_access(const RequestContext& ctx, const std::vector<std::string>& scopes,
                                           const std::vector<std::string>& roles = {},
                                           const std::vector<std::string>& any_roles = {},
                                           const RoleMapping& mapping = {});

// check_peer: with `allowed_peers` not empty, `peer` must be a verified certificate with
// one of those identities (PeerCertificate::has_identity). Errors: peer_not_allowed (403).
TOKENPASS_EXPORT Result<void> check_peer(const PeerCertificate* peer, const std::vector<std::string>& allowed_peers);

// Destination: a downstream service this one may call.
struct Destination {
  std::string audience;             // the `aud` its tokens must carry
  std::vector<std::string> scopes;  // scopes to ask for (service token, exchange)
  // forward_any_audience: forward the caller's token even when its `aud` does not name
  // `audience`. Off by default (RFC 8725 §3.9, §3.11: a token goes only where it is
  // meant to be accepted); for systems whose tokens name no audience at all.
  bool forward_any_audience = false;
};

// ClaimHeaderEncoding: how a claim's value is written into a header.
enum class ClaimHeaderEncoding {
  // ascii: as text; a value with anything but printable ASCII (0x20-0x7E) is refused
  // (bad_claim), so that CR, LF, NUL and non-ASCII bytes never reach a header.
  ascii,
  // base64url: always base64url-encoded (unpadded) UTF-8, so any value goes through and
  // the receiver decodes every value alike (never guessing whether one was encoded).
  base64url,
};

// Outbound: which headers a call to a named destination carries. Configure it once at
// start-up; `headers_for` is then thread-safe.
class TOKENPASS_EXPORT Outbound {
 public:
  // forward: `Authorization: Bearer <the caller's verified token>`.
  static Outbound forward();
  // service_token: this service's own client-credentials token in `header`
  // (`Bearer <token>` in Authorization; the bare token in any other header).
  static Outbound service_token(std::shared_ptr<const ClientCredentials> credentials,
                                std::string header = "Authorization");
  // forward_and_service_token: both; the service token goes in `service_header`.
  static Outbound forward_and_service_token(std::shared_ptr<const ClientCredentials> credentials,
                                            std::string service_header = "X-MS-TOKEN");
  // exchange: the caller's token traded for one meant for the destination's audience,
  // sent as `Authorization: Bearer`.
  static Outbound exchange(std::shared_ptr<const TokenExchange> exchange);

  // allow puts a destination on the allow list under `name`.
  Outbound& allow(std::string name, Destination destination);
  // clock: what "expired" is measured against (default system_clock::now).
  Outbound& clock(Clock clock);
  // claim_to_header: every call made for a caller also carries `header` set from the
  // caller's *verified* token at `pointer` (JSON Pointer, RFC 6901), as Envoy's
  // claim_to_headers: a string as is, a number or boolean as JSON, an array of those
  // joined with ","; an absent claim sends no header; an object, null or nested array
  // is bad_claim. The receiving side must strip such headers from callers it does not
  // trust to set them (ProtectOptions::claim_headers). Throws std::invalid_argument for
  // a header name that is no token or is Authorization, DPoP or a token header of this
  // policy, or a pointer that is not one.
  Outbound& claim_to_header(std::string header, std::string pointer,
                            ClaimHeaderEncoding encoding = ClaimHeaderEncoding::ascii);

  // headers_for returns the headers for a call to `destination` on behalf of `caller`
  // (null when there is no end user: service-token policies only). Errors:
  // invalid_request (destination not allowed, or a caller is needed and missing, or a
  // DPoP-bound token to send without `call`); bad_claim (a claim_to_header value that
  // cannot be written); expired (the caller's token has expired:
  // it is never sent on); bad_audience (a token to forward whose `aud` does not name the
  // destination's audience, unless `forward_any_audience`); bad_binding (a token to
  // forward that is bound, `cnf.x5t#S256` or `cnf.jkt`: the next hop would refuse it;
  // call with a service token instead); http_error or token_request_refused (no service
  // or exchanged token could be had, as ClientCredentials::token says). Never throws.
  Result<HttpHeaders> headers_for(std::string_view destination, const VerifiedToken* caller) const;
  // headers_for a caller that is always there: as the pointer overload.
  Result<HttpHeaders> headers_for(std::string_view destination, const VerifiedToken& caller) const {
    return headers_for(destination, &caller);
  }
  // headers_for a call whose method and URL are given: a DPoP-bound service or exchanged
  // token (ClientCredentialsOptions::dpop) goes as `Authorization: DPoP <token>` with a
  // `DPoP` proof for exactly that call (RFC 9449 §7). When the server answers 401 with a
  // `DPoP-Nonce` header, give it to the signer (DpopSigner::remember_nonce) and call again.
  Result<HttpHeaders> headers_for(std::string_view destination, const VerifiedToken* caller,
                                  const RequestTarget& call) const;

 private:
  enum class Mode { forward, service_token, forward_and_service_token, exchange };
  Result<HttpHeaders> headers_for(std::string_view destination, const VerifiedToken* caller,
                                  const RequestTarget* call) const;
  Outbound(Mode mode, std::shared_ptr<const ClientCredentials> credentials,
           std::shared_ptr<const TokenExchange> exchange, std::string header);
  Mode mode_;
  std::shared_ptr<const ClientCredentials> credentials_;
  std::shared_ptr<const TokenExchange> exchange_;
  std::string service_header_;
  std::map<std::string, Destination, std::less<>> destinations_;
  Clock clock_;
  struct ClaimHeader {
    std::string header;
    std::string pointer;
    ClaimHeaderEncoding encoding;
  };
  std::vector<ClaimHeader> claim_headers_;
};

}  // namespace tokenpass

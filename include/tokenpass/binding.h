// tokenpass/binding.h: who is calling, by certificate, and tokens bound to it (RFC 8705).
//  - `PeerCertificate`: what a service needs of a (verified) client certificate: its
//    subject, its DNS and URI SANs (SPIFFE IDs such as spiffe://shop/billing) and its
//    SHA-256 thumbprint, computed once per connection by the adapters.
//  - `Presented`: what a request proves besides its token; `Verifier::verify(token,
//    presented)` checks a bound token's `cnf` against it (errc::bad_binding).
//  - `bind_to_certificate`: the issuing side, `cnf: {"x5t#S256": ...}` on a token.
// A certificate-bound token is worth nothing without the client's private key: a stolen
// copy is refused over any other connection. The same holds for forwarding: a service
// that passes a bound token on to another service cannot use it there (its own
// certificate differs), and `Outbound` refuses to. Forward nothing bound: call the next
// hop with a service token of your own, or, as the token's holder (the client with its
// certificate), exchange it (RFC 8693) for a token meant for the next hop before passing
// that on. A token endpoint checks a bound subject token against the exchanging
// client's certificate, so no one else can exchange it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/claims.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"

namespace tokenpass {

// PeerCertificate: the parts of a client certificate a service decides by. The adapters
// make one per connection; from_der / from_pem read one.
struct TOKENPASS_EXPORT PeerCertificate {
  // subject: the subject name in RFC 2253 form ("CN=billing,O=shop").
  std::string subject;
  // dns_names / uris: the subjectAltName entries of those types, in order.
  std::vector<std::string> dns_names;
  std::vector<std::string> uris;  // the URI SANs (SPIFFE IDs among them), in order
  // thumbprint: base64url (unpadded) SHA-256 of the DER certificate: RFC 8705 §3.1
  // `x5t#S256`.
  std::string thumbprint;
  // verified: the TLS stack verified the chain to a trusted CA. False for a certificate
  // the server took without verifying it (RFC 8705 §2.2 self-signed client
  // certificates), whose only use is its thumbprint.
  bool verified = false;

  // from_der / from_pem read an X.509 certificate (for PEM, text before the block is
  // ignored, RFC 7468 §2); `verified` is left false. Errors: malformed.
  static Result<PeerCertificate> from_der(std::string_view der);
  static Result<PeerCertificate> from_pem(std::string_view pem);

  // has_identity: `id` with a ':' equals one of the URI SANs exactly; `id` without one
  // equals one of the DNS SANs, compared case-insensitively.
  bool has_identity(std::string_view id) const noexcept;
};

struct DpopOptions;  // dpop.h

// DpopRequest: a DPoP proof as it came with a request (the `DPoP` header), and the
// request it must name.
struct DpopRequest {
  std::string_view proof;                // the `DPoP` header's value, a compact JWS
  std::string_view htm;                  // the request's method
  std::string_view htu;                  // the request's URI
  const DpopOptions* options = nullptr;  // null: DpopOptions{}
};

// Presented: what came with a token besides the token itself. Empty means nothing: a
// bound token is then refused. It holds views (no copy per request): what they point to
// must outlive the verify call.
struct Presented {
  // certificate_thumbprint: `PeerCertificate::thumbprint` of the connection's client
  // certificate. The TLS handshake proved possession of its key, whether or not its
  // chain was verified: RFC 8705 §3 binds to the certificate itself.
  std::string_view certificate_thumbprint;
  // dpop: a DPoP proof (RFC 9449). After every claim rule the Verifier checks it
  // (check_dpop_proof: bad_proof, use_dpop_nonce), then that the token carries `cnf.jkt`
  // equal to its key's thumbprint (bad_binding), then records its `jti` in
  // `Policy::proof_replay_store` when there is one (replayed), then the token's own.
  const DpopRequest* dpop = nullptr;
};

// bind_to_certificate sets `cnf` to {"x5t#S256": thumbprint} (other confirmation
// members the builder holds are kept). Returns `claims`.
TOKENPASS_EXPORT ClaimsBuilder& bind_to_certificate(ClaimsBuilder& claims, std::string_view thumbprint);

// bind_to_dpop_key sets `cnf.jkt` (RFC 9449 §6.1): the token is then accepted only with
// a DPoP proof signed by the key of that thumbprint (DpopProof::jkt). Returns `claims`.
TOKENPASS_EXPORT ClaimsBuilder& bind_to_dpop_key(ClaimsBuilder& claims, std::string_view jkt);

}  // namespace tokenpass

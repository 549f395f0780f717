// tokenpass/forwarded.h: a service behind a TLS-terminating proxy (nginx, HAProxy,
// Envoy) learns its caller's client certificate from a header the proxy sets:
//  - RFC 9440 `Client-Cert: :<base64 DER>:` (and `Client-Cert-Chain`),
//  - Envoy's `x-forwarded-client-cert` (`Hash=...;Cert="<URL-encoded PEM>";...`),
//  - a header holding a URL-encoded PEM (nginx's `$ssl_client_escaped_cert`).
// Such a header is believed only from a trusted proxy: a peer address in a configured
// range, or a connection whose own verified client certificate has a configured
// identity. From anyone else it is refused (errc::untrusted_forward), never trusted and
// never ignored (RFC 9700 §4.13): a service reachable around its proxy must not let a
// caller claim a certificate it does not hold. A forwarded certificate then serves RFC
// 8705 binding and the per-route identity allow lists exactly as one presented on the
// connection.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/binding.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/propagation.h"

namespace tokenpass {

// TrustedCallers: who may speak for others: peers by address range and by the
// identities of their own (verified) client certificate. Immutable, thread-safe.
class TOKENPASS_EXPORT TrustedCallers {
 public:
  // Trusts no one.
  TrustedCallers() = default;
  // networks: IPv4 or IPv6 addresses or CIDR ranges ("127.0.0.1", "10.0.0.0/8",
  // "::1/128"); an IPv4-mapped IPv6 peer ("::ffff:10.1.2.3") is matched as IPv4.
  // identities: as `PeerCertificate::has_identity` (a ':' makes it a URI SAN such as
  // "spiffe://shop/ingress", else a DNS SAN), of a verified certificate only. Throws
  // std::invalid_argument for a range that does not parse.
  TrustedCallers(const std::vector<std::string>& networks, std::vector<std::string> identities);

  // trusts: the connection comes from `remote_address` (an IP literal, as servers
  // report it) in one of the ranges, or presents `connection_peer`, verified, with one
  // of the identities.
  bool trusts(std::string_view remote_address, const PeerCertificate* connection_peer) const noexcept;
  // empty: no range and no identity: it trusts no one.
  bool empty() const noexcept { return networks_.empty() && identities_.empty(); }

 private:
  struct Network {
    unsigned char bytes[16] = {};
    std::size_t length = 0;  // 4 or 16
    unsigned prefix = 0;
  };
  std::vector<Network> networks_;
  std::vector<std::string> identities_;
};

// ForwardedFormat: how the proxy writes the certificate.
enum class ForwardedFormat {
  client_cert,   // RFC 9440: `Client-Cert: :<base64 DER>:`, optional `Client-Cert-Chain`
  envoy_xfcc,    // Envoy: `x-forwarded-client-cert`, its nearest (last) element
  escaped_pem,   // a URL-encoded PEM certificate (nginx `$ssl_client_escaped_cert`)
};

// ForwardedCertificateOptions: which proxies forward the caller's certificate, and how.
struct ForwardedCertificateOptions {
  // proxies: who may forward a certificate. Must not be empty.
  TrustedCallers proxies;
  ForwardedFormat format = ForwardedFormat::client_cert;  // how they write it
  // header: where the certificate comes; empty: `Client-Cert` (client_cert),
  // `X-Forwarded-Client-Cert` (envoy_xfcc). Required for escaped_pem (e.g.
  // "X-SSL-Client-Cert").
  std::string header;
  // proxy_verifies: the proxy verifies client certificates against a CA (nginx
  // `ssl_verify_client on`, HAProxy `verify required`), so a forwarded certificate counts
  // as verified (PeerCertificate::verified): identity allow lists accept it. Off: only
  // its thumbprint serves (binding), as for RFC 8705 §2.2 self-signed certificates.
  bool proxy_verifies = true;
  // max_header_bytes: a longer certificate header is refused (too_large).
  std::size_t max_header_bytes = 32 * 1024;
};

// ForwardedCertificates: finds the caller's certificate of a request. Immutable,
// thread-safe.
class TOKENPASS_EXPORT ForwardedCertificates {
 public:
  // Throws std::invalid_argument when no proxy is trusted or escaped_pem has no header.
  explicit ForwardedCertificates(ForwardedCertificateOptions options);

  // caller_certificate: the certificate of whoever is calling.
  //  - From a trusted proxy: the forwarded certificate (null when the proxy forwarded
  //    none: the proxy's own certificate is not the caller's). Errors: invalid_request
  //    (the header is repeated, or does not hold a certificate in the format),
  //    too_large.
  //  - From anyone else: `connection_peer`, unless the request carries any forwarding
  //    header (`header_names()`): then untrusted_forward.
  // Never throws.
  Result<std::shared_ptr<const PeerCertificate>> caller_certificate(
      const HeaderLookup& headers, std::string_view remote_address,
      std::shared_ptr<const PeerCertificate> connection_peer) const;

  // header_names: every header that forwards a certificate: the configured one, and
  // `Client-Cert`, `Client-Cert-Chain` and `X-Forwarded-Client-Cert` whatever the
  // format (none of them may come from a caller that is not a trusted proxy).
  const std::vector<std::string>& header_names() const noexcept { return header_names_; }
  // options: as given to the constructor.
  const ForwardedCertificateOptions& options() const noexcept { return options_; }

 private:
  ForwardedCertificateOptions options_;
  std::vector<std::string> header_names_;
};

// The three formats, one header value each (for tests and other frameworks). Errors:
// invalid_request when the value does not hold one certificate in the format.
// parse_client_cert: an RFC 8941 byte sequence (`:` base64 `:`) of DER.
TOKENPASS_EXPORT Result<PeerCertificate> parse_client_cert(std::string_view value);
// parse_client_cert_chain: an RFC 8941 list of byte sequences; returns how many
// certificates it holds, each of which must parse.
TOKENPASS_EXPORT Result<std::size_t> parse_client_cert_chain(std::string_view value);
// parse_xfcc: the last element of an x-forwarded-client-cert value: its `Cert` (a
// URL-encoded PEM), or, without one, its `Hash` (hex SHA-256 of the DER) as a
// thumbprint-only certificate (no subject, no SANs).
TOKENPASS_EXPORT Result<PeerCertificate> parse_xfcc(std::string_view value);
// parse_escaped_pem: a URL-encoded PEM certificate.
TOKENPASS_EXPORT Result<PeerCertificate> parse_escaped_pem(std::string_view value);

}  // namespace tokenpass

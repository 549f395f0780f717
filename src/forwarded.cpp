#include "tokenpass/forwarded.h"

#include <arpa/inet.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "internal/base64url.h"
#include "tokenpass/http.h"

namespace tokenpass {

namespace {

constexpr std::string_view kClientCert = "Client-Cert";
constexpr std::string_view kClientCertChain = "Client-Cert-Chain";
constexpr std::string_view kXfcc = "X-Forwarded-Client-Cert";

Error bad(std::string_view detail) { return make_error(errc::invalid_request, detail); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An IP literal as 4 or 16 bytes; an IPv4-mapped IPv6 address becomes its IPv4 one.
bool parse_address(std::string_view text, unsigned char (&out)[16], std::size_t& length) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out) == 1) {
    length = 4;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out) != 1) return false;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, out)) {
    std::copy(out + 12, out + 16, out);
    length = 4;
    return true;
  }
  length = 16;
  return true;
}

// Standard base64 with optional padding (RFC 8941 §3.3.5 byte sequences).
bool base64_decode(std::string_view text, std::string& out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string url(text);
  for (char& c : url) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    } else if (c == '-' || c == '_') {
      return false;
    }
  }
  return internal::b64url_decode(url, out);
}

// uri_unescape: %XX decoded; '+' stays '+' (it is a base64 character in a PEM).
bool uri_unescape(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = internal::hex_value(s[i + 1]);
    const int lo = internal::hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// split_outside_quotes: `s` cut at `sep` where it is not inside a quoted string.
std::vector<std::string_view> split_outside_quotes(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

Result<PeerCertificate> from_der_bytes(std::string_view der) {
  auto cert = PeerCertificate::from_der(der);
  if (!cert) return bad("the forwarded certificate is not a DER X.509 certificate");
  return cert;
}

Result<PeerCertificate> from_escaped(std::string_view value) {
  std::string pem;
  if (!uri_unescape(value, pem)) return bad("the forwarded certificate has a bad %-escape");
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return bad("the forwarded certificate is not a PEM certificate");
  }
  auto cert = PeerCertificate::from_pem(pem);
  if (!cert) return bad("the forwarded PEM certificate does not parse");
  return cert;
}

// hash_thumbprint: an XFCC `Hash` (hex SHA-256 of the DER) as an x5t#S256 thumbprint;
// empty when it is not 64 hex digits.
std::string hash_thumbprint(std::string_view hex) {
  if (hex.size() != 64) return {};
  std::string digest;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = internal::hex_value(hex[i]);
    const int lo = internal::hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    digest.push_back(static_cast<char>(hi * 16 + lo));
  }
  return internal::b64url_encode(digest);
}

}  // namespace

TrustedCallers::TrustedCallers(const std::vector<std::string>& networks, std::vector<std::string> identities)
    : identities_(std::move(identities)) {
  for (const auto& text : networks) {
    Network n;
    const auto slash = text.find('/');
    if (!parse_address(std::string_view(text).substr(0, slash), n.bytes, n.length)) {
      throw std::invalid_argument("tokenpass::TrustedCallers: not an IP address or range: " + text);
    }
    const unsigned max = static_cast<unsigned>(n.length * 8);
    n.prefix = max;
    if (slash != std::string::npos) {
      const std::string bits = text.substr(slash + 1);
      if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), [](char c) {
            return c >= '0' && c <= '9';
          })) {
        throw std::invalid_argument("tokenpass::TrustedCallers: bad prefix length: " + text);
      }
      n.prefix = static_cast<unsigned>(std::stoul(bits));
      // "::ffff:10.0.0.0/104" was mapped to IPv4: its prefix counts the 96 bits dropped.
      if (n.length == 4 && text.find(':') != std::string::npos) {
        if (n.prefix < 96) throw std::invalid_argument("tokenpass::TrustedCallers: bad prefix length: " + text);
        n.prefix -= 96;
      }
      if (n.prefix > max) throw std::invalid_argument("tokenpass::TrustedCallers: bad prefix length: " + text);
    }
    networks_.push_back(n);
  }
  for (const auto& id : identities_) {
    if (id.empty()) throw std::invalid_argument("tokenpass::TrustedCallers: an empty identity");
  }
}

bool TrustedCallers::trusts(std::string_view remote_address, const PeerCertificate* connection_peer) const noexcept {
  try {
    if (connection_peer != nullptr && connection_peer->verified) {
      for (const auto& id : identities_) {
        if (connection_peer->has_identity(id)) return true;
      }
    }
    if (networks_.empty()) return false;
    unsigned char bytes[16] = {};
    std::size_t length = 0;
    if (!parse_address(remote_address, bytes, length)) return false;
    for (const auto& n : networks_) {
      if (n.length != length) continue;
      const unsigned whole = n.prefix / 8;
      const unsigned rest = n.prefix % 8;
      if (!std::equal(n.bytes, n.bytes + whole, bytes)) continue;
      if (rest != 0) {
        const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
        if ((n.bytes[whole] & mask) != (bytes[whole] & mask)) continue;
      }
      return true;
    }
    return false;
  } catch (...) {
    return false;
  }
}

Result<PeerCertificate> parse_client_cert(std::string_view value) {
  value = trim(value);
  if (value.size() < 2 || value.front() != ':' || value.back() != ':') {
    return bad("Client-Cert is not a byte sequence (:base64:)");
  }
  std::string der;
  if (!base64_decode(value.substr(1, value.size() - 2), der)) return bad("Client-Cert is not base64");
  return from_der_bytes(der);
}

Result<std::size_t> parse_client_cert_chain(std::string_view value) {
  std::size_t count = 0;
  for (auto item : split_outside_quotes(value, ',')) {
    auto cert = parse_client_cert(item);
    if (!cert) return bad("Client-Cert-Chain holds something that is not a certificate");
    ++count;
  }
  return count;
}

Result<PeerCertificate> parse_xfcc(std::string_view value) {
  // The nearest proxy appends its element last (Envoy's APPEND_FORWARD).
  const auto elements = split_outside_quotes(value, ',');
  const std::string_view element = trim(elements.back());
  std::string cert_value;
  std::string hash;
  bool have_cert = false;
  for (auto pair : split_outside_quotes(element, ';')) {
    pair = trim(pair);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) return bad("x-forwarded-client-cert: a pair without '='");
    const std::string_view key = pair.substr(0, eq);
    std::string_view raw = pair.substr(eq + 1);
    std::string text;
    if (!raw.empty() && raw.front() == '"') {
      if (raw.size() < 2 || raw.back() != '"') return bad("x-forwarded-client-cert: an unterminated quote");
      raw = raw.substr(1, raw.size() - 2);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
        text.push_back(raw[i]);
      }
    } else {
      text.assign(raw);
    }
    if (header_name_equals(key, "Cert")) {
      if (have_cert) return bad("x-forwarded-client-cert: Cert given twice");
      have_cert = true;
      cert_value = std::move(text);
    } else if (header_name_equals(key, "Hash")) {
      hash = std::move(text);
    }
  }
  if (have_cert) {
    auto cert = from_escaped(cert_value);
    if (!cert) return bad("x-forwarded-client-cert: Cert is not a URL-encoded PEM certificate");
    // When both are given they must describe one certificate.
    if (!hash.empty() && hash_thumbprint(hash) != cert->thumbprint) {
      return bad("x-forwarded-client-cert: Hash does not match Cert");
    }
    return cert;
  }
  PeerCertificate out;
  out.thumbprint = hash_thumbprint(hash);
  if (out.thumbprint.empty()) return bad("x-forwarded-client-cert: neither Cert nor a hex SHA-256 Hash");
  return out;
}

Result<PeerCertificate> parse_escaped_pem(std::string_view value) { return from_escaped(trim(value)); }

ForwardedCertificates::ForwardedCertificates(ForwardedCertificateOptions options) : options_(std::move(options)) {
  if (options_.proxies.empty()) throw std::invalid_argument("tokenpass::ForwardedCertificates: no trusted proxy");
  if (options_.header.empty()) {
    if (options_.format == ForwardedFormat::escaped_pem) {
      throw std::invalid_argument("tokenpass::ForwardedCertificates: escaped_pem needs a header name");
    }
    options_.header = std::string(options_.format == ForwardedFormat::client_cert ? kClientCert : kXfcc);
  }
  header_names_ = {options_.header};
  for (const auto name : {kClientCert, kClientCertChain, kXfcc}) {
    if (!header_name_equals(name, options_.header)) header_names_.emplace_back(name);
  }
}

Result<std::shared_ptr<const PeerCertificate>> ForwardedCertificates::caller_certificate(
    const HeaderLookup& headers, std::string_view remote_address,
    std::shared_ptr<const PeerCertificate> connection_peer) const {
  try {
    if (!options_.proxies.trusts(remote_address, connection_peer.get())) {
      for (const auto& name : header_names_) {
        if (!headers(name).empty()) {
          return make_error(errc::untrusted_forward, "a forwarded client certificate from a caller that is no trusted proxy");
        }
      }
      return connection_peer;
    }
    const auto values = headers(options_.header);
    if (values.empty()) return std::shared_ptr<const PeerCertificate>();
    if (values.size() > 1) return bad("the forwarded certificate header is repeated");
    if (values.front().size() > options_.max_header_bytes) {
      return make_error(errc::too_large, "the forwarded certificate header is too long");
    }
    Result<PeerCertificate> cert = make_error(errc::internal_error);
    switch (options_.format) {
      case ForwardedFormat::client_cert: {
        cert = parse_client_cert(values.front());
        const auto chain = headers(kClientCertChain);
        if (cert && chain.size() > 1) return bad("Client-Cert-Chain is repeated");
        if (cert && chain.size() == 1) {
          if (chain.front().size() > options_.max_header_bytes) {
            return make_error(errc::too_large, "Client-Cert-Chain is too long");
          }
          auto read = parse_client_cert_chain(chain.front());
          if (!read) return read.error();
        }
        break;
      }
      case ForwardedFormat::envoy_xfcc:
        cert = parse_xfcc(values.front());
        break;
      case ForwardedFormat::escaped_pem:
        cert = parse_escaped_pem(values.front());
        break;
    }
    if (!cert) return cert.error();
    // A Hash-only XFCC element has no names: it serves binding and no allow list.
    cert->verified = options_.proxy_verifies;
    return std::shared_ptr<const PeerCertificate>(std::make_shared<PeerCertificate>(std::move(*cert)));
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "reading the forwarded certificate failed");
  }
}

}  // namespace tokenpass

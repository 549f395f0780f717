#include "tokenpass/binding.h"

#include <memory>
#include <utility>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "internal/base64url.h"
#include "internal/openssl.h"
#include "tokenpass/http.h"

namespace tokenpass {

namespace {

std::string ia5(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

Result<PeerCertificate> read(X509* cert) {
  PeerCertificate out;
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "the certificate cannot be encoded");
  }
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  out.thumbprint = internal::b64url_encode(internal::sha256(bytes));

  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "the certificate's subject cannot be read");
  }
  char* text = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &text);
  if (n > 0 && text != nullptr) out.subject.assign(text, static_cast<std::size_t>(n));

  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_DNS) out.dns_names.push_back(ia5(name->d.dNSName));
      if (name->type == GEN_URI) out.uris.push_back(ia5(name->d.uniformResourceIdentifier));
    }
    GENERAL_NAMES_free(names);
  }
  internal::clear_openssl_errors();
  return out;
}

}  // namespace

Result<PeerCertificate> PeerCertificate::from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())),
                                                   X509_free);
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "not a DER X.509 certificate");
  }
  return read(cert.get());
}

Result<PeerCertificate> PeerCertificate::from_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!cert) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "no PEM X.509 certificate");
  }
  return read(cert.get());
}

bool PeerCertificate::has_identity(std::string_view id) const noexcept {
  // A URI has a scheme (and so a ':'); a DNS name never does: each is compared only with
  // SANs of its own type, so that a DNS SAN spelled like a URI matches nothing.
  if (id.find(':') != std::string_view::npos) {
    for (const auto& u : uris) {
      if (u == id) return true;
    }
    return false;
  }
  for (const auto& d : dns_names) {
    if (header_name_equals(d, id)) return true;  // ASCII case-insensitive, as DNS names compare
  }
  return false;
}

namespace {
ClaimsBuilder& confirm(ClaimsBuilder& claims, const char* member, std::string_view value) {
  nlohmann::json cnf = nlohmann::json::object();
  const auto& j = claims.json();
  if (const auto it = j.find("cnf"); it != j.end() && it->is_object()) cnf = *it;
  cnf[member] = std::string(value);
  return claims.claim("cnf", std::move(cnf));
}
}  // namespace

ClaimsBuilder& bind_to_certificate(ClaimsBuilder& claims, std::string_view thumbprint) {
  return confirm(claims, "x5t#S256", thumbprint);
}

ClaimsBuilder& bind_to_dpop_key(ClaimsBuilder& claims, std::string_view jkt) { return confirm(claims, "jkt", jkt); }

}  // namespace tokenpass

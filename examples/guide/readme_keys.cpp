// README "Keys and raw JWS": a generated key and its public JWK set, a key read from an
// X.509 certificate, and a raw JWS signed and checked. The program works in a fresh
// temporary directory, where it first writes issuer.crt (a self-signed P-256
// certificate made with OpenSSL), and checks each result.
#include <tokenpass/tokenpass.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// self_signed_pem: a self-signed P-256 certificate for CN=issuer, in PEM; "" on failure.
std::string self_signed_pem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  if (!pkey || !cert || !out) return "";
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool made =
      X509_set_version(cert.get(), 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1 &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600) != nullptr &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("issuer"), -1,
                                 -1, 0) == 1 &&
      X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), pkey.get()) == 1 &&
      X509_sign(cert.get(), pkey.get(), EVP_sha256()) > 0 && PEM_write_bio_X509(out.get(), cert.get()) == 1;
  if (!made) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("readme_keys." + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  fs::current_path(dir);
  const std::string certificate = self_signed_pem();
  expect(!certificate.empty(), "OpenSSL makes a certificate");
  std::ofstream("issuer.crt") << certificate;

  // [snippet:code]
  tokenpass::Key k = tokenpass::Key::generate(tokenpass::Alg::EdDSA);  // kid = RFC 7638 thumbprint
  std::string jwks = tokenpass::KeySet({k.public_key().value()}).to_public_jwks().dump();
  tokenpass::Key pem = tokenpass::Key::from_pem(read_file("issuer.crt")).value();  // cert: x5t#S256 too
  auto jws = tokenpass::sign_jws(k, "any payload bytes");
  auto checked = tokenpass::verify_jws(*jws, k.public_key().value());  // signature + header rules only
  // [/snippet]

  fs::current_path(fs::temp_directory_path());
  fs::remove_all(dir);

  expect(k.kid() == k.thumbprint(), "the generated key's kid is its thumbprint");
  const auto set = tokenpass::KeySet::from_jwks(jwks);
  expect(set && set->size() == 1 && set->keys().front().kid() == k.kid() && !set->keys().front().is_private(),
         "the JWK set holds the public half, under the same kid");
  expect(pem.type() == tokenpass::KeyType::EC && !pem.is_private(), "the certificate gives its public EC key");
  const auto peer = tokenpass::PeerCertificate::from_pem(certificate);
  expect(peer && pem.x5t_s256() == peer->thumbprint, "the key carries the certificate's x5t#S256");
  expect(checked && checked->payload() == "any payload bytes" && checked->alg() == tokenpass::Alg::EdDSA,
         "the JWS verifies and gives back its payload");
  const auto other = tokenpass::verify_jws(*jws, tokenpass::Key::generate(tokenpass::Alg::EdDSA).public_key().value());
  expect(!other, "another key does not verify it");
  if (failures != 0) return 1;
  std::puts("readme_keys: ok");
  return 0;
}

#include "internal/openssl.h"

#include <array>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

namespace tokenpass::internal {

SharedPkey share(PkeyPtr key) { return SharedPkey(key.release(), EVP_PKEY_free); }

namespace {
struct Digests {
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  // Kept for the life of the process: keys and contexts made from them may outlive
  // any destructor order we could choose.
};
const Digests& digests() {
  static const Digests d;
  return d;
}
}  // namespace

const EVP_MD* digest_for(Alg alg) noexcept {
  const Digests& d = digests();
  switch (alg) {
    case Alg::HS256:
    case Alg::RS256:
    case Alg::PS256:
    case Alg::ES256:
    case Alg::ES256K:
      return d.sha256;
    case Alg::HS384:
    case Alg::RS384:
    case Alg::PS384:
    case Alg::ES384:
      return d.sha384;
    case Alg::HS512:
    case Alg::RS512:
    case Alg::PS512:
    case Alg::ES512:
      return d.sha512;
    default:
      return nullptr;
  }
}

EVP_MAC* hmac_mac() noexcept { return digests().hmac; }

const char* digest_name(Alg alg) noexcept {
  const EVP_MD* md = digest_for(alg);
  const Digests& d = digests();
  return md == nullptr ? nullptr : md == d.sha256 ? "SHA256" : md == d.sha384 ? "SHA384" : "SHA512";
}

void clear_openssl_errors() noexcept { ERR_clear_error(); }

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    clear_openssl_errors();
    throw std::runtime_error("tokenpass: the OpenSSL random generator failed");
  }
  return out;
}

bool ct_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string bn_to_bytes(const BIGNUM* bn, std::size_t width) {
  const int n = BN_num_bytes(bn);
  const std::size_t len = width > static_cast<std::size_t>(n) ? width : static_cast<std::size_t>(n);
  std::string out(len, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len));
  return out;
}

std::string sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, digest_for(Alg::HS256), nullptr);
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

}  // namespace tokenpass::internal

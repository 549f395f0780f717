#include "internal/openssl.h"

#include <array>
#include <atomic>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

namespace tokenpass::internal {

SharedPkey share(PkeyPtr key) { return SharedPkey(key.release(), EVP_PKEY_free); }

namespace {

// The fetched algorithms, kept for the life of the process: keys and contexts made from
// them may outlive any destructor order we could choose. A fetch that fails (memory) is
// not remembered: the next call tries again.
std::atomic<EVP_MD*> g_sha256{nullptr};
std::atomic<EVP_MD*> g_sha384{nullptr};
std::atomic<EVP_MD*> g_sha512{nullptr};
std::atomic<EVP_MAC*> g_hmac{nullptr};

template <class T, T* (*Fetch)(OSSL_LIB_CTX*, const char*, const char*), void (*Free)(T*)>
T* fetched(std::atomic<T*>& slot, const char* name) noexcept {
  if (T* ready = slot.load(std::memory_order_acquire)) return ready;
  T* fresh = Fetch(nullptr, name, nullptr);
  if (fresh == nullptr) {
    clear_openssl_errors();
    return nullptr;
  }
  return publish<T, Free>(slot, fresh);
}

}  // namespace

const char* digest_name(Alg alg) noexcept {
  switch (alg) {
    case Alg::HS256:
    case Alg::RS256:
    case Alg::PS256:
    case Alg::ES256:
    case Alg::ES256K:
      return "SHA256";
    case Alg::HS384:
    case Alg::RS384:
    case Alg::PS384:
    case Alg::ES384:
      return "SHA384";
    case Alg::HS512:
    case Alg::RS512:
    case Alg::PS512:
    case Alg::ES512:
      return "SHA512";
    default:
      return nullptr;
  }
}

const EVP_MD* digest_for(Alg alg) noexcept {
  const char* name = digest_name(alg);
  if (name == nullptr) return nullptr;
  std::atomic<EVP_MD*>& slot = name[3] == '2' ? g_sha256 : name[3] == '3' ? g_sha384 : g_sha512;
  return fetched<EVP_MD, EVP_MD_fetch, EVP_MD_free>(slot, name);
}

EVP_MAC* hmac_mac() noexcept {
  return fetched<EVP_MAC, EVP_MAC_fetch, EVP_MAC_free>(g_hmac, "HMAC");
}

void clear_openssl_errors() noexcept { ERR_clear_error(); }

bool clear_openssl_errors_fatal() noexcept {
  bool fatal = false;
  while (const unsigned long e = ERR_get_error()) {
    if (ERR_FATAL_ERROR(e) || ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) fatal = true;
  }
  return fatal;
}

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

// OpenSSL RAII handles and small helpers. Never included from a public header.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "tokenpass/algorithm.h"

namespace tokenpass::internal {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// publish stores a freshly made object in an empty slot, or, when another thread was
// first, frees it and returns the other one.
template <class T, void (*Free)(T*)>
T* publish(std::atomic<T*>& slot, T* fresh) noexcept {
  T* expected = nullptr;
  if (slot.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
    return fresh;
  }
  Free(fresh);
  return expected;
}

// Shared ownership of an EVP_PKEY (keys copy their metadata, not the key).
using SharedPkey = std::shared_ptr<EVP_PKEY>;
SharedPkey share(PkeyPtr key);

// digest_for: the message digest of `alg`, fetched once per process (EVP_MD_fetch
// costs ~170 ns, too much for every call); null for EdDSA, which hashes internally,
// and null when the fetch failed (memory; the next call fetches again).
const EVP_MD* digest_for(Alg alg) noexcept;

// hmac_mac: the HMAC algorithm, fetched once per process like the digests; null when
// the fetch failed.
EVP_MAC* hmac_mac() noexcept;

// digest_name: "SHA256", "SHA384" or "SHA512" for `alg`; null for EdDSA.
const char* digest_name(Alg alg) noexcept;

// clear_openssl_errors empties this thread's OpenSSL error queue, so that a failure
// we handled does not surface in an unrelated later call.
void clear_openssl_errors() noexcept;

// clear_openssl_errors_fatal empties the queue as clear_openssl_errors does and says
// whether it held a fatal error (memory exhausted, an internal error): a failure of
// OpenSSL itself, not a verdict on the input.
bool clear_openssl_errors_fatal() noexcept;

// random_bytes: `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the
// generator fails, which only happens when the system has no entropy source.
std::string random_bytes(std::size_t n);

// ct_equal compares in constant time for equal lengths.
bool ct_equal(std::string_view a, std::string_view b) noexcept;

// bn_to_bytes: big-endian, left-padded with zeros to `width` (0: minimal length).
std::string bn_to_bytes(const BIGNUM* bn, std::size_t width = 0);

// sha256: the digest of `data`.
std::string sha256(std::string_view data);

}  // namespace tokenpass::internal

// The raw OpenSSL floor that tokenpass is measured against: the signature operation
// alone, on the same bytes, with a key parsed once and a context prepared once and
// copied for each call (marked FINALISE, so that OpenSSL's final step does not copy
// it again), the signature already decoded (and, for ECDSA, already in DER). HMAC: a
// prepared EVP_MAC_CTX duplicated per call. EdDSA: the same copy (OpenSSL 3.0.22 copies
// an initialised EdDSA context; where it cannot, the floor initialises per call).
// Nothing else: no base64url, no JSON, no key selection, no claims.
#pragma once

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "tokenpass/algorithm.h"

namespace tokenpass_bench {

inline const char* digest_name(tokenpass::Alg a) {
  using tokenpass::Alg;
  switch (a) {
    case Alg::HS384: case Alg::RS384: case Alg::PS384: case Alg::ES384: return "SHA384";
    case Alg::HS512: case Alg::RS512: case Alg::PS512: case Alg::ES512: return "SHA512";
    case Alg::EdDSA: case Alg::Ed25519: case Alg::Ed448: return nullptr;
    default: return "SHA256";
  }
}
inline bool is_hmac(tokenpass::Alg a) {
  return a == tokenpass::Alg::HS256 || a == tokenpass::Alg::HS384 || a == tokenpass::Alg::HS512;
}
inline bool is_ecdsa(tokenpass::Alg a) {
  using tokenpass::Alg;
  return a == Alg::ES256 || a == Alg::ES384 || a == Alg::ES512 || a == Alg::ES256K;
}
inline bool is_pss(tokenpass::Alg a) {
  using tokenpass::Alg;
  return a == Alg::PS256 || a == Alg::PS384 || a == Alg::PS512;
}

// Floor: one prepared context for (key, alg, sign or verify). Not thread-safe to
// prepare; `once` may be called from several threads at a time (it only reads the
// prepared context, as tokenpass does).
class Floor {
 public:
  // pkey: the key (not owned) for asymmetric algorithms; secret: the HMAC key.
  // signature: the raw JWS signature bytes the verify floor checks.
  Floor(tokenpass::Alg alg, EVP_PKEY* pkey, const std::string& secret, bool sign,
        const std::string& signing_input, const std::string& signature)
      : alg_(alg), sign_(sign), input_(signing_input), sig_(signature), pkey_(pkey) {
    const char* dn = digest_name(alg);
    EVP_MD* md = dn != nullptr ? EVP_MD_fetch(nullptr, dn, nullptr) : nullptr;
    if (is_hmac(alg)) {
      EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
      mac_ = EVP_MAC_CTX_new(mac);
      EVP_MAC_free(mac);
      OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(dn), 0),
          OSSL_PARAM_construct_end()};
      if (EVP_MAC_init(mac_, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                       params) != 1) {
        throw std::runtime_error("floor: EVP_MAC_init failed");
      }
    } else {
      prepared_ = EVP_MD_CTX_new();
      EVP_PKEY_CTX* pctx = nullptr;
      const int ok = sign ? EVP_DigestSignInit(prepared_, &pctx, md, nullptr, pkey)
                          : EVP_DigestVerifyInit(prepared_, &pctx, md, nullptr, pkey);
      if (ok != 1) throw std::runtime_error("floor: DigestInit failed");
      if (is_pss(alg)) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
      }
      EVP_MD_CTX* probe = EVP_MD_CTX_new();
      copy_ = EVP_MD_CTX_copy_ex(probe, prepared_) == 1;
      EVP_MD_CTX_free(probe);
    }
    EVP_MD_free(md);
    if (is_ecdsa(alg) && !sign) sig_ = to_der(signature);
    if (!once()) throw std::runtime_error("floor: the operation failed");
  }
  Floor(const Floor&) = delete;
  Floor& operator=(const Floor&) = delete;
  ~Floor() {
    EVP_MAC_CTX_free(mac_);
    EVP_MD_CTX_free(prepared_);
  }

  // copies: whether the prepared context could be copied (else: init per call).
  bool copies() const { return mac_ != nullptr || copy_; }

  // once: one signature operation; true on success.
  bool once() const {
    const auto* in = reinterpret_cast<const unsigned char*>(input_.data());
    const std::size_t n = input_.size();
    if (mac_ != nullptr) {
      EVP_MAC_CTX* c = EVP_MAC_CTX_dup(mac_);
      unsigned char out[EVP_MAX_MD_SIZE];
      std::size_t len = 0;
      const bool ok = EVP_MAC_update(c, in, n) == 1 && EVP_MAC_final(c, out, &len, sizeof out) == 1;
      EVP_MAC_CTX_free(c);
      return ok && (sign_ || (len == sig_.size() && CRYPTO_memcmp(out, sig_.data(), len) == 0));
    }
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (copy_) {
      EVP_MD_CTX_copy_ex(c, prepared_);
    } else if (sign_) {
      EVP_DigestSignInit(c, nullptr, nullptr, nullptr, pkey_);
    } else {
      EVP_DigestVerifyInit(c, nullptr, nullptr, nullptr, pkey_);
    }
    EVP_MD_CTX_set_flags(c, EVP_MD_CTX_FLAG_FINALISE);
    bool ok = false;
    if (sign_) {
      unsigned char sig[2048];
      std::size_t len = sizeof sig;
      ok = EVP_DigestSign(c, sig, &len, in, n) == 1;
    } else {
      ok = EVP_DigestVerify(c, reinterpret_cast<const unsigned char*>(sig_.data()), sig_.size(), in,
                            n) == 1;
    }
    EVP_MD_CTX_free(c);
    return ok;
  }

 private:
  static std::string to_der(const std::string& raw) {
    const std::size_t w = raw.size() / 2;
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(p, static_cast<int>(w), nullptr),
                   BN_bin2bn(p + w, static_cast<int>(w), nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return out;
  }

  tokenpass::Alg alg_;
  bool sign_;
  std::string input_;
  std::string sig_;
  EVP_PKEY* pkey_;
  EVP_MD_CTX* prepared_ = nullptr;
  EVP_MAC_CTX* mac_ = nullptr;
  bool copy_ = false;
};

// b64url_decode: the bytes of unpadded base64url text (the benchmarks' own decoder, so
// that the floor's inputs do not come from the code being measured).
inline std::string b64url_decode(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  const std::size_t pad = (4 - s.size() % 4) % 4;
  s.append(pad, '=');
  std::string out(s.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s.data()),
                                static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zeros
  return out;
}

// pkey_from_pem: an OpenSSL key from PEM (private or public), or null.
inline EVP_PKEY* pkey_from_pem(const std::string& pem, bool is_private) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return k;
}

}  // namespace tokenpass_bench

// The raw OpenSSL floor that tokenpass is measured against: the signature operation
// alone, on the same bytes, with a key parsed once and a context prepared once and
// copied for each call (marked FINALISE, so that OpenSSL's final step does not copy
// it again), the signature already decoded (and, for ECDSA, already in DER). HMAC: a
// prepared EVP_MAC_CTX duplicated per call. EdDSA: the same copy (OpenSSL 3.0.22 copies
// an initialised EdDSA context; where it cannot, the floor initialises per call).
// Nothing else: no base64url, no JSON, no key selection, no claims. IssueFloor, below, is
// the exception: the floor of making a whole token.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
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
    if (sign_) {
      unsigned char sig[kMaxSignature];
      std::size_t len = sizeof sig;
      return sign(in, n, sig, &len);
    }
    if (mac_ != nullptr) {
      EVP_MAC_CTX* c = EVP_MAC_CTX_dup(mac_);
      unsigned char out[EVP_MAX_MD_SIZE];
      std::size_t len = 0;
      const bool ok = EVP_MAC_update(c, in, n) == 1 && EVP_MAC_final(c, out, &len, sizeof out) == 1;
      EVP_MAC_CTX_free(c);
      return ok && len == sig_.size() && CRYPTO_memcmp(out, sig_.data(), len) == 0;
    }
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (copy_) {
      EVP_MD_CTX_copy_ex(c, prepared_);
    } else {
      EVP_DigestVerifyInit(c, nullptr, nullptr, nullptr, pkey_);
    }
    EVP_MD_CTX_set_flags(c, EVP_MD_CTX_FLAG_FINALISE);
    const bool ok = EVP_DigestVerify(c, reinterpret_cast<const unsigned char*>(sig_.data()),
                                     sig_.size(), in, n) == 1;
    EVP_MD_CTX_free(c);
    return ok;
  }

  // Room for any signature `sign` writes (RSA up to 16384 bits).
  static constexpr std::size_t kMaxSignature = 2048;
  // max_signature_size: the most `sign` writes with this key (ECDSA: DER).
  std::size_t max_signature_size() const {
    return mac_ != nullptr ? EVP_MAX_MD_SIZE : static_cast<std::size_t>(EVP_PKEY_get_size(pkey_));
  }

  // sign: the signature operation of a sign floor over `in`, written to `sig` (`*len`
  // bytes of room, at most kMaxSignature needed; set to the signature's length) as
  // OpenSSL makes it: ECDSA in DER. True on success.
  bool sign(const unsigned char* in, std::size_t n, unsigned char* sig, std::size_t* len) const {
    if (mac_ != nullptr) {
      EVP_MAC_CTX* c = EVP_MAC_CTX_dup(mac_);
      const bool ok = EVP_MAC_update(c, in, n) == 1 && EVP_MAC_final(c, sig, len, *len) == 1;
      EVP_MAC_CTX_free(c);
      return ok;
    }
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (copy_) {
      EVP_MD_CTX_copy_ex(c, prepared_);
    } else {
      EVP_DigestSignInit(c, nullptr, nullptr, nullptr, pkey_);
    }
    EVP_MD_CTX_set_flags(c, EVP_MD_CTX_FLAG_FINALISE);
    const bool ok = EVP_DigestSign(c, sig, len, in, n) == 1;
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

// IssueFloor: the floor of issuing an access token (`Issuer::issue`): what a program on
// raw OpenSSL must do to make the same token with the same key: 16 bytes from RAND_bytes
// for the jti, the payload written with snprintf, base64url of header, payload and
// signature (EVP_EncodeBlock, then the URL alphabet and no padding), and the signature
// operation of the sign Floor above over these bytes, an ECDSA signature converted from
// DER to R || S by hand; the token is built in one std::string, as tokenpass returns
// one. Nothing else: no JSON escaping or UTF-8 checks, no claim types, no options.
// With `random_jti` false, the jti is 16 fixed bytes instead (no RAND_bytes): the floor
// of everything but the jti's randomness, which no real issuer can skip. `once` may be
// called from several threads at a time.
class IssueFloor {
 public:
  // Claims: what the caller sets, and the issuer's iss and lifetime in seconds; the
  // payload is {aud, client_id, scope, sub, iss, iat, exp, jti}.
  struct Claims {
    std::string aud, client_id, scope, sub, iss;
    long long lifetime = 300;
  };
  // signer: a sign Floor for `alg` (not owned); header: the protected header's JSON text.
  IssueFloor(const Floor& signer, tokenpass::Alg alg, std::string header, Claims claims,
             bool random_jti = true)
      : signer_(signer),
        header_(std::move(header)),
        claims_(std::move(claims)),
        random_jti_(random_jti) {
    using tokenpass::Alg;
    ec_width_ = alg == Alg::ES384 ? 48 : alg == Alg::ES512 ? 66 : is_ecdsa(alg) ? 32 : 0;
    if (once().empty()) throw std::runtime_error("issue floor: the operation failed");
  }

  // once: a fresh token; empty on failure.
  std::string once() const {
    unsigned char jti[16] = {0x5b, 0x1f, 0x0a, 0x6e, 0x3c, 0x2d, 0x4e, 0x8f,
                             0x9a, 0x7b, 0x6c, 0x5d, 0x4e, 0x3f, 0x2a, 0x1b};
    if (random_jti_ && RAND_bytes(jti, sizeof jti) != 1) return {};
    unsigned char jti_b64[32];  // 22 characters, EVP_EncodeBlock's padding and NUL
    jti_b64[b64url_into(jti_b64, jti, sizeof jti)] = '\0';
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    char payload[1024];
    const int n = std::snprintf(
        payload, sizeof payload,
        R"({"aud":"%s","client_id":"%s","scope":"%s","sub":"%s","iss":"%s","iat":%lld,)"
        R"("exp":%lld,"jti":"%s"})",
        claims_.aud.c_str(), claims_.client_id.c_str(), claims_.scope.c_str(), claims_.sub.c_str(),
        claims_.iss.c_str(), now, now + claims_.lifetime, reinterpret_cast<const char*>(jti_b64));
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof payload) return {};
    // Room for every part with its padding and EVP_EncodeBlock's NUL: one allocation.
    std::string out;
    out.reserve(encoded(header_.size()) + encoded(static_cast<std::size_t>(n)) +
                encoded(signer_.max_signature_size()) + 2);
    append_b64url(out, reinterpret_cast<const unsigned char*>(header_.data()), header_.size());
    out += '.';
    append_b64url(out, reinterpret_cast<const unsigned char*>(payload),
                  static_cast<std::size_t>(n));
    unsigned char sig[Floor::kMaxSignature];
    std::size_t len = sizeof sig;
    if (!signer_.sign(reinterpret_cast<const unsigned char*>(out.data()), out.size(), sig, &len)) {
      return {};
    }
    unsigned char raw[2 * 66];
    const unsigned char* s = sig;
    if (ec_width_ != 0) {
      if (!der_to_raw(sig, len, raw)) return {};
      s = raw;
      len = 2 * ec_width_;
    }
    out += '.';
    append_b64url(out, s, len);
    return out;
  }

 private:
  // encoded: room for EVP_EncodeBlock's output of `n` bytes, its padding and NUL.
  static constexpr std::size_t encoded(std::size_t n) { return (n + 2) / 3 * 4 + 1; }

  // b64url_into: base64url of `p` at `dst` (EVP_EncodeBlock's base64, made URL-safe in
  // place, padding dropped); returns its length.
  static std::size_t b64url_into(unsigned char* dst, const unsigned char* p, std::size_t n) {
    std::size_t len = static_cast<std::size_t>(EVP_EncodeBlock(dst, p, static_cast<int>(n)));
    while (len > 0 && dst[len - 1] == '=') --len;
    for (std::size_t i = 0; i < len; ++i) {
      if (dst[i] == '+') dst[i] = '-';
      if (dst[i] == '/') dst[i] = '_';
    }
    return len;
  }

  static void append_b64url(std::string& out, const unsigned char* p, std::size_t n) {
    const std::size_t at = out.size();
    out.resize(at + encoded(n));
    out.resize(at + b64url_into(reinterpret_cast<unsigned char*>(&out[at]), p, n));
  }

  // der_to_raw: OpenSSL's DER ECDSA signature as R || S, each left-padded to the width.
  bool der_to_raw(const unsigned char* der, std::size_t len, unsigned char* out) const {
    std::size_t i = 2;
    if (len < 2 || der[0] != 0x30) return false;
    if (der[1] == 0x81) ++i;
    for (int part = 0; part < 2; ++part) {
      if (i + 2 > len || der[i] != 0x02) return false;
      std::size_t n = der[i + 1];
      const unsigned char* v = der + i + 2;
      i += 2 + n;
      if (i > len) return false;
      while (n > ec_width_ && *v == 0) {
        ++v;
        --n;
      }
      if (n > ec_width_) return false;
      std::memset(out + part * ec_width_, 0, ec_width_ - n);
      std::memcpy(out + part * ec_width_ + ec_width_ - n, v, n);
    }
    return true;
  }

  const Floor& signer_;
  std::string header_;
  Claims claims_;
  bool random_jti_;
  std::size_t ec_width_ = 0;
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

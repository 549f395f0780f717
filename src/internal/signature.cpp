#include "internal/signature.h"

#include <cstring>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "internal/openssl.h"

namespace tokenpass::internal {

namespace {

bool is_hmac(Alg a) { return a == Alg::HS256 || a == Alg::HS384 || a == Alg::HS512; }
bool is_pss(Alg a) { return a == Alg::PS256 || a == Alg::PS384 || a == Alg::PS512; }
bool is_ecdsa(Alg a) {
  return a == Alg::ES256 || a == Alg::ES384 || a == Alg::ES512 || a == Alg::ES256K;
}

std::size_t ec_field_bytes(Curve crv) {
  switch (crv) {
    case Curve::P384:
      return 48;
    case Curve::P521:
      return 66;
    default:
      return 32;
  }
}

// ---- the signature primitives -------------------------------------------------

// init_ctx prepares a DigestSign/DigestVerify context with the padding `alg` needs.
bool init_ctx(EVP_MD_CTX* ctx, const KeyData& k, Alg alg, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = digest_for(alg);
  // Only EdDSA signs without a separate digest; a missing one is a failed fetch.
  if (md == nullptr && digest_name(alg) != nullptr) return false;
  const int ok = sign ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, k.pkey.get())
                      : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, k.pkey.get());
  if (ok != 1) return false;
  if (is_pss(alg)) {
    // RFC 7518 §3.5: MGF1 with the same hash, and a salt as long as the hash output.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return false;
    }
  } else if (k.kty == KeyType::RSA) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  }
  return true;
}

// prepared_md: the key's context for (`alg`, sign or verify), made on first use.
EVP_MD_CTX* prepared_md(const KeyData& k, Alg alg, bool sign) {
  auto& slot = (sign ? k.prepared.sign : k.prepared.verify)[static_cast<std::size_t>(alg)];
  if (EVP_MD_CTX* ready = slot.load(std::memory_order_acquire)) return ready;
  MdCtxPtr fresh(EVP_MD_CTX_new());
  if (!fresh || !init_ctx(fresh.get(), k, alg, sign)) {
    clear_openssl_errors();
    return nullptr;
  }
  return publish<EVP_MD_CTX, EVP_MD_CTX_free>(slot, fresh.release());
}

// copy_prepared: a context of its own for one signature operation. FINALISE tells
// OpenSSL that the context is used once, so that its final step need not duplicate
// the context again (it does, without the flag, to keep it reusable).
MdCtxPtr copy_prepared(const KeyData& k, Alg alg, bool sign) {
  EVP_MD_CTX* prepared = prepared_md(k, alg, sign);
  if (prepared == nullptr) return nullptr;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), prepared) != 1) return nullptr;
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
  return ctx;
}

// hmac writes the MAC of `input` (at most EVP_MAX_MD_SIZE bytes) from a copy of the
// key's prepared HMAC context.
bool hmac(const KeyData& k, Alg alg, std::string_view input, unsigned char* out,
          std::size_t* len) {
  const std::size_t index = alg == Alg::HS256 ? 0 : alg == Alg::HS384 ? 1 : 2;
  auto& slot = k.prepared.mac[index];
  EVP_MAC_CTX* prepared = slot.load(std::memory_order_acquire);
  if (prepared == nullptr) {
    EVP_MAC* mac = hmac_mac();
    if (mac == nullptr) return false;
    MacCtxPtr fresh(EVP_MAC_CTX_new(mac));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char*>(digest_name(alg)), 0),
        OSSL_PARAM_construct_end()};
    if (!fresh || EVP_MAC_init(fresh.get(), reinterpret_cast<const unsigned char*>(k.secret.data()),
                               k.secret.size(), params) != 1) {
      return false;
    }
    prepared = publish<EVP_MAC_CTX, EVP_MAC_CTX_free>(slot, fresh.release());
  }
  MacCtxPtr ctx(EVP_MAC_CTX_dup(prepared));
  return ctx &&
         EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()),
                        input.size()) == 1 &&
         EVP_MAC_final(ctx.get(), out, len, EVP_MAX_MD_SIZE) == 1;
}

// ECDSA signatures in JWS are R || S, each exactly the field size (RFC 7518 §3.4);
// OpenSSL speaks DER (SEQUENCE of two INTEGERs). The conversions are done by hand:
// through BIGNUMs they cost more allocations than the rest of a verify.
constexpr std::size_t kMaxEcWidth = 66;                        // P-521
constexpr std::size_t kMaxEcDer = 3 + 2 * (2 + 1 + kMaxEcWidth);  // 141

// raw_to_der writes the minimal DER encoding of R || S (`2 * width` bytes) and
// returns its length. Values out of range (zero, above the order) are OpenSSL's to
// refuse; this only re-encodes.
std::size_t raw_to_der(const unsigned char* raw, std::size_t width, unsigned char* out) {
  std::size_t skip[2];
  bool pad[2];
  std::size_t len[2];
  for (int i = 0; i < 2; ++i) {
    const unsigned char* v = raw + i * width;
    skip[i] = 0;
    while (skip[i] + 1 < width && v[skip[i]] == 0) ++skip[i];
    pad[i] = (v[skip[i]] & 0x80) != 0;  // DER INTEGERs are signed
    len[i] = width - skip[i] + (pad[i] ? 1 : 0);
  }
  const std::size_t content = 4 + len[0] + len[1];
  std::size_t n = 0;
  out[n++] = 0x30;
  if (content >= 0x80) out[n++] = 0x81;
  out[n++] = static_cast<unsigned char>(content);
  for (int i = 0; i < 2; ++i) {
    out[n++] = 0x02;
    out[n++] = static_cast<unsigned char>(len[i]);
    if (pad[i]) out[n++] = 0;
    std::memcpy(out + n, raw + i * width + skip[i], width - skip[i]);
    n += width - skip[i];
  }
  return n;
}

// der_to_raw reads OpenSSL's DER signature into R || S, each left-padded to `width`.
bool der_to_raw(const unsigned char* der, std::size_t len, std::size_t width,
                unsigned char* out) {
  std::size_t i = 0;
  if (len < 2 || der[i++] != 0x30) return false;
  std::size_t seq = der[i++];
  if (seq == 0x81 && i < len) {
    seq = der[i++];
  } else if (seq >= 0x80) {
    return false;
  }
  if (i + seq != len) return false;
  for (int part = 0; part < 2; ++part) {
    if (i + 2 > len || der[i] != 0x02 || der[i + 1] >= 0x80) return false;
    std::size_t n = der[i + 1];
    i += 2;
    if (n == 0 || i + n > len) return false;
    const unsigned char* v = der + i;
    i += n;
    while (n > 0 && *v == 0) {
      ++v;
      --n;
    }
    if (n > width) return false;
    std::memset(out + part * width, 0, width - n);
    std::memcpy(out + part * width + width - n, v, n);
  }
  return i == len;
}

}  // namespace

std::size_t max_signature_size(const KeyData& k, Alg alg) {
  if (is_hmac(alg)) return EVP_MAX_MD_SIZE;
  if (is_ecdsa(alg)) return 2 * ec_field_bytes(k.crv);
  return static_cast<std::size_t>(EVP_PKEY_get_size(k.pkey.get()));
}

std::size_t compute_signature(const KeyData& k, Alg alg, std::string_view input,
                              unsigned char* out) {
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t len = 0;
  if (is_hmac(alg)) {
    if (!hmac(k, alg, input, out, &len)) len = 0;
  } else {
    auto ctx = copy_prepared(k, alg, true);
    if (is_ecdsa(alg)) {
      unsigned char der[kMaxEcDer];
      len = sizeof der;
      if (!ctx || EVP_DigestSign(ctx.get(), der, &len, in, input.size()) != 1 ||
          !der_to_raw(der, len, ec_field_bytes(k.crv), out)) {
        len = 0;
      } else {
        len = 2 * ec_field_bytes(k.crv);
      }
    } else {
      len = max_signature_size(k, alg);
      if (!ctx || EVP_DigestSign(ctx.get(), out, &len, in, input.size()) != 1) len = 0;
    }
  }
  if (len == 0) clear_openssl_errors();
  return len;
}

SigCheck check_signature(const KeyData& k, Alg alg, std::string_view input,
                         const unsigned char* sig, std::size_t sig_len) {
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (is_hmac(alg)) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    if (!hmac(k, alg, input, mac, &len)) {
      clear_openssl_errors();
      return SigCheck::failed;
    }
    // Security: compare MACs in constant time.
    return ct_equal(std::string_view(reinterpret_cast<const char*>(mac), len),
                              std::string_view(reinterpret_cast<const char*>(sig), sig_len))
               ? SigCheck::ok
               : SigCheck::bad;
  }
  unsigned char der[kMaxEcDer];
  if (is_ecdsa(alg)) {
    const std::size_t width = ec_field_bytes(k.crv);
    // RFC 7518 §3.4: exactly 2 * field size; DER or any other length is refused.
    if (sig_len != 2 * width) return SigCheck::bad;
    sig_len = raw_to_der(sig, width, der);
    sig = der;
  } else if (k.kty == KeyType::RSA) {
    // RFC 8017 §8.1.2 / §8.2.2 step 1: the signature is exactly k octets. OpenSSL's PSS
    // path accepts shorter ones (a dropped leading zero), which would give one token
    // two valid encodings.
    if (sig_len != static_cast<std::size_t>(EVP_PKEY_get_size(k.pkey.get()))) return SigCheck::bad;
  }
  // OpenSSL 3.0's PSS and EdDSA paths report some allocation failures as a plain
  // mismatch, with nothing on the error queue (tests/alloc_failure_test.cpp found it):
  // there a refusal is checked once more, so that a passing shortage is not blamed on
  // the token. Only forged PS* and EdDSA tokens pay for the second check.
  const int attempts = is_pss(alg) || k.kty == KeyType::OKP ? 2 : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto ctx = copy_prepared(k, alg, false);
    if (!ctx) {
      clear_openssl_errors();
      return SigCheck::failed;
    }
    if (EVP_DigestVerify(ctx.get(), sig, sig_len, in, input.size()) == 1) return SigCheck::ok;
    // A failure must not leave anything on the error queue for an unrelated later call
    // to find; what it holds tells a refused signature from OpenSSL's own failure.
    if (clear_openssl_errors_fatal()) return SigCheck::failed;
  }
  return SigCheck::bad;
}

}  // namespace tokenpass::internal

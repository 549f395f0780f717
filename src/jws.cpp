#include "tokenpass/jws.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "internal/base64url.h"
#include "internal/bits.h"
#include "internal/json.h"
#include "internal/jws_impl.h"
#include "internal/key_data.h"
#include "internal/openssl.h"
#include "internal/rules.h"
#include "tokenpass/http.h"

namespace tokenpass {

namespace internal {
struct JwsAccess {
  static VerifiedJws verified(std::shared_ptr<const LazyHeader> header, std::string payload,
                              Alg alg, std::string kid, Key key) {
    return VerifiedJws(std::move(header), std::move(payload), alg, std::move(kid),
                       std::move(key));
  }
  static UnverifiedJws unverified() { return UnverifiedJws(); }
  static void fill(UnverifiedJws& u, nlohmann::json header, std::string payload,
                   std::optional<nlohmann::json> payload_json, std::string signature) {
    u.header_ = std::move(header);
    u.payload_ = std::move(payload);
    u.payload_json_ = std::move(payload_json);
    u.signature_ = std::move(signature);
  }
};

nlohmann::json header_json(std::string_view header_b64) {
  std::string text;
  internal::b64url_decode(header_b64, text);
  return nlohmann::json::parse(text);
}
}  // namespace internal

VerifiedJws::VerifiedJws(std::shared_ptr<const internal::LazyHeader> header, std::string payload,
                         Alg alg, std::string kid, Key key)
    : header_(std::move(header)),
      payload_(std::move(payload)),
      alg_(alg),
      kid_(std::move(kid)),
      key_(std::move(key)) {}

const nlohmann::json& VerifiedJws::header() const noexcept { return header_->get(); }

namespace {

using internal::KeyAccess;
using internal::KeyData;
using json = nlohmann::json;

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
  const EVP_MD* md = internal::digest_for(alg);
  // Only EdDSA signs without a separate digest; a missing one is a failed fetch.
  if (md == nullptr && internal::digest_name(alg) != nullptr) return false;
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
  internal::MdCtxPtr fresh(EVP_MD_CTX_new());
  if (!fresh || !init_ctx(fresh.get(), k, alg, sign)) {
    internal::clear_openssl_errors();
    return nullptr;
  }
  return internal::publish<EVP_MD_CTX, EVP_MD_CTX_free>(slot, fresh.release());
}

// copy_prepared: a context of its own for one signature operation. FINALISE tells
// OpenSSL that the context is used once, so that its final step need not duplicate
// the context again (it does, without the flag, to keep it reusable).
internal::MdCtxPtr copy_prepared(const KeyData& k, Alg alg, bool sign) {
  EVP_MD_CTX* prepared = prepared_md(k, alg, sign);
  if (prepared == nullptr) return nullptr;
  internal::MdCtxPtr ctx(EVP_MD_CTX_new());
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
    EVP_MAC* mac = internal::hmac_mac();
    if (mac == nullptr) return false;
    internal::MacCtxPtr fresh(EVP_MAC_CTX_new(mac));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char*>(internal::digest_name(alg)), 0),
        OSSL_PARAM_construct_end()};
    if (!fresh || EVP_MAC_init(fresh.get(), reinterpret_cast<const unsigned char*>(k.secret.data()),
                               k.secret.size(), params) != 1) {
      return false;
    }
    prepared = internal::publish<EVP_MAC_CTX, EVP_MAC_CTX_free>(slot, fresh.release());
  }
  internal::MacCtxPtr ctx(EVP_MAC_CTX_dup(prepared));
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

// max_signature_size: room for any signature `k` makes with `alg`.
std::size_t max_signature_size(const KeyData& k, Alg alg) {
  if (is_hmac(alg)) return EVP_MAX_MD_SIZE;
  if (is_ecdsa(alg)) return 2 * ec_field_bytes(k.crv);
  return static_cast<std::size_t>(EVP_PKEY_get_size(k.pkey.get()));
}

// compute_signature writes the JWS signature of `input` into `out` (room for
// max_signature_size) and returns its length; 0 when OpenSSL fails.
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
  if (len == 0) internal::clear_openssl_errors();
  return len;
}

// SigCheck: the signature holds, does not hold, or could not be checked (OpenSSL
// failed: memory, an internal error), which is no verdict on the token.
enum class SigCheck { ok, bad, failed };

SigCheck check_signature(const KeyData& k, Alg alg, std::string_view input,
                         const unsigned char* sig, std::size_t sig_len) {
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (is_hmac(alg)) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    if (!hmac(k, alg, input, mac, &len)) {
      internal::clear_openssl_errors();
      return SigCheck::failed;
    }
    // Security: compare MACs in constant time.
    return internal::ct_equal(std::string_view(reinterpret_cast<const char*>(mac), len),
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
      internal::clear_openssl_errors();
      return SigCheck::failed;
    }
    if (EVP_DigestVerify(ctx.get(), sig, sig_len, in, input.size()) == 1) return SigCheck::ok;
    // A failure must not leave anything on the error queue for an unrelated later call
    // to find; what it holds tells a refused signature from OpenSSL's own failure.
    if (internal::clear_openssl_errors_fatal()) return SigCheck::failed;
  }
  return SigCheck::bad;
}

// ---- structure ---------------------------------------------------------------

struct Parts {
  std::string_view header_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;
  std::string_view signing_input;  // header_b64 "." payload_b64
};

Result<Parts> split(std::string_view& compact, std::size_t max_size) {
  // Checked before any decoding, so that an oversized input costs nothing more.
  if (internal::over_size_limit(compact, max_size)) {
    return make_error(errc::too_large, "token exceeds the size limit");
  }
  compact = internal::trim_space(compact);
  if (compact.size() > max_size) return make_error(errc::too_large, "token exceeds the size limit");
  if (compact.empty()) return make_error(errc::malformed, "empty token");
  if (compact.front() == '{') {
    return make_error(errc::malformed, "JWS JSON serialization is not accepted");
  }
  const std::size_t dot1 = compact.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) {
    return make_error(errc::malformed, "a compact JWS has three parts");
  }
  if (compact.find('.', dot2 + 1) != std::string_view::npos) {
    return make_error(errc::malformed, "more than three parts (a JWE is not a JWS)");
  }
  Parts p;
  p.header_b64 = compact.substr(0, dot1);
  p.payload_b64 = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  p.signature_b64 = compact.substr(dot2 + 1);
  p.signing_input = compact.substr(0, dot2);
  if (p.header_b64.empty()) return make_error(errc::malformed, "empty protected header");
  // An empty signature is well-formed compact JWS (an unsecured JWS, RFC 7515 A.5): the
  // decoders show it; verification refuses it for its alg.
  for (const auto part : {p.header_b64, p.payload_b64, p.signature_b64}) {
    if (!internal::is_b64url_alphabet(part)) {
      return make_error(errc::malformed, "character outside the base64url alphabet");
    }
  }
  return p;
}

Result<json> decode_header(std::string_view header_b64, const JsonLimits& limits) {
  std::string text;
  if (!internal::b64url_decode(header_b64, text)) {
    return make_error(errc::malformed, "header is not canonical base64url");
  }
  auto header = internal::parse_json(text, limits);
  if (!header) {
    Error e = std::move(header).error();
    e.detail = "header: " + e.detail;
    return e;
  }
  if (!header->is_object()) return make_error(errc::malformed, "header is not a JSON object");
  return header;
}

std::string_view strip_application(std::string_view s) {
  constexpr std::string_view kPrefix = "application/";
  if (s.size() >= kPrefix.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kPrefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != kPrefix[i]) match = false;
    }
    if (match) s.remove_prefix(kPrefix.size());
  }
  return s;
}

struct HeaderFacts {
  Alg alg;
  bool has_kid = false;
  std::string kid;
};

// check_header applies the header rules that do not depend on the key. A problem with
// the signature part's encoding (`signature_problem`, when not empty) is reported right
// after `alg`: an unsecured token (`none`, often with an empty signature) is
// unsupported_alg whatever its signature part looks like.
Result<HeaderFacts> check_header(const json& header, const JwsVerifyOptions& options,
                                 std::string_view signature_problem) {
  const auto alg_it = header.find("alg");
  if (alg_it == header.end()) return make_error(errc::malformed, "header has no \"alg\"");
  if (!alg_it->is_string()) return make_error(errc::malformed, "header \"alg\" is not a string");
  // RFC 8725 §3.1: "none" (in any case) and unknown names are not algorithms here.
  const auto alg = alg_from_string(alg_it->get_ref<const std::string&>());
  if (!alg) return make_error(errc::unsupported_alg, "\"alg\" is not a supported JWS algorithm");
  if (!signature_problem.empty()) return make_error(errc::malformed, signature_problem);

  if (const auto crit = header.find("crit"); crit != header.end()) {
    // RFC 7515 §4.1.11: a non-empty array of names; any we do not understand rejects.
    if (!crit->is_array() || crit->empty()) {
      return make_error(errc::malformed, "\"crit\" is not a non-empty array");
    }
    for (const auto& name : *crit) {
      if (!name.is_string()) return make_error(errc::malformed, "\"crit\" holds a non-string");
      const auto& n = name.get_ref<const std::string&>();
      if (std::find(options.critical.begin(), options.critical.end(), n) ==
          options.critical.end()) {
        return make_error(errc::unknown_crit, "\"crit\" names an extension not understood");
      }
      if (!header.contains(n)) {
        return make_error(errc::malformed, "\"crit\" names a member the header lacks");
      }
    }
  }
  if (const auto b64 = header.find("b64"); b64 != header.end()) {
    // RFC 7797: unencoded payloads are not supported; b64 without crit is invalid too.
    if (!b64->is_boolean() || !b64->get<bool>()) {
      return make_error(errc::unknown_crit, "unencoded payloads (b64:false) are not accepted");
    }
  }
  if (options.typ) {
    const auto typ = header.find("typ");
    if (typ == header.end() || !typ->is_string()) {
      return make_error(errc::bad_type, "header has no \"typ\"");
    }
    if (!internal::typ_matches(typ->get_ref<const std::string&>(), *options.typ)) {
      return make_error(errc::bad_type, "header \"typ\" is not the expected type");
    }
  }
  HeaderFacts facts{*alg, false, {}};
  if (const auto kid = header.find("kid"); kid != header.end()) {
    if (!kid->is_string()) return make_error(errc::malformed, "header \"kid\" is not a string");
    facts.has_kid = true;
    facts.kid = kid->get<std::string>();
  }
  // Security (RFC 8725 §3.10 and DESIGN.md): "jwk", "jku", "x5u" and "x5c" are never
  // read. Keys come only from the caller.
  return facts;
}

bool narrowed_allows(const JwsVerifyOptions& options, Alg alg, Curve crv) {
  if (options.algorithms.empty()) return true;
  return std::any_of(options.algorithms.begin(), options.algorithms.end(),
                     [&](Alg a) { return internal::alg_fits_allowed(a, alg, crv); });
}

}  // namespace

namespace internal {
namespace {

// find_dot: the first '.' in [p, end), or end; eight bytes at a time.
const char* find_dot(const char* p, const char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  if (internal::kLittleEndian) {
    while (end - p >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p, 8);
      x ^= kOnes * '.';
      const std::uint64_t zero = (x - kOnes) & ~x & (kOnes * 0x80);
      if (zero != 0) return p + internal::first_flagged_byte(zero);
      p += 8;
    }
  }
  while (p != end && *p != '.') ++p;
  return p;
}

TOKENPASS_COLD Error bad_char(std::string_view signature_b64) {
  if (signature_b64.find('.') != std::string_view::npos) {
    return make_error(errc::malformed, "more than three parts (a JWE is not a JWS)");
  }
  return make_error(errc::malformed, "character outside the base64url alphabet");
}

// parse_header_slow: any header the small parser is not sure of, through the full JSON
// parser and check_header, which decide and report. Out of line: it is rarely needed.
TOKENPASS_COLD Result<void> parse_header_slow(std::string_view header_text,
                                              std::string_view signature_problem,
                                              const JwsVerifyOptions& options,
                                              const JsonLimits& limits, ParsedJws& out) {
  auto parsed = parse_json(header_text, limits);
  if (!parsed) {
    Error e = std::move(parsed).error();
    e.detail = "header: " + e.detail;
    return e;
  }
  if (!parsed->is_object()) return internal::fail(errc::malformed, "header is not a JSON object");
  auto facts = check_header(*parsed, options, signature_problem);
  if (!facts) return facts.error();
  out.alg = facts->alg;
  out.has_kid = facts->has_kid;
  out.kid_storage = std::move(facts->kid);
  out.kid = out.kid_storage;
  return {};
}

}  // namespace

Result<void> parse_jws(std::string_view compact, const JwsVerifyOptions& options, ParsedJws& out) {
  // Checked before any decoding, so that an oversized input costs nothing more.
  if (internal::over_size_limit(compact, options.max_token_size)) {
    return internal::fail(errc::too_large, "token exceeds the size limit");
  }
  compact = internal::trim_space(compact);
  if (compact.size() > options.max_token_size) {
    return internal::fail(errc::too_large, "token exceeds the size limit");
  }
  if (compact.empty()) return internal::fail(errc::malformed, "empty token");
  if (compact.front() == '{') {
    return internal::fail(errc::malformed, "JWS JSON serialization is not accepted");
  }
  const char* begin = compact.data();
  const char* end = begin + compact.size();
  // A fourth part shows up as a '.' in the signature, which decoding refuses; only then
  // is it told apart from any other character outside the alphabet.
  const char* dot1 = find_dot(begin, end);
  const char* dot2 = dot1 == end ? end : find_dot(dot1 + 1, end);
  if (dot2 == end) return internal::fail(errc::malformed, "a compact JWS has three parts");
  const std::string_view header_b64(begin, static_cast<std::size_t>(dot1 - begin));
  const std::string_view payload_b64(dot1 + 1, static_cast<std::size_t>(dot2 - dot1 - 1));
  const std::string_view signature_b64(dot2 + 1, static_cast<std::size_t>(end - dot2 - 1));
  if (header_b64.empty()) return internal::fail(errc::malformed, "empty protected header");

  // All three parts are decoded at once, each straight into where it is used. The
  // alphabet is checked for all of them first; a non-canonical encoding is reported
  // at its own place in the order jws.h documents.
  const std::size_t header_size = b64url_decoded_size(header_b64.size());
  unsigned char* header = out.header_buffer.get(header_size);
  const B64Status header_status = b64url_decode_into(header_b64, header);
  const std::size_t payload_size = b64url_decoded_size(payload_b64.size());
  unsigned char* payload = out.payload_buffer.get(payload_size);
  const B64Status payload_status = b64url_decode_into(payload_b64, payload);
  out.payload = std::string_view(reinterpret_cast<const char*>(payload), payload_size);
  out.signature_size = b64url_decoded_size(signature_b64.size());
  unsigned char* signature = out.signature_buffer.get(out.signature_size);
  const B64Status signature_status = b64url_decode_into(signature_b64, signature);
  if (header_status == B64Status::bad_char || payload_status == B64Status::bad_char ||
      signature_status == B64Status::bad_char) {
    return bad_char(signature_b64);
  }
  if (header_status != B64Status::ok) {
    return internal::fail(errc::malformed, "header is not canonical base64url");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(header), header_size);
  // The signature's encoding is judged right after the header's alg (check_header).
  const std::string_view signature_problem =
      signature_b64.empty()                 ? std::string_view("empty signature")
      : signature_status != B64Status::ok ? std::string_view("signature is not canonical base64url")
                                            : std::string_view();
  const JsonLimits limits = token_limits(options.json_limits, options.max_token_size);

  // The common header ({"alg":..,"kid":..,"typ":..}, nothing unusual) is read by a
  // small parser; anything it is not sure of, and every failure, goes through the full
  // JSON parser and check_header, which decide and report.
  SimpleHeader simple;
  std::optional<Alg> alg;
  const bool fast = parse_simple_header(header_text, limits, simple) &&
                    simple.has_alg && (alg = alg_from_string(simple.alg)).has_value() &&
                    (!options.typ || (simple.has_typ && typ_matches(simple.typ, *options.typ)));
  if (fast) {
    if (!signature_problem.empty()) return internal::fail(errc::malformed, signature_problem);
    out.alg = *alg;
    out.has_kid = simple.has_kid;
    out.kid = simple.kid;
  } else if (auto slow = parse_header_slow(header_text, signature_problem, options, limits, out);
             !slow) {
    return slow.error();
  }
  out.compact = compact;
  out.header_b64 = header_b64;
  out.signing_input = std::string_view(begin, static_cast<std::size_t>(dot2 - begin));
  out.payload_canonical = payload_status == B64Status::ok;
  out.signature = signature;
  return {};
}

Result<const Key*> verify_parsed(const ParsedJws& parsed, const Key* keys, std::size_t count,
                                 const JwsVerifyOptions& options) {
  // RFC 7515 §4.1.4 and cli-contract rule 2: a kid picks the keys with that kid; keys
  // without a kid may serve any token; a token without a kid tries every key.
  // A header "kid":"" is a kid like any other: it matches only keys without one.
  bool by_kid = false;
  if (parsed.has_kid) {
    for (std::size_t i = 0; i < count && !by_kid; ++i) by_kid = keys[i].kid() == parsed.kid;
  }
  const auto candidate = [&](const Key& k) {
    return by_kid ? k.kid() == parsed.kid : !parsed.has_kid || k.kid().empty();
  };

  bool any = false;
  bool tried = false;
  bool refused_use = false;
  for (std::size_t i = 0; i < count; ++i) {
    const Key& key = keys[i];
    if (!candidate(key)) continue;
    any = true;
    // RFC 8725 §3.1: the key decides which algorithms are acceptable, not the token.
    if (!key.fits(parsed.alg) || !narrowed_allows(options, parsed.alg, key.curve())) {
      continue;
    }
    if (!key.can_verify()) {
      refused_use = true;
      continue;
    }
    tried = true;
    const SigCheck check = check_signature(KeyAccess::data(key), parsed.alg, parsed.signing_input,
                                           parsed.signature, parsed.signature_size);
    if (check == SigCheck::failed) {
      return internal::fail(errc::internal_error, "OpenSSL failed while checking the signature");
    }
    if (check == SigCheck::bad) continue;
    if (!parsed.payload_canonical) {
      return internal::fail(errc::malformed, "payload is not canonical base64url");
    }
    return &key;
  }
  if (!any) {
    return internal::fail(errc::key_not_found,
                          count == 0 ? "no keys" : "no key has the token's kid");
  }
  if (tried) return internal::fail(errc::bad_signature, "signature does not verify");
  if (refused_use) {
    return internal::fail(errc::key_unusable, "the key's \"use\" or \"key_ops\" forbid verifying");
  }
  return internal::fail(errc::alg_not_allowed, "the token's alg is not one the key accepts");
}

Result<std::string> peek_issuer(const ParsedJws& parsed, const JsonLimits& limits) {
  if (!parsed.payload_canonical) {
    return internal::fail(errc::malformed, "payload is not canonical base64url");
  }
  auto claims = internal::parse_json(parsed.payload, limits);
  if (!claims) return claims.error();
  const auto iss = claims->is_object() ? claims->find("iss") : claims->end();
  if (!claims->is_object() || iss == claims->end() || !iss->is_string()) {
    return internal::fail(errc::bad_issuer, "token has no issuer");
  }
  return iss->get<std::string>();
}

}  // namespace internal

namespace {

Result<VerifiedJws> verify_impl(std::string_view compact, const Key* keys, std::size_t count,
                                const JwsVerifyOptions& options) {
  internal::ParsedJws parsed;
  if (auto ok = internal::parse_jws(compact, options, parsed); !ok) return ok.error();
  auto key = internal::verify_parsed(parsed, keys, count, options);
  if (!key) return key.error();
  auto header = std::make_shared<internal::LazyHeader>();
  header->b64 = std::string(parsed.header_b64);
  return internal::JwsAccess::verified(std::move(header), std::string(parsed.payload),
                                      parsed.alg, std::string(parsed.kid), **key);
}

template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  // verify never throws: an exception here can only be resource exhaustion or a bug,
  // and is reported as a refusal rather than escaping into a request handler.
  try {
    return fn();
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while verifying");
  }
}

}  // namespace

namespace internal {
bool typ_matches(std::string_view a, std::string_view b) noexcept {
  // RFC 7515 §4.1.9: media types compare case-insensitively, as header names do.
  return header_name_equals(strip_application(a), strip_application(b));
}
}  // namespace internal

namespace {

// plain: printable ASCII that json::dump writes as it is (no escape needed).
bool plain(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\'; });
}

Result<std::string> sign_impl(const Key& key, std::string_view payload,
                              const JwsSignOptions& options) {
  if (!key.can_sign()) {
    return make_error(errc::key_unusable,
                      key.is_private() ? "the key's \"use\" or \"key_ops\" forbid signing"
                                       : "a public key cannot sign");
  }
  const Alg alg = options.alg.value_or(key.default_alg());
  if (!key.fits(alg)) return make_error(errc::alg_not_allowed, "the key does not fit this alg");
  if (!options.extra_header.is_object()) {
    return make_error(errc::malformed, "extra header is not a JSON object");
  }
  const std::string& kid = options.kid ? *options.kid : key.kid();
  std::string header_text;
  if (options.extra_header.empty() && plain(kid) && (!options.typ || plain(*options.typ))) {
    // The usual header, written directly: byte for byte what json::dump makes of it
    // (members in name order, no white space), without building a JSON object.
    header_text.reserve(64 + kid.size() + (options.typ ? options.typ->size() : 0));
    header_text += "{\"alg\":\"";
    header_text += to_string(alg);
    header_text += '"';
    if (!kid.empty()) {
      header_text += ",\"kid\":\"";
      header_text += kid;
      header_text += '"';
    }
    if (options.typ) {
      header_text += ",\"typ\":\"";
      header_text += *options.typ;
      header_text += '"';
    }
    header_text += '}';
  } else {
    json header = json::object();
    header["alg"] = std::string(to_string(alg));
    if (!kid.empty()) header["kid"] = kid;
    if (options.typ) header["typ"] = *options.typ;
    for (const auto& [name, value] : options.extra_header.items()) {
      if (name == "alg" || name == "crit" || name == "b64") {
        return make_error(errc::malformed, "extra header may not set \"" + name + "\"");
      }
      header[name] = value;
    }
    header_text = header.dump();
  }
  // The token is built in one allocation: header "." payload, then the signature over
  // them appended in place.
  const KeyData& data = KeyAccess::data(key);
  const std::size_t max_sig = max_signature_size(data, alg);
  const std::size_t input_size = internal::b64url_encoded_size(header_text.size()) + 1 +
                                 internal::b64url_encoded_size(payload.size());
  std::string out;
  out.reserve(input_size + 1 + internal::b64url_encoded_size(max_sig));
  out.resize(input_size);
  char* p = internal::b64url_encode_into(header_text, out.data());
  *p++ = '.';
  internal::b64url_encode_into(payload, p);
  internal::ScratchBuffer<1024> sig_buffer;
  unsigned char* sig = sig_buffer.get(max_sig);
  const std::size_t sig_len = compute_signature(data, alg, out, sig);
  if (sig_len == 0) return make_error(errc::internal_error, "OpenSSL could not sign with the key");
  out.resize(input_size + 1 + internal::b64url_encoded_size(sig_len));
  out[input_size] = '.';
  internal::b64url_encode_into(
      std::string_view(reinterpret_cast<const char*>(sig), sig_len), out.data() + input_size + 1);
  return out;
}

}  // namespace

Result<std::string> sign_jws(const Key& key, std::string_view payload,
                             const JwsSignOptions& options) {
  // json::dump throws type_error on strings that are not UTF-8 (a kid, typ or extra
  // header value); that is bad input, reported like any other. Anything else thrown
  // (memory) is ours.
  try {
    return sign_impl(key, payload, options);
  } catch (const nlohmann::json::type_error&) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "header values must be valid UTF-8");
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while signing");
  }
}

Result<VerifiedJws> verify_jws(std::string_view compact, const Key& key,
                               const JwsVerifyOptions& options) {
  return guarded([&] { return verify_impl(compact, &key, 1, options); });
}

Result<VerifiedJws> verify_jws(std::string_view compact, const KeySet& keys,
                               const JwsVerifyOptions& options) {
  return guarded(
      [&] { return verify_impl(compact, keys.keys().data(), keys.keys().size(), options); });
}

Result<nlohmann::json> decode_unverified_header(std::string_view compact,
                                               std::size_t max_token_size) {
  return guarded([&]() -> Result<nlohmann::json> {
    auto parts = split(compact, max_token_size);
    if (!parts) return parts.error();
    return decode_header(parts->header_b64, internal::token_limits(JsonLimits{}, max_token_size));
  });
}

Result<UnverifiedJws> decode_unverified(std::string_view compact, std::size_t max_token_size) {
  return guarded([&]() -> Result<UnverifiedJws> {
    auto parts = split(compact, max_token_size);
    if (!parts) return parts.error();
    const JsonLimits limits = internal::token_limits(JsonLimits{}, max_token_size);
    auto header = decode_header(parts->header_b64, limits);
    if (!header) return header.error();
    std::string payload;
    std::string signature;
    if (!internal::b64url_decode(parts->payload_b64, payload) ||
        !internal::b64url_decode(parts->signature_b64, signature)) {
      return make_error(errc::malformed, "part is not canonical base64url");
    }
    std::optional<json> payload_json;
    if (auto pj = internal::parse_json(payload, limits)) payload_json = std::move(*pj);
    UnverifiedJws u = internal::JwsAccess::unverified();
    internal::JwsAccess::fill(u, std::move(*header), std::move(payload), std::move(payload_json),
                              std::move(signature));
    return u;
  });
}

}  // namespace tokenpass

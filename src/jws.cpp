#include "tokenpass/jws.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "internal/base64url.h"
#include "internal/json.h"
#include "internal/jws_impl.h"
#include "internal/key_data.h"
#include "internal/openssl.h"

namespace tokenpass {

namespace internal {
struct JwsAccess {
  static VerifiedJws verified(nlohmann::json header, std::string payload, Alg alg,
                              std::string kid, Key key) {
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
}  // namespace internal

VerifiedJws::VerifiedJws(nlohmann::json header, std::string payload, Alg alg, std::string kid,
                         Key key)
    : header_(std::move(header)),
      payload_(std::move(payload)),
      alg_(alg),
      kid_(std::move(kid)),
      key_(std::move(key)) {}

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

std::string hmac(const KeyData& k, Alg alg, std::string_view input) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (HMAC(internal::digest_for(alg), k.secret.data(), static_cast<int>(k.secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(),
           &len) == nullptr) {
    internal::clear_openssl_errors();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(mac.data()), len);
}

// init_ctx prepares a DigestSign/DigestVerify context with the padding `alg` needs.
bool init_ctx(EVP_MD_CTX* ctx, const KeyData& k, Alg alg, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = internal::digest_for(alg);
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

// ECDSA signatures in JWS are R || S, each exactly the field size (RFC 7518 §3.4);
// OpenSSL speaks DER.
std::string der_to_raw(const unsigned char* der, std::size_t len, std::size_t width) {
  internal::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(len)));
  if (!sig) return {};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  return internal::bn_to_bytes(r, width) + internal::bn_to_bytes(s, width);
}

std::string raw_to_der(std::string_view raw, std::size_t width) {
  internal::EcdsaSigPtr sig(ECDSA_SIG_new());
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(p, static_cast<int>(width), nullptr);
  BIGNUM* s = BN_bin2bn(p + width, static_cast<int>(width), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string compute_signature(const KeyData& k, Alg alg, std::string_view input) {
  if (is_hmac(alg)) return hmac(k, alg, input);
  internal::MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || !init_ctx(ctx.get(), k, alg, true) ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    internal::clear_openssl_errors();
    return {};
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    internal::clear_openssl_errors();
    return {};
  }
  sig.resize(len);
  if (is_ecdsa(alg)) {
    return der_to_raw(reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                      ec_field_bytes(k.crv));
  }
  return sig;
}

bool check_signature(const KeyData& k, Alg alg, std::string_view input, std::string_view sig) {
  if (is_hmac(alg)) {
    // Security: compare MACs in constant time.
    return internal::ct_equal(hmac(k, alg, input), sig);
  }
  std::string der;
  if (is_ecdsa(alg)) {
    const std::size_t width = ec_field_bytes(k.crv);
    // RFC 7518 §3.4: exactly 2 * field size; DER or any other length is refused.
    if (sig.size() != 2 * width) return false;
    der = raw_to_der(sig, width);
    if (der.empty()) return false;
    sig = der;
  } else if (k.kty == KeyType::RSA) {
    // RFC 8017 §8.1.2 / §8.2.2 step 1: the signature is exactly k octets. OpenSSL's PSS
    // path accepts shorter ones (a dropped leading zero), which would give one token
    // two valid encodings.
    if (sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(k.pkey.get()))) return false;
  }
  internal::MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = ctx && init_ctx(ctx.get(), k, alg, false) &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                                   sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                                   input.size()) == 1;
  internal::clear_openssl_errors();
  return ok;
}

// ---- structure ---------------------------------------------------------------

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

struct Parts {
  std::string_view header_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;
  std::string_view signing_input;  // header_b64 "." payload_b64
};

Result<Parts> split(std::string_view& compact, std::size_t max_size) {
  compact = trim(compact);
  // Checked before any decoding, so that an oversized input costs nothing more.
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
  if (p.signature_b64.empty()) return make_error(errc::malformed, "empty signature");
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

// check_header applies the header rules that do not depend on the key.
Result<HeaderFacts> check_header(const json& header, const JwsVerifyOptions& options) {
  const auto alg_it = header.find("alg");
  if (alg_it == header.end()) return make_error(errc::malformed, "header has no \"alg\"");
  if (!alg_it->is_string()) return make_error(errc::malformed, "header \"alg\" is not a string");
  // RFC 8725 §3.1: "none" (in any case) and unknown names are not algorithms here.
  const auto alg = alg_from_string(alg_it->get_ref<const std::string&>());
  if (!alg) return make_error(errc::unsupported_alg, "\"alg\" is not a supported JWS algorithm");

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
    if (!typ_matches(typ->get_ref<const std::string&>(), *options.typ)) {
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
                     [&](Alg a) { return algs_match(a, alg, crv); });
}

}  // namespace

namespace internal {

Result<ParsedJws> parse_jws(std::string_view compact, const JwsVerifyOptions& options) {
  auto parts = split(compact, options.max_token_size);
  if (!parts) return parts.error();
  auto header = decode_header(parts->header_b64, options.json_limits);
  if (!header) return header.error();
  // The signature's encoding is checked with the header's, before any header rule
  // (the order jws.h documents).
  ParsedJws parsed;
  if (!internal::b64url_decode(parts->signature_b64, parsed.signature)) {
    return make_error(errc::malformed, "signature is not canonical base64url");
  }
  auto facts = check_header(*header, options);
  if (!facts) return facts.error();
  parsed.signing_input = parts->signing_input;
  parsed.payload_b64 = parts->payload_b64;
  parsed.header = std::move(*header);
  parsed.alg = facts->alg;
  parsed.has_kid = facts->has_kid;
  parsed.kid = std::move(facts->kid);
  return parsed;
}

Result<VerifiedJws> verify_parsed(ParsedJws& parsed, const Key* keys, std::size_t count,
                                  const JwsVerifyOptions& options) {
  // RFC 7515 §4.1.4 and cli-contract rule 2: a kid picks the keys with that kid; keys
  // without a kid may serve any token; a token without a kid tries every key.
  std::vector<const Key*> candidates;
  // A header "kid":"" is a kid like any other: it matches only keys without one.
  if (parsed.has_kid) {
    for (std::size_t i = 0; i < count; ++i) {
      if (keys[i].kid() == parsed.kid) candidates.push_back(&keys[i]);
    }
  }
  if (candidates.empty()) {
    for (std::size_t i = 0; i < count; ++i) {
      if (!parsed.has_kid || keys[i].kid().empty()) candidates.push_back(&keys[i]);
    }
  }
  if (candidates.empty()) {
    return make_error(errc::key_not_found, count == 0 ? "no keys" : "no key has the token's kid");
  }

  bool tried = false;
  bool refused_use = false;
  for (const Key* key : candidates) {
    // RFC 8725 §3.1: the key decides which algorithms are acceptable, not the token.
    if (!key->accepts(parsed.alg) || !narrowed_allows(options, parsed.alg, key->curve())) {
      continue;
    }
    if (!key->can_verify()) {
      refused_use = true;
      continue;
    }
    tried = true;
    if (!check_signature(KeyAccess::data(*key), parsed.alg, parsed.signing_input,
                         parsed.signature)) {
      continue;
    }
    std::string payload;
    if (!internal::b64url_decode(parsed.payload_b64, payload)) {
      return make_error(errc::malformed, "payload is not canonical base64url");
    }
    return JwsAccess::verified(std::move(parsed.header), std::move(payload), parsed.alg,
                               std::move(parsed.kid), *key);
  }
  if (tried) return make_error(errc::bad_signature, "signature does not verify");
  if (refused_use) {
    return make_error(errc::key_unusable, "the key's \"use\" or \"key_ops\" forbid verifying");
  }
  return make_error(errc::alg_not_allowed, "the token's alg is not one the key accepts");
}

Result<std::string> peek_issuer(std::string_view payload_b64, const JsonLimits& limits) {
  std::string payload;
  if (!internal::b64url_decode(payload_b64, payload)) {
    return make_error(errc::malformed, "payload is not canonical base64url");
  }
  auto claims = internal::parse_json(payload, limits);
  if (!claims) return claims.error();
  const auto iss = claims->is_object() ? claims->find("iss") : claims->end();
  if (!claims->is_object() || iss == claims->end() || !iss->is_string()) {
    return make_error(errc::bad_issuer, "token has no issuer");
  }
  return iss->get<std::string>();
}

}  // namespace internal

namespace {

Result<VerifiedJws> verify_impl(std::string_view compact, const Key* keys, std::size_t count,
                                const JwsVerifyOptions& options) {
  auto parsed = internal::parse_jws(compact, options);
  if (!parsed) return parsed.error();
  return internal::verify_parsed(*parsed, keys, count, options);
}

template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  // verify never throws: an exception here can only be resource exhaustion or a bug,
  // and is reported as a refusal rather than escaping into a request handler.
  try {
    return fn();
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "internal error while verifying");
  }
}

}  // namespace

bool typ_matches(std::string_view a, std::string_view b) noexcept {
  a = strip_application(a);
  b = strip_application(b);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

namespace {

Result<std::string> sign_impl(const Key& key, std::string_view payload,
                              const JwsSignOptions& options) {
  if (!key.can_sign()) {
    return make_error(errc::key_unusable,
                      key.is_private() ? "the key's \"use\" or \"key_ops\" forbid signing"
                                       : "a public key cannot sign");
  }
  const Alg alg = options.alg.value_or(key.default_alg());
  if (!key.accepts(alg)) return make_error(errc::alg_not_allowed, "the key does not fit this alg");
  if (!options.extra_header.is_object()) {
    return make_error(errc::malformed, "extra header is not a JSON object");
  }
  json header = json::object();
  header["alg"] = std::string(to_string(alg));
  const std::string& kid = options.kid ? *options.kid : key.kid();
  if (!kid.empty()) header["kid"] = kid;
  if (options.typ) header["typ"] = *options.typ;
  for (const auto& [name, value] : options.extra_header.items()) {
    if (name == "alg" || name == "crit" || name == "b64") {
      return make_error(errc::malformed, "extra header may not set \"" + name + "\"");
    }
    header[name] = value;
  }
  std::string out = internal::b64url_encode(header.dump());
  out.push_back('.');
  out += internal::b64url_encode(payload);
  const std::string sig = compute_signature(KeyAccess::data(key), alg, out);
  if (sig.empty()) return make_error(errc::key_unusable, "OpenSSL could not sign with the key");
  out.push_back('.');
  out += internal::b64url_encode(sig);
  return out;
}

}  // namespace

Result<std::string> sign_jws(const Key& key, std::string_view payload,
                             const JwsSignOptions& options) {
  // json::dump throws on strings that are not UTF-8 (a kid, typ or extra header value);
  // that is bad input, reported like any other.
  try {
    return sign_impl(key, payload, options);
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "header values must be valid UTF-8");
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
    return decode_header(parts->header_b64, JsonLimits{});
  });
}

Result<UnverifiedJws> decode_unverified(std::string_view compact, std::size_t max_token_size) {
  return guarded([&]() -> Result<UnverifiedJws> {
    auto parts = split(compact, max_token_size);
    if (!parts) return parts.error();
    const JsonLimits limits;
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

#include "tokenpass/jwk.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>

#include "internal/base64url.h"
#include "internal/json.h"
#include "internal/key_data.h"
#include "internal/openssl.h"

namespace tokenpass {

using internal::KeyData;
using json = nlohmann::json;

internal::KeyData::~KeyData() {
  // Security: do not leave HMAC secrets in freed memory.
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
}

internal::PreparedContexts::~PreparedContexts() {
  // OpenSSL wipes the key schedules it holds (HMAC pads included) when freeing them.
  for (auto& c : verify) EVP_MD_CTX_free(c.load(std::memory_order_acquire));
  for (auto& c : sign) EVP_MD_CTX_free(c.load(std::memory_order_acquire));
  for (auto& c : mac) EVP_MAC_CTX_free(c.load(std::memory_order_acquire));
}

namespace {

Error unusable(std::string_view why) { return make_error(errc::key_unusable, why); }

// Largest RSA modulus accepted: OpenSSL's own verification limit. Checked before any
// arithmetic, so a hostile JWK with a 100 000-bit modulus costs nothing.
constexpr int kMaxRsaBits = 16384;
// Largest public exponent: 64 bits (OpenSSL limits e the same way for large moduli).
constexpr int kMaxRsaExponentBits = 64;

Result<void> check_rsa_public(const BIGNUM* n, const BIGNUM* e) {
  if (BN_num_bits(n) < static_cast<int>(kMinRsaBits)) return unusable("RSA key under 2048 bits");
  if (BN_num_bits(n) > kMaxRsaBits) return unusable("RSA key over 16384 bits");
  // Security: e = 1 makes every padded message its own signature.
  if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > kMaxRsaExponentBits) {
    return unusable("RSA public exponent is invalid");
  }
  return {};
}

// ---- curves -------------------------------------------------------------------

struct CurveInfo {
  Curve crv;
  const char* group;  // OpenSSL group name (EC) or key type name (OKP)
  std::size_t bytes;  // field element / raw key size
  std::size_t bits;
};

constexpr CurveInfo kCurves[] = {
    {Curve::P256, "prime256v1", 32, 256},   {Curve::P384, "secp384r1", 48, 384},
    {Curve::P521, "secp521r1", 66, 521},    {Curve::secp256k1, "secp256k1", 32, 256},
    {Curve::Ed25519, "ED25519", 32, 256},   {Curve::Ed448, "ED448", 57, 456},
};

const CurveInfo* curve_info(Curve crv) {
  for (const auto& c : kCurves) {
    if (c.crv == crv) return &c;
  }
  return nullptr;
}

// ---- classifying an EVP_PKEY -------------------------------------------------

bool pkey_has_private(EVP_PKEY* pkey, KeyType kty) {
  bool has = false;
  if (kty == KeyType::RSA) {
    BIGNUM* d = nullptr;
    has = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1 && d != nullptr;
    BN_clear_free(d);
  } else if (kty == KeyType::EC) {
    BIGNUM* d = nullptr;
    has = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 && d != nullptr;
    BN_clear_free(d);
  } else {
    std::size_t len = 0;
    has = EVP_PKEY_get_raw_private_key(pkey, nullptr, &len) == 1 && len > 0;
  }
  internal::clear_openssl_errors();
  return has;
}

// from_pkey checks an OpenSSL key against tokenpass' rules and wraps it.
Result<std::shared_ptr<KeyData>> from_pkey(internal::PkeyPtr pkey) {
  auto data = std::make_shared<KeyData>();
  const int id = EVP_PKEY_get_base_id(pkey.get());
  if (id == EVP_PKEY_RSA) {
    data->kty = KeyType::RSA;
    data->bits = static_cast<std::size_t>(EVP_PKEY_get_bits(pkey.get()));
    // RFC 7518 §3.3: a key of size 2048 bits or larger MUST be used.
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    const bool got = EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
                     EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e) == 1;
    internal::BnPtr n_owned(n);
    internal::BnPtr e_owned(e);
    internal::clear_openssl_errors();
    if (!got) return unusable("RSA key without n and e");
    if (auto ok = check_rsa_public(n, e); !ok) return ok.error();
  } else if (id == EVP_PKEY_EC) {
    data->kty = KeyType::EC;
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
                                       &len) != 1) {
      internal::clear_openssl_errors();
      return unusable("EC key without a named curve");
    }
    const std::string_view group(name, len);
    const CurveInfo* info = nullptr;
    for (const auto& c : kCurves) {
      if (group == c.group) info = &c;
    }
    if (group == "P-256") info = curve_info(Curve::P256);
    if (info == nullptr || info->crv == Curve::Ed25519 || info->crv == Curve::Ed448) {
      return unusable("EC curve not supported for JWS");
    }
    data->crv = info->crv;
    data->bits = info->bits;
    // Security: a point off the curve (or the point at infinity) enables
    // invalid-curve attacks; refuse it when the key is made, not at first use.
    internal::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
      internal::clear_openssl_errors();
      return unusable("EC public key is not a valid point on its curve");
    }
  } else if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) {
    data->kty = KeyType::OKP;
    data->crv = id == EVP_PKEY_ED25519 ? Curve::Ed25519 : Curve::Ed448;
    data->bits = curve_info(data->crv)->bits;
  } else if (id == EVP_PKEY_RSA_PSS) {
    return unusable("RSA-PSS restricted keys are not supported; use a plain RSA key");
  } else {
    return unusable("key type not supported for JWS");
  }
  data->is_private = pkey_has_private(pkey.get(), data->kty);
  data->pkey = internal::share(std::move(pkey));
  return data;
}

// ---- JWK members ---------------------------------------------------------------

Result<std::string> b64_member(const json& jwk, const char* name, bool required) {
  const auto it = jwk.find(name);
  if (it == jwk.end()) {
    if (required) return unusable(std::string("JWK lacks \"") + name + "\"");
    return std::string();
  }
  std::string out;
  if (!it->is_string() || !internal::b64url_decode(it->get_ref<const std::string&>(), out)) {
    return unusable(std::string("JWK member \"") + name + "\" is not base64url");
  }
  if (out.empty()) return unusable(std::string("JWK member \"") + name + "\" is empty");
  return out;
}

internal::BnPtr to_bn(const std::string& bytes) {
  return internal::BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                                   static_cast<int>(bytes.size()), nullptr));
}

// Private key numbers are wiped when freed.
using SecretBnPtr = std::unique_ptr<BIGNUM, internal::Deleter<BN_clear_free>>;
SecretBnPtr to_secret_bn(std::string& bytes) {
  SecretBnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                           static_cast<int>(bytes.size()), nullptr));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return bn;
}

internal::PkeyPtr pkey_fromdata(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  internal::ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  internal::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    internal::clear_openssl_errors();
    return nullptr;
  }
  return internal::PkeyPtr(raw);
}

bool pairwise_ok(EVP_PKEY* pkey) {
  internal::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  const bool ok = ctx && EVP_PKEY_pairwise_check(ctx.get()) == 1;
  internal::clear_openssl_errors();
  return ok;
}

// rsa_d_matches: (m^e)^d == m (mod n) for a fixed m, which fails for a d that does not
// belong to n and e (but for negligibly few). d is used in constant time.
bool rsa_d_matches(const BIGNUM* n, const BIGNUM* e, BIGNUM* d) {
  std::unique_ptr<BN_CTX, internal::Deleter<BN_CTX_free>> ctx(BN_CTX_new());
  internal::BnPtr m(BN_new());
  internal::BnPtr c(BN_new());
  internal::BnPtr back(BN_new());
  BN_set_flags(d, BN_FLG_CONSTTIME);
  const bool ok = ctx && m && c && back && BN_set_word(m.get(), 0x1234567) == 1 &&
                  BN_mod_exp(c.get(), m.get(), e, n, ctx.get()) == 1 &&
                  BN_mod_exp(back.get(), c.get(), d, n, ctx.get()) == 1 &&
                  BN_cmp(back.get(), m.get()) == 0;
  internal::clear_openssl_errors();
  return ok;
}

Result<internal::PkeyPtr> rsa_from_jwk(const json& jwk) {
  auto n = b64_member(jwk, "n", true);
  if (!n) return n.error();
  auto e = b64_member(jwk, "e", true);
  if (!e) return e.error();
  auto d = b64_member(jwk, "d", false);
  if (!d) return d.error();
  if (jwk.contains("oth")) return unusable("multi-prime RSA keys are not supported");
  auto nb = to_bn(*n);
  auto eb = to_bn(*e);
  if (auto ok = check_rsa_public(nb.get(), eb.get()); !ok) return ok.error();
  // Private members are never longer than the modulus; checked before any arithmetic.
  const std::size_t max_len = static_cast<std::size_t>(BN_num_bytes(nb.get()));
  internal::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, nb.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, eb.get());
  int selection = EVP_PKEY_PUBLIC_KEY;
  std::vector<SecretBnPtr> keep;
  bool crt = false;
  if (!d->empty()) {
    selection = EVP_PKEY_KEYPAIR;
    if (d->size() > max_len) return unusable("RSA \"d\" is longer than the modulus");
    keep.push_back(to_secret_bn(*d));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, keep.back().get());
    static const char* const kCrt[][2] = {
        {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},     {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
        {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},  {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
    };
    std::size_t present = 0;
    for (const auto& m : kCrt) present += jwk.contains(m[0]) ? 1 : 0;
    // RFC 7518 §6.3.2: the CRT members come all together or not at all.
    if (present != 0 && present != 5) return unusable("RSA JWK has some but not all CRT members");
    crt = present == 5;
    for (const auto& m : kCrt) {
      if (!crt) break;
      auto v = b64_member(jwk, m[0], true);
      if (!v) return v.error();
      if (v->size() > max_len) return unusable("RSA CRT member is longer than the modulus");
      keep.push_back(to_secret_bn(*v));
      OSSL_PARAM_BLD_push_BN(bld.get(), m[1], keep.back().get());
    }
  }
  auto pkey = pkey_fromdata("RSA", bld.get(), selection);
  if (!pkey) return unusable("RSA JWK rejected by OpenSSL");
  if (crt && !pairwise_ok(pkey.get())) return unusable("RSA private key does not match n and e");
  if (!crt && !d->empty() && !rsa_d_matches(nb.get(), eb.get(), keep.front().get())) {
    // OpenSSL's pairwise check needs p and q, which RFC 7518 §6.3.2 lets a JWK omit.
    return unusable("RSA private key does not match n and e");
  }
  return pkey;
}

Result<internal::PkeyPtr> ec_from_jwk(const json& jwk, const CurveInfo& info) {
  auto x = b64_member(jwk, "x", true);
  if (!x) return x.error();
  auto y = b64_member(jwk, "y", true);
  if (!y) return y.error();
  auto d = b64_member(jwk, "d", false);
  if (!d) return d.error();
  // RFC 7518 §6.2.1.2-3 and §6.2.2.1: coordinates and d are full-length octet strings.
  if (x->size() != info.bytes || y->size() != info.bytes) {
    return unusable("EC coordinates have the wrong length for the curve");
  }
  if (!d->empty() && d->size() != info.bytes) return unusable("EC \"d\" has the wrong length");
  std::string point;
  point.reserve(1 + 2 * info.bytes);
  point.push_back('\x04');
  point += *x;
  point += *y;
  internal::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  SecretBnPtr priv;
  if (!d->empty()) {
    priv = to_secret_bn(*d);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get());
  }
  auto pkey = pkey_fromdata("EC", bld.get(), priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
  if (!pkey) return unusable("EC public key is not a valid point on its curve");
  if (priv && !pairwise_ok(pkey.get())) {
    return unusable("EC private key does not match x and y");
  }
  return pkey;
}

Result<internal::PkeyPtr> okp_from_jwk(const json& jwk, const CurveInfo& info) {
  auto x = b64_member(jwk, "x", true);
  if (!x) return x.error();
  auto d = b64_member(jwk, "d", false);
  if (!d) return d.error();
  if (x->size() != info.bytes) return unusable("OKP \"x\" has the wrong length for the curve");
  const int id = info.crv == Curve::Ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448;
  if (d->empty()) {
    internal::PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
        id, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
    if (!pkey) {
      internal::clear_openssl_errors();
      return unusable("OKP public key rejected by OpenSSL");
    }
    return pkey;
  }
  if (d->size() != info.bytes) return unusable("OKP \"d\" has the wrong length for the curve");
  internal::PkeyPtr pkey(EVP_PKEY_new_raw_private_key(
      id, nullptr, reinterpret_cast<const unsigned char*>(d->data()), d->size()));
  OPENSSL_cleanse(d->data(), d->size());
  if (!pkey) {
    internal::clear_openssl_errors();
    return unusable("OKP private key rejected by OpenSSL");
  }
  std::string pub(info.bytes, '\0');
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(pub.data()),
                                  &len) != 1 ||
      !internal::ct_equal(pub, *x)) {
    internal::clear_openssl_errors();
    return unusable("OKP private key does not match \"x\"");
  }
  return pkey;
}

// read_metadata fills kid, alg, use, key_ops and x5t#S256 and checks their types.
Result<void> read_metadata(const json& jwk, KeyData& data) {
  if (const auto it = jwk.find("kid"); it != jwk.end()) {
    if (!it->is_string()) return unusable("JWK \"kid\" is not a string");
    data.kid = it->get<std::string>();
  }
  if (const auto it = jwk.find("use"); it != jwk.end()) {
    if (!it->is_string()) return unusable("JWK \"use\" is not a string");
    data.use = it->get<std::string>();
  }
  if (const auto it = jwk.find("key_ops"); it != jwk.end()) {
    if (!it->is_array()) return unusable("JWK \"key_ops\" is not an array");
    for (const auto& op : *it) {
      if (!op.is_string()) return unusable("JWK \"key_ops\" holds a non-string");
      const auto& s = op.get_ref<const std::string&>();
      // RFC 7517 §4.3: duplicate key operation values MUST NOT be present.
      if (std::find(data.key_ops.begin(), data.key_ops.end(), s) != data.key_ops.end()) {
        return unusable("JWK \"key_ops\" has duplicates");
      }
      data.key_ops.push_back(s);
    }
  }
  if (const auto it = jwk.find("x5t#S256"); it != jwk.end()) {
    if (!it->is_string()) return unusable("JWK \"x5t#S256\" is not a string");
    data.x5t_s256 = it->get<std::string>();
  }
  if (const auto it = jwk.find("alg"); it != jwk.end()) {
    if (!it->is_string()) return unusable("JWK \"alg\" is not a string");
    const auto alg = alg_from_string(it->get_ref<const std::string&>());
    if (!alg) return unusable("JWK \"alg\" is not a JWS signature algorithm");
    data.alg = alg;
  }
  return {};
}

Result<void> check_alg_fits(const KeyData& data) {
  const std::size_t size = data.kty == KeyType::oct ? data.secret.size() : data.bits;
  if (data.alg) {
    if (!alg_fits(*data.alg, data.kty, data.crv, size)) {
      if (data.kty == KeyType::oct && key_type_for(*data.alg) == KeyType::oct) {
        return unusable("HMAC secret shorter than the hash output of its alg");
      }
      return unusable("JWK \"alg\" does not fit the key");
    }
    return {};
  }
  for (const Alg a : all_algs()) {
    if (alg_fits(a, data.kty, data.crv, size)) return {};
  }
  return unusable("HMAC secret shorter than 32 bytes");
}

std::string pem_of(EVP_PKEY* pkey, bool priv) {
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  const int ok = priv ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr,
                                                 nullptr)
                      : PEM_write_bio_PUBKEY(bio.get(), pkey);
  if (ok != 1) {
    internal::clear_openssl_errors();
    throw std::runtime_error("tokenpass: could not write the key as PEM");
  }
  char* mem = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &mem);
  return std::string(mem, static_cast<std::size_t>(len));
}

std::string bn_param(EVP_PKEY* pkey, const char* name, std::size_t width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
    internal::clear_openssl_errors();
    return {};
  }
  std::string out = internal::bn_to_bytes(bn, width);
  BN_clear_free(bn);
  return out;
}

// public_members: the members RFC 7638 §3.2 names for each key type, plus kty.
json public_members(const KeyData& d) {
  json j = json::object();
  j["kty"] = std::string(to_string(d.kty));
  EVP_PKEY* pkey = d.pkey.get();
  switch (d.kty) {
    case KeyType::RSA:
      j["n"] = internal::b64url_encode(bn_param(pkey, OSSL_PKEY_PARAM_RSA_N));
      j["e"] = internal::b64url_encode(bn_param(pkey, OSSL_PKEY_PARAM_RSA_E));
      break;
    case KeyType::EC: {
      const std::size_t width = curve_info(d.crv)->bytes;
      j["crv"] = std::string(to_string(d.crv));
      j["x"] = internal::b64url_encode(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, width));
      j["y"] = internal::b64url_encode(bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, width));
      break;
    }
    case KeyType::OKP: {
      std::string raw(curve_info(d.crv)->bytes, '\0');
      std::size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(raw.data()), &len);
      raw.resize(len);
      j["crv"] = std::string(to_string(d.crv));
      j["x"] = internal::b64url_encode(raw);
      break;
    }
    default:
      j["k"] = internal::b64url_encode(d.secret);
      break;
  }
  return j;
}

void add_metadata(const KeyData& d, json& j) {
  if (!d.kid.empty()) j["kid"] = d.kid;
  if (d.alg) j["alg"] = std::string(to_string(*d.alg));
  if (!d.use.empty()) j["use"] = d.use;
  if (!d.key_ops.empty()) j["key_ops"] = d.key_ops;
  if (d.x5t_s256) j["x5t#S256"] = *d.x5t_s256;
}

int no_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

// unreadable_pem: the error for a PEM block OpenSSL would not turn into a key. When the
// armour and base64 are sound and the contents are one DER SEQUENCE, the key inside was
// refused (a point off its curve, an unsupported type): key_unusable; otherwise the
// text is not a PEM key at all: malformed.
Error unreadable_pem(std::string_view pem, std::string_view what) {
  internal::clear_openssl_errors();
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  bool armour_ok = PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1 && len > 0;
  if (armour_ok) {
    const unsigned char* p = data;
    ASN1_TYPE* outer = d2i_ASN1_TYPE(nullptr, &p, len);
    armour_ok = outer != nullptr && ASN1_TYPE_get(outer) == V_ASN1_SEQUENCE && p == data + len;
    ASN1_TYPE_free(outer);
  }
  OPENSSL_free(name);
  OPENSSL_free(header);
  if (data != nullptr) OPENSSL_clear_free(data, static_cast<std::size_t>(len));
  internal::clear_openssl_errors();
  if (armour_ok) return unusable(std::string(what) + " refused by OpenSSL");
  return make_error(errc::malformed, std::string(what) + " is not readable PEM");
}

Result<Key> key_from_x509(X509* cert) {
  internal::PkeyPtr pkey(X509_get_pubkey(cert));
  if (!pkey) {
    internal::clear_openssl_errors();
    return unusable("certificate public key not readable");
  }
  auto data = from_pkey(std::move(pkey));
  if (!data) return data.error();
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) {
    internal::clear_openssl_errors();
    return unusable("certificate could not be encoded");
  }
  // RFC 8705 §3.1 / RFC 7517 §4.9: x5t#S256 is the SHA-256 of the DER certificate.
  (*data)->x5t_s256 = internal::b64url_encode(
      internal::sha256(std::string_view(reinterpret_cast<const char*>(der), len)));
  OPENSSL_free(der);
  return internal::KeyAccess::make(std::move(*data));
}

Result<Key> finish(Result<std::shared_ptr<KeyData>> data) {
  if (!data) return data.error();
  return internal::KeyAccess::make(std::move(*data));
}

Result<Key> decode_with(std::string_view bytes, const char* format) {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<OSSL_DECODER_CTX, internal::Deleter<OSSL_DECODER_CTX_free>> dctx(
      OSSL_DECODER_CTX_new_for_pkey(&raw, format, nullptr, nullptr, 0, nullptr, nullptr));
  if (!dctx) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "no key decoder available");
  }
  auto data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t len = bytes.size();
  if (OSSL_DECODER_from_data(dctx.get(), &data, &len) != 1 || raw == nullptr) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "no key found");
  }
  return finish(from_pkey(internal::PkeyPtr(raw)));
}

}  // namespace

// ---- Key ---------------------------------------------------------------------

Key::Key(std::shared_ptr<const internal::KeyData> data) : data_(std::move(data)) {}

Result<Key> Key::from_jwk(std::string_view text) {
  auto j = internal::parse_json(text, JsonLimits{});
  if (!j) return j.error();
  return from_jwk(*j);
}

Result<Key> Key::from_jwk(const json& jwk) {
  try {
    if (!jwk.is_object()) return make_error(errc::malformed, "JWK is not a JSON object");
    const auto kty_it = jwk.find("kty");
    if (kty_it == jwk.end() || !kty_it->is_string()) return unusable("JWK lacks \"kty\"");
    const auto kty = key_type_from_string(kty_it->get_ref<const std::string&>());
    if (!kty) return unusable("JWK \"kty\" is not RSA, EC, OKP or oct");

    std::shared_ptr<KeyData> data;
    if (*kty == KeyType::oct) {
      data = std::make_shared<KeyData>();
      auto k = b64_member(jwk, "k", true);
      if (!k) return k.error();
      data->secret = std::move(*k);
      data->bits = data->secret.size() * 8;
      data->is_private = true;
    } else {
      Result<internal::PkeyPtr> pkey = unusable("unreachable");
      if (*kty == KeyType::RSA) {
        pkey = rsa_from_jwk(jwk);
      } else {
        const auto crv_it = jwk.find("crv");
        if (crv_it == jwk.end() || !crv_it->is_string()) return unusable("JWK lacks \"crv\"");
        const auto crv = curve_from_string(crv_it->get_ref<const std::string&>());
        const bool okp_curve = crv == Curve::Ed25519 || crv == Curve::Ed448;
        if (!crv || (*kty == KeyType::OKP) != okp_curve) {
          return unusable("JWK \"crv\" is not supported for this kty");
        }
        pkey = *kty == KeyType::EC ? ec_from_jwk(jwk, *curve_info(*crv))
                                   : okp_from_jwk(jwk, *curve_info(*crv));
      }
      if (!pkey) return pkey.error();
      auto made = from_pkey(std::move(*pkey));
      if (!made) return made.error();
      data = std::move(*made);
    }
    if (auto meta = read_metadata(jwk, *data); !meta) return meta.error();
    if (auto fits = check_alg_fits(*data); !fits) return fits.error();
    return internal::KeyAccess::make(std::move(data));
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return unusable("JWK could not be read");
  }
}

Result<Key> Key::from_pem(std::string_view pem) {
  if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos) {
    return unusable("encrypted private keys are not supported");
  }
  if (pem.size() > static_cast<std::size_t>(INT32_MAX)) return make_error(errc::too_large);
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    internal::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
    if (!cert) return unreadable_pem(pem, "certificate");
    return key_from_x509(cert.get());
  }
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    // PEM_read_bio_PrivateKey reads PKCS#8 and the traditional RSA/EC forms, and skips
    // blocks such as "EC PARAMETERS" that come before the key.
    internal::PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
    if (!pkey) return unreadable_pem(pem, "private key");
    return finish(from_pkey(std::move(pkey)));
  }
  if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    internal::PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr));
    if (!pkey) return unreadable_pem(pem, "public key");
    return finish(from_pkey(std::move(pkey)));
  }
  if (pem.find("-----BEGIN RSA PUBLIC KEY-----") != std::string_view::npos) {
    auto key = decode_with(pem, "PEM");
    if (!key && key.error().code == errc::malformed) return unreadable_pem(pem, "public key");
    return key;
  }
  return make_error(errc::malformed, "no PEM key or certificate found");
}

Result<Key> Key::from_der(std::string_view der) {
  if (der.size() > static_cast<std::size_t>(INT32_MAX)) return make_error(errc::too_large);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  internal::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p == reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return key_from_x509(cert.get());
  }
  internal::clear_openssl_errors();
  return decode_with(der, "DER");
}

Result<Key> Key::from_secret(std::string_view secret, std::optional<Alg> alg, std::string kid) {
  if (alg && key_type_for(*alg) != KeyType::oct) return unusable("alg is not an HMAC algorithm");
  auto data = std::make_shared<KeyData>();
  data->secret = std::string(secret);
  data->bits = secret.size() * 8;
  data->is_private = true;
  data->alg = alg;
  data->kid = std::move(kid);
  if (auto fits = check_alg_fits(*data); !fits) return fits.error();
  return internal::KeyAccess::make(std::move(data));
}

Key Key::generate(Alg alg, const GenerateOptions& options) {
  auto data = std::make_shared<KeyData>();
  const KeyType kty = key_type_for(alg);
  if (kty == KeyType::oct) {
    data->secret = internal::random_bytes(hmac_min_secret_bytes(alg));
    data->bits = data->secret.size() * 8;
    data->is_private = true;
  } else {
    EVP_PKEY* raw = nullptr;
    if (kty == KeyType::RSA) {
      if (options.rsa_bits < kMinRsaBits) {
        throw std::invalid_argument("tokenpass: RSA keys under 2048 bits are refused");
      }
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", options.rsa_bits);
    } else if (kty == KeyType::EC) {
      const Curve crv = alg == Alg::ES256    ? Curve::P256
                        : alg == Alg::ES384  ? Curve::P384
                        : alg == Alg::ES512  ? Curve::P521
                                             : Curve::secp256k1;
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve_info(crv)->group);
    } else {
      Curve crv = alg == Alg::Ed448 ? Curve::Ed448 : Curve::Ed25519;
      if (options.curve) {
        if (!alg_fits(alg, KeyType::OKP, *options.curve, 0)) {
          throw std::invalid_argument("tokenpass: the curve does not fit the algorithm");
        }
        crv = *options.curve;
      }
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, curve_info(crv)->group);
    }
    if (raw == nullptr) {
      internal::clear_openssl_errors();
      throw std::runtime_error("tokenpass: key generation failed in OpenSSL");
    }
    auto made = from_pkey(internal::PkeyPtr(raw));
    if (!made) throw std::runtime_error("tokenpass: generated key refused: " + made.error().detail);
    data = std::move(*made);
    data->use = "sig";
  }
  data->alg = alg;
  Key key(data);
  data->kid = options.kid.empty() ? key.thumbprint() : options.kid;
  return key;
}

KeyType Key::type() const noexcept { return data_->kty; }
Curve Key::curve() const noexcept { return data_->crv; }
std::size_t Key::bits() const noexcept { return data_->bits; }
bool Key::is_private() const noexcept { return data_->is_private; }
const std::string& Key::kid() const noexcept { return data_->kid; }
std::optional<Alg> Key::alg() const noexcept { return data_->alg; }
const std::string& Key::use() const noexcept { return data_->use; }
const std::vector<std::string>& Key::key_ops() const noexcept { return data_->key_ops; }
const std::optional<std::string>& Key::x5t_s256() const noexcept { return data_->x5t_s256; }

std::vector<Alg> Key::allowed_algs() const {
  if (data_->alg) return {*data_->alg};
  std::vector<Alg> out;
  const std::size_t size = data_->kty == KeyType::oct ? data_->secret.size() : data_->bits;
  for (const Alg a : all_algs()) {
    if (alg_fits(a, data_->kty, data_->crv, size)) out.push_back(a);
  }
  return out;
}

bool Key::accepts(Alg alg) const noexcept {
  if (data_->alg) return algs_match(*data_->alg, alg, data_->crv);
  const std::size_t size = data_->kty == KeyType::oct ? data_->secret.size() : data_->bits;
  return alg_fits(alg, data_->kty, data_->crv, size);
}

Alg Key::default_alg() const noexcept {
  if (data_->alg) return *data_->alg;
  switch (data_->kty) {
    case KeyType::oct:
      return data_->secret.size() >= 64   ? Alg::HS512
             : data_->secret.size() >= 48 ? Alg::HS384
                                          : Alg::HS256;
    case KeyType::RSA:
      return Alg::RS256;
    case KeyType::EC:
      return data_->crv == Curve::P256   ? Alg::ES256
             : data_->crv == Curve::P384 ? Alg::ES384
             : data_->crv == Curve::P521 ? Alg::ES512
                                         : Alg::ES256K;
    default:
      return Alg::EdDSA;
  }
}

namespace {
bool permits(const KeyData& d, std::string_view op) {
  if (!d.use.empty() && d.use != "sig") return false;
  if (d.key_ops.empty()) return true;
  return std::find(d.key_ops.begin(), d.key_ops.end(), op) != d.key_ops.end();
}
}  // namespace

bool Key::can_verify() const noexcept { return permits(*data_, "verify"); }
bool Key::can_sign() const noexcept { return data_->is_private && permits(*data_, "sign"); }

Key Key::with_kid(std::string kid) const {
  auto copy = std::make_shared<KeyData>(*data_);
  copy->kid = std::move(kid);
  return Key(std::move(copy));
}

Result<Key> Key::with_alg(Alg alg) const {
  auto copy = std::make_shared<KeyData>(*data_);
  copy->alg = alg;
  if (auto fits = check_alg_fits(*copy); !fits) return fits.error();
  return Key(std::move(copy));
}

Result<Key> Key::public_key() const {
  if (data_->kty == KeyType::oct) return unusable("an HMAC key has no public half");
  if (!data_->is_private) return *this;
  // Re-read the public JWK members: the new EVP_PKEY then holds no private part at all.
  auto pub = from_jwk(to_public_jwk());
  if (!pub) return pub.error();
  return pub;
}

json Key::to_public_jwk() const {
  if (data_->kty == KeyType::oct) {
    throw std::invalid_argument("tokenpass: an HMAC key has no public JWK");
  }
  json j = public_members(*data_);
  add_metadata(*data_, j);
  return j;
}

json Key::to_private_jwk() const {
  json j = public_members(*data_);
  EVP_PKEY* pkey = data_->pkey.get();
  if (data_->is_private) {
    if (data_->kty == KeyType::RSA) {
      static const char* const kMembers[][2] = {
          {"d", OSSL_PKEY_PARAM_RSA_D},           {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
          {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},     {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
          {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},  {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
      };
      for (const auto& m : kMembers) {
        std::string v = bn_param(pkey, m[1]);
        if (!v.empty()) j[m[0]] = internal::b64url_encode(v);
        OPENSSL_cleanse(v.data(), v.size());
      }
    } else if (data_->kty == KeyType::EC) {
      std::string d = bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, curve_info(data_->crv)->bytes);
      j["d"] = internal::b64url_encode(d);
      OPENSSL_cleanse(d.data(), d.size());
    } else if (data_->kty == KeyType::OKP) {
      std::string d(curve_info(data_->crv)->bytes, '\0');
      std::size_t len = d.size();
      EVP_PKEY_get_raw_private_key(pkey, reinterpret_cast<unsigned char*>(d.data()), &len);
      d.resize(len);
      j["d"] = internal::b64url_encode(d);
      OPENSSL_cleanse(d.data(), d.size());
    }
  }
  add_metadata(*data_, j);
  return j;
}

std::string Key::to_public_pem() const {
  if (data_->kty == KeyType::oct) throw std::invalid_argument("tokenpass: an HMAC key has no PEM");
  return pem_of(data_->pkey.get(), false);
}

std::string Key::to_private_pem() const {
  if (data_->kty == KeyType::oct || !data_->is_private) {
    throw std::invalid_argument("tokenpass: no private key to write as PEM");
  }
  return pem_of(data_->pkey.get(), true);
}

std::string Key::thumbprint() const {
  // RFC 7638 §3: the required members only, in lexicographic order, no white space;
  // nlohmann::json's default object is an ordered std::map and dump() adds no spaces.
  const json members = public_members(*data_);
  return internal::b64url_encode(internal::sha256(members.dump()));
}

// ---- KeySet ------------------------------------------------------------------

KeySet::KeySet(std::vector<Key> keys) : keys_(std::move(keys)) {}

KeySet& KeySet::operator=(const KeySet& other) {
  if (this != &other) {
    keys_ = other.keys_;
    skipped_ = other.skipped_;
    instance_ = next_instance();
  }
  return *this;
}

KeySet& KeySet::operator=(KeySet&& other) noexcept {
  if (this != &other) {
    keys_ = std::move(other.keys_);
    skipped_ = std::move(other.skipped_);
    instance_ = next_instance();
  }
  return *this;
}

std::uint64_t KeySet::next_instance() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Result<KeySet> KeySet::from_jwks(std::string_view text, std::size_t max_keys) {
  JsonLimits limits;
  limits.max_members = std::max(limits.max_members, max_keys + 1);
  auto j = internal::parse_json(text, limits);
  if (!j) return j.error();
  return from_jwks(*j, max_keys);
}

Result<KeySet> KeySet::from_jwks(const json& jwks, std::size_t max_keys) {
  if (!jwks.is_object()) return make_error(errc::malformed, "JWK set is not a JSON object");
  const auto it = jwks.find("keys");
  if (it == jwks.end() || !it->is_array()) {
    return make_error(errc::malformed, "JWK set has no \"keys\" array");
  }
  if (it->size() > max_keys) return make_error(errc::too_large, "JWK set holds too many keys");
  KeySet set;
  std::size_t index = 0;
  for (const auto& member : *it) {
    auto key = Key::from_jwk(member);
    if (key) {
      set.keys_.push_back(std::move(*key));
    } else {
      SkippedKey skipped;
      skipped.index = index;
      if (member.is_object()) {
        const auto kid = member.find("kid");
        if (kid != member.end() && kid->is_string()) skipped.kid = kid->get<std::string>();
      }
      skipped.error = key.error();
      set.skipped_.push_back(std::move(skipped));
    }
    ++index;
  }
  return set;
}

const Key* KeySet::find(std::string_view kid) const noexcept {
  for (const auto& k : keys_) {
    if (k.kid() == kid) return &k;
  }
  return nullptr;
}

json KeySet::to_public_jwks() const {
  json keys = json::array();
  for (const auto& k : keys_) {
    if (k.type() != KeyType::oct) keys.push_back(k.to_public_jwk());
  }
  return json{{"keys", std::move(keys)}};
}

json KeySet::to_private_jwks() const {
  json keys = json::array();
  for (const auto& k : keys_) keys.push_back(k.to_private_jwk());
  return json{{"keys", std::move(keys)}};
}

}  // namespace tokenpass

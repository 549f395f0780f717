#include "support/test_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "internal/base64url.h"

namespace tp_test {

std::string read_data(const std::string& relative) {
  const std::string path = std::string(TOKENPASS_TEST_DATA_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test data " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_data_json(const std::string& relative) {
  return nlohmann::json::parse(read_data(relative));
}

const tokenpass::Key& key_for(tokenpass::Alg alg) {
  static std::mutex mu;
  static std::map<tokenpass::Alg, tokenpass::Key> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(alg);
  if (it == cache.end()) {
    tokenpass::GenerateOptions opts;
    opts.kid = "test-" + std::string(tokenpass::to_string(alg));
    it = cache.emplace(alg, tokenpass::Key::generate(alg, opts)).first;
  }
  return it->second;
}

std::string run_python(const std::string& script, const std::vector<std::string>& args) {
  // posix_spawn-free and shell-free: fork/exec with argv, stdout through a pipe.
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out[1], 1);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("/usr/bin/python3"));
    argv.push_back(const_cast<char*>("-c"));
    argv.push_back(const_cast<char*>(script.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/usr/bin/python3", argv.data());
    _exit(127);
  }
  close(out[1]);
  std::string result;
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(out[0], buf, sizeof buf)) > 0) result.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return result;
}

std::string sample_claims() {
  return R"({"iss":"https://auth.example.com","sub":"user-4711","aud":["orders-api","billing-api"],)"
         R"("exp":4102444800,"nbf":1700000000,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
         R"("client_id":"web-frontend","scope":"orders:read orders:write billing:read profile email",)"
         R"("roles":["customer","beta"],"tenant":"acme","email":"jane@example.com","name":"Jane Doe"})";
}

std::string b64(std::string_view bytes) { return tokenpass::internal::b64url_encode(bytes); }

std::string unb64(std::string_view text) {
  std::string out;
  if (!tokenpass::internal::b64url_decode(text, out)) throw std::runtime_error("bad base64url");
  return out;
}

Split split(std::string_view compact) {
  const auto d1 = compact.find('.');
  const auto d2 = compact.find('.', d1 + 1);
  return Split{std::string(compact.substr(0, d1)), std::string(compact.substr(d1 + 1, d2 - d1 - 1)),
               std::string(compact.substr(d2 + 1))};
}

std::string join(const Split& s) { return s.header + "." + s.payload + "." + s.signature; }

namespace tamper {

std::vector<std::string> flip_each_signature_bit(std::string_view compact) {
  Split parts = split(compact);
  const std::string sig = unb64(parts.signature);
  std::vector<std::string> out;
  out.reserve(sig.size() * 8);
  for (std::size_t i = 0; i < sig.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = sig;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      parts.signature = b64(flipped);
      out.push_back(join(parts));
    }
  }
  return out;
}

std::string with_header(std::string_view compact, std::string_view header_json) {
  Split parts = split(compact);
  parts.header = b64(header_json);
  return join(parts);
}

std::string resign_with_header(std::string_view compact, std::string_view header_json,
                               const tokenpass::Key& key, tokenpass::Alg alg) {
  // sign_jws writes only headers it considers valid, so hostile headers get their MAC
  // here, straight from OpenSSL.
  if (key.type() != tokenpass::KeyType::oct) {
    throw std::invalid_argument("resign_with_header supports HMAC keys only");
  }
  Split parts = split(compact);
  parts.header = b64(header_json);
  const std::string input = parts.header + "." + parts.payload;
  const std::string secret = unb64(key.to_private_jwk()["k"].get<std::string>());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const EVP_MD* md = alg == tokenpass::Alg::HS384   ? EVP_sha384()
                     : alg == tokenpass::Alg::HS512 ? EVP_sha512()
                                                    : EVP_sha256();
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  parts.signature = b64(std::string(reinterpret_cast<char*>(mac), len));
  return join(parts);
}

std::string resign_parts(std::string_view header_b64, std::string_view payload_b64,
                         const tokenpass::Key& key, tokenpass::Alg alg) {
  if (key.type() != tokenpass::KeyType::oct) {
    throw std::invalid_argument("resign_parts supports HMAC keys only");
  }
  const std::string input = std::string(header_b64) + "." + std::string(payload_b64);
  const std::string secret = unb64(key.to_private_jwk()["k"].get<std::string>());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const EVP_MD* md = alg == tokenpass::Alg::HS384   ? EVP_sha384()
                     : alg == tokenpass::Alg::HS512 ? EVP_sha512()
                                                    : EVP_sha256();
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64(std::string(reinterpret_cast<char*>(mac), len));
}

std::string with_signature(std::string_view compact, std::string_view signature) {
  Split parts = split(compact);
  parts.signature = b64(signature);
  return join(parts);
}

std::string set_trailing_bit(std::string b64) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  if (b64.size() % 4 != 2 && b64.size() % 4 != 3) {
    throw std::invalid_argument("set_trailing_bit: no trailing bits in this length");
  }
  const std::string_view alphabet(kAlphabet, 64);
  const auto v = alphabet.find(b64.back());
  if (v == std::string_view::npos) throw std::invalid_argument("set_trailing_bit: not base64url");
  b64.back() = kAlphabet[v | 1];  // the lowest bit is never part of a byte here
  return b64;
}

}  // namespace tamper

tokenpass::Key public_of(const tokenpass::Key& key) {
  if (key.type() == tokenpass::KeyType::oct) return key;
  return tokenpass::Key::from_jwk(key.to_public_jwk()).value();
}

tokenpass::Key without_alg(const tokenpass::Key& key) {
  nlohmann::json jwk = key.is_private() ? key.to_private_jwk() : key.to_public_jwk();
  jwk.erase("alg");
  return tokenpass::Key::from_jwk(jwk).value();
}

namespace ossl {
namespace {

template <auto Fn>
struct Free {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO_free_all>>;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("OpenSSL test helper failed: ") + what);
}

Pkey load(const tokenpass::Key& key) {
  const bool priv = key.is_private();
  const std::string pem = priv ? key.to_private_pem() : key.to_public_pem();
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey pkey(priv ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                 : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) fail("load");
  return pkey;
}

std::string bio_text(BIO* bio) {
  char* mem = nullptr;
  const long len = BIO_get_mem_data(bio, &mem);
  return std::string(mem, static_cast<std::size_t>(len));
}

template <class Fn>
std::string der_of(Fn&& i2d) {
  unsigned char* der = nullptr;
  const int len = i2d(&der);
  if (len <= 0) fail("i2d");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string bn_b64(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) fail("get_bn_param");
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_clear_free(bn);
  return b64(bytes);
}

}  // namespace

std::string sha256(std::string_view bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string spki_der(const tokenpass::Key& key) {
  Pkey pkey = load(key);
  return der_of([&](unsigned char** out) { return i2d_PUBKEY(pkey.get(), out); });
}

std::string pkcs8_der(const tokenpass::Key& key) {
  Pkey pkey = load(key);
  Bio bio(BIO_new(BIO_s_mem()));
  if (i2d_PKCS8PrivateKey_bio(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("i2d_PKCS8PrivateKey_bio");
  }
  return bio_text(bio.get());
}

std::string traditional_pem(const tokenpass::Key& key) {
  Pkey pkey = load(key);
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey_traditional");
  }
  return bio_text(bio.get());
}

std::string traditional_der(const tokenpass::Key& key) {
  Pkey pkey = load(key);
  return der_of([&](unsigned char** out) { return i2d_PrivateKey(pkey.get(), out); });
}

std::string pkcs1_public_pem(const tokenpass::Key& key) {
  Pkey pkey = load(key);
  std::unique_ptr<OSSL_ENCODER_CTX, Free<OSSL_ENCODER_CTX_free>> ctx(OSSL_ENCODER_CTX_new_for_pkey(
      pkey.get(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr));
  unsigned char* data = nullptr;
  std::size_t len = 0;
  if (!ctx || OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) fail("OSSL_ENCODER_to_data");
  std::string out(reinterpret_cast<char*>(data), len);
  OPENSSL_free(data);
  return out;
}

std::string self_signed_cert_der(const tokenpass::Key& key) {
  Pkey pkey = load(key);
  std::unique_ptr<X509, Free<X509_free>> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4711) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600) == nullptr ||
      X509_set_pubkey(cert.get(), pkey.get()) != 1) {
    fail("X509 fields");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("tokenpass test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  const bool eddsa = key.type() == tokenpass::KeyType::OKP;
  if (X509_sign(cert.get(), pkey.get(), eddsa ? nullptr : EVP_sha256()) <= 0) fail("X509_sign");
  return der_of([&](unsigned char** out) { return i2d_X509(cert.get(), out); });
}

std::string cert_pem(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, Free<X509_free>> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  Bio bio(BIO_new(BIO_s_mem()));
  if (!cert || PEM_write_bio_X509(bio.get(), cert.get()) != 1) fail("PEM_write_bio_X509");
  return bio_text(bio.get());
}

std::string ecdsa_raw_to_der(std::string_view raw) {
  const std::size_t width = raw.size() / 2;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(p, static_cast<int>(width), nullptr);
  BIGNUM* s = BN_bin2bn(p + width, static_cast<int>(width), nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    fail("ECDSA_SIG_set0");
  }
  std::string out = der_of([&](unsigned char** o) { return i2d_ECDSA_SIG(sig, o); });
  ECDSA_SIG_free(sig);
  return out;
}

std::string ec_order(tokenpass::Curve crv, std::size_t width) {
  const int nid = crv == tokenpass::Curve::P256   ? NID_X9_62_prime256v1
                  : crv == tokenpass::Curve::P384 ? NID_secp384r1
                  : crv == tokenpass::Curve::P521 ? NID_secp521r1
                                                  : NID_secp256k1;
  std::unique_ptr<EC_GROUP, Free<EC_GROUP_free>> group(EC_GROUP_new_by_curve_name(nid));
  if (!group) fail("EC_GROUP_new_by_curve_name");
  std::string out(width, '\0');
  if (BN_bn2binpad(EC_GROUP_get0_order(group.get()), reinterpret_cast<unsigned char*>(out.data()),
                   static_cast<int>(width)) < 0) {
    fail("BN_bn2binpad");
  }
  return out;
}

std::pair<std::string, std::string> foreign_key_pems(const std::string& kind) {
  Pkey pkey;
  if (kind == "RSA-PSS") {
    std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1 ||
        EVP_PKEY_generate(ctx.get(), &raw) != 1) {
      fail("RSA-PSS keygen");
    }
    pkey.reset(raw);
  } else {
    pkey.reset(kind == "X25519" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kind.c_str()));
  }
  if (!pkey) fail("EVP_PKEY_Q_keygen");
  Bio pub(BIO_new(BIO_s_mem()));
  Bio priv(BIO_new(BIO_s_mem()));
  const bool ok =
      PEM_write_bio_PUBKEY(pub.get(), pkey.get()) == 1 &&
      PEM_write_bio_PrivateKey(priv.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (!ok) fail("PEM_write");
  return {bio_text(pub.get()), bio_text(priv.get())};
}

const WeakRsa& rsa_1024() {
  static const WeakRsa weak = [] {
    Pkey pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024)));
    if (!pkey) fail("EVP_PKEY_Q_keygen");
    WeakRsa w;
    w.public_jwk = {{"kty", "RSA"},
                    {"n", bn_b64(pkey.get(), OSSL_PKEY_PARAM_RSA_N)},
                    {"e", bn_b64(pkey.get(), OSSL_PKEY_PARAM_RSA_E)},
                    {"kid", "weak"}};
    w.private_jwk = w.public_jwk;
    w.private_jwk["d"] = bn_b64(pkey.get(), OSSL_PKEY_PARAM_RSA_D);
    Bio pub(BIO_new(BIO_s_mem()));
    Bio priv(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PUBKEY(pub.get(), pkey.get()) != 1 ||
        PEM_write_bio_PrivateKey(priv.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
            1) {
      fail("PEM_write");
    }
    w.public_pem = bio_text(pub.get());
    w.private_pem = bio_text(priv.get());
    w.public_der = der_of([&](unsigned char** out) { return i2d_PUBKEY(pkey.get(), out); });
    return w;
  }();
  return weak;
}

}  // namespace ossl
}  // namespace tp_test

// One case per defect found in review; each failed before its fix.
#include <string>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "support/catch.h"
#include "support/test_support.h"

using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::Key;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

std::string pem_of_public(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  char* mem = nullptr;
  const long len = BIO_get_mem_data(bio, &mem);
  std::string out(mem, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

// An RSA public key with the modulus of a real key and the exponent `e`.
std::string rsa_pem_with_exponent(unsigned long e) {
  const json jwk = tp_test::key_for(Alg::RS256).to_public_jwk();
  const std::string n = tp_test::unb64(jwk["n"].get<std::string>());
  BIGNUM* nb = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* eb = BN_new();
  BN_set_word(eb, e);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, nb);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, eb);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  std::string pem = pkey != nullptr ? pem_of_public(pkey) : std::string();
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(nb);
  BN_free(eb);
  return pem;
}

}  // namespace

TEST_CASE("a PS256 signature with its leading zero byte dropped is rejected", "[jws][tamper][rsa]") {
  // PSS signatures are randomised: sign until one starts with 0x00 (1 in 256).
  const Key& key = tp_test::key_for(Alg::PS256);
  const Key pub = tp_test::public_of(key);
  std::string token;
  for (int i = 0; i < 5000 && token.empty(); ++i) {
    auto t = tokenpass::sign_jws(key, "{}", tokenpass::JwsSignOptions{Alg::PS256, {}, {}, json::object()});
    REQUIRE(t);
    if (tp_test::unb64(tp_test::split(*t).signature)[0] == '\0') token = *t;
  }
  REQUIRE_FALSE(token.empty());
  REQUIRE(tokenpass::verify_jws(token, pub));
  const std::string sig = tp_test::unb64(tp_test::split(token).signature);
  const auto shortened = tp_test::tamper::with_signature(token, sig.substr(1));
  CHECK(error_of(tokenpass::verify_jws(shortened, pub)) == errc::bad_signature);
}

TEST_CASE("an RSA key from PEM with public exponent 1 is refused", "[jwk][rsa]") {
  const std::string e1 = rsa_pem_with_exponent(1);
  REQUIRE_FALSE(e1.empty());
  CHECK(error_of(Key::from_pem(e1)) == errc::key_unusable);
  CHECK(error_of(Key::from_pem(rsa_pem_with_exponent(4))) == errc::key_unusable);
  CHECK(Key::from_pem(rsa_pem_with_exponent(65537)));
}

TEST_CASE("oversized RSA JWK members are refused before any arithmetic", "[jwk][rsa][limits]") {
  json jwk = tp_test::key_for(Alg::RS256).to_private_jwk();
  SECTION("a modulus over 16384 bits") {
    jwk = json{{"kty", "RSA"}, {"n", tp_test::b64(std::string(2049, '\xff'))}, {"e", "AQAB"},
               {"d", tp_test::b64(std::string(2049, '\x7f'))}};
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
  SECTION("a public exponent over 64 bits") {
    jwk["e"] = tp_test::b64(std::string(9, '\x01'));
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
  SECTION("d longer than the modulus") {
    jwk["d"] = tp_test::b64(std::string(257, '\x01'));
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
  SECTION("a CRT member longer than the modulus") {
    jwk["p"] = tp_test::b64(std::string(300, '\x01'));
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
}

TEST_CASE("a header kid of \"\" matches only keys without a kid", "[jws][kid]") {
  const Key& key = tp_test::key_for(Alg::HS256);
  tokenpass::JwsSignOptions o;
  o.kid = "";
  // sign_jws omits an empty kid, so write the header by hand.
  const auto token = tp_test::tamper::resign_with_header(
      tokenpass::sign_jws(key, "{}").value(), R"({"alg":"HS256","kid":""})", key, Alg::HS256);
  CHECK(error_of(tokenpass::verify_jws(token, key)) == errc::key_not_found);  // key kid "test-HS256"
  CHECK(tokenpass::verify_jws(token, key.with_kid("")));
}

TEST_CASE("sign_jws reports a kid that is not UTF-8 instead of throwing", "[jws][sign]") {
  const Key key = Key::from_secret(std::string(32, 's'), {}, "\xff\xfe").value();
  tokenpass::Result<std::string> r = tokenpass::make_error(errc::replayed);
  CHECK_NOTHROW(r = tokenpass::sign_jws(key, "{}"));
  CHECK(error_of(r) == errc::malformed);
}

TEST_CASE("a PEM EC key whose point is off the curve is key_unusable, not malformed", "[jwk][ec]") {
  std::string der = tp_test::ossl::spki_der(tp_test::key_for(Alg::ES256));
  der.back() = static_cast<char>(der.back() ^ 0x01);  // the last byte of y
  std::string pem = "-----BEGIN PUBLIC KEY-----\n" + tp_test::ossl::base64(der) +
                    "\n-----END PUBLIC KEY-----\n";
  CHECK(error_of(Key::from_pem(pem)) == errc::key_unusable);
  CHECK(error_of(Key::from_der(der)) != errc{});
  // Broken armour or base64 is not PEM at all.
  CHECK(error_of(Key::from_pem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n")) ==
        errc::malformed);
}

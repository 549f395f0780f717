#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/tokenpass.h"

using tokenpass::Alg;
using tokenpass::Curve;
using tokenpass::errc;
using tokenpass::Key;
using tokenpass::KeySet;
using tokenpass::KeyType;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

std::vector<Alg> asymmetric_algs() {
  std::vector<Alg> out;
  for (const Alg a : tokenpass::all_algs()) {
    if (tokenpass::key_type_for(a) != KeyType::oct) out.push_back(a);
  }
  return out;
}

std::vector<Alg> ec_algs() { return {Alg::ES256, Alg::ES384, Alg::ES512, Alg::ES256K}; }

Curve curve_for(Alg alg) {
  switch (alg) {
    case Alg::ES256:
      return Curve::P256;
    case Alg::ES384:
      return Curve::P384;
    case Alg::ES512:
      return Curve::P521;
    case Alg::ES256K:
      return Curve::secp256k1;
    case Alg::EdDSA:
    case Alg::Ed25519:
      return Curve::Ed25519;
    case Alg::Ed448:
      return Curve::Ed448;
    default:
      return Curve::none;
  }
}

// token_for: a token signed by the cached private key for `alg`.
std::string token_for(Alg alg) {
  return tokenpass::sign_jws(tp_test::key_for(alg), tp_test::sample_claims()).value();
}

bool verifies(const std::string& token, const Key& key) {
  return static_cast<bool>(tokenpass::verify_jws(token, key));
}

// flip_last_byte: a base64url member with its last decoded byte changed.
std::string flip_last_byte(const std::string& member) {
  std::string bytes = tp_test::unb64(member);
  bytes.back() = static_cast<char>(bytes.back() ^ 1);
  return tp_test::b64(bytes);
}

template <class, class = void>
struct from_jwk_takes : std::false_type {};
template <class T>
struct from_jwk_takes<T, std::void_t<decltype(Key::from_jwk(std::declval<T>()))>> : std::true_type {
};
template <class, class = void>
struct from_jwks_takes : std::false_type {};
template <class T>
struct from_jwks_takes<T, std::void_t<decltype(KeySet::from_jwks(std::declval<T>()))>>
    : std::true_type {};

}  // namespace

// A std::string or a string literal converts to both std::string_view and
// nlohmann::json; without their own overloads the call was ambiguous and did not compile.
TEST_CASE("from_jwk and from_jwks accept a std::string and a string literal", "[jwk][api]") {
  STATIC_REQUIRE(from_jwk_takes<std::string_view>::value);
  STATIC_REQUIRE(from_jwk_takes<const nlohmann::json&>::value);
  STATIC_REQUIRE(from_jwk_takes<const std::string&>::value);
  STATIC_REQUIRE(from_jwk_takes<const char*>::value);
  STATIC_REQUIRE(from_jwks_takes<const std::string&>::value);
  STATIC_REQUIRE(from_jwks_takes<const char*>::value);
  const std::string text = R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})";
  CHECK(tokenpass::Key::from_jwk(text));
  CHECK(tokenpass::KeySet::from_jwks(R"({"keys":[]})"));
}

TEST_CASE("from_jwk reads public and private keys of every type and curve", "[jwk]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& source = tp_test::key_for(alg);
  const KeyType kty = tokenpass::key_type_for(alg);

  auto priv = Key::from_jwk(std::string_view(source.to_private_jwk().dump()));
  REQUIRE(priv);
  CHECK(priv->type() == kty);
  CHECK(priv->curve() == curve_for(alg));
  CHECK(priv->is_private());
  CHECK(priv->kid() == "test-" + std::string(tokenpass::to_string(alg)));
  CHECK(priv->alg() == alg);
  CHECK(priv->bits() == source.bits());

  if (kty == KeyType::oct) {
    CHECK(priv->is_symmetric());
    CHECK_THROWS_AS(source.to_public_jwk(), std::invalid_argument);
    return;
  }
  const json pub_jwk = source.to_public_jwk();
  CHECK_FALSE(pub_jwk.contains("d"));
  CHECK_FALSE(pub_jwk.contains("p"));
  auto pub = Key::from_jwk(pub_jwk);
  REQUIRE(pub);
  CHECK(pub->type() == kty);
  CHECK(pub->curve() == curve_for(alg));
  CHECK_FALSE(pub->is_private());
  CHECK(pub->alg() == alg);
  CHECK(pub->kid() == source.kid());
  CHECK(verifies(token_for(alg), *pub));
  CHECK(verifies(token_for(alg), *priv));
}

TEST_CASE("private and public JWKs round-trip unchanged", "[jwk]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& source = tp_test::key_for(alg);
  const json priv = source.to_private_jwk();
  CHECK(Key::from_jwk(priv).value().to_private_jwk() == priv);
  CHECK(Key::from_jwk(priv).value().thumbprint() == source.thumbprint());
  if (source.is_symmetric()) return;
  const json pub = source.to_public_jwk();
  const Key pub_key = Key::from_jwk(pub).value();
  CHECK(pub_key.to_public_jwk() == pub);
  CHECK(pub_key.thumbprint() == source.thumbprint());
  CHECK_THROWS_AS(pub_key.to_private_pem(), std::invalid_argument);
  // A public key's "private" JWK is its public JWK: there is nothing more to write.
  CHECK(pub_key.to_private_jwk() == pub);
}

TEST_CASE("from_pem reads SPKI public keys and PKCS#8 private keys", "[jwk][pem]") {
  const Alg alg = GENERATE(from_range(asymmetric_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& source = tp_test::key_for(alg);

  const std::string spki = source.to_public_pem();
  CHECK(spki.find("-----BEGIN PUBLIC KEY-----") != std::string::npos);
  auto pub = Key::from_pem(spki);
  REQUIRE(pub);
  CHECK_FALSE(pub->is_private());
  CHECK(pub->thumbprint() == source.thumbprint());
  CHECK(pub->kid().empty());
  CHECK_FALSE(pub->alg());
  CHECK(verifies(token_for(alg), *pub));

  const std::string pkcs8 = source.to_private_pem();
  CHECK(pkcs8.find("-----BEGIN PRIVATE KEY-----") != std::string::npos);
  auto priv = Key::from_pem(pkcs8);
  REQUIRE(priv);
  CHECK(priv->is_private());
  CHECK(priv->thumbprint() == source.thumbprint());
  tokenpass::JwsSignOptions opts;
  opts.alg = alg;
  auto token = tokenpass::sign_jws(*priv, "x", opts);
  REQUIRE(token);
  CHECK(verifies(*token, source));
}

TEST_CASE("from_pem reads traditional RSA PRIVATE KEY and EC PRIVATE KEY blocks", "[jwk][pem]") {
  const Alg alg = GENERATE(Alg::RS256, Alg::ES256, Alg::ES384, Alg::ES512, Alg::ES256K);
  CAPTURE(tokenpass::to_string(alg));
  const Key& source = tp_test::key_for(alg);
  const std::string pem = tp_test::ossl::traditional_pem(source);
  const char* const label =
      alg == Alg::RS256 ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----";
  REQUIRE(pem.find(label) != std::string::npos);
  auto key = Key::from_pem(pem);
  REQUIRE(key);
  CHECK(key->is_private());
  CHECK(key->type() == source.type());
  CHECK(key->curve() == source.curve());
  CHECK(key->thumbprint() == source.thumbprint());
}

TEST_CASE("from_pem skips an EC PARAMETERS block before the key", "[jwk][pem]") {
  const Key& source = tp_test::key_for(Alg::ES256);
  const std::string pem =
      "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
      "-----END EC PARAMETERS-----\n" +
      tp_test::ossl::traditional_pem(source);
  auto key = Key::from_pem(pem);
  REQUIRE(key);
  CHECK(key->thumbprint() == source.thumbprint());
}

TEST_CASE("from_pem refuses keys that are no JWS signature key", "[jwk][refuse]") {
  const std::string kind = GENERATE(as<std::string>{}, "X25519", "P-224", "RSA-PSS");
  CAPTURE(kind);
  const auto [pub, priv] = tp_test::ossl::foreign_key_pems(kind);
  CHECK(error_of(Key::from_pem(pub)) == errc::key_unusable);
  CHECK(error_of(Key::from_pem(priv)) == errc::key_unusable);
}

TEST_CASE("from_pem reads a PKCS#1 RSA PUBLIC KEY block", "[jwk][pem]") {
  const Key& source = tp_test::key_for(Alg::RS256);
  const std::string pem = tp_test::ossl::pkcs1_public_pem(source);
  REQUIRE(pem.find("-----BEGIN RSA PUBLIC KEY-----") != std::string::npos);
  auto key = Key::from_pem(pem);
  REQUIRE(key);
  CHECK(key->type() == KeyType::RSA);
  CHECK_FALSE(key->is_private());
  CHECK(key->thumbprint() == source.thumbprint());
  CHECK(verifies(token_for(Alg::RS256), *key));
}

TEST_CASE("from_pem finds no key in text without a PEM key", "[jwk][pem]") {
  for (const std::string& text :
       {std::string(""), std::string("hello"), std::string("-----BEGIN PUBLIC KEY-----\nAAAA\n"),
        std::string("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    CAPTURE(text);
    CHECK(error_of(Key::from_pem(text)) == errc::malformed);
  }
}

TEST_CASE("from_der reads SPKI, PKCS#8 and traditional DER", "[jwk][der]") {
  const Alg alg = GENERATE(from_range(asymmetric_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& source = tp_test::key_for(alg);

  auto pub = Key::from_der(tp_test::ossl::spki_der(source));
  REQUIRE(pub);
  CHECK_FALSE(pub->is_private());
  CHECK(pub->thumbprint() == source.thumbprint());

  auto priv = Key::from_der(tp_test::ossl::pkcs8_der(source));
  REQUIRE(priv);
  CHECK(priv->is_private());
  CHECK(priv->thumbprint() == source.thumbprint());

  if (source.type() != KeyType::OKP) {
    auto trad = Key::from_der(tp_test::ossl::traditional_der(source));
    REQUIRE(trad);
    CHECK(trad->is_private());
    CHECK(trad->thumbprint() == source.thumbprint());
  }
  CHECK(error_of(Key::from_der("not DER at all")) == errc::malformed);
}

TEST_CASE("a certificate in PEM or DER yields its public key and x5t#S256", "[jwk][x509]") {
  const Alg alg = GENERATE(Alg::RS256, Alg::ES256, Alg::ES512, Alg::ES256K, Alg::EdDSA, Alg::Ed448);
  CAPTURE(tokenpass::to_string(alg));
  const Key& source = tp_test::key_for(alg);
  const std::string der = tp_test::ossl::self_signed_cert_der(source);
  const std::string expected_x5t = tp_test::b64(tp_test::ossl::sha256(der));

  auto from_der = Key::from_der(der);
  auto from_pem = Key::from_pem(tp_test::ossl::cert_pem(der));
  for (auto* key : {&from_der, &from_pem}) {
    REQUIRE(*key);
    CHECK_FALSE((*key)->is_private());
    CHECK((*key)->thumbprint() == source.thumbprint());
    REQUIRE((*key)->x5t_s256());
    CHECK(*(*key)->x5t_s256() == expected_x5t);
    CHECK((*key)->to_public_jwk()["x5t#S256"] == expected_x5t);
    CHECK(verifies(token_for(alg), **key));
  }
  CHECK_FALSE(source.x5t_s256());
}

TEST_CASE("an RSA key under 2048 bits is refused as JWK, PEM and DER", "[jwk][refuse]") {
  const auto& weak = tp_test::ossl::rsa_1024();
  CHECK(error_of(Key::from_jwk(weak.public_jwk)) == errc::key_unusable);
  CHECK(error_of(Key::from_jwk(weak.private_jwk)) == errc::key_unusable);
  CHECK(error_of(Key::from_pem(weak.public_pem)) == errc::key_unusable);
  CHECK(error_of(Key::from_pem(weak.private_pem)) == errc::key_unusable);
  CHECK(error_of(Key::from_der(weak.public_der)) == errc::key_unusable);
}

TEST_CASE("an RSA JWK with an invalid exponent or extra primes is refused", "[jwk][refuse]") {
  const json rsa = tp_test::key_for(Alg::RS256).to_public_jwk();
  for (const std::string& e :
       {std::string("\x01"), std::string("\x01\x00\x00"), std::string("\x00")}) {
    json bad = rsa;
    bad["e"] = tp_test::b64(e);
    CHECK(error_of(Key::from_jwk(bad)) == errc::key_unusable);
  }
  json oth = tp_test::key_for(Alg::RS256).to_private_jwk();
  oth["oth"] = json::array({{{"r", "AQAB"}, {"d", "AQAB"}, {"t", "AQAB"}}});
  CHECK(error_of(Key::from_jwk(oth)) == errc::key_unusable);
}

TEST_CASE("an HMAC secret shorter than the hash output is refused", "[jwk][refuse]") {
  const std::string s31(31, 'k');
  const std::string s32(32, 'k');
  const std::string s47(47, 'k');
  CHECK(error_of(Key::from_jwk(json{{"kty", "oct"}, {"k", tp_test::b64(s31)}})) ==
        errc::key_unusable);
  CHECK(error_of(Key::from_secret(s31)) == errc::key_unusable);
  CHECK(error_of(Key::from_secret(s31, Alg::HS256)) == errc::key_unusable);
  CHECK(error_of(Key::from_jwk(json{{"kty", "oct"}, {"alg", "HS384"}, {"k", tp_test::b64(s47)}})) ==
        errc::key_unusable);
  CHECK(error_of(Key::from_secret(s47, Alg::HS384)) == errc::key_unusable);
  CHECK(error_of(Key::from_jwk(json{{"kty", "oct"}, {"k", ""}})) == errc::key_unusable);

  // Long enough for HS256 only: it loads, and accepts nothing stronger.
  auto k47 = Key::from_secret(s47);
  REQUIRE(k47);
  CHECK(k47->allowed_algs() == std::vector<Alg>{Alg::HS256});
  CHECK(k47->default_alg() == Alg::HS256);
  auto k32 = Key::from_jwk(json{{"kty", "oct"}, {"k", tp_test::b64(s32)}});
  REQUIRE(k32);
  CHECK(k32->bits() == 256);
  CHECK(error_of(Key::from_secret(s32, Alg::RS256)) == errc::key_unusable);
}

TEST_CASE("an EC point off its curve is refused", "[jwk][refuse]") {
  const Alg alg = GENERATE(from_range(ec_algs()));
  CAPTURE(tokenpass::to_string(alg));
  json pub = tp_test::key_for(alg).to_public_jwk();
  json priv = tp_test::key_for(alg).to_private_jwk();
  pub["y"] = flip_last_byte(pub["y"].get<std::string>());
  priv["y"] = pub["y"];
  CHECK(error_of(Key::from_jwk(pub)) == errc::key_unusable);
  CHECK(error_of(Key::from_jwk(priv)) == errc::key_unusable);
}

TEST_CASE("EC and OKP members of the wrong length are refused", "[jwk][refuse]") {
  SECTION("EC") {
    const Alg alg = GENERATE(from_range(ec_algs()));
    CAPTURE(tokenpass::to_string(alg));
    const json priv = tp_test::key_for(alg).to_private_jwk();
    for (const char* member : {"x", "y", "d"}) {
      CAPTURE(member);
      const std::string bytes = tp_test::unb64(priv[member].get<std::string>());
      json shorter = priv;
      shorter[member] = tp_test::b64(bytes.substr(1));
      json longer = priv;
      longer[member] = tp_test::b64(std::string(1, '\0') + bytes);
      CHECK(error_of(Key::from_jwk(shorter)) == errc::key_unusable);
      CHECK(error_of(Key::from_jwk(longer)) == errc::key_unusable);
    }
  }
  SECTION("OKP") {
    const Alg alg = GENERATE(Alg::EdDSA, Alg::Ed448);
    CAPTURE(tokenpass::to_string(alg));
    const json priv = tp_test::key_for(alg).to_private_jwk();
    for (const char* member : {"x", "d"}) {
      CAPTURE(member);
      const std::string bytes = tp_test::unb64(priv[member].get<std::string>());
      json shorter = priv;
      shorter[member] = tp_test::b64(bytes.substr(1));
      json longer = priv;
      longer[member] = tp_test::b64(bytes + std::string(1, '\0'));
      CHECK(error_of(Key::from_jwk(shorter)) == errc::key_unusable);
      CHECK(error_of(Key::from_jwk(longer)) == errc::key_unusable);
    }
  }
}

TEST_CASE("a private part that does not match the public part is refused", "[jwk][refuse]") {
  SECTION("EC d from another key") {
    const Alg alg = GENERATE(from_range(ec_algs()));
    CAPTURE(tokenpass::to_string(alg));
    json priv = tp_test::key_for(alg).to_private_jwk();
    priv["d"] = Key::generate(alg).to_private_jwk()["d"];
    CHECK(error_of(Key::from_jwk(priv)) == errc::key_unusable);
  }
  SECTION("OKP d from another key") {
    const Alg alg = GENERATE(Alg::EdDSA, Alg::Ed448);
    CAPTURE(tokenpass::to_string(alg));
    json priv = tp_test::key_for(alg).to_private_jwk();
    priv["d"] = Key::generate(alg).to_private_jwk()["d"];
    CHECK(error_of(Key::from_jwk(priv)) == errc::key_unusable);
  }
  SECTION("RSA factors from another key") {
    json priv = tp_test::key_for(Alg::RS256).to_private_jwk();
    const json other = tp_test::key_for(Alg::RS384).to_private_jwk();
    for (const char* m : {"p", "q", "dp", "dq", "qi"}) priv[m] = other[m];
    CHECK(error_of(Key::from_jwk(priv)) == errc::key_unusable);
  }
  SECTION("RSA with only some CRT members") {
    json priv = tp_test::key_for(Alg::RS256).to_private_jwk();
    priv.erase("qi");
    CHECK(error_of(Key::from_jwk(priv)) == errc::key_unusable);
  }
}

TEST_CASE("a JWK alg the key does not fit is refused", "[jwk][refuse]") {
  json p256 = tp_test::key_for(Alg::ES256).to_public_jwk();
  p256["alg"] = "ES384";
  CHECK(error_of(Key::from_jwk(p256)) == errc::key_unusable);
  p256["alg"] = "RS256";
  CHECK(error_of(Key::from_jwk(p256)) == errc::key_unusable);

  json rsa = tp_test::key_for(Alg::RS256).to_public_jwk();
  rsa["alg"] = "ES256";
  CHECK(error_of(Key::from_jwk(rsa)) == errc::key_unusable);
  rsa["alg"] = "HS256";
  CHECK(error_of(Key::from_jwk(rsa)) == errc::key_unusable);

  json ed448 = tp_test::key_for(Alg::Ed448).to_public_jwk();
  ed448["alg"] = "Ed25519";
  CHECK(error_of(Key::from_jwk(ed448)) == errc::key_unusable);
  ed448["alg"] = "EdDSA";
  CHECK(Key::from_jwk(ed448));

  json oct = tp_test::key_for(Alg::HS256).to_private_jwk();
  oct["alg"] = "RS256";
  CHECK(error_of(Key::from_jwk(oct)) == errc::key_unusable);
}

TEST_CASE("a JWK alg that is no JWS signature algorithm is refused", "[jwk][refuse]") {
  json rsa = tp_test::key_for(Alg::RS256).to_public_jwk();
  for (const json& alg : {json("RSA-OAEP"), json("none"), json("rs256"), json(""), json(256),
                          json::array({"RS256"})}) {
    CAPTURE(alg.dump());
    rsa["alg"] = alg;
    CHECK(error_of(Key::from_jwk(rsa)) == errc::key_unusable);
  }
}

TEST_CASE("an unknown kty or crv is refused", "[jwk][refuse]") {
  const json ec = tp_test::key_for(Alg::ES256).to_public_jwk();
  const json okp = tp_test::key_for(Alg::EdDSA).to_public_jwk();
  auto with = [](json j, const char* name, json value) {
    j[name] = std::move(value);
    return j;
  };
  json no_kty = ec;
  no_kty.erase("kty");
  json no_crv = ec;
  no_crv.erase("crv");
  for (const json& jwk :
       {with(ec, "kty", "XYZ"), with(ec, "kty", "ec"), with(ec, "kty", 1), no_kty, no_crv,
        with(ec, "crv", "P-192"), with(ec, "crv", "Ed25519"), with(okp, "crv", "X25519"),
        with(okp, "crv", "P-256"), with(okp, "kty", "EC"), with(ec, "crv", 256)}) {
    CAPTURE(jwk.dump());
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
}

TEST_CASE("JWK members that are missing or not base64url are refused", "[jwk][refuse]") {
  const json rsa = tp_test::key_for(Alg::RS256).to_public_jwk();
  json no_n = rsa;
  no_n.erase("n");
  json bad_e = rsa;
  bad_e["e"] = "AQAB=";
  json num_n = rsa;
  num_n["n"] = 5;
  json kid_num = rsa;
  kid_num["kid"] = 7;
  for (const json& jwk : {no_n, bad_e, num_n, kid_num}) {
    CAPTURE(jwk.dump());
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
}

TEST_CASE("a JWK that is not a JSON object is malformed", "[jwk][refuse]") {
  for (const std::string& text :
       {std::string("not json"), std::string(""), std::string("[]"), std::string("\"x\""),
        std::string("42"), std::string("{\"kty\":\"oct\""),
        std::string(
            R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","kty":"RSA"})")}) {
    CAPTURE(text);
    CHECK(error_of(Key::from_jwk(std::string_view(text))) == errc::malformed);
  }
  CHECK(error_of(Key::from_jwk(json::array())) == errc::malformed);
  CHECK(error_of(Key::from_jwk(json("oct"))) == errc::malformed);
}

TEST_CASE("a key for encryption parses but cannot verify", "[jwk][use]") {
  const std::string token = token_for(Alg::ES256);
  json base = tp_test::key_for(Alg::ES256).to_public_jwk();
  base.erase("use");

  SECTION("use enc") {
    json jwk = base;
    jwk["use"] = "enc";
    auto key = Key::from_jwk(jwk);
    REQUIRE(key);
    CHECK(key->use() == "enc");
    CHECK_FALSE(key->can_verify());
    CHECK(error_of(tokenpass::verify_jws(token, *key)) == errc::key_unusable);
    CHECK(error_of(tokenpass::verify_jws(token, KeySet({*key}))) == errc::key_unusable);
  }
  SECTION("key_ops without verify") {
    json jwk = base;
    jwk["key_ops"] = {"encrypt", "wrapKey"};
    auto key = Key::from_jwk(jwk);
    REQUIRE(key);
    CHECK(key->key_ops() == std::vector<std::string>{"encrypt", "wrapKey"});
    CHECK_FALSE(key->can_verify());
    CHECK(error_of(tokenpass::verify_jws(token, *key)) == errc::key_unusable);
  }
  SECTION("key_ops with verify, use sig") {
    json jwk = base;
    jwk["key_ops"] = {"verify"};
    jwk["use"] = "sig";
    auto key = Key::from_jwk(jwk);
    REQUIRE(key);
    CHECK(key->can_verify());
    CHECK_FALSE(key->can_sign());
    CHECK(tokenpass::verify_jws(token, *key));
  }
  SECTION("key_ops with a duplicate is refused") {
    json jwk = base;
    jwk["key_ops"] = {"verify", "verify"};
    CHECK(error_of(Key::from_jwk(jwk)) == errc::key_unusable);
  }
}

TEST_CASE("from_jwks keeps good keys and reports the skipped ones", "[jwk][jwks]") {
  const json good_ec = tp_test::key_for(Alg::ES256).to_public_jwk();
  const json good_oct = tp_test::key_for(Alg::HS256).to_private_jwk();
  json weak = tp_test::ossl::rsa_1024().public_jwk;  // kid "weak"
  const json jwks = {{"keys", {good_ec, weak, {{"kty", "XYZ"}}, 42, good_oct}}};

  for (const auto& parsed :
       {KeySet::from_jwks(jwks), KeySet::from_jwks(std::string_view(jwks.dump()))}) {
    REQUIRE(parsed);
    const KeySet& set = *parsed;
    REQUIRE(set.size() == 2);
    CHECK(set.keys()[0].kid() == "test-ES256");
    CHECK(set.keys()[1].kid() == "test-HS256");
    REQUIRE(set.skipped().size() == 3);
    CHECK(set.skipped()[0].index == 1);
    CHECK(set.skipped()[0].kid == "weak");
    CHECK(set.skipped()[0].error.code == errc::key_unusable);
    CHECK(set.skipped()[1].index == 2);
    CHECK(set.skipped()[1].kid.empty());
    CHECK(set.skipped()[1].error.code == errc::key_unusable);
    CHECK(set.skipped()[2].index == 3);
    CHECK(set.skipped()[2].error.code == errc::malformed);

    const Key* found = set.find("test-HS256");
    REQUIRE(found != nullptr);
    CHECK(found->is_symmetric());
    CHECK(set.find("weak") == nullptr);
    CHECK(set.find("nope") == nullptr);
    CHECK(tokenpass::verify_jws(token_for(Alg::ES256), set));
  }
}

TEST_CASE("from_jwks refuses a document that is not a key set", "[jwk][jwks]") {
  for (const std::string& text : {std::string("[]"), std::string("{}"),
                                  std::string("{\"keys\":{}}"), std::string("{\"keys\":\"x\"}"),
                                  std::string("nope"), std::string("{\"keys\":[],\"keys\":[]}")}) {
    CAPTURE(text);
    CHECK(error_of(KeySet::from_jwks(std::string_view(text))) == errc::malformed);
  }
  auto empty = KeySet::from_jwks(std::string_view(R"({"keys":[]})"));
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("from_jwks refuses more keys than max_keys", "[jwk][jwks][limits]") {
  const json k = tp_test::key_for(Alg::HS256).to_private_jwk();
  const json jwks = {{"keys", {k, k, k}}};
  CHECK(error_of(KeySet::from_jwks(jwks, 2)) == errc::too_large);
  CHECK(error_of(KeySet::from_jwks(std::string_view(jwks.dump()), 2)) == errc::too_large);
  auto three = KeySet::from_jwks(std::string_view(jwks.dump()), 3);
  REQUIRE(three);
  CHECK(three->size() == 3);
}

TEST_CASE("KeySet writes public and private JWK sets", "[jwk][jwks]") {
  const KeySet set({tp_test::key_for(Alg::ES256), tp_test::key_for(Alg::HS256)});
  const json pub = set.to_public_jwks();
  REQUIRE(pub["keys"].size() == 1);  // the oct key has no public half
  CHECK_FALSE(pub["keys"][0].contains("d"));
  const json priv = set.to_private_jwks();
  REQUIRE(priv["keys"].size() == 2);
  CHECK(priv["keys"][0].contains("d"));
  CHECK(priv["keys"][1].contains("k"));
}

TEST_CASE("thumbprints match RFC 7638 and RFC 8037", "[jwk][thumbprint]") {
  const json data = tp_test::read_data_json("rfc/vectors.json");
  REQUIRE_FALSE(data["thumbprints"].empty());
  for (const auto& v : data["thumbprints"]) {
    CAPTURE(v["name"].get<std::string>());
    auto key = Key::from_jwk(v["jwk"]);
    REQUIRE(key);
    CHECK(key->thumbprint() == v["thumbprint"].get<std::string>());
  }
  // Metadata is not part of a thumbprint; a private key has its public key's.
  const Key& es = tp_test::key_for(Alg::ES256);
  CHECK(es.with_kid("other").thumbprint() == es.thumbprint());
  CHECK(es.public_key().value().thumbprint() == es.thumbprint());
}

TEST_CASE("generate makes a usable key for every algorithm", "[jwk][generate]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key key = Key::generate(alg);
  CHECK(key.type() == tokenpass::key_type_for(alg));
  CHECK(key.curve() == curve_for(alg));
  CHECK(key.alg() == alg);
  CHECK(key.is_private());
  CHECK(key.kid() == key.thumbprint());
  CHECK(key.use() == (key.is_symmetric() ? "" : "sig"));
  if (key.is_symmetric()) {
    CHECK(key.bits() == 8 * tokenpass::hmac_min_secret_bytes(alg));
  }
  if (key.type() == KeyType::RSA) CHECK(key.bits() == 2048);

  auto token = tokenpass::sign_jws(key, "payload");
  REQUIRE(token);
  const Key verifier = tp_test::public_of(key);
  auto verified = tokenpass::verify_jws(*token, verifier);
  REQUIRE(verified);
  CHECK(verified->alg() == alg);
  CHECK(verified->kid() == key.kid());
  // A second key is a different key (RSA skipped: its key generation is the slow part).
  if (key.type() != KeyType::RSA) CHECK(Key::generate(alg).thumbprint() != key.thumbprint());
}

TEST_CASE("generate honours its options and refuses misfits", "[jwk][generate]") {
  const Key ed448 = Key::generate(Alg::EdDSA, {"", 2048, Curve::Ed448});
  CHECK(ed448.curve() == Curve::Ed448);
  CHECK(ed448.alg() == Alg::EdDSA);
  CHECK(Key::generate(Alg::EdDSA).curve() == Curve::Ed25519);
  CHECK(Key::generate(Alg::Ed448).curve() == Curve::Ed448);
  CHECK(Key::generate(Alg::ES256, {"mine", 2048, {}}).kid() == "mine");

  CHECK_THROWS_AS(Key::generate(Alg::RS256, {"", 1024, {}}), std::invalid_argument);
  CHECK_THROWS_AS(Key::generate(Alg::PS512, {"", 2047, {}}), std::invalid_argument);
  CHECK_THROWS_AS(Key::generate(Alg::Ed25519, {"", 2048, Curve::Ed448}), std::invalid_argument);
  CHECK_THROWS_AS(Key::generate(Alg::EdDSA, {"", 2048, Curve::P256}), std::invalid_argument);
}

TEST_CASE("public_key of a private key is public and still verifies", "[jwk]") {
  const Alg alg = GENERATE(from_range(asymmetric_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& priv = tp_test::key_for(alg);
  auto pub = priv.public_key();
  REQUIRE(pub);
  CHECK_FALSE(pub->is_private());
  CHECK_FALSE(pub->can_sign());
  CHECK(pub->kid() == priv.kid());
  CHECK(pub->alg() == priv.alg());
  CHECK(pub->use() == "sig");
  CHECK_FALSE(pub->to_private_jwk().contains("d"));
  CHECK(verifies(token_for(alg), *pub));
  CHECK(error_of(tokenpass::sign_jws(*pub, "x")) == errc::key_unusable);
  // The public half of a public key is itself.
  CHECK(pub->public_key().value().thumbprint() == priv.thumbprint());
}

TEST_CASE("an HMAC key has no public half", "[jwk]") {
  const Key& oct = tp_test::key_for(Alg::HS256);
  CHECK(error_of(oct.public_key()) == errc::key_unusable);
  CHECK_THROWS_AS(oct.to_public_pem(), std::invalid_argument);
  CHECK_THROWS_AS(oct.to_private_pem(), std::invalid_argument);
}

TEST_CASE("with_alg pins a fitting alg and refuses a misfit", "[jwk]") {
  const Key p256 = tp_test::without_alg(tp_test::key_for(Alg::ES256));
  CHECK_FALSE(p256.alg());
  auto pinned = p256.with_alg(Alg::ES256);
  REQUIRE(pinned);
  CHECK(pinned->alg() == Alg::ES256);
  CHECK(error_of(p256.with_alg(Alg::ES384)) == errc::key_unusable);
  CHECK(error_of(p256.with_alg(Alg::RS256)) == errc::key_unusable);
  CHECK(error_of(p256.with_alg(Alg::EdDSA)) == errc::key_unusable);

  const Key rsa = tp_test::without_alg(tp_test::key_for(Alg::RS256));
  auto ps = rsa.with_alg(Alg::PS256);
  REQUIRE(ps);
  CHECK(ps->allowed_algs() == std::vector<Alg>{Alg::PS256});
  CHECK(ps->fits(Alg::PS256));
  CHECK_FALSE(ps->fits(Alg::RS256));
  CHECK(error_of(rsa.with_alg(Alg::HS256)) == errc::key_unusable);

  auto oct32 = Key::from_secret(std::string(32, 's'));
  REQUIRE(oct32);
  CHECK(error_of(oct32->with_alg(Alg::HS384)) == errc::key_unusable);
  CHECK(oct32->with_alg(Alg::HS256));

  const Key renamed = p256.with_kid("renamed");
  CHECK(renamed.kid() == "renamed");
  CHECK(p256.kid() == "test-ES256");
}

TEST_CASE("a key without alg accepts every algorithm its type and size fit", "[jwk]") {
  using V = std::vector<Alg>;
  const Key rsa = tp_test::without_alg(tp_test::key_for(Alg::RS256));
  CHECK(rsa.allowed_algs() ==
        V{Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512});
  CHECK(rsa.default_alg() == Alg::RS256);
  const Key ed25519 = tp_test::without_alg(tp_test::key_for(Alg::EdDSA));
  CHECK(ed25519.allowed_algs() == V{Alg::EdDSA, Alg::Ed25519});
  CHECK(ed25519.default_alg() == Alg::EdDSA);
  const Key ed448 = tp_test::without_alg(tp_test::key_for(Alg::Ed448));
  CHECK(ed448.allowed_algs() == V{Alg::EdDSA, Alg::Ed448});
  const Key k1 = tp_test::without_alg(tp_test::key_for(Alg::ES256K));
  CHECK(k1.allowed_algs() == V{Alg::ES256K});
  CHECK(k1.default_alg() == Alg::ES256K);
  const Key oct = Key::from_secret(std::string(64, 's')).value();
  CHECK(oct.allowed_algs() == V{Alg::HS256, Alg::HS384, Alg::HS512});
  CHECK(oct.default_alg() == Alg::HS512);
  CHECK(Key::from_secret(std::string(48, 's')).value().default_alg() == Alg::HS384);
}

TEST_CASE("an RSA private exponent that does not match n and e is refused", "[jwk][refuse]") {
  // RFC 7518 §6.3.2: the CRT members are optional, so a JWK may carry d alone.
  json priv = tp_test::key_for(Alg::RS256).to_private_jwk();
  for (const char* m : {"p", "q", "dp", "dq", "qi"}) priv.erase(m);
  auto good = Key::from_jwk(priv);
  REQUIRE(good);
  CHECK(good->is_private());
  auto token = tokenpass::sign_jws(*good, "x");
  REQUIRE(token);
  CHECK(tokenpass::verify_jws(*token, tp_test::key_for(Alg::RS256)));

  priv["d"] = tp_test::key_for(Alg::RS384).to_private_jwk()["d"];
  CHECK(error_of(Key::from_jwk(priv)) == errc::key_unusable);
}


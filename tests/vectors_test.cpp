#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/tokenpass.h"

using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::Key;
using tokenpass::KeySet;
using tokenpass::KeyType;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

const json& rfc() {
  static const json data = tp_test::read_data_json("rfc/vectors.json");
  return data;
}

const json& pyjwt() {
  static const json data = tp_test::read_data_json("pyjwt/vectors.json");
  return data;
}

// is_jws_key: the JWK names no "alg", or a JWS signature algorithm. RFC 7517's
// examples include an A128KW (key wrapping) key, which a JWS library must refuse.
bool is_jws_key(const json& jwk) {
  const auto alg = jwk.find("alg");
  return alg == jwk.end() ||
         (alg->is_string() && tokenpass::alg_from_string(alg->get<std::string>()).has_value());
}

bool permits_verify(const json& jwk) {
  const auto ops = jwk.find("key_ops");
  return ops == jwk.end() || std::find(ops->begin(), ops->end(), "verify") != ops->end();
}

std::string label(const json& v) {
  std::string name = v["alg"].get<std::string>();
  if (v["crv"].is_string()) name += " " + v["crv"].get<std::string>();
  return name;
}

}  // namespace

TEST_CASE("the RFC JWS vectors verify and yield exactly their payload", "[vectors][rfc]") {
  REQUIRE(rfc()["jws"].size() >= 9);
  for (const auto& v : rfc()["jws"]) {
    CAPTURE(v["name"].get<std::string>());
    const std::string compact = v["compact"];
    const std::string payload = v["payload"];
    const Alg alg = tokenpass::alg_from_string(v["alg"].get<std::string>()).value();

    std::vector<json> jwks{v["jwk"]};
    if (v.contains("public_jwk")) jwks.push_back(v["public_jwk"]);
    for (const json& jwk : jwks) {
      auto key = Key::from_jwk(jwk);
      REQUIRE(key);
      auto verified = tokenpass::verify_jws(compact, *key);
      REQUIRE(verified);
      CHECK(verified->payload() == payload);
      CHECK(verified->alg() == alg);
      auto from_set = tokenpass::verify_jws(compact, KeySet({*key}));
      REQUIRE(from_set);
      CHECK(from_set->payload() == payload);
    }
    if (v.contains("public_jwk")) {
      CHECK_FALSE(Key::from_jwk(v["public_jwk"]).value().is_private());
      CHECK(Key::from_jwk(v["jwk"]).value().is_private());
    }
    // The vector is not accepted once a bit of its signature changes.
    const auto flipped = tp_test::tamper::flip_each_signature_bit(compact);
    CHECK(error_of(tokenpass::verify_jws(flipped[flipped.size() / 2],
                                         Key::from_jwk(v["jwk"]).value())) == errc::bad_signature);
  }
}

TEST_CASE("the RFC 7638 and RFC 8037 thumbprints recompute", "[vectors][rfc][thumbprint]") {
  REQUIRE(rfc()["thumbprints"].size() >= 2);
  for (const auto& v : rfc()["thumbprints"]) {
    CAPTURE(v["name"].get<std::string>());
    auto key = Key::from_jwk(v["jwk"]);
    REQUIRE(key);
    CHECK(key->thumbprint() == v["thumbprint"].get<std::string>());
  }
}

TEST_CASE("the RFC 7517 example keys load, except the key-wrapping one", "[vectors][rfc][jwk]") {
  REQUIRE(rfc()["keys"].size() >= 7);
  for (const auto& v : rfc()["keys"]) {
    CAPTURE(v["name"].get<std::string>());
    const json& jwk = v["jwk"];
    auto key = Key::from_jwk(jwk);
    if (!is_jws_key(jwk)) {
      CHECK(error_of(key) == errc::key_unusable);
      continue;
    }
    REQUIRE(key);
    CHECK(key->is_private() == v["private"].get<bool>());
    CHECK(tokenpass::to_string(key->type()) == jwk["kty"].get<std::string>());
    CHECK(key->kid() == jwk.value("kid", std::string()));
    CHECK(key->use() == jwk.value("use", std::string()));
    CHECK(key->can_verify() == (key->use().empty() || key->use() == "sig"));
    if (jwk.contains("x5c")) {
      CHECK(key->type() == KeyType::RSA);
      CHECK(key->kid() == "1b94c");
      CHECK(key->bits() == 2048);
    }
  }
}

TEST_CASE("the RFC 7517 example key sets load every signature key", "[vectors][rfc][jwks]") {
  REQUIRE(rfc()["jwks"].size() >= 3);
  for (const auto& v : rfc()["jwks"]) {
    CAPTURE(v["name"].get<std::string>());
    auto set = KeySet::from_jwks(v["jwks"]);
    REQUIRE(set);
    const auto& members = v["jwks"]["keys"];
    REQUIRE(members.size() == v["count"].get<std::size_t>());
    const auto signature_keys = static_cast<std::size_t>(
        std::count_if(members.begin(), members.end(), [](const json& k) { return is_jws_key(k); }));
    CHECK(set->size() == signature_keys);
    CHECK(set->size() + set->skipped().size() == v["count"].get<std::size_t>());
    for (const auto& skipped : set->skipped()) {
      CHECK_FALSE(is_jws_key(members[skipped.index]));
      CHECK(skipped.error.code == errc::key_unusable);
    }
    // The same set as text loads the same way.
    auto from_text = KeySet::from_jwks(std::string_view(v["jwks"].dump()));
    REQUIRE(from_text);
    CHECK(from_text->size() == set->size());
  }
}

TEST_CASE("PyJWT tokens verify with their public JWK and both PEMs", "[vectors][pyjwt]") {
  const auto& vectors = pyjwt()["vectors"];
  REQUIRE(vectors.size() == 15);
  for (const auto& v : vectors) {
    CAPTURE(label(v));
    const std::string token = v["token"];
    const json claims = v["claims"];
    std::vector<Key> keys;
    if (v["public_jwk"].is_object()) {
      keys.push_back(Key::from_jwk(v["public_jwk"]).value());
      keys.push_back(Key::from_pem(v["public_pem"].get<std::string>()).value());
      keys.push_back(Key::from_pem(v["private_pem"].get<std::string>()).value());
      CHECK_FALSE(keys[0].is_private());
      CHECK_FALSE(keys[1].is_private());
      CHECK(keys[2].is_private());
    } else {
      CHECK(tokenpass::key_type_for(
                tokenpass::alg_from_string(v["alg"].get<std::string>()).value()) == KeyType::oct);
      keys.push_back(Key::from_jwk(v["private_jwk"]).value());
    }
    for (const Key& key : keys) {
      auto verified = tokenpass::verify_jws(token, key);
      REQUIRE(verified);
      CHECK(tokenpass::to_string(verified->alg()) == v["alg"].get<std::string>());
      CHECK(verified->kid() == v["kid"].get<std::string>());
      CHECK(json::parse(verified->payload()) == claims);
    }
  }
}

TEST_CASE("PyJWT tokens verify with their private JWK when its key_ops allow it",
          "[vectors][pyjwt]") {
  // cryptography writes RSA JWKs with key_ops ["sign"] (private) and ["verify"]
  // (public). cli-contract rule 1: key_ops without "verify" makes the key unusable for
  // verifying, so the private RSA JWK verifies only with its key_ops taken away.
  for (const auto& v : pyjwt()["vectors"]) {
    CAPTURE(label(v));
    const std::string token = v["token"];
    json jwk = v["private_jwk"];
    auto key = Key::from_jwk(jwk);
    REQUIRE(key);
    CHECK(key->is_private());
    CHECK(key->can_sign());
    if (!permits_verify(jwk)) {
      CHECK(tokenpass::key_type_for(key->default_alg()) == KeyType::RSA);
      CHECK(error_of(tokenpass::verify_jws(token, *key)) == errc::key_unusable);
      jwk.erase("key_ops");
      key = Key::from_jwk(jwk);
      REQUIRE(key);
    }
    auto verified = tokenpass::verify_jws(token, *key);
    REQUIRE(verified);
    CHECK(json::parse(verified->payload()) == v["claims"]);
  }
}

TEST_CASE("PyJWT claims come back exactly, 2^53+1 and Unicode included", "[vectors][pyjwt]") {
  for (const auto& v : pyjwt()["vectors"]) {
    CAPTURE(label(v));
    const json& jwk = v["public_jwk"].is_object() ? v["public_jwk"] : v["private_jwk"];
    auto verified =
        tokenpass::verify_jws(v["token"].get<std::string>(), Key::from_jwk(jwk).value());
    REQUIRE(verified);
    const json claims = json::parse(verified->payload());
    CHECK(claims == v["claims"]);
    REQUIRE(claims["big"].is_number_unsigned());
    CHECK(claims["big"].get<std::uint64_t>() == 9007199254740993ULL);
    CHECK(claims["name"].get<std::string>() ==
          "Zo\xc3\xab \xc3\x9cn\xc3\xaf"
          "code \xe2\x9c\x93");
    CHECK(claims["aud"] == pyjwt()["generator"]["audience"]);
    // The payload bytes hold the integer as written, not rounded through a double.
    CHECK(verified->payload().find("9007199254740993") != std::string::npos);
  }
}

TEST_CASE("a PyJWT key signs with tokenpass and its public key verifies the token",
          "[vectors][pyjwt]") {
  for (const auto& v : pyjwt()["vectors"]) {
    CAPTURE(label(v));
    const Alg alg = tokenpass::alg_from_string(v["alg"].get<std::string>()).value();
    const bool hmac = tokenpass::key_type_for(alg) == KeyType::oct;
    const Key signer = hmac ? Key::from_jwk(v["private_jwk"]).value()
                            : Key::from_pem(v["private_pem"].get<std::string>()).value();
    const Key verifier = hmac ? signer : Key::from_jwk(v["public_jwk"]).value();
    tokenpass::JwsSignOptions options;
    options.alg = alg;
    options.kid = v["kid"].get<std::string>();
    const std::string claims = v["claims"].dump();
    auto token = tokenpass::sign_jws(signer, claims, options);
    REQUIRE(token);
    auto verified = tokenpass::verify_jws(*token, verifier);
    REQUIRE(verified);
    CHECK(verified->payload() == claims);
    CHECK(verified->alg() == alg);
    CHECK(json::parse(verified->payload()) == v["claims"]);
    // Signing with the PyJWT private JWK gives a token the PyJWT PEM verifies too.
    auto jwk_signed = tokenpass::sign_jws(Key::from_jwk(v["private_jwk"]).value(), claims, options);
    REQUIRE(jwk_signed);
    const Key pem_verifier =
        hmac ? signer : Key::from_pem(v["public_pem"].get<std::string>()).value();
    CHECK(tokenpass::verify_jws(*jwk_signed, pem_verifier));
  }
}

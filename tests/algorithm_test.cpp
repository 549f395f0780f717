#include "tokenpass/algorithm.h"

#include "internal/rules.h"
#include "support/catch.h"

using tokenpass::Alg;
using tokenpass::Curve;
using tokenpass::KeyType;

TEST_CASE("algorithm names round-trip and are case-sensitive", "[algorithm]") {
  for (const Alg a : tokenpass::all_algs()) {
    CHECK(tokenpass::alg_from_string(tokenpass::to_string(a)) == a);
  }
  CHECK(tokenpass::all_algs().size() == 16);
  CHECK_FALSE(tokenpass::alg_from_string("hs256"));
  CHECK_FALSE(tokenpass::alg_from_string("RSA-OAEP"));
  CHECK_FALSE(tokenpass::alg_from_string(""));
}

TEST_CASE("none does not exist in any spelling", "[algorithm][security]") {
  for (const char* n : {"none", "None", "NONE", "nOnE"}) {
    CHECK_FALSE(tokenpass::alg_from_string(n));
  }
}

TEST_CASE("algorithms fit only their key type, curve and size", "[algorithm]") {
  CHECK(tokenpass::alg_fits(Alg::HS256, KeyType::oct, Curve::none, 32));
  CHECK_FALSE(tokenpass::alg_fits(Alg::HS256, KeyType::oct, Curve::none, 31));
  CHECK_FALSE(tokenpass::alg_fits(Alg::HS384, KeyType::oct, Curve::none, 47));
  CHECK(tokenpass::alg_fits(Alg::HS512, KeyType::oct, Curve::none, 64));
  CHECK_FALSE(tokenpass::alg_fits(Alg::HS256, KeyType::RSA, Curve::none, 4096));
  CHECK(tokenpass::alg_fits(Alg::PS384, KeyType::RSA, Curve::none, 2048));
  CHECK_FALSE(tokenpass::alg_fits(Alg::RS256, KeyType::RSA, Curve::none, 2047));
  CHECK(tokenpass::alg_fits(Alg::ES256, KeyType::EC, Curve::P256, 256));
  CHECK_FALSE(tokenpass::alg_fits(Alg::ES256, KeyType::EC, Curve::P384, 384));
  CHECK(tokenpass::alg_fits(Alg::ES512, KeyType::EC, Curve::P521, 521));
  CHECK(tokenpass::alg_fits(Alg::ES256K, KeyType::EC, Curve::secp256k1, 256));
  CHECK_FALSE(tokenpass::alg_fits(Alg::ES256, KeyType::EC, Curve::secp256k1, 256));
  CHECK(tokenpass::alg_fits(Alg::EdDSA, KeyType::OKP, Curve::Ed448, 456));
  CHECK(tokenpass::alg_fits(Alg::Ed25519, KeyType::OKP, Curve::Ed25519, 256));
  CHECK_FALSE(tokenpass::alg_fits(Alg::Ed25519, KeyType::OKP, Curve::Ed448, 456));
}

TEST_CASE("EdDSA matches the fully specified name of the key's curve only", "[algorithm]") {
  CHECK(tokenpass::internal::alg_fits_allowed(Alg::EdDSA, Alg::Ed25519, Curve::Ed25519));
  CHECK(tokenpass::internal::alg_fits_allowed(Alg::Ed448, Alg::EdDSA, Curve::Ed448));
  CHECK_FALSE(tokenpass::internal::alg_fits_allowed(Alg::EdDSA, Alg::Ed448, Curve::Ed25519));
  CHECK_FALSE(tokenpass::internal::alg_fits_allowed(Alg::Ed25519, Alg::Ed448, Curve::Ed25519));
  CHECK_FALSE(tokenpass::internal::alg_fits_allowed(Alg::RS256, Alg::PS256, Curve::none));
  CHECK(tokenpass::internal::alg_fits_allowed(Alg::RS256, Alg::RS256, Curve::none));
}

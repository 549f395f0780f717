#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "internal/rules.h"
#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/tokenpass.h"

using tokenpass::Alg;
using tokenpass::Curve;
using tokenpass::errc;
using tokenpass::JwsSignOptions;
using tokenpass::JwsVerifyOptions;
using tokenpass::Key;
using tokenpass::KeySet;
using tokenpass::KeyType;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

std::string sign(const Key& key, std::string_view payload = tp_test::sample_claims(),
                 const JwsSignOptions& options = {}) {
  return tokenpass::sign_jws(key, payload, options).value();
}

JwsSignOptions with_kid(std::string kid) {
  JwsSignOptions o;
  o.kid = std::move(kid);
  return o;
}

JwsSignOptions with_alg(Alg alg) {
  JwsSignOptions o;
  o.alg = alg;
  return o;
}

JwsVerifyOptions expecting_typ(std::string typ) {
  JwsVerifyOptions o;
  o.typ = std::move(typ);
  return o;
}

// verifying_key: `source`'s public half in one of the formats a verifier is given.
KeySet verifying_keys(const Key& source, const std::string& format) {
  const bool oct = source.is_symmetric();
  const json jwk = oct ? source.to_private_jwk() : source.to_public_jwk();
  if (format == "jwk") return KeySet({Key::from_jwk(std::string_view(jwk.dump())).value()});
  if (format == "jwks") {
    // A decoy of the same type first: the kid must pick the right key.
    const Key& decoy = tp_test::key_for(source.alg() == Alg::HS256 ? Alg::HS384 : Alg::HS256);
    const json set = {{"keys", {decoy.to_private_jwk(), jwk}}};
    return KeySet::from_jwks(std::string_view(set.dump())).value();
  }
  if (format == "pem") return KeySet({Key::from_pem(source.to_public_pem()).value()});
  if (format == "der") return KeySet({Key::from_der(tp_test::ossl::spki_der(source)).value()});
  // "cert"
  const std::string der = tp_test::ossl::self_signed_cert_der(source);
  return KeySet({Key::from_pem(tp_test::ossl::cert_pem(der)).value()});
}

}  // namespace

TEST_CASE("every algorithm signs and verifies with every key format", "[jws]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  const std::string format = GENERATE(as<std::string>{}, "jwk", "jwks", "pem", "der", "cert");
  CAPTURE(tokenpass::to_string(alg), format);
  const Key& key = tp_test::key_for(alg);
  if (key.is_symmetric() && format != "jwk" && format != "jwks") return;  // no PEM for a secret

  const std::string token = sign(key);
  const KeySet keys = verifying_keys(key, format);
  auto verified = tokenpass::verify_jws(token, keys);
  REQUIRE(verified);
  CHECK(verified->payload() == tp_test::sample_claims());
  CHECK(verified->alg() == alg);
  CHECK(verified->kid() == key.kid());
  CHECK(verified->key().thumbprint() == key.thumbprint());
  CHECK(verified->header()["alg"] == tokenpass::to_string(alg));
  CHECK(verified->header()["typ"] == "JWT");
  CHECK(verified->header()["kid"] == key.kid());
  if (keys.size() == 1) {
    auto single = tokenpass::verify_jws(token, keys.keys()[0]);
    REQUIRE(single);
    CHECK(single->payload() == tp_test::sample_claims());
  }
}

TEST_CASE("the payload comes back byte for byte, JSON or not", "[jws]") {
  const Alg alg = GENERATE(Alg::HS256, Alg::ES256, Alg::EdDSA);
  const std::string payload =
      GENERATE(std::string(), std::string("hello"), std::string("\0\xff\x01 \n.", 6),
               std::string("{\"name\":\"Zo\xc3\xab \xe2\x9c\x93\"}"), std::string(10000, 'p'),
               std::string("{\"a\":1,\"a\":2}"));
  CAPTURE(tokenpass::to_string(alg), payload.size());
  const Key& key = tp_test::key_for(alg);
  const std::string token = sign(key, payload);
  auto verified = tokenpass::verify_jws(token, tp_test::public_of(key));
  REQUIRE(verified);
  CHECK(verified->payload() == payload);
  auto decoded = tokenpass::decode_unverified(token);
  REQUIRE(decoded);
  CHECK(decoded->payload_bytes() == payload);
}

TEST_CASE("the header carries exactly alg, kid and typ JWT by default", "[jws]") {
  const Key& key = tp_test::key_for(Alg::ES256);
  auto decoded = tokenpass::decode_unverified(sign(key));
  REQUIRE(decoded);
  CHECK(decoded->header() == json{{"alg", "ES256"}, {"kid", "test-ES256"}, {"typ", "JWT"}});
}

TEST_CASE("sign options set typ, kid and extra header members", "[jws]") {
  const Key& key = tp_test::key_for(Alg::HS256);
  auto header_of = [&](const JwsSignOptions& o) {
    auto token = tokenpass::sign_jws(key, "{}", o);
    REQUIRE(token);
    REQUIRE(tokenpass::verify_jws(*token, key.with_kid("")));
    return tokenpass::decode_unverified(*token).value().header();
  };
  SECTION("typ nullopt leaves typ out") {
    JwsSignOptions o;
    o.typ.reset();
    CHECK(header_of(o) == json{{"alg", "HS256"}, {"kid", "test-HS256"}});
  }
  SECTION("another typ") {
    JwsSignOptions o;
    o.typ = "at+jwt";
    CHECK(header_of(o)["typ"] == "at+jwt");
  }
  SECTION("an empty kid leaves kid out, another kid replaces it") {
    CHECK_FALSE(header_of(with_kid("")).contains("kid"));
    CHECK(header_of(with_kid("other"))["kid"] == "other");
  }
  SECTION("cty and private members are added") {
    JwsSignOptions o;
    o.extra_header = {{"cty", "JWT"}, {"x-tenant", "acme"}, {"n", 1}};
    const json h = header_of(o);
    CHECK(h["cty"] == "JWT");
    CHECK(h["x-tenant"] == "acme");
    CHECK(h["n"] == 1);
    CHECK(h["alg"] == "HS256");
  }
  SECTION("kid and typ in the extra header win") {
    JwsSignOptions o;
    o.extra_header = {{"kid", "extra"}, {"typ", "dpop+jwt"}};
    const json h = header_of(o);
    CHECK(h["kid"] == "extra");
    CHECK(h["typ"] == "dpop+jwt");
  }
}

TEST_CASE("sign refuses extra header members alg, crit and b64", "[jws]") {
  const Key& key = tp_test::key_for(Alg::HS256);
  for (const json& extra :
       {json{{"alg", "none"}}, json{{"alg", "HS256"}}, json{{"crit", {"exp"}}, {"exp", 1}},
        json{{"b64", false}}, json{{"b64", true}}, json::array(), json("cty")}) {
    CAPTURE(extra.dump());
    JwsSignOptions o;
    o.extra_header = extra;
    CHECK(error_of(tokenpass::sign_jws(key, "{}", o)) == errc::malformed);
  }
}

TEST_CASE("sign refuses a key that cannot sign", "[jws]") {
  const Alg alg = GENERATE(Alg::RS256, Alg::ES256, Alg::EdDSA);
  CAPTURE(tokenpass::to_string(alg));
  const Key& key = tp_test::key_for(alg);
  CHECK(error_of(tokenpass::sign_jws(tp_test::public_of(key), "{}")) == errc::key_unusable);

  json verify_only = key.to_private_jwk();
  verify_only["key_ops"] = {"verify"};
  CHECK(error_of(tokenpass::sign_jws(Key::from_jwk(verify_only).value(), "{}")) ==
        errc::key_unusable);
  json for_enc = key.to_private_jwk();
  for_enc["use"] = "enc";
  CHECK(error_of(tokenpass::sign_jws(Key::from_jwk(for_enc).value(), "{}")) == errc::key_unusable);
}

TEST_CASE("sign refuses an alg the key does not accept", "[jws]") {
  CHECK(error_of(tokenpass::sign_jws(tp_test::key_for(Alg::ES256), "{}", with_alg(Alg::ES384))) ==
        errc::alg_not_allowed);
  CHECK(error_of(tokenpass::sign_jws(tp_test::key_for(Alg::RS256), "{}", with_alg(Alg::PS256))) ==
        errc::alg_not_allowed);
  CHECK(error_of(tokenpass::sign_jws(tp_test::key_for(Alg::HS256), "{}", with_alg(Alg::HS512))) ==
        errc::alg_not_allowed);
  CHECK(error_of(tokenpass::sign_jws(tp_test::key_for(Alg::EdDSA), "{}", with_alg(Alg::Ed448))) ==
        errc::alg_not_allowed);
}

TEST_CASE("a token kid picks the key with that kid", "[jws][kid]") {
  const Key a = Key::generate(Alg::ES256, {"a", 2048, {}});
  const Key b = Key::generate(Alg::ES256, {"b", 2048, {}});
  const Key c = Key::generate(Alg::ES256, {"c", 2048, {}});
  const KeySet set({tp_test::public_of(a), tp_test::public_of(b), tp_test::public_of(c)});
  auto verified = tokenpass::verify_jws(sign(b), set);
  REQUIRE(verified);
  CHECK(verified->key().kid() == "b");
  CHECK(verified->kid() == "b");
  REQUIRE(set.find("c") != nullptr);
  CHECK(tokenpass::verify_jws(sign(c), *set.find("c")));
}

TEST_CASE("a token kid that no key of the set has is key_not_found", "[jws][kid]") {
  const Key a = Key::generate(Alg::ES256, {"a", 2048, {}});
  const Key b = Key::generate(Alg::ES256, {"b", 2048, {}});
  const KeySet set({tp_test::public_of(a), tp_test::public_of(b)});
  // Signed by a's key, but the kid names no key: no key is tried at all.
  CHECK(error_of(tokenpass::verify_jws(sign(a, "{}", with_kid("zzz")), set)) ==
        errc::key_not_found);
  CHECK(error_of(tokenpass::verify_jws(sign(a, "{}", with_kid("b ")), set)) == errc::key_not_found);
  CHECK(error_of(tokenpass::verify_jws(sign(a, "{}", with_kid("zzz")), tp_test::public_of(a))) ==
        errc::key_not_found);
  CHECK(error_of(tokenpass::verify_jws(sign(a), KeySet())) == errc::key_not_found);
}

TEST_CASE("a key without kid serves a token with any kid", "[jws][kid]") {
  const Key named = Key::generate(Alg::ES256, {"named", 2048, {}});
  const Key anon = tp_test::key_for(Alg::ES256).with_kid("");
  const KeySet set({tp_test::public_of(named), tp_test::public_of(anon)});
  auto verified = tokenpass::verify_jws(sign(anon, "{}", with_kid("whatever")), set);
  REQUIRE(verified);
  CHECK(verified->key().kid().empty());
  CHECK(verified->kid() == "whatever");
  CHECK(tokenpass::verify_jws(sign(anon, "{}", with_kid("whatever")), tp_test::public_of(anon)));
  // When the kid matches a key, only that key is tried: the kid-less one is not.
  CHECK(error_of(tokenpass::verify_jws(sign(anon, "{}", with_kid("named")), set)) ==
        errc::bad_signature);
}

TEST_CASE("a token without kid is tried against every fitting key in order", "[jws][kid]") {
  const Key first = tp_test::without_alg(tp_test::key_for(Alg::RS256));
  const Key second = tp_test::without_alg(tp_test::key_for(Alg::RS384));
  const Key ec = tp_test::key_for(Alg::ES256);
  const KeySet set({tp_test::public_of(ec), tp_test::public_of(first), tp_test::public_of(second)});
  const std::string token = sign(second, "{}", with_kid(""));
  auto verified = tokenpass::verify_jws(token, set);
  REQUIRE(verified);
  CHECK(verified->kid().empty());
  CHECK(verified->key().thumbprint() == second.thumbprint());
  // Only the first RSA key: every fitting key was tried and none held.
  CHECK(error_of(tokenpass::verify_jws(
            token, KeySet({tp_test::public_of(ec), tp_test::public_of(first)}))) ==
        errc::bad_signature);
  // No key fits the alg at all.
  CHECK(error_of(tokenpass::verify_jws(token, KeySet({tp_test::public_of(ec)}))) ==
        errc::alg_not_allowed);
}

TEST_CASE("several keys with the same kid are tried in order", "[jws][kid]") {
  const Key one = Key::generate(Alg::ES256, {"same", 2048, {}});
  const Key two = Key::generate(Alg::ES256, {"same", 2048, {}});
  const KeySet set({tp_test::public_of(one), tp_test::public_of(two)});
  auto verified = tokenpass::verify_jws(sign(two), set);
  REQUIRE(verified);
  CHECK(verified->key().thumbprint() == two.thumbprint());
}

TEST_CASE("a key named by kid whose type does not fit the token alg is alg_not_allowed",
          "[jws][kid][alg]") {
  const Key ec = tp_test::key_for(Alg::ES256);
  const Key hs = tp_test::key_for(Alg::HS256);
  const std::string token = sign(hs, "{}", with_kid(ec.kid()));
  CHECK(error_of(tokenpass::verify_jws(token, KeySet({tp_test::public_of(ec)}))) ==
        errc::alg_not_allowed);
  CHECK(error_of(tokenpass::verify_jws(token, tp_test::public_of(ec))) == errc::alg_not_allowed);
}

TEST_CASE("a token alg outside the key's alg is alg_not_allowed", "[jws][alg]") {
  const Key& rs256 = tp_test::key_for(Alg::RS256);  // pinned to RS256
  auto rs384_signer = rs256.with_alg(Alg::RS384);
  REQUIRE(rs384_signer);
  const std::string token = sign(*rs384_signer);
  CHECK(error_of(tokenpass::verify_jws(token, tp_test::public_of(rs256))) == errc::alg_not_allowed);
  // The same key without an alg accepts every RSA algorithm.
  auto verified = tokenpass::verify_jws(token, tp_test::without_alg(tp_test::public_of(rs256)));
  REQUIRE(verified);
  CHECK(verified->alg() == Alg::RS384);
}

TEST_CASE("EdDSA and the fully specified Ed25519 or Ed448 match on the key's curve",
          "[jws][alg][eddsa]") {
  const Key& eddsa = tp_test::key_for(Alg::EdDSA);      // Ed25519, pinned EdDSA
  const Key& ed25519 = tp_test::key_for(Alg::Ed25519);  // pinned Ed25519
  const Key& ed448 = tp_test::key_for(Alg::Ed448);      // pinned Ed448

  auto v1 =
      tokenpass::verify_jws(sign(eddsa, "{}", with_alg(Alg::Ed25519)), tp_test::public_of(eddsa));
  REQUIRE(v1);
  CHECK(v1->alg() == Alg::Ed25519);
  auto v2 =
      tokenpass::verify_jws(sign(ed25519, "{}", with_alg(Alg::EdDSA)), tp_test::public_of(ed25519));
  REQUIRE(v2);
  CHECK(v2->alg() == Alg::EdDSA);
  auto v3 =
      tokenpass::verify_jws(sign(ed448, "{}", with_alg(Alg::EdDSA)), tp_test::public_of(ed448));
  REQUIRE(v3);
  CHECK(v3->alg() == Alg::EdDSA);

  // Ed448 is not a name for an Ed25519 key, whatever the key's pinned alg.
  const std::string relabelled = tp_test::tamper::with_header(
      sign(eddsa), R"({"alg":"Ed448","kid":"test-EdDSA","typ":"JWT"})");
  CHECK(error_of(tokenpass::verify_jws(relabelled, tp_test::public_of(eddsa))) ==
        errc::alg_not_allowed);
  CHECK(error_of(tokenpass::verify_jws(
            relabelled, tp_test::without_alg(tp_test::public_of(eddsa)))) == errc::alg_not_allowed);
}

TEST_CASE("JwsVerifyOptions.algorithms narrows what the key accepts", "[jws][alg]") {
  const Key rsa = tp_test::without_alg(tp_test::public_of(tp_test::key_for(Alg::RS256)));
  const std::string token = sign(tp_test::key_for(Alg::RS256));
  JwsVerifyOptions o;
  o.algorithms = {Alg::PS256};
  CHECK(error_of(tokenpass::verify_jws(token, rsa, o)) == errc::alg_not_allowed);
  o.algorithms = {Alg::ES256, Alg::HS256};
  CHECK(error_of(tokenpass::verify_jws(token, rsa, o)) == errc::alg_not_allowed);
  o.algorithms = {Alg::PS256, Alg::RS256};
  CHECK(tokenpass::verify_jws(token, rsa, o));
  o.algorithms.clear();
  CHECK(tokenpass::verify_jws(token, rsa, o));

  // Narrowing cannot widen a key's own alg.
  o.algorithms = {Alg::RS384};
  CHECK(error_of(tokenpass::verify_jws(token, tp_test::public_of(tp_test::key_for(Alg::RS256)),
                                       o)) == errc::alg_not_allowed);

  // EdDSA in the narrowing matches a token's Ed25519, and back.
  const Key& ed = tp_test::key_for(Alg::EdDSA);
  o.algorithms = {Alg::EdDSA};
  CHECK(tokenpass::verify_jws(sign(ed, "{}", with_alg(Alg::Ed25519)), tp_test::public_of(ed), o));
  o.algorithms = {Alg::Ed25519};
  CHECK(tokenpass::verify_jws(sign(ed), tp_test::public_of(ed), o));
  o.algorithms = {Alg::Ed448};
  CHECK(error_of(tokenpass::verify_jws(sign(ed), tp_test::public_of(ed), o)) ==
        errc::alg_not_allowed);
}

TEST_CASE("the typ option compares case-insensitively and ignores application/", "[jws][typ]") {
  const Key& key = tp_test::key_for(Alg::HS256);
  auto token_with_typ = [&](std::optional<std::string> typ) {
    JwsSignOptions o;
    o.typ = std::move(typ);
    return sign(key, "{}", o);
  };
  const std::string jwt = token_with_typ("JWT");
  for (const char* expected : {"JWT", "jwt", "application/jwt", "Application/JWT"}) {
    CAPTURE(expected);
    CHECK(tokenpass::verify_jws(jwt, key, expecting_typ(expected)));
  }
  const std::string at = token_with_typ("application/AT+jwt");
  CHECK(tokenpass::verify_jws(at, key, expecting_typ("at+JWT")));
  CHECK(tokenpass::verify_jws(at, key, expecting_typ("application/at+jwt")));
  CHECK(error_of(tokenpass::verify_jws(at, key, expecting_typ("JWT"))) == errc::bad_type);
  CHECK(error_of(tokenpass::verify_jws(jwt, key, expecting_typ("at+jwt"))) == errc::bad_type);
  CHECK(error_of(tokenpass::verify_jws(jwt, key, expecting_typ("application/"))) == errc::bad_type);
  // Missing typ while one is expected; without the option any typ passes.
  const std::string none = token_with_typ(std::nullopt);
  CHECK(error_of(tokenpass::verify_jws(none, key, expecting_typ("JWT"))) == errc::bad_type);
  CHECK(tokenpass::verify_jws(none, key));
  CHECK(tokenpass::verify_jws(at, key));
  // A typ that is not a string is no typ.
  const std::string numeric =
      tp_test::tamper::resign_with_header(jwt, R"({"alg":"HS256","typ":1})", key, Alg::HS256);
  CHECK(error_of(tokenpass::verify_jws(numeric, key, expecting_typ("JWT"))) == errc::bad_type);

  CHECK(tokenpass::internal::typ_matches("JWT", "application/jwt"));
  CHECK(tokenpass::internal::typ_matches("APPLICATION/jwt", "jwt"));
  CHECK_FALSE(tokenpass::internal::typ_matches("jwt", "jwt2"));
}

TEST_CASE("white space around a token is ignored and inside it is malformed", "[jws][input]") {
  const Key& key = tp_test::key_for(Alg::HS256);
  const std::string token = sign(key);
  CHECK(tokenpass::verify_jws(" \t\n" + token + "\r\n", key));
  CHECK(tokenpass::verify_jws(token + "\n", key));
  CHECK(tokenpass::decode_unverified("\n" + token + " "));

  const auto dot = token.find('.');
  for (const char* ws : {" ", "\n", "\t", "\r\n"}) {
    CAPTURE(ws);
    std::string after_dot = token;
    after_dot.insert(dot + 1, ws);
    CHECK(error_of(tokenpass::verify_jws(after_dot, key)) == errc::malformed);
    std::string in_signature = token;
    in_signature.insert(token.size() - 5, ws);
    CHECK(error_of(tokenpass::verify_jws(in_signature, key)) == errc::malformed);
    std::string in_header = token;
    in_header.insert(3, ws);
    CHECK(error_of(tokenpass::verify_jws(in_header, key)) == errc::malformed);
    CHECK(error_of(tokenpass::decode_unverified(in_header)) == errc::malformed);
  }
  CHECK(error_of(tokenpass::verify_jws("  \n ", key)) == errc::malformed);
}

TEST_CASE("decode_unverified returns header, payload and signature without checking", "[jws]") {
  const Key& key = tp_test::key_for(Alg::ES256);
  const std::string token = sign(key);
  const auto bad = tp_test::tamper::flip_each_signature_bit(token).front();
  auto decoded = tokenpass::decode_unverified(bad);
  REQUIRE(decoded);
  CHECK(decoded->header()["alg"] == "ES256");
  CHECK(decoded->payload_bytes() == tp_test::sample_claims());
  REQUIRE(decoded->payload_json());
  CHECK((*decoded->payload_json())["sub"] == "user-4711");
  CHECK(decoded->signature() == tp_test::unb64(tp_test::split(bad).signature));
  CHECK(decoded->signature().size() == 64);

  auto raw = tokenpass::decode_unverified(sign(key, "not json"));
  REQUIRE(raw);
  CHECK(raw->payload_bytes() == "not json");
  CHECK_FALSE(raw->payload_json());

  for (const char* garbage : {"garbage", "a.b", "", "...", "e30.e30.e30.e30",
                              "{\"payload\":\"e30\"}", "e30.e30.A===", "W10.e30.AAAA"}) {
    CAPTURE(garbage);
    CHECK(error_of(tokenpass::decode_unverified(garbage)) == errc::malformed);
  }
  CHECK(error_of(tokenpass::decode_unverified(token, 100)) == errc::too_large);
}

TEST_CASE("verified and unverified tokens cannot be made outside the library", "[jws][api]") {
  using tokenpass::UnverifiedJws;
  using tokenpass::VerifiedJws;
  static_assert(!std::is_default_constructible_v<VerifiedJws>);
  static_assert(!std::is_constructible_v<VerifiedJws, json, std::string, Alg, std::string, Key>);
  static_assert(!std::is_default_constructible_v<UnverifiedJws>);
  static_assert(!std::is_constructible_v<VerifiedJws, UnverifiedJws>);
  static_assert(!std::is_convertible_v<UnverifiedJws, VerifiedJws>);
  SUCCEED("checked at compile time");
}

#include "tokenpass/issuer.h"

#include <chrono>
#include <set>
#include <stdexcept>

#include "support/catch.h"
#include "support/test_support.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using json = nlohmann::json;

namespace {
const auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1900000000));

tokenpass::Policy policy_at(std::chrono::system_clock::time_point now) {
  tokenpass::Policy p;
  p.issuers = {"https://auth.example.com"};
  p.audiences = {"orders-api"};
  p.leeway = 0s;
  p.clock = [now] { return now; };
  return p;
}
}  // namespace

TEST_CASE("issued tokens verify under the public key set for every algorithm", "[issuer]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  INFO(tokenpass::to_string(alg));
  const tokenpass::Key& key = tp_test::key_for(alg);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  io.clock = [] { return kT0; };
  const tokenpass::Issuer issuer(key, "https://auth.example.com", 5min, io);
  const auto token = issuer.issue(tokenpass::ClaimsBuilder().subject("u"));
  REQUIRE(token);
  const tokenpass::KeySet keys({key.is_symmetric() ? key : key.public_key().value()});
  const tokenpass::Verifier v(keys, policy_at(kT0 + 299s));
  auto r = v.verify(*token);
  REQUIRE(r);
  CHECK(r->alg() == alg);
  CHECK(r->kid() == key.kid());
  const json& c = r->claims().json();
  CHECK(c["iss"] == "https://auth.example.com");
  CHECK(c["aud"] == "orders-api");
  CHECK(c["iat"] == 1900000000);
  CHECK(c["exp"] == 1900000300);
  CHECK(c["jti"].get<std::string>().size() == 22);  // 128 bits, base64url
  // Five minutes later it has expired.
  CHECK(tokenpass::Verifier(keys, policy_at(kT0 + 300s)).verify(*token).error().code ==
        errc::expired);
}

TEST_CASE("the issuer fills in only what the claims leave out", "[issuer]") {
  tokenpass::IssuerOptions io;
  io.audience = {"a", "b"};
  io.typ = "at+jwt";
  io.not_before = true;
  io.clock = [] { return kT0; };
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "https://auth.example.com", 60s, io);
  const auto token = issuer
                         .issue(tokenpass::ClaimsBuilder()
                                    .issuer("https://someone-else")
                                    .jwt_id("fixed")
                                    .expires_at(kT0 + 10s))
                         .value();
  const auto d = tokenpass::decode_unverified(token).value();
  CHECK(d.header()["typ"] == "at+jwt");
  const json& c = *d.payload_json();
  CHECK(c["iss"] == "https://auth.example.com");  // always the issuer's own
  CHECK(c["jti"] == "fixed");
  CHECK(c["exp"] == 1900000010);
  CHECK(c["nbf"] == 1900000000);
  CHECK(c["aud"] == json::array({"a", "b"}));
}

TEST_CASE("jti values are unique", "[issuer]") {
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const auto t = issuer.issue(tokenpass::ClaimsBuilder()).value();
    seen.insert(tokenpass::decode_unverified(t).value().payload_json()->at("jti").get<std::string>());
  }
  CHECK(seen.size() == 200);
}

TEST_CASE("the issuer refuses keys that cannot sign and bad settings", "[issuer]") {
  const auto& key = tp_test::key_for(Alg::ES256);
  CHECK_THROWS_AS(tokenpass::Issuer(key.public_key().value(), "i", 60s), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Issuer(key, "", 60s), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Issuer(key, "i", 0s), std::invalid_argument);
  tokenpass::IssuerOptions io;
  io.alg = Alg::RS256;
  CHECK_THROWS_AS(tokenpass::Issuer(key, "i", 60s, io), std::invalid_argument);
  auto enc = tokenpass::Key::from_jwk(json{{"kty", "oct"}, {"k", tp_test::b64(std::string(32, 'k'))},
                                           {"use", "enc"}});
  REQUIRE(enc);
  CHECK_THROWS_AS(tokenpass::Issuer(*enc, "i", 60s), std::invalid_argument);
}

TEST_CASE("issue refuses ill-typed registered claims", "[issuer]") {
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s);
  auto r = issuer.issue(tokenpass::ClaimsBuilder().claim("exp", "tomorrow"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::malformed);
}

TEST_CASE("issued tokens verify under PyJWT for every algorithm it supports", "[issuer][pyjwt]") {
  // PyJWT 2.6 (Debian python3-jwt) with /usr/bin/python3; the fully specified Ed25519
  // and Ed448 names are newer than it.
  const Alg alg = GENERATE(Alg::HS256, Alg::HS384, Alg::HS512, Alg::RS256, Alg::RS384,
                           Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512, Alg::ES256,
                           Alg::ES384, Alg::ES512, Alg::ES256K, Alg::EdDSA);
  INFO(tokenpass::to_string(alg));
  const tokenpass::Key& key = tp_test::key_for(alg);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", 5min, io);
  const auto token = issuer.issue(tokenpass::ClaimsBuilder().subject("user-1").scopes({"a", "b"}));
  REQUIRE(token);
  const json jwk = key.is_symmetric() ? key.to_private_jwk() : key.to_public_jwk();
  const std::string script = R"(
import json, sys, jwt
from jwt.algorithms import get_default_algorithms
jwk, token, alg = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
key = get_default_algorithms()[alg].from_jwk(json.dumps(jwk))
claims = jwt.decode(token, key, algorithms=[alg], audience="orders-api",
                    issuer="https://auth.example.com")
assert claims["sub"] == "user-1" and claims["scope"] == "a b", claims
print("ok")
)";
  const auto result = tp_test::run_python(script, {jwk.dump(), *token,
                                                   std::string(tokenpass::to_string(alg))});
  CHECK(result == "ok\n");
  // And a token with one bit of its signature flipped is refused by PyJWT too.
  const auto tampered = tp_test::tamper::flip_each_signature_bit(*token).front();
  CHECK(tp_test::run_python(script, {jwk.dump(), tampered, std::string(tokenpass::to_string(alg))})
            .find("ok") == std::string::npos);
}

// ---- what the issuing path writes (issue 19) -----------------------------------------

namespace {

// payload_of: the token's claims, parsed by the strict parser (duplicate names refused).
json payload_of(const std::string& token) {
  const auto d = tokenpass::decode_unverified(token).value();
  REQUIRE(d.payload_json());
  return *d.payload_json();
}

tokenpass::IssuerOptions at(std::chrono::system_clock::time_point now) {
  tokenpass::IssuerOptions io;
  io.clock = [now] { return now; };
  return io;
}

}  // namespace

TEST_CASE("issue writes the caller's claims as they are, with iss, iat, exp, nbf, aud and jti",
          "[issuer]") {
  tokenpass::IssuerOptions io = at(kT0);
  io.audience = {"a", "b"};
  io.not_before = true;
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::ES256), "https://auth.example.com", 60s, io);
  tokenpass::ClaimsBuilder c;
  c.subject("user \"1\"\n\\ é 😀")
      .client_id("web")
      .scopes({"a", "b"})
      .claim("nested", json{{"z", {1, 2.5, -3, nullptr, true}}, {"a", json::object()}})
      .claim("big", std::uint64_t{18446744073709551615u})
      .claim("float", 0.1)
      .claim("empty", json::array())
      .claim("ctl", std::string("\x01\x1f\x7f", 3));
  const auto token = issuer.issue(c);
  REQUIRE(token);
  json expected = c.json();
  expected["iss"] = "https://auth.example.com";
  expected["iat"] = 1900000000;
  expected["exp"] = 1900000060;
  expected["nbf"] = 1900000000;
  expected["aud"] = json::array({"a", "b"});
  const json got = payload_of(*token);
  REQUIRE(got.contains("jti"));
  CHECK(got["jti"].get<std::string>().size() == 22);
  expected["jti"] = got["jti"];
  CHECK(got == expected);
}

TEST_CASE("issue of empty claims writes only what the issuer adds", "[issuer]") {
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s, at(kT0));
  const auto token = issuer.issue(tokenpass::ClaimsBuilder()).value();
  const json got = payload_of(token);
  CHECK(got.size() == 4);
  CHECK(got["iss"] == "i");
  CHECK(got["iat"] == 1900000000);
  CHECK(got["exp"] == 1900000060);
  CHECK(got["jti"].is_string());
  tokenpass::IssuerOptions no_jti = at(kT0);
  no_jti.generate_jti = false;
  const auto bare =
      tokenpass::Issuer(tp_test::key_for(Alg::HS256), "i", 60s, no_jti).issue({}).value();
  CHECK(payload_of(bare) == json{{"iss", "i"}, {"iat", 1900000000}, {"exp", 1900000060}});
}

TEST_CASE("issue replaces the caller's iss, also one of another type", "[issuer]") {
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "https://auth.example.com", 60s,
                                 at(kT0));
  for (const json& iss : {json("https://someone-else"), json(5), json::array({"x"})}) {
    INFO(iss.dump());
    const auto token = issuer.issue(tokenpass::ClaimsBuilder().claim("iss", iss).subject("u"));
    REQUIRE(token);
    const std::string text = tp_test::unb64(tp_test::split(*token).payload);
    CHECK(text.find("someone-else") == std::string::npos);
    const json got = payload_of(*token);
    CHECK(got["iss"] == "https://auth.example.com");
    CHECK(got["sub"] == "u");
  }
}

TEST_CASE("issue keeps the caller's iat, exp, nbf, aud and jti", "[issuer]") {
  tokenpass::IssuerOptions io = at(kT0);
  io.audience = {"default-aud"};
  io.not_before = true;
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s, io);
  tokenpass::ClaimsBuilder c;
  c.issued_at(kT0 - 10s)
      .expires_at(kT0 + 10s)
      .not_before(kT0 - 5s)
      .audience(std::vector<std::string>{"x", "y"})
      .jwt_id("fixed");
  const auto token = issuer.issue(c).value();
  const json got = payload_of(token);  // no name twice
  CHECK(got.size() == 6);
  CHECK(got["iat"] == 1899999990);
  CHECK(got["exp"] == 1900000010);
  CHECK(got["nbf"] == 1899999995);
  CHECK(got["aud"] == json::array({"x", "y"}));
  CHECK(got["jti"] == "fixed");
  // Fractional dates set as claims stay as they are.
  const auto fractional = issuer.issue(tokenpass::ClaimsBuilder().claim("exp", 1900000010.5));
  CHECK(payload_of(fractional.value())["exp"] == 1900000010.5);
}

TEST_CASE("issue refuses claims that are not UTF-8 as malformed", "[issuer]") {
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s);
  for (const auto& c : {tokenpass::ClaimsBuilder().claim("name", std::string("caf\xe9")),
                        tokenpass::ClaimsBuilder().claim(std::string("n\xff"), 1),
                        tokenpass::ClaimsBuilder().claim("deep", json{{"a", {"\xc3"}}}),
                        tokenpass::ClaimsBuilder().subject("\xed\xa0\x80")}) {  // a surrogate
    const auto r = issuer.issue(c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::malformed);
    CHECK(r.error().detail == "claim values must be valid UTF-8");
  }
  // The issuer's own iss and default audience are written as claims too.
  CHECK_NOTHROW(tokenpass::Issuer(tp_test::key_for(Alg::HS256), "caf\xe9", 60s));
  CHECK(tokenpass::Issuer(tp_test::key_for(Alg::HS256), "caf\xe9", 60s).issue({}).error().code ==
        errc::malformed);
  tokenpass::IssuerOptions io;
  io.audience = {"ok", "caf\xe9"};
  const tokenpass::Issuer bad_aud(tp_test::key_for(Alg::HS256), "i", 60s, io);
  CHECK(bad_aud.issue({}).error().code == errc::malformed);
  CHECK(bad_aud.issue(tokenpass::ClaimsBuilder().audience("own")));  // the default is not used
}

TEST_CASE("issue refuses ill-typed registered claims, naming the first in table order",
          "[issuer]") {
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s);
  const auto detail = [&](const tokenpass::ClaimsBuilder& c) {
    const auto r = issuer.issue(c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::malformed);
    return r.error().detail;
  };
  CHECK(detail(tokenpass::ClaimsBuilder().claim("aud", 5)) ==
        "\"aud\" is not a string or an array of strings");
  CHECK(detail(tokenpass::ClaimsBuilder().claim("jti", 5)) == "\"jti\" is not a string");
  CHECK(detail(tokenpass::ClaimsBuilder().claim("iat", -1)) == "\"iat\" is not a NumericDate");
  CHECK(detail(tokenpass::ClaimsBuilder().claim("scope", 5).claim("sub", 5)) ==
        "\"sub\" is not a string");
  // A clock before 1970 makes dates that are not NumericDates, checked in the same order.
  const auto before_1970 = at(std::chrono::system_clock::time_point(-100s));
  const tokenpass::Issuer early(tp_test::key_for(Alg::HS256), "i", 60s, before_1970);
  CHECK(early.issue({}).error().detail == "\"exp\" is not a NumericDate");
  CHECK(early.issue(tokenpass::ClaimsBuilder().claim("sub", 5)).error().detail ==
        "\"sub\" is not a string");
  CHECK(early.issue(tokenpass::ClaimsBuilder().claim("scope", 5)).error().detail ==
        "\"exp\" is not a NumericDate");
  CHECK(early.issue(tokenpass::ClaimsBuilder().expires_at(kT0).claim("scope", 5)).error().detail ==
        "\"iat\" is not a NumericDate");
}

TEST_CASE("issue writes the header sign_jws writes: alg, kid, typ", "[issuer]") {
  const tokenpass::Key& key = tp_test::key_for(Alg::ES256);
  REQUIRE(key.kid() == "test-ES256");
  tokenpass::IssuerOptions io;
  io.typ = "at+jwt";
  const auto token = tokenpass::Issuer(key, "i", 60s, io).issue({}).value();
  CHECK(tp_test::unb64(tp_test::split(token).header) ==
        R"({"alg":"ES256","kid":"test-ES256","typ":"at+jwt"})");
  tokenpass::JwsSignOptions so;
  so.typ = "at+jwt";
  CHECK(tp_test::split(token).header ==
        tp_test::split(tokenpass::sign_jws(key, "{}", so).value()).header);

  // No kid: none written. An empty typ is written as it is.
  const auto secret = tokenpass::Key::from_secret(std::string(48, 'k'), Alg::HS384).value();
  io.typ = "";
  CHECK(tp_test::unb64(
            tp_test::split(tokenpass::Issuer(secret, "i", 60s, io).issue({}).value()).header) ==
        R"({"alg":"HS384","typ":""})");
  // Names that need escaping, and options.alg over the key's default.
  tokenpass::IssuerOptions rs;
  rs.alg = Alg::PS384;
  rs.typ = "a\"b";
  const tokenpass::Key rsa = tp_test::without_alg(tp_test::key_for(Alg::RS256)).with_kid("k/\\1");
  const auto ps = tokenpass::Issuer(rsa, "i", 60s, rs).issue({}).value();
  CHECK(tp_test::unb64(tp_test::split(ps).header) ==
        R"({"alg":"PS384","kid":"k/\\1","typ":"a\"b"})");
}

TEST_CASE("issue refuses a kid or typ that is not UTF-8 as malformed, after the claims",
          "[issuer]") {
  tokenpass::IssuerOptions io;
  io.typ = "caf\xe9";
  const tokenpass::Issuer issuer(tp_test::key_for(Alg::HS256), "i", 60s, io);  // does not throw
  auto r = issuer.issue({});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::malformed);
  CHECK(r.error().detail == "header values must be valid UTF-8");
  CHECK(issuer.issue(tokenpass::ClaimsBuilder().claim("sub", 5)).error().detail ==
        "\"sub\" is not a string");
  CHECK(issuer.issue(tokenpass::ClaimsBuilder().claim("x", "\xff")).error().detail ==
        "claim values must be valid UTF-8");
  const tokenpass::Issuer bad_kid(tp_test::key_for(Alg::ES256).with_kid("\xff"), "i", 60s);
  CHECK(bad_kid.issue({}).error().code == errc::malformed);
}

TEST_CASE("issue writes claims larger than its stack buffer", "[issuer]") {
  const tokenpass::Key& key = tp_test::key_for(Alg::EdDSA);
  const tokenpass::Issuer issuer(key, "https://auth.example.com", 5min, at(kT0));
  for (const std::size_t n : {1000, 1100, 5000, 20000}) {
    INFO(n);
    tokenpass::ClaimsBuilder c;
    c.subject("u").claim("big", std::string(n, 'x')).claim("more", std::vector<int>(n / 100, 7));
    const auto token = issuer.issue(c).value();
    const json got = payload_of(token);
    CHECK(got["big"] == c.json()["big"]);
    CHECK(got["more"] == c.json()["more"]);
    CHECK(got["iss"] == "https://auth.example.com");
    CHECK(tokenpass::verify_jws(token, key.public_key().value()));
  }
}

TEST_CASE("issued tokens of every algorithm verify, and alg and kid come from the key",
          "[issuer]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  INFO(tokenpass::to_string(alg));
  const tokenpass::Key& key = tp_test::key_for(alg);
  tokenpass::IssuerOptions io = at(kT0);
  io.typ = "at+jwt";
  const tokenpass::Issuer issuer(key, "https://auth.example.com", 5min, io);
  tokenpass::ClaimsBuilder c;
  c.subject("user-4711").audience("orders-api").client_id("web").scopes({"orders:read"});
  const auto token = issuer.issue(c);
  REQUIRE(token);
  tokenpass::Policy p = policy_at(kT0 + 1s);
  p.required_scopes = {"orders:read"};
  p.typ = "at+jwt";
  const tokenpass::Verifier v(tokenpass::KeySet({tp_test::public_of(key)}), p);
  const auto r = v.verify(*token);
  REQUIRE(r);
  CHECK(r->alg() == alg);
  CHECK(r->kid() == key.kid());
  CHECK(r->header() ==
        json{{"alg", tokenpass::to_string(alg)}, {"kid", key.kid()}, {"typ", "at+jwt"}});
  CHECK(r->claims().subject() == "user-4711");
  CHECK(r->claims().client_id() == "web");
}

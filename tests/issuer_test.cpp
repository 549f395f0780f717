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

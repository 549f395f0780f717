// SPIFFE (spiffe.h): SPIFFE IDs and their matching, JWT-SVIDs under
// Policy::jwt_svid_profile with keys from a SPIFFE bundle ("use": "jwt-svid", which
// serve that profile only), and a bundle endpoint through RemoteJwks (refresh hint,
// sequence rollback refused) served by a real HTTP server on 127.0.0.1.
#include "tokenpass/spiffe.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "internal/jwks_fetch.h"
#include "support/catch.h"
#include "support/jwks_server.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/jws.h"
#include "tokenpass/key_source.h"
#include "tokenpass/verifier.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::errc;
using namespace tp_test;

namespace {

// bundle_of: a SPIFFE bundle holding the public halves of `keys` as jwt-svid keys, and
// an x509-svid entry beside them, as SPIRE serves it.
json bundle_of(const std::vector<tokenpass::Key>& keys, std::uint64_t sequence, std::uint64_t refresh_hint = 300) {
  json out = {{"spiffe_sequence", sequence}, {"spiffe_refresh_hint", refresh_hint}, {"keys", json::array()}};
  for (const auto& k : keys) {
    json jwk = k.to_public_jwk();
    jwk["use"] = "jwt-svid";
    jwk.erase("alg");  // SPIFFE bundles name no alg: the key's type decides
    out["keys"].push_back(jwk);
  }
  json x509 = keys.front().to_public_jwk();
  x509["use"] = "x509-svid";
  x509["kid"] = "x509";
  x509["x5c"] = {"MIIB"};
  out["keys"].push_back(x509);
  return out;
}

tokenpass::KeySet bundle_keys(const std::vector<tokenpass::Key>& keys) {
  json b = bundle_of(keys, 1);
  b["keys"].erase(b["keys"].size() - 1);  // the x509-svid entry is no JWK to load here
  return tokenpass::KeySet::from_jwks(b).value();
}

std::string svid(const tokenpass::Key& key, json claims, tokenpass::JwsSignOptions options = {}) {
  if (!claims.contains("exp")) claims["exp"] = std::time(nullptr) + 300;
  return tokenpass::sign_jws(key, claims.dump(), options).value();
}

}  // namespace

TEST_CASE("SPIFFE IDs: syntax and matching", "[spiffe]") {
  for (const char* ok : {"spiffe://shop", "spiffe://shop/billing", "spiffe://a.b-c_d/ns/x/sa/y", "spiffe://td/A.b-_9"}) {
    CAPTURE(ok);
    CHECK(tokenpass::is_spiffe_id(ok));
  }
  for (const char* bad : {"", "spiffe://", "spiffe:///x", "SPIFFE://shop", "https://shop/x", "spiffe://Shop/x",
                          "spiffe://shop/", "spiffe://shop//x", "spiffe://shop/./x", "spiffe://shop/../x",
                          "spiffe://shop:443/x", "spiffe://u@shop/x", "spiffe://shop/x?q", "spiffe://shop/x#f",
                          "spiffe://shop/%41"}) {
    CAPTURE(bad);
    CHECK_FALSE(tokenpass::is_spiffe_id(bad));
  }
  CHECK_FALSE(tokenpass::is_spiffe_id("spiffe://shop/" + std::string(2040, 'a')));
  CHECK(tokenpass::spiffe_id_matches("spiffe://shop/ns/billing", "spiffe://shop"));
  CHECK(tokenpass::spiffe_id_matches("spiffe://shop/ns/billing", "spiffe://shop/ns"));
  CHECK(tokenpass::spiffe_id_matches("spiffe://shop/ns/billing", "spiffe://shop/ns/billing"));
  CHECK_FALSE(tokenpass::spiffe_id_matches("spiffe://shop/ns/billing2", "spiffe://shop/ns/billing"));
  CHECK_FALSE(tokenpass::spiffe_id_matches("spiffe://shop.evil/x", "spiffe://shop"));
  CHECK_FALSE(tokenpass::spiffe_id_matches("spiffe://shopx/x", "spiffe://shop"));
  CHECK_FALSE(tokenpass::spiffe_id_matches("spiffe://shop/ns", "spiffe://shop/ns/billing"));
  CHECK_FALSE(tokenpass::spiffe_id_matches("spiffe://shop//x", "spiffe://shop"));
}

TEST_CASE("JWT-SVID profile: what the standard requires, with bundle keys", "[spiffe]") {
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::Verifier v(bundle_keys({key}),
                              tokenpass::Policy::jwt_svid_profile({"spiffe://shop/product"}, {"spiffe://shop/ns"}));
  const json good = {{"sub", "spiffe://shop/ns/billing"}, {"aud", "spiffe://shop/product"}};

  auto ok = v.verify(svid(key, good));
  REQUIRE(ok);
  CHECK(ok->claims().subject() == "spiffe://shop/ns/billing");
  tokenpass::JwsSignOptions no_typ;
  no_typ.typ.reset();
  CHECK(v.verify(svid(key, good, no_typ)));
  tokenpass::JwsSignOptions jose;
  jose.typ = "JOSE";
  CHECK(v.verify(svid(key, good, jose)));

  tokenpass::JwsSignOptions at_jwt;
  at_jwt.typ = "at+jwt";
  CHECK(error_of(v.verify(svid(key, good, at_jwt))) == errc::bad_type);
  tokenpass::JwsSignOptions extra;
  extra.extra_header = {{"cty", "JWT"}};
  CHECK(error_of(v.verify(svid(key, good, extra))) == errc::malformed);
  extra.extra_header = {{"x-private", 1}};
  CHECK(error_of(v.verify(svid(key, good, extra))) == errc::malformed);

  json other = good;
  other["sub"] = "spiffe://shop/other/billing";
  CHECK(error_of(v.verify(svid(key, other))) == errc::bad_subject);
  other["sub"] = "billing";
  CHECK(error_of(v.verify(svid(key, other))) == errc::bad_subject);
  other["sub"] = "spiffe://shop/ns2/x";
  CHECK(error_of(v.verify(svid(key, other))) == errc::bad_subject);
  other = good;
  other.erase("aud");
  CHECK(error_of(v.verify(svid(key, other))) == errc::missing_claim);
  other = good;
  other["aud"] = "spiffe://shop/billing";
  CHECK(error_of(v.verify(svid(key, other))) == errc::bad_audience);
  tokenpass::ClaimsBuilder no_exp;
  no_exp.subject("spiffe://shop/ns/billing").audience("spiffe://shop/product");
  CHECK(error_of(v.verify(tokenpass::sign_jws(key, no_exp.to_string()).value())) == errc::missing_claim);

  // HS256 is no JWT-SVID algorithm, even with a jwt-svid key for it.
  json hjwk = {{"kty", "oct"}, {"k", b64(std::string(32, 'k'))}};
  const tokenpass::Key hmac = tokenpass::Key::from_jwk(hjwk).value();
  hjwk["use"] = "jwt-svid";
  const tokenpass::Verifier hv(tokenpass::KeySet({tokenpass::Key::from_jwk(hjwk).value()}),
                               tokenpass::Policy::jwt_svid_profile({"spiffe://shop/product"}, {"spiffe://shop"}));
  CHECK(error_of(hv.verify(svid(hmac, good))) == errc::alg_not_allowed);

  CHECK_THROWS_AS(tokenpass::Policy::jwt_svid_profile({}, {"spiffe://shop"}), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Policy::jwt_svid_profile({"a"}, {}), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Policy::jwt_svid_profile({"a"}, {"shop"}), std::invalid_argument);
}

TEST_CASE("JWT-SVID keys serve that profile only, sig keys keep their meaning", "[spiffe]") {
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const json claims = {{"iss", "https://issuer.test"}, {"sub", "spiffe://shop/ns/billing"}, {"aud", "spiffe://shop/product"}};
  const std::string token = svid(key, claims);

  tokenpass::Policy ordinary;
  ordinary.issuers = {"https://issuer.test"};
  ordinary.audiences = {"spiffe://shop/product"};
  // The same key from a SPIFFE bundle does not verify ordinary tokens.
  CHECK(error_of(tokenpass::Verifier(bundle_keys({key}), ordinary).verify(token)) == errc::key_unusable);
  // As a "sig" key it does, and it also serves the profile (a JWK set of the issuer's).
  CHECK(tokenpass::Verifier(tokenpass::KeySet({key.public_key().value()}), ordinary).verify(token));
  CHECK(tokenpass::Verifier(tokenpass::KeySet({key.public_key().value()}),
                            tokenpass::Policy::jwt_svid_profile({"spiffe://shop/product"}, {"spiffe://shop"}))
            .verify(token));
  // A key for another use ("enc", "x509-svid") serves neither.
  json enc = key.to_public_jwk();
  enc["use"] = "x509-svid";
  CHECK(error_of(tokenpass::Verifier(tokenpass::KeySet({tokenpass::Key::from_jwk(enc).value()}),
                                     tokenpass::Policy::jwt_svid_profile({"spiffe://shop/product"}, {"spiffe://shop"}))
                     .verify(token)) == errc::key_unusable);
}

TEST_CASE("SPIFFE bundle answers: jwt-svid keys only, the refresh hint, the sequence", "[spiffe]") {
  const tokenpass::Key a = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::RemoteJwksOptions opt;
  opt.spiffe_bundle = true;
  opt.min_ttl = 30s;
  tokenpass::HttpResponse res;
  res.status = 200;
  res.headers = {{"Cache-Control", "max-age=3600"}};
  res.body = bundle_of({a}, 7, 120).dump();
  auto answer = tokenpass::internal::read_jwks_answer(res, opt, false);
  REQUIRE(answer.kind == tokenpass::internal::JwksAnswer::Kind::fetched);
  CHECK(answer.keys->size() == 1);
  CHECK(answer.keys->keys().front().use() == "jwt-svid");
  CHECK(answer.ttl == 120s);  // the hint, not Cache-Control
  CHECK(answer.sequence == std::uint64_t(7));

  res.body = bundle_of({a}, 7, 1).dump();
  CHECK(tokenpass::internal::read_jwks_answer(res, opt, false).ttl == 30s);  // within min_ttl
  json no_hint = bundle_of({a}, 7);
  no_hint.erase("spiffe_refresh_hint");
  res.body = no_hint.dump();
  CHECK(tokenpass::internal::read_jwks_answer(res, opt, false).ttl == 3600s);
  json bad = bundle_of({a}, 7);
  bad["spiffe_sequence"] = -1;
  res.body = bad.dump();
  CHECK(tokenpass::internal::read_jwks_answer(res, opt, false).kind == tokenpass::internal::JwksAnswer::Kind::failed);
  json only_x509 = bundle_of({a}, 7);
  only_x509["keys"].erase(0);
  res.body = only_x509.dump();
  CHECK(tokenpass::internal::read_jwks_answer(res, opt, false).kind == tokenpass::internal::JwksAnswer::Kind::failed);
  // Without spiffe_bundle the same document is a JWK set like any other.
  opt.spiffe_bundle = false;
  res.body = bundle_of({a}, 7, 120).dump();
  CHECK(tokenpass::internal::read_jwks_answer(res, opt, false).ttl == 3600s);
}

TEST_CASE("SPIFFE bundle endpoint: JWT-SVIDs verified, a rolled-back bundle refused", "[spiffe][http]") {
  const tokenpass::Key a = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::Key b = tokenpass::Key::generate(tokenpass::Alg::ES256);
  JwksServer server;
  server.set_jwks(bundle_of({a}, 5).dump());
  tokenpass::RemoteJwksOptions opt;
  opt.url = server.jwks_url();
  opt.allow_http = true;
  opt.spiffe_bundle = true;
  opt.unknown_kid_interval = 0s;
  opt.timeout = 2000ms;
  // A refused bundle counts as a failed fetch, which backs off: the test moves the clock.
  const auto offset = std::make_shared<std::atomic<int>>(0);
  opt.clock = [offset] { return std::chrono::system_clock::now() + std::chrono::seconds(offset->load()); };
  const auto bundle = std::make_shared<tokenpass::RemoteJwks>(opt, std::make_shared<tokenpass::HttplibClient>());
  REQUIRE(bundle->prefetch());
  const tokenpass::Verifier v(bundle, tokenpass::Policy::jwt_svid_profile({"spiffe://shop/product"}, {"spiffe://shop"}));
  const json claims = {{"sub", "spiffe://shop/billing"}, {"aud", "spiffe://shop/product"}};
  CHECK(v.verify(svid(a, claims)));

  // An older bundle (sequence 3) with key b is not taken: b stays unknown.
  server.set_jwks(bundle_of({b}, 3).dump());
  CHECK(error_of(v.verify(svid(b, claims))) == errc::key_not_found);
  CHECK(v.verify(svid(a, claims)));
  // A newer one (sequence 6) is.
  server.set_jwks(bundle_of({b}, 6).dump());
  offset->store(120);
  CHECK(v.verify(svid(b, claims)));
  CHECK(error_of(v.verify(svid(a, claims))) == errc::key_not_found);
}

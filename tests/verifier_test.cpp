#include "tokenpass/verifier.h"

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/catch.h"
#include "support/test_support.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using json = nlohmann::json;

namespace {

constexpr long long kNow = 1900000000;  // 2030-03-17

std::chrono::system_clock::time_point at(long long epoch) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(epoch));
}

// A policy with a fixed clock, and tokens signed with exactly the claims a test gives.
struct Fixture {
  tokenpass::Key key = tp_test::key_for(Alg::ES256);
  tokenpass::Policy policy;

  Fixture() {
    policy.issuers = {"https://auth.example.com"};
    policy.audiences = {"orders-api"};
    policy.leeway = 0s;
    policy.clock = [] { return at(kNow); };
  }
  static json base_claims() {
    return json{{"iss", "https://auth.example.com"}, {"sub", "user-1"}, {"aud", "orders-api"},
                {"exp", kNow + 300}, {"iat", kNow - 10}, {"scope", "orders:read orders:write"}};
  }
  std::string mint(const json& claims, tokenpass::JwsSignOptions opts = {}) const {
    return tokenpass::sign_jws(key, claims.dump(), opts).value();
  }
  std::string mint_with(const std::function<void(json&)>& edit) const {
    json c = base_claims();
    edit(c);
    return mint(c);
  }
  tokenpass::Verifier verifier() const {
    return tokenpass::Verifier(tokenpass::KeySet({key.public_key().value()}), policy);
  }
  errc code_of(const std::string& token) const {
    auto r = verifier().verify(token);
    REQUIRE_FALSE(r);
    return r.error().code;
  }
};

}  // namespace

TEST_CASE("verify accepts a valid token and exposes its claims", "[verifier]") {
  Fixture fx;
  const auto token = fx.mint(Fixture::base_claims());
  auto r = fx.verifier().verify("  " + token + "\n");
  REQUIRE(r);
  CHECK(r->claims().subject() == "user-1");
  CHECK(r->claims().issuer() == "https://auth.example.com");
  CHECK(r->alg() == Alg::ES256);
  CHECK(r->kid() == fx.key.kid());
  CHECK(r->compact() == token);
  CHECK(r->header()["typ"] == "JWT");
  CHECK(r->claims().scopes() == std::vector<std::string>{"orders:read", "orders:write"});
}

TEST_CASE("exp is valid strictly before exp + leeway", "[verifier][time]") {
  Fixture fx;
  fx.policy.leeway = 30s;
  // now < exp + leeway: exp = now - 29 passes, exp = now - 30 is expired.
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["exp"] = kNow - 29; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["exp"] = kNow - 30; })) == errc::expired);
  fx.policy.leeway = 0s;
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["exp"] = kNow + 1; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["exp"] = kNow; })) == errc::expired);
  // Fractional NumericDates count too.
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["exp"] = kNow + 0.5; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["exp"] = kNow - 0.5; })) == errc::expired);
}

TEST_CASE("nbf passes when nbf <= now + leeway", "[verifier][time]") {
  Fixture fx;
  fx.policy.leeway = 30s;
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["nbf"] = kNow + 30; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["nbf"] = kNow + 31; })) == errc::not_yet_valid);
}

TEST_CASE("iat later than now + leeway is issued_in_future", "[verifier][time]") {
  Fixture fx;
  fx.policy.leeway = 5s;
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["iat"] = kNow + 5; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["iat"] = kNow + 6; })) == errc::issued_in_future);
}

TEST_CASE("max_age requires iat and rejects older tokens as too_old", "[verifier][time]") {
  Fixture fx;
  fx.policy.max_age = 60s;
  fx.policy.leeway = 10s;
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["iat"] = kNow - 70; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["iat"] = kNow - 71; })) == errc::too_old);
  CHECK(fx.code_of(fx.mint_with([](json& c) { c.erase("iat"); })) == errc::missing_claim);
}

TEST_CASE("exp is required by default and optional when the policy says so", "[verifier][time]") {
  Fixture fx;
  const auto token = fx.mint_with([](json& c) { c.erase("exp"); });
  CHECK(fx.code_of(token) == errc::missing_claim);
  fx.policy.require_exp = false;
  CHECK(fx.verifier().verify(token));
}

TEST_CASE("issuer must be one of the accepted ones", "[verifier][claims]") {
  Fixture fx;
  fx.policy.issuers = {"https://a.example", "https://auth.example.com"};
  CHECK(fx.verifier().verify(fx.mint(Fixture::base_claims())));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["iss"] = "https://evil.example"; })) ==
        errc::bad_issuer);
  CHECK(fx.code_of(fx.mint_with([](json& c) { c.erase("iss"); })) == errc::bad_issuer);
  // No prefix or case games.
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["iss"] = "https://auth.example.com/"; })) ==
        errc::bad_issuer);
}

TEST_CASE("audience may be a string or an array and one value must match", "[verifier][claims]") {
  Fixture fx;
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["aud"] = json::array({"x", "orders-api"}); })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["aud"] = json::array({"x", "y"}); })) ==
        errc::bad_audience);
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["aud"] = json::array(); })) == errc::bad_audience);
  CHECK(fx.code_of(fx.mint_with([](json& c) { c.erase("aud"); })) == errc::bad_audience);
}

TEST_CASE("any_issuer and any_audience skip those checks explicitly", "[verifier][claims]") {
  Fixture fx;
  fx.policy.issuers.clear();
  fx.policy.audiences.clear();
  fx.policy.any_issuer().any_audience();
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) {
    c.erase("iss");
    c["aud"] = "somewhere-else";
  })));
}

TEST_CASE("subject must match when the policy names one", "[verifier][claims]") {
  Fixture fx;
  fx.policy.subject = "user-1";
  CHECK(fx.verifier().verify(fx.mint(Fixture::base_claims())));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["sub"] = "user-2"; })) == errc::bad_subject);
  CHECK(fx.code_of(fx.mint_with([](json& c) { c.erase("sub"); })) == errc::bad_subject);
}

TEST_CASE("registered claims of the wrong type are bad_claim", "[verifier][claims][tamper]") {
  Fixture fx;
  const std::pair<const char*, json> cases[] = {
      {"exp", "4102444800"},           {"exp", -1},
      {"exp", 9007199254740992.0},     {"exp", json::array({1})},
      {"nbf", true},                   {"iat", nullptr},
      {"iss", 42},                     {"sub", json::object()},
      {"aud", 7},                      {"aud", json::array({"orders-api", 7})},
      {"scope", json::array({"orders:read"})},
      {"scp", json::array({"a", 1})},  {"jti", 1},
      {"client_id", false},
  };
  for (const auto& [name, value] : cases) {
    INFO(name << " = " << value.dump());
    const auto token = fx.mint_with([&](json& c) { c[name] = value; });
    CHECK(fx.code_of(token) == errc::bad_claim);
  }
  // The largest allowed NumericDate is 2^53 - 1.
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["exp"] = 9007199254740991LL; })));
}

TEST_CASE("a payload that is not a JSON object is malformed", "[verifier][tamper]") {
  Fixture fx;
  for (const char* payload : {"[1,2]", "\"text\"", "not json", "{\"a\":1,\"a\":2}"}) {
    INFO(payload);
    const auto token = tokenpass::sign_jws(fx.key, payload).value();
    CHECK(fx.code_of(token) == errc::malformed);
  }
}

TEST_CASE("required claims must be present", "[verifier][claims]") {
  Fixture fx;
  fx.policy.required_claims = {"jti", "tenant"};
  CHECK(fx.code_of(fx.mint(Fixture::base_claims())) == errc::missing_claim);
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) {
    c["jti"] = "j-1";
    c["tenant"] = "acme";
  })));
}

TEST_CASE("every required scope must be granted, from scope or scp", "[verifier][scope]") {
  Fixture fx;
  fx.policy.required_scopes = {"orders:read", "orders:write"};
  CHECK(fx.verifier().verify(fx.mint(Fixture::base_claims())));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["scope"] = "orders:read"; })) ==
        errc::insufficient_scope);
  CHECK(fx.code_of(fx.mint_with([](json& c) { c.erase("scope"); })) == errc::insufficient_scope);
  // scp as an array or a string, used only when scope is absent.
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) {
    c.erase("scope");
    c["scp"] = json::array({"orders:write", "orders:read"});
  })));
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) {
    c.erase("scope");
    c["scp"] = "orders:read orders:write";
  })));
  CHECK(fx.code_of(fx.mint_with([](json& c) {
    c["scope"] = "orders:read";
    c["scp"] = json::array({"orders:write"});
  })) == errc::insufficient_scope);
  // No substring matches.
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["scope"] = "orders:read orders:writer"; })) ==
        errc::insufficient_scope);
}

TEST_CASE("alternative scope sets accept any one set granted in full", "[verifier][scope]") {
  Fixture fx;
  fx.policy.alternative_scopes = {{"admin"}, {"orders:read", "orders:write"}};
  CHECK(fx.verifier().verify(fx.mint(Fixture::base_claims())));
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["scope"] = "admin"; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["scope"] = "orders:read"; })) ==
        errc::insufficient_scope);
}

TEST_CASE("typ is compared case-insensitively with application/ ignored", "[verifier][header]") {
  Fixture fx;
  fx.policy.typ = "at+jwt";
  tokenpass::JwsSignOptions o;
  o.typ = "application/AT+JWT";
  CHECK(fx.verifier().verify(fx.mint(Fixture::base_claims(), o)));
  o.typ = "JWT";
  CHECK(fx.code_of(fx.mint(Fixture::base_claims(), o)) == errc::bad_type);
  o.typ = std::nullopt;
  CHECK(fx.code_of(fx.mint(Fixture::base_claims(), o)) == errc::bad_type);
}

TEST_CASE("custom checks run last and their code is reported", "[verifier][custom]") {
  Fixture fx;
  fx.policy.custom_checks.push_back([](const tokenpass::Claims& c) -> tokenpass::Result<void> {
    if (c.get("tenant") != json("acme")) return tokenpass::make_error(errc::bad_claim, "tenant");
    return {};
  });
  CHECK(fx.verifier().verify(fx.mint_with([](json& c) { c["tenant"] = "acme"; })));
  CHECK(fx.code_of(fx.mint_with([](json& c) { c["tenant"] = "other"; })) == errc::bad_claim);
  // An expired token is reported as expired: the custom check does not run first.
  CHECK(fx.code_of(fx.mint_with([](json& c) {
    c["tenant"] = "other";
    c["exp"] = kNow - 1;
  })) == errc::expired);
}

TEST_CASE("a custom check that throws does not escape verify", "[verifier][custom]") {
  Fixture fx;
  fx.policy.custom_checks.push_back(
      [](const tokenpass::Claims&) -> tokenpass::Result<void> { throw std::runtime_error("boom"); });
  auto r = fx.verifier().verify(fx.mint(Fixture::base_claims()));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::internal_error);  // our fault, not the token's
}

TEST_CASE("the signature is checked before any claim", "[verifier][order]") {
  Fixture fx;
  // Expired, wrong issuer and wrong audience, but signed by another key: bad_signature.
  tokenpass::Key other = tokenpass::Key::generate(Alg::ES256, {fx.key.kid(), 2048, {}});
  json c = Fixture::base_claims();
  c["exp"] = kNow - 1000;
  c["iss"] = "https://evil.example";
  const auto token = tokenpass::sign_jws(other, c.dump()).value();
  CHECK(fx.code_of(token) == errc::bad_signature);
  // And a payload that is not even JSON, under a bad signature, is still bad_signature.
  CHECK(fx.code_of(tokenpass::sign_jws(other, "{{{").value()) == errc::bad_signature);
}

TEST_CASE("policy algorithms narrow what the key accepts", "[verifier][alg]") {
  Fixture fx;
  fx.key = tp_test::key_for(Alg::RS256);
  fx.policy.algorithms = {Alg::PS256};
  tokenpass::JwsSignOptions o;
  o.alg = Alg::RS256;
  CHECK(fx.code_of(fx.mint(Fixture::base_claims(), o)) == errc::alg_not_allowed);
}

TEST_CASE("an unusable policy throws once at construction", "[verifier][policy]") {
  const tokenpass::KeySet keys({tp_test::key_for(Alg::ES256)});
  tokenpass::Policy ok;
  ok.issuers = {"i"};
  ok.audiences = {"a"};
  CHECK_NOTHROW(tokenpass::Verifier(keys, ok));

  auto p = ok;
  p.issuers.clear();
  CHECK_THROWS_AS(tokenpass::Verifier(keys, p), std::invalid_argument);
  p.any_issuer();
  CHECK_NOTHROW(tokenpass::Verifier(keys, p));

  p = ok;
  p.audiences.clear();
  CHECK_THROWS_AS(tokenpass::Verifier(keys, p), std::invalid_argument);

  p = ok;
  p.leeway = 601s;
  CHECK_THROWS_AS(tokenpass::Verifier(keys, p), std::invalid_argument);
  p.leeway = 600s;
  CHECK_NOTHROW(tokenpass::Verifier(keys, p));
  p.leeway = -1s;
  CHECK_THROWS_AS(tokenpass::Verifier(keys, p), std::invalid_argument);

  p = ok;
  p.required_scopes = {"a b"};
  CHECK_THROWS_AS(tokenpass::Verifier(keys, p), std::invalid_argument);
  p = ok;
  p.custom_checks.push_back(nullptr);
  CHECK_THROWS_AS(tokenpass::Verifier(keys, p), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Verifier(std::shared_ptr<const tokenpass::KeySource>(), ok),
                  std::invalid_argument);
}

TEST_CASE("the default leeway is 60 seconds", "[verifier][policy]") {
  CHECK(tokenpass::Policy{}.leeway == 60s);
  CHECK(tokenpass::Policy{}.require_exp);
}

TEST_CASE("the RFC 9068 profile requires at+jwt and its claims", "[verifier][rfc9068]") {
  Fixture fx;
  const auto clock = fx.policy.clock;
  fx.policy = tokenpass::Policy::access_token_profile({"https://auth.example.com"}, {"orders-api"});
  fx.policy.clock = clock;
  json c = Fixture::base_claims();
  c["client_id"] = "web";
  c["jti"] = "id-1";
  tokenpass::JwsSignOptions at;
  at.typ = "at+jwt";
  CHECK(fx.verifier().verify(fx.mint(c, at)));
  CHECK(fx.code_of(fx.mint(c)) == errc::bad_type);  // typ JWT
  for (const char* name : {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"}) {
    INFO(name);
    json missing = c;
    missing.erase(name);
    CHECK(fx.code_of(fx.mint(missing, at)) == errc::missing_claim);
  }
}

namespace {
// A key source that is down: what a remote JWKS with nothing cached reports.
class DownSource final : public tokenpass::KeySource {
 public:
  tokenpass::Result<std::shared_ptr<const tokenpass::KeySet>> keys_for(
      const tokenpass::KeyQuery&) const override {
    return tokenpass::make_error(errc::key_source_unavailable, "down");
  }
};
}  // namespace

TEST_CASE("an unavailable key source is reported as such", "[verifier][keysource]") {
  Fixture fx;
  const tokenpass::Verifier v(std::make_shared<DownSource>(), fx.policy);
  auto r = v.verify(fx.mint(Fixture::base_claims()));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::key_source_unavailable);
  CHECK(tokenpass::http_status(r.error()) == 503);
  // Structure errors come first: no keys are asked for a malformed token.
  CHECK(v.verify("garbage").error().code == errc::malformed);
}

TEST_CASE("VerifiedToken cannot be made outside a Verifier", "[verifier][types]") {
  STATIC_REQUIRE_FALSE(std::is_default_constructible_v<tokenpass::VerifiedToken>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<tokenpass::VerifiedToken, tokenpass::VerifiedJws>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<tokenpass::VerifiedToken, tokenpass::UnverifiedJws>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<tokenpass::VerifiedToken, std::string>);
}

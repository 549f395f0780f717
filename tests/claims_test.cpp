#include "tokenpass/claims.h"

#include <chrono>

#include "support/catch.h"

using tokenpass::Claims;
using tokenpass::ClaimsBuilder;
using tokenpass::errc;
using json = nlohmann::json;

TEST_CASE("ClaimsBuilder writes registered claims with their JWT types", "[claims]") {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)) +
                 std::chrono::milliseconds(900);
  ClaimsBuilder b;
  b.issuer("i").subject("s").audience("a").expires_at(t).not_before(t).issued_at(t).jwt_id("j")
      .client_id("c").scopes({"x", "y"}).claim("roles", json::array({"r"}));
  const json& j = b.json();
  CHECK(j["iss"] == "i");
  CHECK(j["aud"] == "a");
  CHECK(j["exp"] == 1700000000);  // whole seconds
  CHECK(j["exp"].is_number_integer());
  CHECK(j["scope"] == "x y");
  CHECK(j["roles"][0] == "r");
  b.audience(std::vector<std::string>{"a", "b"});
  CHECK(b.json()["aud"] == json::array({"a", "b"}));
  b.remove("roles");
  CHECK_FALSE(b.json().contains("roles"));
}

TEST_CASE("Claims reads aud as a list and scopes from scope, else scp", "[claims]") {
  auto c = Claims::from_json(json{{"aud", "one"}, {"scope", "a  b "}, {"scp", json::array({"z"})}});
  REQUIRE(c);
  CHECK(c->audience() == std::vector<std::string>{"one"});
  CHECK(c->scopes() == std::vector<std::string>{"a", "b"});
  CHECK(c->has_scope("b"));
  CHECK_FALSE(c->has_scope("z"));

  auto d = Claims::from_json(json{{"aud", json::array({"x", "y"})}, {"scp", json::array({"z", "w"})}});
  REQUIRE(d);
  CHECK(d->audience() == std::vector<std::string>{"x", "y"});
  CHECK(d->scopes() == std::vector<std::string>{"z", "w"});
}

TEST_CASE("Claims reads NumericDates with fractions and cnf as an object", "[claims]") {
  auto c = Claims::from_json(
      json{{"exp", 1700000000.25}, {"iat", 5}, {"cnf", {{"x5t#S256", "abc"}}}, {"jti", "j"}});
  REQUIRE(c);
  CHECK(c->expires_at()->time_since_epoch().count() == 1700000000.25);
  CHECK(c->issued_at()->time_since_epoch().count() == 5.0);
  CHECK_FALSE(c->not_before());
  CHECK((*c->cnf())["x5t#S256"] == "abc");
  CHECK(c->jwt_id() == "j");
  CHECK(c->get("exp").has_value());
  CHECK_FALSE(c->get("nope").has_value());
}

TEST_CASE("Claims::from_json refuses non-objects and ill-typed registered claims", "[claims]") {
  CHECK(Claims::from_json(json::array()).error().code == errc::malformed);
  CHECK(Claims::from_json(json{{"exp", "1"}}).error().code == errc::bad_claim);
  CHECK(Claims::from_json(json{{"exp", -0.5}}).error().code == errc::bad_claim);
  CHECK(Claims::from_json(json{{"scope", 1}}).error().code == errc::bad_claim);
  CHECK(Claims::from_json(json{{"aud", json::array({1})}}).error().code == errc::bad_claim);
  CHECK(Claims::from_json(json{{"iat", 0}}));
}

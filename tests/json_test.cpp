#include "internal/json.h"

#include <string>

#include "support/catch.h"

using tokenpass::errc;
using tokenpass::JsonLimits;
using tokenpass::internal::parse_json;

TEST_CASE("strict JSON parses ordinary documents", "[json]") {
  auto j = parse_json(R"({"a":[1,2,{"b":null}],"c":"\u00e9","big":18446744073709551615})",
                      JsonLimits{});
  REQUIRE(j);
  CHECK((*j)["a"][2].contains("b"));
  CHECK((*j)["big"].get<unsigned long long>() == 18446744073709551615ULL);
}

TEST_CASE("strict JSON rejects duplicate member names at any depth", "[json][tamper]") {
  for (const char* doc : {R"({"a":1,"a":2})", R"({"x":{"k":1,"k":1}})", R"([{"a":1,"b":2,"a":3}])"}) {
    auto j = parse_json(doc, JsonLimits{});
    REQUIRE_FALSE(j);
    CHECK(j.error().code == errc::malformed);
  }
}

TEST_CASE("strict JSON rejects invalid text and invalid UTF-8", "[json][tamper]") {
  for (const std::string& doc : {std::string("{"), std::string("{\"a\":1,}"), std::string("nul"),
                                std::string("{\"a\":\"\xff\"}"), std::string("{} {}"),
                                std::string("{\"a\":NaN}")}) {
    auto j = parse_json(doc, JsonLimits{});
    REQUIRE_FALSE(j);
    CHECK(j.error().code == errc::malformed);
  }
}

TEST_CASE("strict JSON enforces depth, member and string limits at the boundary", "[json][limits]") {
  JsonLimits limits;
  limits.max_depth = 4;
  limits.max_members = 3;
  limits.max_string = 5;
  CHECK(parse_json("[[[[1]]]]", limits));
  auto deep = parse_json("[[[[[1]]]]]", limits);
  REQUIRE_FALSE(deep);
  CHECK(deep.error().code == errc::too_large);

  CHECK(parse_json(R"({"a":1,"b":2,"c":3})", limits));
  auto wide = parse_json(R"({"a":1,"b":2,"c":3,"d":4})", limits);
  REQUIRE_FALSE(wide);
  CHECK(wide.error().code == errc::too_large);
  CHECK(parse_json("[1,2,3]", limits));
  CHECK(parse_json("[1,2,3,4]", limits).error().code == errc::too_large);

  CHECK(parse_json(R"(["abcde"])", limits));
  CHECK(parse_json(R"(["abcdef"])", limits).error().code == errc::too_large);
  CHECK(parse_json(R"({"abcdef":1})", limits).error().code == errc::too_large);
}

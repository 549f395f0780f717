#include "tokenpass/propagation.h"

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::errc;
using tp_test::error_of;

TEST_CASE("extract_bearer follows RFC 6750 section 2.1", "[propagation][bearer]") {
  CHECK(*tokenpass::extract_bearer("Bearer abc.DEF-_~+/=") == "abc.DEF-_~+/=");
  CHECK(*tokenpass::extract_bearer("bearer x") == "x");    // scheme is case-insensitive
  CHECK(*tokenpass::extract_bearer("BEARER   x==") == "x==");
  CHECK(*tokenpass::extract_bearer("  Bearer x  ") == "x");  // OWS around the field value
  CHECK(error_of(tokenpass::extract_bearer("")) == errc::no_token);
  CHECK(error_of(tokenpass::extract_bearer("Basic dXNlcjpwYXNz")) == errc::no_token);
  CHECK(error_of(tokenpass::extract_bearer("Bearerx")) == errc::no_token);
  CHECK(error_of(tokenpass::extract_bearer("Bearer")) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer("Bearer ")) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer("Bearer a b")) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer("Bearer a, Bearer b")) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer("Bearer a=b")) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer("Bearer \"quoted\"")) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer("Bearer =abc")) == errc::invalid_request);
  const std::vector<std::string_view> two = {"Bearer a", "Bearer b"};
  CHECK(error_of(tokenpass::extract_bearer(two)) == errc::invalid_request);
  CHECK(error_of(tokenpass::extract_bearer(std::vector<std::string_view>{})) == errc::no_token);
}

namespace {

constexpr long long kNow = 1900000000;
std::chrono::system_clock::time_point at(long long s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

struct Shop {
  tokenpass::Key user_key = tp_test::key_for(Alg::ES256);
  tokenpass::Key service_key = tp_test::key_for(Alg::EdDSA);
  std::shared_ptr<const tokenpass::Verifier> users;
  std::shared_ptr<const tokenpass::Verifier> services;

  Shop() {
    tokenpass::Policy u;
    u.issuers = {"https://auth"};
    u.audiences = {"product"};
    u.clock = [] { return at(kNow); };
    u.leeway = 0s;
    users = std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({tp_test::public_of(user_key)}), u);
    tokenpass::Policy s = u;
    s.required_scopes = {"product:reserve"};
    services = std::make_shared<const tokenpass::Verifier>(
        tokenpass::KeySet({tp_test::public_of(service_key)}), s);
  }
  std::string token(const tokenpass::Key& key, const std::string& sub, long long exp,
                    const std::string& scope = "") const {
    tokenpass::IssuerOptions io;
    io.audience = {"product"};
    io.clock = [] { return at(kNow - 10); };
    tokenpass::ClaimsBuilder c;
    c.subject(sub).expires_at(at(exp));
    if (!scope.empty()) c.claim("scope", scope);
    return tokenpass::Issuer(key, "https://auth", 5min, io).issue(c).value();
  }
};

// A HeaderLookup over a map, returning fresh vectors like a real adapter does.
tokenpass::HeaderLookup lookup(std::multimap<std::string, std::string> headers) {
  return [headers = std::move(headers)](std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
      if (tokenpass::header_name_equals(k, name)) out.push_back(v);
    }
    return out;
  };
}

}  // namespace

TEST_CASE("the resolver verifies the user and the calling service tokens", "[propagation][resolver]") {
  Shop shop;
  tokenpass::TokenResolverOptions o;
  o.require_service = true;
  const tokenpass::TokenResolver resolver(shop.users, shop.services, o);
  const auto user = shop.token(shop.user_key, "alice", kNow + 60);
  const auto svc = shop.token(shop.service_key, "billing", kNow + 60, "product:reserve");

  auto ctx = resolver.resolve(lookup({{"authorization", "Bearer " + user}, {"X-Ms-Token", svc}}));
  REQUIRE(ctx);
  REQUIRE(ctx->user() != nullptr);
  REQUIRE(ctx->service() != nullptr);
  CHECK(ctx->user()->claims().subject() == "alice");
  CHECK(ctx->service()->claims().subject() == "billing");
  // The service header may also carry "Bearer <token>".
  CHECK(resolver.resolve(lookup({{"Authorization", "Bearer " + user}, {"X-MS-TOKEN", "Bearer " + svc}})));

  CHECK(error_of(resolver.resolve(lookup({{"Authorization", "Bearer " + user}}))) == errc::no_token);
  CHECK(error_of(resolver.resolve(lookup({{"X-MS-TOKEN", svc}}))) == errc::no_token);
  CHECK(error_of(resolver.resolve(lookup({{"Authorization", "Bearer " + user},
                                          {"X-MS-TOKEN", svc},
                                          {"X-MS-TOKEN", svc}}))) == errc::invalid_request);
  // Each token is checked by its own verifier: swapped, both fail.
  CHECK(error_of(resolver.resolve(lookup({{"Authorization", "Bearer " + svc}, {"X-MS-TOKEN", user}}))) ==
        errc::key_not_found);
  // An expired user token, and a service token without the scope.
  CHECK(error_of(resolver.resolve(lookup({{"Authorization", "Bearer " + shop.token(shop.user_key, "a", kNow)},
                                          {"X-MS-TOKEN", svc}}))) == errc::expired);
  CHECK(error_of(resolver.resolve(lookup({{"Authorization", "Bearer " + user},
                                          {"X-MS-TOKEN", shop.token(shop.service_key, "b", kNow + 60)}}))) ==
        errc::insufficient_scope);
}

TEST_CASE("an optional service token is verified when present", "[propagation][resolver]") {
  Shop shop;
  const tokenpass::TokenResolver resolver(shop.users, shop.services);  // service optional
  const auto user = shop.token(shop.user_key, "alice", kNow + 60);
  auto ctx = resolver.resolve(lookup({{"Authorization", "Bearer " + user}}));
  REQUIRE(ctx);
  CHECK(ctx->service() == nullptr);
  CHECK(error_of(resolver.resolve(lookup({{"Authorization", "Bearer " + user}, {"X-MS-TOKEN", "garbage!"}}))) ==
        errc::invalid_request);
}

TEST_CASE("resolver tokens outlive the header list they came from", "[propagation][resolver]") {
  // Regression: the bearer view pointed into the temporary vector a HeaderLookup returns.
  Shop shop;
  const tokenpass::TokenResolver resolver(shop.users, nullptr);
  const auto user = shop.token(shop.user_key, "alice", kNow + 60);
  for (int i = 0; i < 20; ++i) {
    auto ctx = resolver.resolve(lookup({{"Authorization", "Bearer " + user}}));
    REQUIRE(ctx);
    CHECK(ctx->user()->compact() == user);
  }
}

TEST_CASE("resolver construction refuses impossible settings", "[propagation][resolver]") {
  Shop shop;
  CHECK_THROWS_AS(tokenpass::TokenResolver(nullptr, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::TokenResolver(nullptr, shop.services), std::invalid_argument);  // user required
  tokenpass::TokenResolverOptions same;
  same.service_header = "authorization";
  CHECK_THROWS_AS(tokenpass::TokenResolver(shop.users, shop.services, same), std::invalid_argument);
}

TEST_CASE("outbound forwarding sends only to allowed destinations and never an expired token",
          "[propagation][outbound]") {
  Shop shop;
  const tokenpass::TokenResolver resolver(shop.users, nullptr);
  long long now = kNow;
  tokenpass::Outbound out = tokenpass::Outbound::forward();
  out.allow("product", {"product", {}}).clock([&now] { return at(now); });
  const auto user = shop.token(shop.user_key, "alice", kNow + 60);
  auto ctx = resolver.resolve(lookup({{"Authorization", "Bearer " + user}}));
  REQUIRE(ctx);

  auto headers = out.headers_for("product", *ctx->user());
  REQUIRE(headers);
  REQUIRE(headers->size() == 1);
  CHECK((*headers)[0].first == "Authorization");
  CHECK((*headers)[0].second == "Bearer " + user);
  CHECK(error_of(out.headers_for("evil.example", *ctx->user())) == errc::invalid_request);
  CHECK(error_of(out.headers_for("product", nullptr)) == errc::invalid_request);
  now = kNow + 60;  // the token's exp: never sent on
  CHECK(error_of(out.headers_for("product", *ctx->user())) == errc::expired);
}

TEST_CASE("outbound construction refuses a missing client or a shared header", "[propagation][outbound]") {
  CHECK_THROWS_AS(tokenpass::Outbound::service_token(nullptr), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Outbound::exchange(nullptr), std::invalid_argument);
}

TEST_CASE("outbound forwarding refuses a destination the token's aud does not name",
          "[propagation][outbound][audience]") {
  // Issue 14 item 6: a token for `product` must not be forwarded to `billing` (RFC 8725
  // §3.9): billing's neighbour would hold a token billing accepts, or the reverse.
  Shop shop;
  const tokenpass::TokenResolver resolver(shop.users, nullptr);
  const auto user = shop.token(shop.user_key, "alice", kNow + 60);  // aud: product
  auto ctx = resolver.resolve(lookup({{"Authorization", "Bearer " + user}}));
  REQUIRE(ctx);
  tokenpass::Outbound out = tokenpass::Outbound::forward();
  out.allow("product", {"product", {}}).allow("billing", {"billing", {}}).clock([] { return at(kNow); });
  CHECK(error_of(out.headers_for("product", *ctx->user())) == errc{});
  CHECK(error_of(out.headers_for("billing", *ctx->user())) == errc::bad_audience);
  // The explicit opt-out, for systems whose tokens name no audience.
  tokenpass::Destination any{"billing", {}};
  any.forward_any_audience = true;
  out.allow("billing", any);
  CHECK(error_of(out.headers_for("billing", *ctx->user())) == errc{});
}

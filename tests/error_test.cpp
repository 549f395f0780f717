#include "tokenpass/error.h"

#include <string>
#include <system_error>

#include "support/catch.h"

using tokenpass::errc;
using tokenpass::Error;
using tokenpass::Result;

TEST_CASE("every errc has its CLI spelling and parses back", "[error]") {
  for (int v = 1; v <= static_cast<int>(errc::inactive); ++v) {
    const auto code = static_cast<errc>(v);
    const auto name = tokenpass::to_string(code);
    CHECK(name != "unknown");
    CHECK(tokenpass::errc_from_string(name) == code);
  }
  for (int v = static_cast<int>(errc::no_token); v <= static_cast<int>(errc::peer_not_allowed); ++v) {
    const auto code = static_cast<errc>(v);
    CHECK(tokenpass::errc_from_string(tokenpass::to_string(code)) == code);
  }
  CHECK(tokenpass::to_string(errc::bad_binding) == "bad_binding");  // the CLI contract's spelling
  CHECK(tokenpass::to_string(errc::bad_signature) == "bad_signature");
  CHECK(tokenpass::to_string(errc::key_source_unavailable) == "key_source_unavailable");
  CHECK(static_cast<int>(errc::no_token) == 100);
  CHECK_FALSE(tokenpass::errc_from_string("Bad_Signature").has_value());
}

TEST_CASE("errc converts to std::error_code in the tokenpass category", "[error]") {
  const std::error_code ec = errc::expired;
  CHECK(std::string(ec.category().name()) == "tokenpass");
  CHECK(ec.message() == "expired");
  CHECK(ec == make_error_code(errc::expired));
  CHECK(ec != make_error_code(errc::malformed));
}

TEST_CASE("Result holds a value or an error like std::expected", "[error]") {
  Result<int> ok = 42;
  REQUIRE(ok);
  CHECK(*ok == 42);
  CHECK(ok.value() == 42);

  Result<int> bad = Error{errc::bad_issuer, "nope"};
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == errc::bad_issuer);
  CHECK(bad.value_or(7) == 7);
  CHECK_THROWS_AS(bad.value(), tokenpass::bad_result_access);
  try {
    (void)bad.value();
  } catch (const tokenpass::bad_result_access& e) {
    CHECK(e.error().code == errc::bad_issuer);
  }

  Result<std::string> s = std::string("abc");
  CHECK(s->size() == 3);

  Result<void> v;
  CHECK(v);
  Result<void> verr = tokenpass::make_error(errc::replayed, "seen");
  REQUIRE_FALSE(verr);
  CHECK(verr.error().code == errc::replayed);
  CHECK_THROWS_AS(verr.value(), tokenpass::bad_result_access);
}

TEST_CASE("is_token_error separates token codes from library codes", "[error]") {
  CHECK(tokenpass::is_token_error(Error{errc::expired, ""}));
  CHECK(tokenpass::is_token_error(Error{errc::insufficient_scope, ""}));
  CHECK_FALSE(tokenpass::is_token_error(Error{errc::no_token, ""}));
  CHECK_FALSE(tokenpass::is_token_error(Error{errc::key_source_unavailable, ""}));
}

#include "tokenpass/error.h"

#include <string>
#include <vector>

#include "support/catch.h"

using tokenpass::errc;
using tokenpass::Error;

TEST_CASE("http_status follows RFC 6750 section 3.1", "[error][http]") {
  CHECK(tokenpass::http_status(Error{errc::no_token, ""}) == 401);
  CHECK(tokenpass::http_status(Error{errc::invalid_request, ""}) == 400);
  CHECK(tokenpass::http_status(Error{errc::insufficient_scope, ""}) == 403);
  CHECK(tokenpass::http_status(Error{errc::key_source_unavailable, ""}) == 503);
  for (int v = 1; v <= static_cast<int>(errc::replayed); ++v) {
    const auto code = static_cast<errc>(v);
    if (code == errc::insufficient_scope) continue;
    CHECK(tokenpass::http_status(Error{code, ""}) == 401);
  }
}

TEST_CASE("www_authenticate builds the RFC 6750 challenge for each group", "[error][http]") {
  CHECK(*tokenpass::www_authenticate(Error{errc::no_token, ""}, "orders") ==
        "Bearer realm=\"orders\"");
  CHECK(*tokenpass::www_authenticate(Error{errc::invalid_request, ""}, "orders") ==
        "Bearer realm=\"orders\", error=\"invalid_request\"");
  CHECK(*tokenpass::www_authenticate(Error{errc::expired, "exp 123"}, "orders") ==
        "Bearer realm=\"orders\", error=\"invalid_token\"");
  CHECK(*tokenpass::www_authenticate(Error{errc::insufficient_scope, ""}, "orders",
                                     {"orders:read", "orders:write"}) ==
        "Bearer realm=\"orders\", error=\"insufficient_scope\", scope=\"orders:read orders:write\"");
  CHECK_FALSE(tokenpass::www_authenticate(Error{errc::key_source_unavailable, ""}, "orders"));
}

TEST_CASE("www_authenticate quotes and escapes, and never echoes the detail", "[error][http]") {
  const std::string token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig";
  const auto h = tokenpass::www_authenticate(Error{errc::bad_signature, token}, "a \"b\" \\c\r\n",
                                             {}, true);
  REQUIRE(h);
  CHECK(h->find(token) == std::string::npos);
  CHECK(h->find("realm=\"a \\\"b\\\" \\\\c\"") != std::string::npos);
  CHECK(h->find('\r') == std::string::npos);
  CHECK(h->find("error_description=\"The access token is invalid\"") != std::string::npos);
  const auto plain = tokenpass::www_authenticate(Error{errc::bad_signature, token}, "r");
  CHECK(plain->find("error_description") == std::string::npos);
}

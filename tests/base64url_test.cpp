#include "internal/base64url.h"

#include <string>

#include "support/catch.h"

using tokenpass::internal::b64url_decode;
using tokenpass::internal::b64url_encode;

TEST_CASE("base64url encodes RFC 4648 test vectors without padding", "[base64url]") {
  CHECK(b64url_encode("") == "");
  CHECK(b64url_encode("f") == "Zg");
  CHECK(b64url_encode("fo") == "Zm8");
  CHECK(b64url_encode("foo") == "Zm9v");
  CHECK(b64url_encode("foob") == "Zm9vYg");
  CHECK(b64url_encode("fooba") == "Zm9vYmE");
  CHECK(b64url_encode("foobar") == "Zm9vYmFy");
  CHECK(b64url_encode(std::string("\xfb\xff", 2)) == "-_8");
}

TEST_CASE("base64url decoding round-trips every byte value", "[base64url]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 17) {
    std::string out;
    REQUIRE(b64url_decode(b64url_encode(all.substr(0, n)), out));
    CHECK(out == all.substr(0, n));
  }
}

TEST_CASE("base64url decoding refuses non-canonical input", "[base64url][tamper]") {
  std::string out;
  CHECK_FALSE(b64url_decode("Zg==", out));   // padding
  CHECK_FALSE(b64url_decode("Zm9v+g", out)); // standard alphabet
  CHECK_FALSE(b64url_decode("Zm9v/g", out));
  CHECK_FALSE(b64url_decode("Zm 9v", out));  // white space
  CHECK_FALSE(b64url_decode("Z", out));      // 4k+1 length
  CHECK_FALSE(b64url_decode("Zh", out));     // non-zero trailing bits ("Zg" is canonical)
  CHECK_FALSE(b64url_decode("Zm9", out));    // "Zm8" is canonical
  CHECK(b64url_decode("Zg", out));
  CHECK(out == "f");
}

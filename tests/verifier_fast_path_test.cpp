// The verify path's fast readers (internal/json.h): the header parser and the claims
// scanner accept only what the strict parser accepts, and read from it what the JSON
// objects hold; whatever they are not sure of goes the slow way, whose codes stand.
// Checked on hand-picked edge cases, on every two-byte sequence in a string, and on
// random mutations of real payloads.
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "internal/base64url.h"
#include "internal/claims_data.h"
#include "internal/json.h"
#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/verifier.h"

using tokenpass::Alg;
using tokenpass::JsonLimits;
using tokenpass::internal::find_member;
using tokenpass::internal::parse_json;
using tokenpass::internal::parse_simple_header;
using tokenpass::internal::RegisteredClaims;
using tokenpass::internal::scan_claims;
using tokenpass::internal::SimpleHeader;
using tokenpass::internal::StringList;
using json = nlohmann::json;

namespace {

std::vector<std::string> strings_of(const StringList& l) {
  std::vector<std::string> out;
  l.any_of([&](std::string_view s) {
    out.emplace_back(s);
    return false;
  });
  return out;
}

std::vector<std::string> strings_of(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.get<std::string>());
  return out;
}

// scanned_agrees: when scan_claims accepts `text`, the strict parser accepts it too,
// its types pass, and the scanner's views say what the JSON object says. Returns
// whether the scanner accepted.
bool scanned_agrees(const std::string& text, const JsonLimits& limits = {}) {
  RegisteredClaims reg;
  if (!scan_claims(text, limits, reg)) return false;
  INFO("text: " << text);
  auto j = parse_json(text, limits);
  REQUIRE(j);
  REQUIRE(j->is_object());
  REQUIRE(tokenpass::Claims::check_types(*j));
  const auto str = [&](const char* name, const std::optional<std::string_view>& v) {
    INFO(name);
    REQUIRE(v.has_value() == j->contains(name));
    if (v) CHECK(std::string(*v) == (*j)[name].get<std::string>());
  };
  str("iss", reg.iss);
  str("sub", reg.sub);
  str("jti", reg.jti);
  str("client_id", reg.client_id);
  str("scope", reg.scope);
  const auto list = [&](const char* name, const StringList& l) {
    INFO(name);
    REQUIRE(l.present() == j->contains(name));
    if (l.present()) CHECK(strings_of(l) == strings_of((*j)[name]));
  };
  list("aud", reg.aud);
  list("scp", reg.scp);
  const auto date = [&](const char* name, const std::optional<double>& v) {
    INFO(name);
    REQUIRE(v.has_value() == j->contains(name));
    if (v) CHECK(*v == (*j)[name].get<double>());
  };
  date("exp", reg.exp);
  date("nbf", reg.nbf);
  date("iat", reg.iat);
  for (const auto& [name, value] : j->items()) {
    const auto member = find_member(text, name);
    REQUIRE(member);
    CHECK(json::parse(*member) == value);
  }
  CHECK_FALSE(find_member(text, "no such member"));
  return true;
}

// header_agrees: the same for parse_simple_header.
bool header_agrees(const std::string& text, const JsonLimits& limits = {}) {
  SimpleHeader h;
  if (!parse_simple_header(text, limits, h)) return false;
  INFO("header: " << text);
  auto j = parse_json(text, limits);
  REQUIRE(j);
  REQUIRE(j->is_object());
  CHECK_FALSE(j->contains("crit"));
  CHECK_FALSE(j->contains("b64"));
  const auto member = [&](const char* name, bool has, std::string_view v) {
    REQUIRE(has == j->contains(name));
    if (has) CHECK(std::string(v) == (*j)[name].get<std::string>());
  };
  for (const char* name : {"alg", "kid", "typ"}) {
    if (j->contains(name)) CHECK((*j)[name].is_string());
  }
  member("alg", h.has_alg, h.alg);
  member("kid", h.has_kid, h.kid);
  member("typ", h.has_typ, h.typ);
  return true;
}

const std::string kPayload =
    R"({"iss":"https://auth.example.com","sub":"user-4711","aud":["orders-api","x"],)"
    R"("exp":4102444800,"nbf":0,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
    R"("client_id":"web-frontend","scope":"orders:read orders:write","scp":["a","b c",""],)"
    R"("realm":{"roles":["admin","user"],"n":-12,"ok":true,"none":null,"deep":[[{}],[]]},)"
    R"("name":"J\u00fcrgen","city":"Zürich","emoji":"😀","price":1.5,"big":18446744073709551615})";
// kScannable: the same kinds of members, all of them within what the scanner reads.
const std::string kScannable =
    R"({"iss":"https://auth.example.com","sub":"user-4711","aud":["orders-api","x"],)"
    R"("exp":4102444800,"nbf":0,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
    R"("client_id":"web-frontend","scope":"orders:read orders:write","scp":["a","b c",""],)"
    R"("realm":{"roles":["admin","user"],"n":-12,"ok":true,"none":null,"deep":[[{}],[]]},)"
    R"("city":"Zürich","emoji":"😀","n":123456789012345678})";
const std::string kHeader = R"({"alg":"ES256","kid":"key-1","typ":"JWT"})";

}  // namespace

TEST_CASE("the claims scanner reads typical payloads and agrees with the strict parser",
          "[json][fastpath]") {
  CHECK(scanned_agrees(
      R"({"iss":"https://auth.example.com","sub":"user-4711","aud":"orders-api",)"
      R"("exp":4102444800,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
      R"("client_id":"web-frontend","scope":"orders:read orders:write"})"));
  CHECK(scanned_agrees(R"({})"));
  CHECK(scanned_agrees(kScannable));
  CHECK_FALSE(scanned_agrees(kPayload));  // an escape, a fraction, 20 digits
  CHECK(scanned_agrees(" {\n \"aud\" : [ \"a\" , \"b\" ] ,\t\"exp\":1 } \r\n"));
  CHECK(scanned_agrees(R"({"aud":[],"scp":"x y","sub":"","n":{"a":{"b":[1,2,{"c":null}]}}})"));
  CHECK(scanned_agrees(R"({"name":"Zürich 日本 😀","a":"\u007f"})") == false);  // escape: slow path
  CHECK(
      scanned_agrees("{\"name\":\"Z\xc3\xbcrich \xe6\x97\xa5 \xf0\x9f\x98\x80\",\"d\":\"\x7f\"}"));
  CHECK(scanned_agrees(R"({"exp":9007199254740991,"nbf":0,"iat":123})"));
  CHECK(scanned_agrees(R"({"other":-0,"x":-9223372036854775,"y":999999999999999999})"));
}

TEST_CASE("the claims scanner leaves every doubtful payload to the strict parser",
          "[json][fastpath][tamper]") {
  // Each is valid JSON the scanner does not handle, or invalid JSON, or a type error:
  // in every case it must say no, and the strict parser decides.
  const std::vector<std::string> slow = {
      R"({"iss":"https:\/\/a"})",         // escape
      R"({"exp":1.5})",                   // fraction
      R"({"exp":1e9})",                   // exponent
      R"({"exp":-1})",                    // negative date: bad_claim
      R"({"exp":9007199254740992})",      // 2^53: bad_claim
      R"({"exp":"4102444800"})",          // string date: bad_claim
      R"({"iss":1})",                     // bad_claim
      R"({"aud":["a",1]})",               // bad_claim
      R"({"aud":{"a":"b"}})",             // bad_claim
      R"({"scope":["a"]})",               // bad_claim
      R"({"scp":[["a"]]})",               // bad_claim
      R"({"n":1234567890123456789})",     // 19 digits: left to the strict parser
      R"({"a":1,"a":2})",                 // duplicate
      R"({"x":{"k":1,"k":1}})",           // duplicate below the top
      R"({"a":01})",                      // leading zero
      R"({"a":-})", R"({"a":tru})", R"({"a":nul})", R"({"a":true1})",
      R"({"a":1,})", R"({,"a":1})", R"({"a" 1})", R"({"a":1}})", R"({"a":1} x)",
      R"([{"a":1}])", R"("x")", R"(1)", "", " ", "{", "{\"a\":\"x}",
      "\xef\xbb\xbf{}",                   // BOM
      "{\"a\":\"\x01\"}",                 // control character
      "{\"a\":\"\xc0\x80\"}",             // overlong
      "{\"a\":\"\xed\xa0\x80\"}",         // surrogate
      "{\"a\":\"\xf4\x90\x80\x80\"}",     // above U+10FFFF
      "{\"a\":\"\xe2\x82\"}",             // truncated
      "{\"a\":\"\xff\"}",
  };
  for (const auto& text : slow) {
    INFO("text: " << text);
    RegisteredClaims reg;
    CHECK_FALSE(scan_claims(text, JsonLimits{}, reg));
  }
}

TEST_CASE("the claims scanner leaves limits to the strict parser", "[json][fastpath][limits]") {
  JsonLimits limits;
  limits.max_depth = 3;
  limits.max_members = 3;
  limits.max_string = 5;
  CHECK(scanned_agrees(R"({"a":{"b":[1]}})", limits));
  CHECK_FALSE(scanned_agrees(R"({"a":{"b":[[1]]}})", limits));
  CHECK(scanned_agrees(R"({"a":1,"b":2,"c":3})", limits));
  CHECK_FALSE(scanned_agrees(R"({"a":1,"b":2,"c":3,"d":4})", limits));
  CHECK(scanned_agrees(R"({"a":[1,2,3]})", limits));
  CHECK_FALSE(scanned_agrees(R"({"a":[1,2,3,4]})", limits));
  CHECK(scanned_agrees(R"({"abcde":"12345"})", limits));
  CHECK_FALSE(scanned_agrees(R"({"abcdef":"1"})", limits));
  CHECK_FALSE(scanned_agrees(R"({"a":"123456"})", limits));
  limits.max_depth = 0;
  CHECK_FALSE(scanned_agrees(R"({})", limits));
}

TEST_CASE("the claims scanner accepts no two-byte sequence the strict parser refuses",
          "[json][fastpath][tamper]") {
  int accepted = 0;
  for (int a = 0x80; a < 0x100; ++a) {
    for (int b = 0; b < 0x100; ++b) {
      const std::string text = std::string("{\"a\":\"") + static_cast<char>(a) +
                               static_cast<char>(b) + "\"}";
      accepted += scanned_agrees(text) ? 1 : 0;
    }
  }
  CHECK(accepted == 30 * 64);  // C2..DF followed by 80..BF
  for (int a = 0xE0; a < 0xF5; ++a) {
    for (const int b : {0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0}) {
      for (const int c : {0x7F, 0x80, 0xBF, 0xC0}) {
        for (const int d : {0x80, 0xBF, 0x22}) {
          std::string text = std::string("{\"a\":\"") + static_cast<char>(a) +
                             static_cast<char>(b) + static_cast<char>(c);
          if (a >= 0xF0) text += static_cast<char>(d);
          scanned_agrees(text + "\"}");
        }
      }
    }
  }
}

TEST_CASE("random mutations never make the fast readers accept what the strict parser refuses",
          "[json][fastpath][tamper]") {
  std::mt19937 rng(20240521);
  const std::string alphabet =
      std::string(
          "\"\\{}[]:,01-.eE \n\tatrufn\x7f\x80\xbf\xc3\xa9\xe6\xed\xa0\xf0\x9f\xf4\x90\xff") +
      std::string(1, '\0') + "\x1f";
  const auto mutate = [&](std::string s) {
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = s.empty() ? 0 : rng() % s.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          if (!s.empty()) s[at] = c;
          break;
        case 1:
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          if (!s.empty()) s.erase(at, 1);
      }
    }
    return s;
  };
  int scanned = 0;
  int headers = 0;
  for (int i = 0; i < 6000; ++i) {
    scanned += scanned_agrees(mutate(kScannable)) ? 1 : 0;
    headers += header_agrees(mutate(kHeader)) ? 1 : 0;
  }
  // Some mutants are still acceptable JSON, and those are checked above in full.
  CHECK(scanned > 0);
  CHECK(headers > 0);
}

TEST_CASE("the header parser reads the common header and leaves the rest to check_header",
          "[jws][fastpath]") {
  CHECK(header_agrees(kHeader));
  CHECK(header_agrees(R"({"alg":"RS256"})"));
  CHECK(header_agrees(R"( { "typ" : "at+jwt" , "alg" : "none" , "x5u" : "https://x" } )"));
  // Other members may hold any JSON the scanner reads; alg, kid and typ any string.
  CHECK(header_agrees(R"({"alg":"ES256","jwk":{"kty":"EC","n":[1,true,null]},"x":-5})"));
  CHECK(header_agrees("{\"alg\":\"\xc3\xa9\",\"kid\":\"\xe2\x82\xac\"}"));
  for (const std::string text :
       {R"({"alg":"ES256","crit":["exp"],"exp":1})", R"({"alg":"ES256","b64":false})",
        R"({"alg":"ES256","b64":"x"})", R"({"alg":"ES256","kid":1})", R"({"alg":null})",
        R"({"typ":["JWT"]})", R"({"alg":"ES256","alg":"RS256"})",
        R"({"alg":"ES\u0032\u0035\u0036"})", R"(["alg"])", R"({"alg":"ES256",})",
        R"({"alg":"ES256","x":1.5})"}) {
    INFO(text);
    SimpleHeader h;
    CHECK_FALSE(parse_simple_header(text, JsonLimits{}, h));
  }
}

TEST_CASE("a verified token's JSON is built once, safely from many threads",
          "[verifier][threads]") {
  const auto key = tp_test::key_for(Alg::HS256);
  tokenpass::Policy p;
  p.any_issuer().any_audience();
  const tokenpass::Verifier v(tokenpass::KeySet({key}), p);
  const auto token = tokenpass::sign_jws(key, kPayload).value();
  const auto r = v.verify(token);
  REQUIRE(r);
  const auto& copy = *r;
  std::vector<std::thread> threads;
  std::vector<const json*> claims(4, nullptr);
  std::vector<const json*> headers(4, nullptr);
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      claims[t] = &copy.claims().json();
      headers[t] = &copy.header();
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 1; t < 4; ++t) {
    CHECK(claims[t] == claims[0]);
    CHECK(headers[t] == headers[0]);
  }
  CHECK(*claims[0] == json::parse(kPayload));
  CHECK((*headers[0])["alg"] == "HS256");
  CHECK(copy.claims().get("realm") == json::parse(kPayload)["realm"]);
  CHECK(copy.claims().contains("emoji"));
  CHECK_FALSE(copy.claims().contains("nope"));
  CHECK(copy.claims().audience() == std::vector<std::string>{"orders-api", "x"});
  CHECK(copy.claims().scopes() == std::vector<std::string>{"orders:read", "orders:write"});
}

TEST_CASE("base64url decoding agrees with a reference at every length and alphabet edge",
          "[base64url][fastpath]") {
  // The wide (AVX2) decoder takes 32 characters at a time; the reference is RFC 4648
  // written out plainly.
  using tokenpass::internal::B64Status;
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto reference = [&](const std::string& text, std::string& out) {
    out.clear();
    unsigned acc = 0;
    int bits = 0;
    for (const char c : text) {
      const auto pos = alphabet.find(c);
      if (pos == std::string::npos) return B64Status::bad_char;
      acc = (acc << 6) | static_cast<unsigned>(pos);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      }
    }
    if (text.size() % 4 == 1) return B64Status::not_canonical;
    return (acc & ((1u << bits) - 1)) == 0 ? B64Status::ok : B64Status::not_canonical;
  };
  std::mt19937 rng(7);
  for (std::size_t n = 0; n < 200; ++n) {
    for (int round = 0; round < 20; ++round) {
      std::string text;
      for (std::size_t i = 0; i < n; ++i) text.push_back(alphabet[rng() % 64]);
      if (round % 4 == 1 && n > 0) {
        // One byte outside the alphabet, anywhere: every value from 0 to 255 is tried.
        text[rng() % n] = static_cast<char>(rng() % 256);
      }
      std::string want;
      const B64Status expect = reference(text, want);
      std::string got(tokenpass::internal::b64url_decoded_size(n) + 1, '\0');
      const B64Status status = tokenpass::internal::b64url_decode_into(
          text, reinterpret_cast<unsigned char*>(got.data()));
      INFO("text: " << text);
      REQUIRE(status == expect);
      if (status == B64Status::ok) {
        CHECK(got.substr(0, want.size()) == want);
        CHECK(want.size() == tokenpass::internal::b64url_decoded_size(n));
      }
    }
  }
  // Every byte value at every position of a 64-character block.
  for (int c = 0; c < 256; ++c) {
    for (std::size_t at = 0; at < 64; at += 5) {
      std::string text(64, 'A');
      text[at] = static_cast<char>(c);
      std::string want;
      const B64Status expect = reference(text, want);
      std::string got(48, '\0');
      CHECK(tokenpass::internal::b64url_decode_into(
                text, reinterpret_cast<unsigned char*>(got.data())) == expect);
      if (expect == B64Status::ok) CHECK(got == want);
    }
  }
}

TEST_CASE("base64url encoding agrees with a reference at every length", "[base64url][fastpath]") {
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto reference = [&](const std::string& bytes) {
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (const char c : bytes) {
      acc = (acc << 8) | static_cast<unsigned char>(c);
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out.push_back(alphabet[(acc >> bits) & 63]);
      }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
    return out;
  };
  std::mt19937 rng(11);
  for (std::size_t n = 0; n < 300; ++n) {
    for (int round = 0; round < 10; ++round) {
      std::string bytes;
      for (std::size_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>(rng() % 256));
      const std::string want = reference(bytes);
      CHECK(tokenpass::internal::b64url_encode(bytes) == want);
      std::string back;
      REQUIRE(tokenpass::internal::b64url_decode(want, back));
      CHECK(back == bytes);
    }
  }
  // Every 6-bit value in every position of a block.
  std::string all;
  for (int i = 0; i < 48; ++i) all.push_back(static_cast<char>(i * 0x15 + (i >> 2)));
  for (int v = 0; v < 256; ++v) {
    std::string bytes = all;
    bytes[static_cast<std::size_t>(v % 48)] = static_cast<char>(v);
    CHECK(tokenpass::internal::b64url_encode(bytes) == reference(bytes));
  }
}

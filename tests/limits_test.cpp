// Every input limit at its boundary: the largest input it allows is accepted and one
// more (byte, level, member, key) is refused with the exact code. That the refusal comes
// before the expensive work is measured by bench/jws_bench.cpp
// (tokenpass_reject_10MB_token), never asserted here.
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/client_credentials.h"

using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::Key;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1900000000;

tokenpass::Clock fixed_clock() {
  return [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };
}

const Key& hs256() { return tp_test::key_for(Alg::HS256); }

json claims() {
  return json{{"iss", "https://issuer.example"}, {"aud", "api"}, {"exp", kNow + 600}};
}

tokenpass::Policy policy() {
  tokenpass::Policy p;
  p.issuers = {"https://issuer.example"};
  p.audiences = {"api"};
  p.clock = fixed_clock();
  return p;
}

// mac_token: the two JSON texts exactly as given, MACed with the HS256 test key.
std::string mac_token(const std::string& header, const std::string& payload) {
  return tp_test::tamper::resign_parts(tp_test::b64(header), tp_test::b64(payload), hs256(),
                                       Alg::HS256);
}

std::string header_with(const std::string& member) {
  return R"({"alg":"HS256","kid":")" + hs256().kid() + R"(",)" + member + "}";
}

// token_of_size: a valid HS256 token of exactly `size` bytes: white space inside the
// header and the claims (which no JSON limit counts) makes up the length.
std::string token_of_size(std::size_t size) {
  const auto b64_len = [](std::size_t n) { return (4 * n + 2) / 3; };
  const std::string payload = claims().dump();
  for (std::size_t h = 0; h < 4; ++h) {
    const std::string header = header_with(std::string(h, ' ') + R"("typ":"JWT")");
    const std::size_t fixed = b64_len(header.size()) + 2 + 43;  // two dots, HS256 MAC
    if (size < fixed + b64_len(payload.size())) break;
    const std::size_t want = size - fixed;  // base64url characters of the claims
    for (std::size_t n = want * 3 / 4; n <= want * 3 / 4 + 1; ++n) {
      if (b64_len(n) != want || n < payload.size()) continue;
      std::string p = payload;
      p.insert(p.size() - 1, n - payload.size(), ' ');
      const std::string t = mac_token(header, p);
      REQUIRE(t.size() == size);
      return t;
    }
  }
  FAIL("no token of size " << size);
  return {};
}

// nested: `levels` arrays around a 1, e.g. nested(2) == "[[1]]".
std::string nested(std::size_t levels) {
  return std::string(levels, '[') + "1" + std::string(levels, ']');
}

// members: `count` members "mN":0, comma-separated, for an object's inside.
std::string members(std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    out += (i ? ",\"m" : "\"m") + std::to_string(i) + "\":0";
  }
  return out;
}

std::string elements(std::size_t count) {
  std::string out = "[";
  for (std::size_t i = 0; i < count; ++i) out += i ? ",0" : "0";
  return out + "]";
}

errc verify_code(const std::string& token, const tokenpass::Policy& p = policy()) {
  const tokenpass::Verifier v(tokenpass::KeySet({hs256()}), p);
  return error_of(v.verify(token));
}

// jwks_of: a JWK set of `count` public ES256 keys with kids k0, k1, ...
std::string jwks_of(std::size_t count) {
  json keys = json::array();
  const Key pub = tp_test::public_of(tp_test::key_for(Alg::ES256));
  for (std::size_t i = 0; i < count; ++i) keys.push_back(pub.with_kid("k" + std::to_string(i)).to_public_jwk());
  return json{{"keys", keys}}.dump();
}

// padded: `text` followed by white space up to exactly `size` bytes.
std::string padded(std::string text, std::size_t size) {
  REQUIRE(text.size() <= size);
  text.append(size - text.size(), ' ');
  return text;
}

// BodyClient: an in-process HttpClient answering 200 with `body`. With `honour_limit`
// it refuses a body over the request's max_response_bytes (http_error), as a real client
// must; without, it hands over anything, so that the library's own limit is what holds.
class BodyClient final : public tokenpass::HttpClient {
 public:
  BodyClient(std::string body, bool honour_limit)
      : body_(std::move(body)), honour_limit_(honour_limit) {}
  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    limits_seen_.push_back(req.max_response_bytes);
    if (honour_limit_ && body_.size() > req.max_response_bytes) {
      return tokenpass::make_error(errc::http_error, "response body over the size limit");
    }
    tokenpass::HttpResponse res;
    res.status = 200;
    res.body = body_;
    return res;
  }
  std::vector<std::size_t> limits_seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return limits_seen_;
  }

 private:
  std::string body_;
  bool honour_limit_;
  mutable std::mutex mu_;
  std::vector<std::size_t> limits_seen_;
};

// prefetch_code: what prefetch says for a JWKS endpoint answering `body`.
errc prefetch_code(const std::string& body, tokenpass::RemoteJwksOptions opt, bool honour_limit,
                   std::vector<std::size_t>* limits_seen = nullptr) {
  auto http = std::make_shared<BodyClient>(body, honour_limit);
  opt.url = "https://keys.example/jwks.json";
  tokenpass::RemoteJwks jwks(opt, http);
  const errc code = error_of(jwks.prefetch(std::chrono::seconds(10)));
  if (limits_seen != nullptr) *limits_seen = http->limits_seen();
  return code;
}

}  // namespace

// ---- token size ------------------------------------------------------------------

TEST_CASE("a token of exactly 64 KiB verifies and one byte more is too_large", "[limits][verifier]") {
  REQUIRE(tokenpass::kDefaultMaxTokenSize == 64 * 1024);
  const std::string at = token_of_size(64 * 1024);
  const std::string over = token_of_size(64 * 1024 + 1);
  CHECK(verify_code(at) == errc{});
  CHECK(verify_code(over) == errc::too_large);
  // White space around the token is not counted, up to 4 KiB of it.
  CHECK(verify_code("\n " + at + "\r\n") == errc{});
  CHECK(verify_code(std::string(4000, ' ') + at + std::string(96, '\n')) == errc{});
  CHECK(verify_code(std::string(4000, ' ') + at + std::string(97, '\n')) == errc::too_large);
  CHECK(error_of(tokenpass::decode_unverified(at + std::string(4096, '\t'))) == errc{});
  CHECK(error_of(tokenpass::decode_unverified(at + std::string(4097, '\t'))) == errc::too_large);
  CHECK(error_of(tokenpass::verify_jws(at, hs256())) == errc{});
  CHECK(error_of(tokenpass::verify_jws(over, hs256())) == errc::too_large);
  CHECK(error_of(tokenpass::decode_unverified(at)) == errc{});
  CHECK(error_of(tokenpass::decode_unverified(over)) == errc::too_large);
  CHECK(error_of(tokenpass::decode_unverified_header(over)) == errc::too_large);
}

TEST_CASE("Policy::max_token_size and JwsVerifyOptions::max_token_size move the limit",
          "[limits][verifier]") {
  const std::string at = token_of_size(1500);
  const std::string over = token_of_size(1501);
  tokenpass::Policy p = policy();
  p.max_token_size = 1500;
  CHECK(verify_code(at, p) == errc{});
  CHECK(verify_code(over, p) == errc::too_large);

  tokenpass::JwsVerifyOptions o;
  o.max_token_size = 1500;
  CHECK(error_of(tokenpass::verify_jws(at, hs256(), o)) == errc{});
  CHECK(error_of(tokenpass::verify_jws(over, hs256(), o)) == errc::too_large);
  CHECK(error_of(tokenpass::decode_unverified(at, 1500)) == errc{});
  CHECK(error_of(tokenpass::decode_unverified(over, 1500)) == errc::too_large);

  // Larger than the default, when asked for.
  const std::string big = token_of_size(100 * 1024);
  p.max_token_size = 100 * 1024;
  CHECK(verify_code(big, p) == errc{});
}

TEST_CASE("a 10 MB token is too_large, whatever its bytes", "[limits][verifier]") {
  // The size is checked before anything is decoded: bytes outside the base64url
  // alphabet, which would be malformed in a small token, do not change the code.
  for (const char c : {'a', '!', '.', ' '}) {
    const std::string huge(10 * 1024 * 1024, c);
    CHECK(verify_code(huge) == errc::too_large);
    CHECK(error_of(tokenpass::decode_unverified(huge)) == errc::too_large);
  }
}

// ---- JSON limits -------------------------------------------------------------------

TEST_CASE("a header nested 32 deep verifies and 33 is too_large", "[limits][json][jws]") {
  // The header object is the first level.
  REQUIRE(tokenpass::JsonLimits{}.max_depth == 32);
  const std::string payload = claims().dump();
  CHECK(verify_code(mac_token(header_with("\"x\":" + nested(31)), payload)) == errc{});
  CHECK(verify_code(mac_token(header_with("\"x\":" + nested(32)), payload)) == errc::too_large);
  CHECK(error_of(tokenpass::decode_unverified(mac_token(header_with("\"x\":" + nested(32)), payload))) ==
        errc::too_large);
}

TEST_CASE("claims nested to the configured depth verify and one level more is too_large",
          "[limits][json][verifier]") {
  const std::string header = header_with(R"("typ":"JWT")");
  std::string at = claims().dump();
  at.insert(1, "\"x\":" + nested(31) + ",");
  std::string over = claims().dump();
  over.insert(1, "\"x\":" + nested(32) + ",");
  CHECK(verify_code(mac_token(header, at)) == errc{});
  CHECK(verify_code(mac_token(header, over)) == errc::too_large);

  tokenpass::Policy p = policy();
  p.json_limits.max_depth = 3;
  std::string three = claims().dump();
  three.insert(1, "\"x\":" + nested(2) + ",");
  std::string four = claims().dump();
  four.insert(1, "\"x\":" + nested(3) + ",");
  CHECK(verify_code(mac_token(header, three), p) == errc{});
  CHECK(verify_code(mac_token(header, four), p) == errc::too_large);
}

TEST_CASE("a header of 1000 members verifies and 1001 is too_large", "[limits][json][jws]") {
  REQUIRE(tokenpass::JsonLimits{}.max_members == 1000);
  const std::string payload = claims().dump();
  // alg and kid are two of them.
  CHECK(verify_code(mac_token(header_with(members(998)), payload)) == errc{});
  CHECK(verify_code(mac_token(header_with(members(999)), payload)) == errc::too_large);
}

TEST_CASE("an array of 1000 elements verifies and 1001 is too_large", "[limits][json][verifier]") {
  const std::string header = header_with(R"("typ":"JWT")");
  std::string at = claims().dump();
  at.insert(1, "\"x\":" + elements(1000) + ",");
  std::string over = claims().dump();
  over.insert(1, "\"x\":" + elements(1001) + ",");
  CHECK(verify_code(mac_token(header, at)) == errc{});
  CHECK(verify_code(mac_token(header, over)) == errc::too_large);

  tokenpass::Policy p = policy();
  p.json_limits.max_members = 10;
  std::string ten = claims().dump();
  ten.insert(1, "\"x\":" + elements(10) + ",");
  std::string eleven = claims().dump();
  eleven.insert(1, "\"x\":" + elements(11) + ",");
  CHECK(verify_code(mac_token(header, ten), p) == errc{});
  CHECK(verify_code(mac_token(header, eleven), p) == errc::too_large);
}

TEST_CASE("in a token, strings are bounded by the token size limit, not by max_string",
          "[limits][json][jws]") {
  // Issue 13 item 4: a token within max_token_size is never too_large because of an
  // inner limit. A 40 KB string is well over JsonLimits::max_string (16384).
  REQUIRE(tokenpass::JsonLimits{}.max_string == 16384);
  const std::string payload = claims().dump();
  const auto value = [](std::size_t n) { return "\"x\":\"" + std::string(n, 'v') + "\""; };
  const auto name = [](std::size_t n) { return "\"" + std::string(n, 'n') + "\":0"; };
  CHECK(verify_code(mac_token(header_with(value(40000)), payload)) == errc{});
  CHECK(verify_code(mac_token(header_with(name(40000)), payload)) == errc{});
  json big = claims();
  big["note"] = std::string(40000, 'c');  // a 64 KiB token holding one 40 KB claim
  const std::string header = header_with(R"("typ":"JWT")");
  const std::string token = mac_token(header, big.dump());
  REQUIRE(token.size() < tokenpass::kDefaultMaxTokenSize);
  CHECK(verify_code(token) == errc{});
  tokenpass::JwsVerifyOptions o;
  CHECK(error_of(tokenpass::verify_jws(token, hs256(), o)) == errc{});
  CHECK(error_of(tokenpass::decode_unverified(token)) == errc{});
  // Through the strict path too (a claim the scanner leaves to the full parser).
  json escaped = big;
  escaped["esc"] = "a\"b";
  CHECK(verify_code(mac_token(header, escaped.dump())) == errc{});

  // A larger token limit takes the strings with it: a 70,000-byte token under 100,000.
  json huge = claims();
  huge["note"] = std::string(52000, 'c');
  const std::string t70 = mac_token(header, huge.dump());
  REQUIRE(t70.size() > tokenpass::kDefaultMaxTokenSize);
  REQUIRE(t70.size() < 100000);
  tokenpass::Policy p = policy();
  p.max_token_size = 100000;
  CHECK(verify_code(t70, p) == errc{});
  CHECK(verify_code(t70) == errc::too_large);  // over the default size limit

  // A smaller configured max_string does not refuse what the size limit admits.
  p = policy();
  p.json_limits.max_string = 64;
  json over = claims();
  over["sub"] = std::string(65, 's');
  CHECK(verify_code(mac_token(header, over.dump()), p) == errc{});
}

TEST_CASE("outside tokens, a string or member name of 16384 bytes loads and 16385 is too_large",
          "[limits][json][jwk]") {
  json jwk = hs256().to_private_jwk();
  jwk["x"] = std::string(16384, 'v');
  CHECK(error_of(Key::from_jwk(std::string_view(jwk.dump()))) == errc{});
  jwk["x"] = std::string(16385, 'v');
  CHECK(error_of(Key::from_jwk(std::string_view(jwk.dump()))) == errc::too_large);
  json named = hs256().to_private_jwk();
  named[std::string(16385, 'n')] = 0;
  CHECK(error_of(Key::from_jwk(std::string_view(named.dump()))) == errc::too_large);
}

TEST_CASE("a JWK nested 32 deep loads and 33 is too_large", "[limits][json][jwk]") {
  json jwk = hs256().to_private_jwk();
  std::string at = jwk.dump();
  at.insert(1, "\"x\":" + nested(31) + ",");
  std::string over = jwk.dump();
  over.insert(1, "\"x\":" + nested(32) + ",");
  CHECK(error_of(Key::from_jwk(at)) == errc{});
  CHECK(error_of(Key::from_jwk(over)) == errc::too_large);
}

// ---- JWK sets --------------------------------------------------------------------

TEST_CASE("a JWK set of max_keys keys loads and one more is too_large", "[limits][jwk]") {
  const std::string ten = jwks_of(10);
  const std::string eleven = jwks_of(11);
  auto set = tokenpass::KeySet::from_jwks(ten, 10);
  REQUIRE(set);
  CHECK(set->size() == 10);
  CHECK(error_of(tokenpass::KeySet::from_jwks(eleven, 10)) == errc::too_large);
}

TEST_CASE("a JWK set of 1000 keys loads by default and 1001 is too_large", "[limits][jwk]") {
  json keys = json::array();
  for (int i = 0; i < 1001; ++i) {
    keys.push_back(json{{"kty", "oct"}, {"kid", std::to_string(i)}, {"k", tp_test::b64(std::string(32, 'k'))}});
  }
  const std::string over = json{{"keys", keys}}.dump();
  keys.erase(keys.end() - 1);
  const std::string at = json{{"keys", keys}}.dump();
  auto set = tokenpass::KeySet::from_jwks(at);
  REQUIRE(set);
  CHECK(set->size() == 1000);
  CHECK(error_of(tokenpass::KeySet::from_jwks(over)) == errc::too_large);
  // A larger max_keys lifts the JSON member limit with it.
  CHECK(error_of(tokenpass::KeySet::from_jwks(over, 1001)) == errc{});
}

TEST_CASE("RemoteJwks loads max_keys keys and refuses a set with one more", "[limits][remote]") {
  tokenpass::RemoteJwksOptions opt;
  REQUIRE(opt.max_keys == 100);
  CHECK(prefetch_code(jwks_of(100), opt, true) == errc{});
  CHECK(prefetch_code(jwks_of(101), opt, true) == errc::key_source_unavailable);
  opt.max_keys = 3;
  CHECK(prefetch_code(jwks_of(3), opt, true) == errc{});
  CHECK(prefetch_code(jwks_of(4), opt, true) == errc::key_source_unavailable);
}

// ---- HTTP bodies -------------------------------------------------------------------

TEST_CASE("a JWKS body of max_body_bytes loads and one byte more is refused", "[limits][remote]") {
  tokenpass::RemoteJwksOptions opt;
  REQUIRE(opt.max_body_bytes == 512 * 1024);
  opt.max_body_bytes = 4096;
  const std::string set = jwks_of(2);
  // Whether the client enforces HttpRequest::max_response_bytes (as it must) or not, the
  // limit holds: RemoteJwks checks the body it was given too.
  const bool honour_limit = GENERATE(true, false);
  CAPTURE(honour_limit);
  std::vector<std::size_t> limits_seen;
  CHECK(prefetch_code(padded(set, 4096), opt, honour_limit, &limits_seen) == errc{});
  REQUIRE(limits_seen.size() == 1);
  CHECK(limits_seen[0] == 4096);  // RemoteJwks passes max_body_bytes to the client
  CHECK(prefetch_code(padded(set, 4097), opt, honour_limit) == errc::key_source_unavailable);

  // The default, at its boundary.
  opt.max_body_bytes = 512 * 1024;
  CHECK(prefetch_code(padded(set, 512 * 1024), opt, honour_limit) == errc{});
  CHECK(prefetch_code(padded(set, 512 * 1024 + 1), opt, honour_limit) ==
        errc::key_source_unavailable);
}

TEST_CASE("discovery metadata of max_body_bytes is read and one byte more is http_error",
          "[limits][remote][discovery]") {
  const std::string issuer = "https://issuer.example";
  const std::string meta =
      json{{"issuer", issuer}, {"jwks_uri", issuer + "/jwks.json"}}.dump();
  tokenpass::RemoteJwksOptions opt;
  opt.max_body_bytes = 2048;
  const bool honour_limit = GENERATE(true, false);
  CAPTURE(honour_limit);
  auto at = std::make_shared<BodyClient>(padded(meta, 2048), honour_limit);
  CHECK(error_of(tokenpass::RemoteJwks::from_issuer(issuer, opt, at)) == errc{});
  for (const std::size_t seen : at->limits_seen()) CHECK(seen == 2048);
  auto over = std::make_shared<BodyClient>(padded(meta, 2049), honour_limit);
  CHECK(error_of(tokenpass::RemoteJwks::from_issuer(issuer, opt, over)) == errc::http_error);
}

TEST_CASE("a token endpoint response of max_response_bytes is read and one byte more is http_error",
          "[limits][oauth]") {
  tokenpass::ClientCredentialsOptions opt;
  REQUIRE(opt.max_response_bytes == 64 * 1024);
  opt.token_endpoint = "https://issuer.example/token";
  opt.client_id = "svc";
  opt.client_secret = "secret";
  opt.clock = fixed_clock();
  opt.max_response_bytes = 1024;
  const std::string body =
      json{{"access_token", "abc"}, {"token_type", "Bearer"}, {"expires_in", 60}}.dump();
  const bool honour_limit = GENERATE(true, false);
  CAPTURE(honour_limit);
  auto at = std::make_shared<BodyClient>(padded(body, 1024), honour_limit);
  const auto got = tokenpass::ClientCredentials(opt, at).token();
  REQUIRE(error_of(got) == errc{});
  CHECK(got->access_token == "abc");
  REQUIRE_FALSE(at->limits_seen().empty());
  for (const std::size_t seen : at->limits_seen()) CHECK(seen == 1024);
  auto over = std::make_shared<BodyClient>(padded(body, 1025), honour_limit);
  CHECK(error_of(tokenpass::ClientCredentials(opt, over).token()) == errc::http_error);
}

TEST_CASE("HttpRequest::max_response_bytes defaults to 1 MiB", "[limits][http]") {
  CHECK(tokenpass::HttpRequest{}.max_response_bytes == 1024 * 1024);
}

TEST_CASE("a remote JWK set's private key members are never read", "[limits][remote][jwk]") {
  // A private exponent that belongs to no key would cost a full modular exponentiation
  // to refuse (over a second for 16384 bits). RemoteJwks drops private members unread,
  // so the public key loads and verifies.
  const Key& rsa = tp_test::key_for(Alg::RS256);
  json jwk = rsa.to_private_jwk();
  for (const char* m : {"p", "q", "dp", "dq", "qi"}) jwk.erase(m);
  jwk["d"] = tp_test::b64(std::string(255, '\x5a'));
  REQUIRE(error_of(Key::from_jwk(jwk)) == errc::key_unusable);  // read on its own: checked

  auto http = std::make_shared<BodyClient>(json{{"keys", {jwk}}}.dump(), true);
  tokenpass::RemoteJwksOptions opt;
  opt.url = "https://keys.example/jwks.json";
  auto jwks = std::make_shared<tokenpass::RemoteJwks>(opt, http);
  REQUIRE(error_of(jwks->prefetch(std::chrono::seconds(10))) == errc{});
  auto set = jwks->keys_for(tokenpass::KeyQuery{});
  REQUIRE(set);
  REQUIRE((*set)->size() == 1);
  CHECK_FALSE((*set)->keys()[0].is_private());
  tokenpass::Policy p = policy();
  p.any_issuer().any_audience();
  const tokenpass::Verifier v(jwks, p);
  tokenpass::JwsSignOptions o;
  CHECK(error_of(v.verify(tokenpass::sign_jws(rsa, claims().dump(), o).value())) == errc{});
}

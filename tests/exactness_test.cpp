// Exact answers where the rules are exact (issue 13): unsecured tokens, nothing after the
// JSON, key_ops, one size limit, ROCA keys, and an error model that can say "our fault".
// Each case asserts the exact code; most failed before the fix they accompany.
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/tokenpass.h"

using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::Key;
using tokenpass::KeySet;
using tp_test::error_of;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1900000000;

const Key& hs256() { return tp_test::key_for(Alg::HS256); }

tokenpass::Policy policy() {
  tokenpass::Policy p;
  p.issuers = {"https://issuer.example"};
  p.audiences = {"api"};
  p.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };
  return p;
}

std::string claims_text() {
  return json{{"iss", "https://issuer.example"}, {"aud", "api"}, {"exp", kNow + 600}}.dump();
}

// mac_token: the two JSON texts exactly as given (any bytes), MACed with the HS256 key.
std::string mac_token(const std::string& header, const std::string& payload) {
  return tp_test::tamper::resign_parts(tp_test::b64(header), tp_test::b64(payload), hs256(),
                                       Alg::HS256);
}

std::string hs_header() { return R"({"alg":"HS256","kid":")" + hs256().kid() + R"("})"; }

errc verify_code(const std::string& token, const tokenpass::Policy& p = policy()) {
  const tokenpass::Verifier v(KeySet({hs256()}), p);
  return error_of(v.verify(token));
}

errc jws_code(const std::string& token, const Key& key = hs256()) {
  return error_of(tokenpass::verify_jws(token, key));
}

// with_key_ops: `jwk` with its key_ops set to `ops`.
Key with_key_ops(json jwk, const json& ops) {
  jwk["key_ops"] = ops;
  return Key::from_jwk(std::string_view(jwk.dump())).value();
}

}  // namespace

// ---- 1. unsecured tokens -----------------------------------------------------------

TEST_CASE("alg none in any spelling is unsupported_alg, also with an empty signature",
          "[exact][none]") {
  // RFC 7515 A.5 (and RFC 7519 §6.1): an unsecured JWS, its signature part empty.
  const std::string rfc7515_a5 =
      "eyJhbGciOiJub25lIn0"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
      ".";
  CHECK(jws_code(rfc7515_a5) == errc::unsupported_alg);
  CHECK(verify_code(rfc7515_a5) == errc::unsupported_alg);
  const KeySet set({hs256(), tp_test::public_of(tp_test::key_for(Alg::ES256))});
  CHECK(error_of(tokenpass::verify_jws(rfc7515_a5, set)) == errc::unsupported_alg);

  const std::string payload = tp_test::b64(claims_text());
  for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
    const std::string header = tp_test::b64(std::string(R"({"alg":")") + alg + R"("})");
    for (const std::string& signature : {std::string(), tp_test::b64("sig"),
                                         tp_test::tamper::set_trailing_bit(tp_test::b64("si"))}) {
      const std::string token = header + "." + payload + "." + signature;
      CAPTURE(alg, signature);
      CHECK(jws_code(token) == errc::unsupported_alg);
      CHECK(verify_code(token) == errc::unsupported_alg);
    }
  }
  // An empty signature under a real algorithm stays malformed.
  const std::string unsigned_hs = tp_test::b64(hs_header()) + "." + payload + ".";
  CHECK(jws_code(unsigned_hs) == errc::malformed);
  CHECK(verify_code(unsigned_hs) == errc::malformed);
}

TEST_CASE("decode_unverified shows an unsecured token", "[exact][none]") {
  const std::string token = tp_test::b64(R"({"alg":"none"})") + "." + tp_test::b64(claims_text()) + ".";
  auto decoded = tokenpass::decode_unverified(token);
  REQUIRE(decoded);
  CHECK(decoded->header()["alg"] == "none");
  CHECK(decoded->signature().empty());
  REQUIRE(decoded->payload_json());
  CHECK((*decoded->payload_json())["aud"] == "api");
  CHECK(error_of(tokenpass::decode_unverified_header(token)) == errc{});
  // Still three parts: two are not a JWS.
  CHECK(error_of(tokenpass::decode_unverified(tp_test::b64(R"({"alg":"none"})") + ".e30")) ==
        errc::malformed);
}

// ---- 2. nothing after the JSON -----------------------------------------------------

TEST_CASE("a header or payload with anything but white space after its JSON is malformed",
          "[exact][json]") {
  const std::string nul(1, '\0');
  const std::string claims = claims_text();
  for (const std::string& tail : {nul, nul + "garbage", std::string(" x"), std::string("{}"),
                                  std::string("\xef\xbb\xbf")}) {
    CAPTURE(tail);
    // The header: fast path ({"alg","kid"} only) and strict path (an escape in it).
    CHECK(jws_code(mac_token(hs_header() + tail, claims)) == errc::malformed);
    CHECK(verify_code(mac_token(hs_header() + tail, claims)) == errc::malformed);
    const std::string strict = R"({"alg":"HS256","x":"\u0041"})";
    CHECK(jws_code(mac_token(strict + tail, claims)) == errc::malformed);
    // The payload: scanner and strict parser.
    CHECK(verify_code(mac_token(hs_header(), claims + tail)) == errc::malformed);
    json escaped = json::parse(claims);
    escaped["note"] = "a\"b";
    CHECK(verify_code(mac_token(hs_header(), escaped.dump() + tail)) == errc::malformed);
    // decode_unverified refuses such a header too.
    CHECK(error_of(tokenpass::decode_unverified(mac_token(hs_header() + tail, claims))) ==
          errc::malformed);
  }
  // JSON white space after the value is allowed (RFC 8259 §2).
  CHECK(verify_code(mac_token(hs_header() + " \r\n\t", claims + "\n")) == errc{});
  // A NUL inside a header is malformed wherever it is.
  CHECK(jws_code(mac_token(R"({"alg":"HS256",)" + nul + R"("kid":"k"})", claims)) ==
        errc::malformed);
}

TEST_CASE("a JWK or JWK set with anything after its JSON is malformed", "[exact][json][jwk]") {
  const std::string jwk = hs256().to_private_jwk().dump();
  const std::string set = json{{"keys", {hs256().to_private_jwk()}}}.dump();
  for (const std::string& tail : {std::string(1, '\0'), std::string(" x"), std::string("[]")}) {
    CAPTURE(tail);
    CHECK(error_of(Key::from_jwk(std::string_view(jwk + tail))) == errc::malformed);
    CHECK(error_of(KeySet::from_jwks(std::string_view(set + tail))) == errc::malformed);
  }
  CHECK(error_of(Key::from_jwk(std::string_view(jwk + "\n"))) == errc{});
}

// ---- 3. key_ops ---------------------------------------------------------------------

TEST_CASE("key_ops without verify (including []) is key_unusable for verifying",
          "[exact][key_ops]") {
  const json priv = hs256().to_private_jwk();
  const std::string token = mac_token(hs_header(), claims_text());
  CHECK(jws_code(token, with_key_ops(priv, json::array())) == errc::key_unusable);
  CHECK(jws_code(token, with_key_ops(priv, {"sign"})) == errc::key_unusable);
  CHECK(jws_code(token, with_key_ops(priv, {"encrypt", "decrypt"})) == errc::key_unusable);
  CHECK(jws_code(token, with_key_ops(priv, {"verify"})) == errc{});
  CHECK(jws_code(token, with_key_ops(priv, {"sign", "verify"})) == errc{});
  CHECK(jws_code(token, hs256()) == errc{});  // no key_ops at all: any use

  const tokenpass::Verifier v(KeySet({with_key_ops(priv, json::array())}), policy());
  CHECK(error_of(v.verify(token)) == errc::key_unusable);

  // Asymmetric keys alike, and the public JWK keeps an empty key_ops as it is.
  const Key& es = tp_test::key_for(Alg::ES256);
  const auto es_token = tokenpass::sign_jws(es, claims_text()).value();
  const Key es_empty = with_key_ops(es.to_public_jwk(), json::array());
  CHECK(jws_code(es_token, es_empty) == errc::key_unusable);
  CHECK(es_empty.to_public_jwk()["key_ops"] == json::array());
}

TEST_CASE("key_ops without sign (including []) is refused for signing", "[exact][key_ops]") {
  const json priv = hs256().to_private_jwk();
  for (const json& ops : {json::array(), json{"verify"}}) {
    const Key k = with_key_ops(priv, ops);
    CHECK_FALSE(k.can_sign());
    CHECK(error_of(tokenpass::sign_jws(k, "{}")) == errc::key_unusable);
  }
  const Key signer = with_key_ops(priv, {"sign"});
  CHECK(signer.can_sign());
  CHECK_FALSE(signer.can_verify());
  CHECK(error_of(tokenpass::sign_jws(signer, "{}")) == errc{});
}

// ---- 5. ROCA -----------------------------------------------------------------------

namespace {
json roca_data() { return tp_test::read_data_json("roca/roca_keys.json"); }

json public_jwk_of(const json& k) {
  return json{{"kty", "RSA"}, {"n", k["n"]}, {"e", k["e"]}};
}
json private_jwk_of(const json& k) {
  json j = public_jwk_of(k);
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi"}) j[m] = k[m];
  return j;
}
}  // namespace

TEST_CASE("RSA keys with the ROCA fingerprint are key_unusable wherever they enter",
          "[exact][roca]") {
  const json data = roca_data();
  REQUIRE(data["fingerprinted"].size() >= 3);
  for (const auto& k : data["fingerprinted"]) {
    CAPTURE(k["bits"]);
    auto pub = Key::from_jwk(std::string_view(public_jwk_of(k).dump()));
    REQUIRE(error_of(pub) == errc::key_unusable);
    CHECK(pub.error().detail.find("ROCA") != std::string::npos);
    CHECK(error_of(Key::from_jwk(std::string_view(private_jwk_of(k).dump()))) ==
          errc::key_unusable);
  }
  // PEM (SubjectPublicKeyInfo), its DER, and a certificate holding the key.
  const std::string pem = tp_test::read_data("roca/roca_public.pem");
  CHECK(error_of(Key::from_pem(pem)) == errc::key_unusable);
  std::string b64;
  for (const char c : pem.substr(pem.find('\n') + 1, pem.find("-----END") - pem.find('\n') - 1)) {
    if (c != '\n' && c != '\r') b64 += c;
  }
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  CHECK(error_of(Key::from_der(tp_test::unb64(b64))) == errc::key_unusable);
  CHECK(error_of(Key::from_pem(tp_test::read_data("roca/roca_cert.pem"))) == errc::key_unusable);

  // In a JWK set the ROCA key is skipped with key_unusable and the others are kept.
  json keys = json::array();
  json bad = public_jwk_of(data["fingerprinted"][0]);
  bad["kid"] = "roca";
  keys.push_back(bad);
  keys.push_back(tp_test::public_of(tp_test::key_for(Alg::RS256)).to_public_jwk());
  auto set = KeySet::from_jwks(json{{"keys", keys}});
  REQUIRE(set);
  CHECK(set->size() == 1);
  REQUIRE(set->skipped().size() == 1);
  CHECK(set->skipped()[0].kid == "roca");
  CHECK(set->skipped()[0].error.code == errc::key_unusable);
}

TEST_CASE("RSA keys without the ROCA fingerprint are accepted", "[exact][roca]") {
  const json data = roca_data();
  REQUIRE(data["controls"].size() >= 3);
  for (const auto& k : data["controls"]) {
    auto key = Key::from_jwk(std::string_view(private_jwk_of(k).dump()));
    REQUIRE(error_of(key) == errc{});
    const auto token = tokenpass::sign_jws(*key, claims_text(), {});
    REQUIRE(token);
    CHECK(error_of(tokenpass::verify_jws(*token, tp_test::public_of(*key))) == errc{});
  }
  // Every generated key and every RSA test vector passes too.
  for (const Alg alg : {Alg::RS256, Alg::PS384, Alg::RS512}) {
    CHECK(error_of(Key::from_jwk(std::string_view(
              tp_test::key_for(alg).to_public_jwk().dump()))) == errc{});
  }
}

// ---- 6. internal_error and token_request_refused --------------------------------------

TEST_CASE("an exception inside verify is internal_error (500, no challenge), not malformed",
          "[exact][errors]") {
  const std::string token = mac_token(hs_header(), claims_text());
  REQUIRE(verify_code(token) == errc{});

  tokenpass::Policy throwing_check = policy();
  throwing_check.custom_checks.push_back(
      [](const tokenpass::Claims&) -> tokenpass::Result<void> { throw std::runtime_error("bug"); });
  CHECK(verify_code(token, throwing_check) == errc::internal_error);

  tokenpass::Policy allocating_check = policy();
  allocating_check.custom_checks.push_back(
      [](const tokenpass::Claims&) -> tokenpass::Result<void> { throw std::bad_alloc(); });
  CHECK(verify_code(token, allocating_check) == errc::internal_error);

  tokenpass::Policy throwing_clock = policy();
  throwing_clock.clock = []() -> std::chrono::system_clock::time_point {
    throw std::runtime_error("clock");
  };
  const tokenpass::Verifier v(KeySet({hs256()}), throwing_clock);
  auto r = v.verify(token);
  REQUIRE(error_of(r) == errc::internal_error);
  CHECK(tokenpass::http_status(r.error()) == 500);
  CHECK_FALSE(tokenpass::www_authenticate(r.error(), "api").has_value());
  CHECK_FALSE(tokenpass::is_token_error(r.error()));
}

TEST_CASE("sign_jws: invalid UTF-8 is malformed, never internal_error", "[exact][errors]") {
  tokenpass::JwsSignOptions o;
  o.kid = std::string("\xff\xfe");
  CHECK(error_of(tokenpass::sign_jws(hs256(), "{}", o)) == errc::malformed);
}

TEST_CASE("every errc has a name, a status and a challenge rule", "[exact][errors]") {
  struct Row {
    errc code;
    const char* name;
    int status;
    bool challenge;
  };
  const std::vector<Row> rows = {
      {errc::malformed, "malformed", 401, true},
      {errc::unsupported_alg, "unsupported_alg", 401, true},
      {errc::alg_not_allowed, "alg_not_allowed", 401, true},
      {errc::key_not_found, "key_not_found", 401, true},
      {errc::key_unusable, "key_unusable", 401, true},
      {errc::bad_signature, "bad_signature", 401, true},
      {errc::expired, "expired", 401, true},
      {errc::not_yet_valid, "not_yet_valid", 401, true},
      {errc::issued_in_future, "issued_in_future", 401, true},
      {errc::too_old, "too_old", 401, true},
      {errc::bad_issuer, "bad_issuer", 401, true},
      {errc::bad_audience, "bad_audience", 401, true},
      {errc::bad_subject, "bad_subject", 401, true},
      {errc::bad_type, "bad_type", 401, true},
      {errc::missing_claim, "missing_claim", 401, true},
      {errc::bad_claim, "bad_claim", 401, true},
      {errc::insufficient_scope, "insufficient_scope", 403, true},
      {errc::unknown_crit, "unknown_crit", 401, true},
      {errc::too_large, "too_large", 401, true},
      {errc::replayed, "replayed", 401, true},
      {errc::bad_binding, "bad_binding", 401, true},
      {errc::bad_proof, "bad_proof", 401, true},
      {errc::use_dpop_nonce, "use_dpop_nonce", 401, true},
      {errc::inactive, "inactive", 401, true},
      {errc::insufficient_role, "insufficient_role", 403, true},
      {errc::no_token, "no_token", 401, true},
      {errc::invalid_request, "invalid_request", 400, true},
      {errc::key_source_unavailable, "key_source_unavailable", 503, false},
      {errc::http_error, "http_error", 503, false},
      {errc::internal_error, "internal_error", 500, false},
      {errc::token_request_refused, "token_request_refused", 500, false},
      {errc::replay_store_unavailable, "replay_store_unavailable", 503, false},
      {errc::peer_not_allowed, "peer_not_allowed", 403, false},
      {errc::untrusted_forward, "untrusted_forward", 403, false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(tokenpass::to_string(row.code) == row.name);
    CHECK(tokenpass::errc_from_string(row.name) == row.code);
    const tokenpass::Error e{row.code, ""};
    CHECK(tokenpass::http_status(e) == row.status);
    CHECK(tokenpass::www_authenticate(e, "api").has_value() == row.challenge);
  }
  // No code without a row: the one after the last is unknown.
  CHECK(tokenpass::to_string(static_cast<errc>(static_cast<int>(errc::untrusted_forward) + 1)) == "unknown");
  CHECK(tokenpass::to_string(static_cast<errc>(static_cast<int>(errc::insufficient_role) + 1)) == "unknown");
}

TEST_CASE("README's error table lists every errc", "[exact][errors][docs]") {
  const std::string readme = tp_test::read_data("../../README.md");
  const std::size_t table = readme.find("## Error codes");
  REQUIRE(table != std::string::npos);
  const std::string section = readme.substr(table, readme.find("\n## ", table + 1) - table);
  for (int v = 1; v < 200; ++v) {
    const auto code = static_cast<errc>(v);
    const std::string name(tokenpass::to_string(code));
    if (name == "unknown") continue;
    CAPTURE(name);
    CHECK(section.find("`" + name + "`") != std::string::npos);
  }
}

#include <string>
#include <string_view>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/tokenpass.h"

using tokenpass::Alg;
using tokenpass::errc;
using tokenpass::JwsSignOptions;
using tokenpass::JwsVerifyOptions;
using tokenpass::Key;
using tokenpass::KeySet;
using tp_test::error_of;
using tp_test::tamper::resign_with_header;
using tp_test::tamper::with_header;
using json = nlohmann::json;

namespace {

std::string sign(const Key& key, std::string_view payload = tp_test::sample_claims(),
                 const JwsSignOptions& options = {}) {
  return tokenpass::sign_jws(key, payload, options).value();
}

errc verify_code(std::string_view token, const Key& key, const JwsVerifyOptions& o = {}) {
  return error_of(tokenpass::verify_jws(token, key, o));
}

const Key& hs256() { return tp_test::key_for(Alg::HS256); }  // kid "test-HS256"

// hostile: `header_json` over a fresh HS256 token, with a MAC that is valid, so that
// only the header rules can refuse it.
std::string hostile(std::string_view header_json) {
  return resign_with_header(sign(hs256()), header_json, hs256(), Alg::HS256);
}

std::vector<Alg> ecdsa_algs() { return {Alg::ES256, Alg::ES384, Alg::ES512, Alg::ES256K}; }

}  // namespace

TEST_CASE("every single-bit change to a signature is rejected", "[jws][tamper]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& key = tp_test::key_for(alg);
  const Key verifier = tp_test::public_of(key);
  const std::string token = sign(key);
  REQUIRE(tokenpass::verify_jws(token, verifier));
  const auto tampered = tp_test::tamper::flip_each_signature_bit(token);
  REQUIRE(tampered.size() == 8 * tp_test::unb64(tp_test::split(token).signature).size());
  for (const auto& t : tampered) {
    CHECK(verify_code(t, verifier) == errc::bad_signature);
  }
}

TEST_CASE("a changed header or payload under the old signature is rejected", "[jws][tamper]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& key = tp_test::key_for(alg);
  const Key verifier = tp_test::public_of(key);
  const std::string token = sign(key);
  const std::string header = tp_test::unb64(tp_test::split(token).header);
  std::string extra = header;
  extra.insert(1, "\"x\":1,");
  CHECK(verify_code(with_header(token, extra), verifier) == errc::bad_signature);

  auto parts = tp_test::split(token);
  parts.payload = tp_test::b64(R"({"sub":"admin"})");
  CHECK(verify_code(tp_test::join(parts), verifier) == errc::bad_signature);
  parts.payload = "";
  CHECK(verify_code(tp_test::join(parts), verifier) == errc::bad_signature);
}

TEST_CASE("a signature made by another key of the same type is bad_signature", "[jws][tamper]") {
  const Alg alg =
      GENERATE(Alg::HS256, Alg::RS256, Alg::PS384, Alg::ES256, Alg::ES256K, Alg::EdDSA, Alg::Ed448);
  CAPTURE(tokenpass::to_string(alg));
  const Key& real = tp_test::key_for(alg);
  tokenpass::GenerateOptions same_kid;
  same_kid.kid = real.kid();
  const Key other = Key::generate(alg, same_kid);
  CHECK(verify_code(sign(other), tp_test::public_of(real)) == errc::bad_signature);
}

TEST_CASE("alg none in any spelling is unsupported_alg", "[jws][tamper][alg]") {
  const std::string token = sign(hs256());
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    CAPTURE(none);
    const std::string header = std::string(R"({"alg":")") + none + R"(","typ":"JWT"})";
    // A non-empty signature: the header is read, and "none" is no algorithm.
    CHECK(verify_code(with_header(token, header), hs256()) == errc::unsupported_alg);
    CHECK(verify_code(resign_with_header(token, header, hs256(), Alg::HS256), hs256()) ==
          errc::unsupported_alg);
    CHECK(error_of(tokenpass::verify_jws(with_header(token, header), KeySet({hs256()}))) ==
          errc::unsupported_alg);
    // An empty signature, as an unsecured JWS has (RFC 7515 A.5): still "none", and so
    // unsupported_alg (contract rule 3), not a structural fault.
    auto parts = tp_test::split(with_header(token, header));
    parts.signature.clear();
    CHECK(verify_code(tp_test::join(parts), hs256()) == errc::unsupported_alg);
  }
}

TEST_CASE("an alg that is no registered signature algorithm is unsupported_alg",
          "[jws][tamper][alg]") {
  for (const char* alg : {"", "HS257", "hs256", "RSA-OAEP", "A128KW", "dir", "ES256 "}) {
    CAPTURE(alg);
    CHECK(verify_code(hostile(std::string(R"({"alg":")") + alg + "\"}"), hs256()) ==
          errc::unsupported_alg);
  }
}

TEST_CASE("an HS256 token keyed with the RSA public key is alg_not_allowed", "[jws][tamper][alg]") {
  const Key& rsa = tp_test::key_for(Alg::RS256);
  const Key pinned = tp_test::public_of(rsa);
  const Key unpinned = tp_test::without_alg(pinned);
  const Key from_pem = Key::from_pem(rsa.to_public_pem()).value();
  const std::string pem = rsa.to_public_pem();
  const std::string n = tp_test::unb64(rsa.to_public_jwk()["n"].get<std::string>());
  const std::string jwk_text = rsa.to_public_jwk().dump();
  for (const std::string* secret : {&pem, &n, &jwk_text}) {
    const Key hmac = Key::from_secret(*secret, Alg::HS256, rsa.kid()).value();
    const std::string token = sign(hmac);
    REQUIRE(tokenpass::verify_jws(token, hmac));  // the MAC itself is right
    CHECK(verify_code(token, pinned) == errc::alg_not_allowed);
    CHECK(verify_code(token, unpinned) == errc::alg_not_allowed);
    CHECK(verify_code(token, from_pem) == errc::alg_not_allowed);
    CHECK(error_of(tokenpass::verify_jws(token, KeySet({pinned, unpinned}))) ==
          errc::alg_not_allowed);
  }
}

TEST_CASE("a token relabelled with another alg of the key's type is refused",
          "[jws][tamper][alg]") {
  SECTION("RS256 as PS256") {
    const Key& rsa = tp_test::key_for(Alg::RS256);
    const std::string token =
        with_header(sign(rsa), R"({"alg":"PS256","kid":"test-RS256","typ":"JWT"})");
    // A key without alg accepts both, so the signature decides.
    CHECK(verify_code(token, tp_test::without_alg(tp_test::public_of(rsa))) == errc::bad_signature);
    // A key pinned to RS256 refuses PS256 outright.
    CHECK(verify_code(token, tp_test::public_of(rsa)) == errc::alg_not_allowed);
  }
  SECTION("PS256 as RS256") {
    const Key& rsa = tp_test::key_for(Alg::PS256);
    const std::string token =
        with_header(sign(rsa), R"({"alg":"RS256","kid":"test-PS256","typ":"JWT"})");
    CHECK(verify_code(token, tp_test::without_alg(tp_test::public_of(rsa))) == errc::bad_signature);
    CHECK(verify_code(token, tp_test::public_of(rsa)) == errc::alg_not_allowed);
  }
  SECTION("ES256 as ES384 or ES256K") {
    const Key& ec = tp_test::key_for(Alg::ES256);
    const Key unpinned = tp_test::without_alg(tp_test::public_of(ec));
    for (const char* alg : {"ES384", "ES512", "ES256K"}) {
      CAPTURE(alg);
      const std::string token =
          with_header(sign(ec), std::string(R"({"alg":")") + alg + R"(","kid":"test-ES256"})");
      CHECK(verify_code(token, unpinned) == errc::alg_not_allowed);
    }
  }
  SECTION("HS256 as HS512 on a 32-byte secret") {
    const Key unpinned = tp_test::without_alg(hs256());
    const std::string token = hostile(R"({"alg":"HS512","kid":"test-HS256"})");
    CHECK(verify_code(token, unpinned) == errc::alg_not_allowed);
  }
}

TEST_CASE("duplicate header members are malformed", "[jws][tamper][json]") {
  for (const char* header :
       {R"({"alg":"HS256","alg":"none"})", R"({"alg":"none","alg":"HS256"})",
        R"({"alg":"HS256","alg":"HS256"})", R"({"alg":"HS256","kid":"test-HS256","kid":"x"})",
        R"({"alg":"HS256","x":{"a":1,"a":2}})", R"({"alg":"HS256","crit":["x"],"crit":[]})"}) {
    CAPTURE(header);
    CHECK(verify_code(hostile(header), hs256()) == errc::malformed);
    CHECK(error_of(tokenpass::decode_unverified(hostile(header))) == errc::malformed);
  }
}

TEST_CASE("crit naming an extension the caller does not handle is unknown_crit",
          "[jws][tamper][crit]") {
  const std::string crit_exp = hostile(R"({"alg":"HS256","crit":["exp"],"exp":1})");
  CHECK(verify_code(crit_exp, hs256()) == errc::unknown_crit);
  JwsVerifyOptions handles_exp;
  handles_exp.critical = {"exp"};
  CHECK(tokenpass::verify_jws(crit_exp, hs256(), handles_exp));

  // RFC 7797 unencoded payloads are refused however they are asked for.
  const std::string b64_crit = hostile(R"({"alg":"HS256","b64":false,"crit":["b64"]})");
  CHECK(verify_code(b64_crit, hs256()) == errc::unknown_crit);
  JwsVerifyOptions handles_b64;
  handles_b64.critical = {"b64"};
  CHECK(verify_code(b64_crit, hs256(), handles_b64) == errc::unknown_crit);
  CHECK(verify_code(hostile(R"({"alg":"HS256","b64":false})"), hs256()) == errc::unknown_crit);
  CHECK(verify_code(hostile(R"({"alg":"HS256","b64":"false"})"), hs256()) == errc::unknown_crit);
}

TEST_CASE("crit that is not a non-empty array of present names is malformed",
          "[jws][tamper][crit]") {
  JwsVerifyOptions handles_exp;
  handles_exp.critical = {"exp"};
  for (const char* header :
       {R"({"alg":"HS256","crit":"exp","exp":1})", R"({"alg":"HS256","crit":[]})",
        R"({"alg":"HS256","crit":{}})", R"({"alg":"HS256","crit":[1]})",
        R"({"alg":"HS256","crit":null})", R"({"alg":"HS256","crit":["exp"]})"}) {
    CAPTURE(header);
    CHECK(verify_code(hostile(header), hs256(), handles_exp) == errc::malformed);
  }
}

TEST_CASE("header keys jwk, jku, x5u and x5c never supply the key", "[jws][tamper][header]") {
  const Key& real = tp_test::key_for(Alg::ES256);
  const Key verifier = tp_test::public_of(real);
  const Key attacker = Key::generate(Alg::ES256);
  const std::string attacker_cert =
      tp_test::ossl::base64(tp_test::ossl::self_signed_cert_der(attacker));
  const json members = {
      {"jwk", attacker.to_public_jwk()},
      {"jku", "https://attacker.example/jwks.json"},
      {"x5u", "https://attacker.example/cert.pem"},
      {"x5c", {attacker_cert}},
  };
  for (const auto& [name, value] : members.items()) {
    CAPTURE(name);
    JwsSignOptions o;
    o.extra_header = {{name, value}};
    o.kid = real.kid();
    const std::string forged = sign(attacker, tp_test::sample_claims(), o);
    CHECK(verify_code(forged, verifier) == errc::bad_signature);
    CHECK(verify_code(forged, tp_test::without_alg(verifier)) == errc::bad_signature);
    CHECK(error_of(tokenpass::verify_jws(forged, KeySet({verifier}))) == errc::bad_signature);
    o.kid = "";
    CHECK(verify_code(sign(attacker, "{}", o), verifier) == errc::bad_signature);
    // The members themselves are harmless: the real key's token with them verifies.
    CHECK(tokenpass::verify_jws(sign(real, "{}", o), verifier));
  }
  // An embedded HMAC key against an RSA verifier does not even get its alg accepted.
  const Key hmac_attacker = Key::generate(Alg::HS256);
  JwsSignOptions o;
  o.extra_header = {{"jwk", hmac_attacker.to_private_jwk()}};
  o.kid = "test-RS256";
  CHECK(verify_code(sign(hmac_attacker, "{}", o),
                    tp_test::public_of(tp_test::key_for(Alg::RS256))) == errc::alg_not_allowed);
}

TEST_CASE("tokens over the size limit are too_large before any decoding", "[jws][tamper][limits]") {
  constexpr std::size_t kLimit = tokenpass::kDefaultMaxTokenSize;
  REQUIRE(kLimit == 64 * 1024);
  CHECK(verify_code(std::string(kLimit + 1, 'a'), hs256()) == errc::too_large);
  CHECK(error_of(tokenpass::decode_unverified(std::string(kLimit + 1, 'a'))) == errc::too_large);
  CHECK(verify_code(std::string(kLimit, 'a'), hs256()) == errc::malformed);
  CHECK(verify_code(std::string(kLimit, '.'), hs256()) == errc::malformed);

  // A valid token of exactly 64 KiB passes, one byte more does not.
  const Key anon = hs256().with_kid("");
  std::string exact;
  for (std::size_t kid_len = 1; kid_len <= 4 && exact.empty(); ++kid_len) {
    JwsSignOptions o;
    o.kid = std::string(kid_len, 'k');
    const std::size_t overhead = sign(anon, "", o).size();
    const std::size_t n = (kLimit - overhead) * 3 / 4;
    for (std::size_t m = n; m + 3 > n; --m) {
      std::string t = sign(anon, std::string(m, 'p'), o);
      if (t.size() == kLimit) {
        exact = t;
        break;
      }
    }
  }
  REQUIRE(exact.size() == kLimit);
  CHECK(tokenpass::verify_jws(exact, anon));
  CHECK(tokenpass::verify_jws("\n " + exact + "\r\n", anon));  // white space does not count
  auto parts = tp_test::split(exact);
  parts.payload = tp_test::b64(tp_test::unb64(parts.payload) + "pp");  // longer
  CHECK(verify_code(tp_test::join(parts), anon) == errc::too_large);

  // max_token_size is configurable both ways.
  JwsVerifyOptions small;
  small.max_token_size = 100;
  CHECK(verify_code(sign(hs256()), hs256(), small) == errc::too_large);
  const std::string big = sign(hs256(), std::string(100000, 'p'));
  CHECK(verify_code(big, hs256()) == errc::too_large);
  JwsVerifyOptions large;
  large.max_token_size = 1 << 20;
  CHECK(tokenpass::verify_jws(big, hs256(), large));
  CHECK(tokenpass::decode_unverified(big, 1 << 20));
}

TEST_CASE("base64url that is not canonical is malformed in every part", "[jws][tamper][b64]") {
  // Lengths chosen so that every part has trailing bits: 34, 11 and 32 bytes.
  const std::string header = tp_test::b64(R"({"alg":"HS256","kid":"test-HS256"})");
  const std::string payload = tp_test::b64(R"({"sub":"a"})");
  REQUIRE(tokenpass::verify_jws(tp_test::tamper::resign_parts(header, payload, hs256(), Alg::HS256),
                                hs256()));

  const int part = GENERATE(0, 1, 2);
  const std::string kind = GENERATE(as<std::string>{}, "padding", "plus", "slash", "trailing bits");
  CAPTURE(part, kind);
  auto mangle = [&](std::string s) {
    if (kind == "padding") return s + (s.size() % 4 == 2 ? "==" : "=");
    if (kind == "plus") return s.replace(1, 1, "+");
    if (kind == "slash") return s.replace(1, 1, "/");
    return tp_test::tamper::set_trailing_bit(s);
  };
  std::string token;
  if (part == 2) {
    auto parts =
        tp_test::split(tp_test::tamper::resign_parts(header, payload, hs256(), Alg::HS256));
    parts.signature = mangle(parts.signature);
    token = tp_test::join(parts);
  } else {
    // The MAC is right for the mangled text, so only the encoding can be blamed.
    token =
        tp_test::tamper::resign_parts(part == 0 ? mangle(header) : header,
                                      part == 1 ? mangle(payload) : payload, hs256(), Alg::HS256);
  }
  CHECK(verify_code(token, hs256()) == errc::malformed);
  CHECK(error_of(tokenpass::decode_unverified(token)) == errc::malformed);
}

TEST_CASE("a payload that is not canonical is checked after the signature", "[jws][tamper][b64]") {
  // The documented order: bad_signature comes before the payload's encoding.
  const std::string header = tp_test::b64(R"({"alg":"HS256"})");
  const std::string payload = tp_test::tamper::set_trailing_bit(tp_test::b64(R"({"sub":"a"})"));
  const std::string good_mac = tp_test::tamper::resign_parts(header, payload, hs256(), Alg::HS256);
  CHECK(verify_code(good_mac, hs256()) == errc::malformed);
  const std::string bad_mac = tp_test::tamper::flip_each_signature_bit(good_mac).front();
  CHECK(verify_code(bad_mac, hs256()) == errc::bad_signature);
}

TEST_CASE("a token without exactly three parts is malformed", "[jws][tamper][structure]") {
  const std::string token = sign(hs256());
  const auto p = tp_test::split(token);
  const std::string jwe =
      tp_test::b64(R"({"alg":"RSA-OAEP","enc":"A256GCM"})") + ".AAAA.BBBB.CCCC.DDDD";
  for (const std::string& bad :
       {std::string(""), p.header, p.header + "." + p.payload, token + ".", "." + token,
        token + "." + p.signature, token + ".x.y", jwe, std::string(".."), std::string("...."),
        "." + p.payload + "." + p.signature}) {
    CAPTURE(bad);
    CHECK(verify_code(bad, hs256()) == errc::malformed);
    CHECK(error_of(tokenpass::decode_unverified(bad)) == errc::malformed);
  }
}

TEST_CASE("the JWS JSON serialization is malformed", "[jws][tamper][structure]") {
  const auto p = tp_test::split(sign(hs256()));
  const json general = {{"payload", p.payload},
                        {"signatures", {{{"protected", p.header}, {"signature", p.signature}}}}};
  const json flattened = {
      {"payload", p.payload}, {"protected", p.header}, {"signature", p.signature}};
  for (const std::string& text : {general.dump(), flattened.dump(), " " + flattened.dump(2)}) {
    CAPTURE(text);
    CHECK(verify_code(text, hs256()) == errc::malformed);
    CHECK(error_of(tokenpass::decode_unverified(text)) == errc::malformed);
  }
}

TEST_CASE("an ECDSA signature in DER instead of R||S is bad_signature", "[jws][tamper][ecdsa]") {
  const Alg alg = GENERATE(from_range(ecdsa_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& key = tp_test::key_for(alg);
  const std::string token = sign(key);
  const std::string raw = tp_test::unb64(tp_test::split(token).signature);
  const std::string der = tp_test::ossl::ecdsa_raw_to_der(raw);
  CHECK(verify_code(tp_test::tamper::with_signature(token, der), tp_test::public_of(key)) ==
        errc::bad_signature);
}

TEST_CASE("an ECDSA signature with r or s zero or equal to the curve order is bad_signature",
          "[jws][tamper][ecdsa]") {
  const Alg alg = GENERATE(from_range(ecdsa_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& key = tp_test::key_for(alg);
  const Key verifier = tp_test::public_of(key);
  const std::string token = sign(key);
  const std::string raw = tp_test::unb64(tp_test::split(token).signature);
  const std::size_t w = raw.size() / 2;
  const std::string r = raw.substr(0, w);
  const std::string s = raw.substr(w);
  const std::string zero(w, '\0');
  const std::string n = tp_test::ossl::ec_order(key.curve(), w);
  for (const std::string& sig : {zero + s, r + zero, zero + zero, n + s, r + n, n + n}) {
    CHECK(verify_code(tp_test::tamper::with_signature(token, sig), verifier) ==
          errc::bad_signature);
  }
}

TEST_CASE("a truncated or extended signature is bad_signature", "[jws][tamper]") {
  const Alg alg = GENERATE(from_range(tokenpass::all_algs()));
  CAPTURE(tokenpass::to_string(alg));
  const Key& key = tp_test::key_for(alg);
  const Key verifier = tp_test::public_of(key);
  const std::string token = sign(key);
  const std::string sig = tp_test::unb64(tp_test::split(token).signature);
  for (const std::string& changed :
       {sig.substr(0, sig.size() - 1), sig.substr(1), sig.substr(0, sig.size() / 2),
        sig.substr(0, 1), sig + std::string(1, '\0'), std::string(1, '\0') + sig, sig + sig}) {
    CHECK(verify_code(tp_test::tamper::with_signature(token, changed), verifier) ==
          errc::bad_signature);
  }
}

TEST_CASE("a header that is not a JSON object is malformed", "[jws][tamper][json]") {
  for (const std::string& header :
       {std::string("[]"), std::string("\"x\""), std::string("42"), std::string("null"),
        std::string("true"), std::string("{"), std::string("{\"alg\":\"HS256\"} x"),
        std::string("{\"alg\":\"HS256\",\"x\":\"\xff\"}"), std::string(" ")}) {
    CAPTURE(header);
    CHECK(verify_code(hostile(header), hs256()) == errc::malformed);
    CHECK(error_of(tokenpass::decode_unverified(hostile(header))) == errc::malformed);
  }
}

TEST_CASE("a missing or non-string alg and a non-string kid are malformed", "[jws][tamper][json]") {
  for (const char* header : {R"({"alg":"HS256","kid":5})", R"({"alg":"HS256","kid":null})",
                             R"({"alg":"HS256","kid":["a"]})", R"({"alg":5})", R"({"alg":null})",
                             R"({"alg":["HS256"]})", R"({"kid":"test-HS256"})", R"({})"}) {
    CAPTURE(header);
    CHECK(verify_code(hostile(header), hs256()) == errc::malformed);
  }
}

TEST_CASE("a signature that is not canonical base64url is malformed before any header rule but alg",
          "[jws][tamper][b64]") {
  // jws.h: malformed (structure, base64url, header JSON) comes before unknown_crit,
  // bad_type and key_not_found; only an alg that is no algorithm comes first.
  JwsVerifyOptions want_typ;
  want_typ.typ = "at+jwt";
  {
    auto parts = tp_test::split(hostile(R"({"alg":"none"})"));
    parts.signature = tp_test::tamper::set_trailing_bit(parts.signature);
    CHECK(verify_code(tp_test::join(parts), hs256(), want_typ) == errc::unsupported_alg);
  }
  for (const char* header : {R"({"alg":"HS256","crit":["x"],"x":1})",
                             R"({"alg":"HS256","b64":false})", R"({"alg":"HS256","typ":"JWT"})",
                             R"({"alg":"HS256","kid":"nobody"})"}) {
    CAPTURE(header);
    auto parts = tp_test::split(hostile(header));
    parts.signature = tp_test::tamper::set_trailing_bit(parts.signature);
    CHECK(verify_code(tp_test::join(parts), hs256(), want_typ) == errc::malformed);
  }
}

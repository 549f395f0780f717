// DPoP (RFC 9449), the resource side: check_dpop_proof rule by rule, normalize_htu, and
// the Verifier's binding of a token's cnf.jkt to the proof's key and the proof's jti.
#include "tokenpass/dpop.h"

#include <chrono>
#include <memory>
#include <string>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/issuer.h"
#include "tokenpass/jws.h"
#include "tokenpass/replay.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::errc;

namespace {

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1900000000));
constexpr const char* kHtu = "https://api.example/orders";

tokenpass::DpopOptions options() {
  tokenpass::DpopOptions o;
  o.clock = [] { return kNow; };
  return o;
}

// Proof: a DPoP proof made with sign_jws, every part adjustable.
struct Proof {
  tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  json header_jwk = key.public_key().value().to_public_jwk();
  std::optional<std::string> typ = std::string("dpop+jwt");
  json claims;
  explicit Proof(const std::string& access_token) {
    claims = {{"jti", "proof-1"},
              {"htm", "POST"},
              {"htu", kHtu},
              {"iat", 1900000000},
              {"ath", tp_test::b64(tp_test::ossl::sha256(access_token))}};
  }
  std::string sign(const tokenpass::Key* signer = nullptr) const {
    tokenpass::JwsSignOptions o;
    o.typ = typ;
    o.extra_header = {{"jwk", header_jwk}};
    return tokenpass::sign_jws(signer ? *signer : key, claims.dump(), o).value();
  }
};

errc code_of(const tokenpass::Result<tokenpass::DpopProof>& r) { return r ? errc{} : r.error().code; }

}  // namespace

TEST_CASE("dpop: a good proof gives its key's thumbprint, jti and window", "[dpop]") {
  Proof p("token-abc");
  auto r = tokenpass::check_dpop_proof(p.sign(), "POST", kHtu, "token-abc", options());
  REQUIRE(r);
  CHECK(r->jkt == p.key.public_key().value().thumbprint());
  CHECK(r->jti == "proof-1");
  CHECK(r->iat == kNow);
  CHECK(r->replay_until == kNow + 65s);
}

TEST_CASE("dpop: each rule of RFC 9449 4.3 refuses with bad_proof", "[dpop]") {
  const std::string at = "token-abc";
  const auto check = [&](const Proof& p, const std::string& htm = "POST", const std::string& htu = kHtu,
                         const std::string& token = "token-abc") {
    return code_of(tokenpass::check_dpop_proof(p.sign(), htm, htu, token, options()));
  };
  Proof p(at);
  SECTION("typ exactly dpop+jwt") {
    p.typ = "DPoP+JWT";
    CHECK(check(p) == errc::bad_proof);
    p.typ = std::nullopt;
    CHECK(check(p) == errc::bad_proof);
  }
  SECTION("a private key in the header") {
    p.header_jwk = p.key.to_private_jwk();
    CHECK(check(p) == errc::bad_proof);
  }
  SECTION("no jwk, or another key than the signer's") {
    p.header_jwk = nullptr;
    CHECK(code_of(tokenpass::check_dpop_proof(
              [&] {
                tokenpass::JwsSignOptions o;
                o.typ = "dpop+jwt";
                return tokenpass::sign_jws(p.key, p.claims.dump(), o).value();
              }(),
              "POST", kHtu, at, options())) == errc::bad_proof);
    Proof q(at);
    const auto other = tokenpass::Key::generate(tokenpass::Alg::ES256);
    CHECK(code_of(tokenpass::check_dpop_proof(q.sign(&other), "POST", kHtu, at, options())) == errc::bad_proof);
  }
  SECTION("a symmetric algorithm") {
    const auto secret = tokenpass::Key::generate(tokenpass::Alg::HS256);
    tokenpass::JwsSignOptions o;
    o.typ = "dpop+jwt";
    o.extra_header = {{"jwk", p.header_jwk}};
    const std::string hs = tokenpass::sign_jws(secret, p.claims.dump(), o).value();
    CHECK(code_of(tokenpass::check_dpop_proof(hs, "POST", kHtu, at, options())) == errc::bad_proof);
  }
  SECTION("missing or ill-typed claims") {
    for (const char* name : {"jti", "htm", "htu", "iat", "ath"}) {
      CAPTURE(name);
      Proof q(at);
      q.claims.erase(name);
      CHECK(check(q) == errc::bad_proof);
    }
    p.claims["iat"] = "1900000000";
    CHECK(check(p) == errc::bad_proof);
  }
  SECTION("another method or URI") {
    CHECK(check(p, "GET") == errc::bad_proof);
    CHECK(check(p, "post") == errc::bad_proof);  // htm is case-sensitive
    CHECK(check(p, "POST", "https://api.example/other") == errc::bad_proof);
    CHECK(check(p, "POST", "https://other.example/orders") == errc::bad_proof);
  }
  SECTION("ath of another token") { CHECK(check(p, "POST", kHtu, "token-xyz") == errc::bad_proof); }
  SECTION("iat outside the window") {
    p.claims["iat"] = 1900000000 - 61;
    CHECK(check(p) == errc::bad_proof);
    p.claims["iat"] = 1900000000 - 60;
    CHECK(check(p) == errc{});
    p.claims["iat"] = 1900000000 + 6;
    CHECK(check(p) == errc::bad_proof);
    p.claims["iat"] = 1900000000 + 5;
    CHECK(check(p) == errc{});
  }
  SECTION("a tampered signature") {
    std::string t = p.sign();
    t[t.size() - 3] = t[t.size() - 3] == 'A' ? 'B' : 'A';
    CHECK(code_of(tokenpass::check_dpop_proof(t, "POST", kHtu, at, options())) == errc::bad_proof);
  }
  SECTION("not a JWS at all") {
    CHECK(code_of(tokenpass::check_dpop_proof("garbage", "POST", kHtu, at, options())) == errc::bad_proof);
  }
}

TEST_CASE("dpop: htu compares after RFC 3986 normalisation, both ways", "[dpop]") {
  Proof p("t");
  p.claims["htu"] = "HTTPS://API.Example:443/a/../orders/%7e?x=1#frag";
  CHECK(tokenpass::check_dpop_proof(p.sign(), "POST", "https://api.example/orders/~", "t", options()));
  p.claims["htu"] = "https://api.example/orders/~";
  CHECK(tokenpass::check_dpop_proof(p.sign(), "POST", "https://api.example:443/./orders/%7E?q", "t", options()));
  CHECK(tokenpass::normalize_htu("http://h:80").value() == "http://h/");
  CHECK(tokenpass::normalize_htu("http://h:8080/a/b/../c/./d").value() == "http://h:8080/a/c/d");
  CHECK(tokenpass::normalize_htu("https://h/%2f%41").value() == "https://h/%2FA");
  CHECK_FALSE(tokenpass::normalize_htu("https://h/%zz"));
  CHECK_FALSE(tokenpass::normalize_htu("ftp://h/"));
  CHECK_FALSE(tokenpass::normalize_htu("/relative"));
}

TEST_CASE("dpop: the server's nonce", "[dpop]") {
  Proof p("t");
  auto o = options();
  o.nonce = "n-1";
  CHECK(code_of(tokenpass::check_dpop_proof(p.sign(), "POST", kHtu, "t", o)) == errc::use_dpop_nonce);
  p.claims["nonce"] = "n-0";
  CHECK(code_of(tokenpass::check_dpop_proof(p.sign(), "POST", kHtu, "t", o)) == errc::use_dpop_nonce);
  p.claims["nonce"] = "n-1";
  CHECK(tokenpass::check_dpop_proof(p.sign(), "POST", kHtu, "t", o));
  // A proof that fails another rule is bad_proof first.
  CHECK(code_of(tokenpass::check_dpop_proof(p.sign(), "GET", kHtu, "t", o)) == errc::bad_proof);
}

TEST_CASE("dpop: the verifier binds cnf.jkt to the proof's key and records the proof's jti", "[dpop][binding]") {
  const auto issuer_key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::Issuer issuer(issuer_key, "https://as.example", 10min, [] {
    tokenpass::IssuerOptions io;
    io.clock = [] { return kNow; };
    return io;
  }());
  tokenpass::Policy policy;
  policy.issuers = {"https://as.example"};
  policy.any_audience();
  policy.clock = [] { return kNow; };
  tokenpass::MemoryReplayStoreOptions ro;
  ro.clock = [] { return kNow; };
  policy.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>(ro);
  const tokenpass::Verifier verifier(tokenpass::KeySet({issuer_key.public_key().value()}), policy);

  const auto proof_key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const auto token_for = [&](const std::string& jkt) {
    tokenpass::ClaimsBuilder c;
    c.subject("alice");
    if (!jkt.empty()) c.claim("cnf", json{{"jkt", jkt}});
    return issuer.issue(c).value();
  };
  // proof_for: a proof for `token` by proof_key, with jti `jti`.
  const auto proof_for = [&](const std::string& token, const std::string& jti) {
    Proof p(token);
    p.key = proof_key;
    p.header_jwk = proof_key.public_key().value().to_public_jwk();
    p.claims["jti"] = jti;
    return p.sign();
  };
  const auto opts = options();
  const auto verify = [&](const std::string& token, const std::string& proof, const std::string& htm = "POST") {
    tokenpass::DpopRequest req{proof, htm, kHtu, &opts};
    tokenpass::Presented presented;
    presented.dpop = &req;
    return verifier.verify(token, presented);
  };
  const std::string bound = token_for(proof_key.public_key().value().thumbprint());

  // A token bound to another key: bad_binding, and the proof's jti is not burned.
  const std::string other = token_for("another-thumbprint");
  CHECK(verify(other, proof_for(other, "p-1")).error().code == errc::bad_binding);
  // The proof is checked before the binding: a bad proof is bad_proof, and burns nothing.
  CHECK(verify(bound, proof_for(bound, "p-1"), "GET").error().code == errc::bad_proof);
  CHECK(verify(bound, proof_for(other, "p-1")).error().code == errc::bad_proof);  // ath of another token
  // ... and after every claim rule: an expired token is expired, whatever its proof.
  tokenpass::ClaimsBuilder old;
  // exp past the default 60 s leeway.
  old.subject("alice").expires_at(kNow - 120s).claim("cnf", json{{"jkt", proof_key.public_key().value().thumbprint()}});
  const std::string expired = issuer.issue(old).value();
  CHECK(verify(expired, "not a proof").error().code == errc::expired);

  const std::string proof = proof_for(bound, "p-1");
  CHECK(verify(bound, proof));
  CHECK(verify(bound, proof).error().code == errc::replayed);  // the proof's jti, once
  CHECK(verify(bound, proof_for(bound, "p-2")));               // a fresh proof for the same token
  CHECK(verifier.verify(bound).error().code == errc::bad_binding);  // no proof at all
  // A proof with an unbound token: bad_binding (a DPoP request needs a DPoP-bound token).
  const std::string unbound = token_for("");
  CHECK(verify(unbound, proof_for(unbound, "p-3")).error().code == errc::bad_binding);
}

TEST_CASE("dpop: DpopSigner's proofs pass check_dpop_proof, with ath, nonce and without query", "[dpop]") {
  tokenpass::DpopSigner signer(tokenpass::Key::generate(tokenpass::Alg::ES256), std::nullopt, [] { return kNow; });
  auto proof = signer.proof("GET", std::string(kHtu) + "?id=7#frag", "token-abc");
  REQUIRE(proof);
  auto decoded = tokenpass::decode_unverified(*proof).value();
  CHECK(decoded.header()["typ"] == "dpop+jwt");
  CHECK_FALSE(decoded.header()["jwk"].contains("d"));
  CHECK_FALSE(decoded.header().contains("kid"));
  CHECK((*decoded.payload_json())["htu"] == kHtu);
  auto ok = tokenpass::check_dpop_proof(*proof, "GET", kHtu, "token-abc", options());
  REQUIRE(ok);
  CHECK(ok->jkt == signer.jkt());
  CHECK(code_of(tokenpass::check_dpop_proof(*proof, "GET", kHtu, "token-abd", options())) == errc::bad_proof);
  // Two proofs never share a jti.
  auto other = tokenpass::check_dpop_proof(signer.proof("GET", kHtu, "token-abc").value(), "GET", kHtu, "token-abc",
                                           options());
  REQUIRE(other);
  CHECK(other->jti != ok->jti);

  // For a token request: no ath, and none checked.
  auto token_request = signer.proof("POST", kHtu);
  REQUIRE(token_request);
  CHECK_FALSE(tokenpass::decode_unverified(*token_request).value().payload_json()->contains("ath"));
  CHECK(tokenpass::check_dpop_proof(*token_request, "POST", kHtu, "", options()));
  // ... but a proof without ath does not pass where a token is presented.
  CHECK(code_of(tokenpass::check_dpop_proof(*token_request, "POST", kHtu, "token-abc", options())) == errc::bad_proof);

  // Nonces: remembered per origin, given ones win, bad ones ignored.
  auto want = options();
  want.nonce = "n1";
  CHECK(code_of(tokenpass::check_dpop_proof(signer.proof("GET", kHtu, "t").value(), "GET", kHtu, "t", want)) ==
        errc::use_dpop_nonce);
  signer.remember_nonce("https://API.example:443/elsewhere", "n1");
  signer.remember_nonce("https://other.example/", "n2");
  signer.remember_nonce("https://api.example/", "bad nonce\"");  // not NQCHAR: ignored
  CHECK(tokenpass::check_dpop_proof(signer.proof("GET", kHtu, "t").value(), "GET", kHtu, "t", want));
  want.nonce = "n3";
  CHECK(tokenpass::check_dpop_proof(signer.proof("GET", kHtu, "t", "n3").value(), "GET", kHtu, "t", want));

  CHECK(code_of(tokenpass::check_dpop_proof("", "GET", kHtu, "t", options())) == errc::bad_proof);
  auto bad_uri = signer.proof("GET", "not a uri", "t");
  REQUIRE_FALSE(bad_uri);
  CHECK(bad_uri.error().code == errc::invalid_request);
  CHECK_THROWS_AS(tokenpass::DpopSigner(tokenpass::Key::generate(tokenpass::Alg::HS256)), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::DpopSigner(tokenpass::Key::generate(tokenpass::Alg::ES256).public_key().value()),
                  std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::DpopSigner(tokenpass::Key::generate(tokenpass::Alg::ES256), tokenpass::Alg::RS256),
                  std::invalid_argument);
}

TEST_CASE("dpop: the DPoP challenge of RFC 9449 7.1", "[dpop]") {
  using tokenpass::make_error;
  using tokenpass::www_authenticate_dpop;
  const std::vector<tokenpass::Alg> algs = {tokenpass::Alg::ES256, tokenpass::Alg::HS256, tokenpass::Alg::EdDSA};
  CHECK(www_authenticate_dpop(make_error(errc::no_token), "api", algs) == "DPoP realm=\"api\", algs=\"ES256 EdDSA\"");
  CHECK(www_authenticate_dpop(make_error(errc::bad_proof), "api", algs) ==
        "DPoP realm=\"api\", error=\"invalid_dpop_proof\", algs=\"ES256 EdDSA\"");
  CHECK(www_authenticate_dpop(make_error(errc::use_dpop_nonce), "api", algs) ==
        "DPoP realm=\"api\", error=\"use_dpop_nonce\", algs=\"ES256 EdDSA\"");
  CHECK(www_authenticate_dpop(make_error(errc::expired), "api", algs) ==
        "DPoP realm=\"api\", error=\"invalid_token\", algs=\"ES256 EdDSA\"");
  CHECK(www_authenticate_dpop(make_error(errc::expired), "api", algs, {}, false) ==
        "DPoP realm=\"api\", algs=\"ES256 EdDSA\"");
  CHECK(www_authenticate_dpop(make_error(errc::insufficient_scope), "api", algs, {"a", "b"}) ==
        "DPoP realm=\"api\", error=\"insufficient_scope\", scope=\"a b\", algs=\"ES256 EdDSA\"");
  CHECK_FALSE(www_authenticate_dpop(make_error(errc::http_error), "api", algs));
  CHECK(www_authenticate_dpop(make_error(errc::no_token), "api")->find("HS256") == std::string::npos);
}

// make_seeds OUTDIR: writes the seed corpus of every fuzz harness, valid and near-valid
// inputs, into OUTDIR/<harness>/. Deterministic apart from the randomness of ECDSA,
// PSS and the certificates' signatures; scripts/fuzz.sh runs it before each campaign.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;
using tokenpass::Alg;
using tokenpass::Key;

std::string g_out;

void put(const std::string& harness, const std::string& name, const std::string& bytes) {
  const std::string dir = g_out + "/" + harness;
  ::mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

std::string sign(const Key& key, const json& claims, const json& extra_header = json::object(),
                 std::optional<std::string> typ = std::string("JWT")) {
  tokenpass::JwsSignOptions o;
  o.typ = std::move(typ);
  o.extra_header = extra_header;
  return tokenpass::sign_jws(key, claims.dump(), o).value();
}

json good_claims() {
  return json{{"iss", kIssuer},      {"sub", "user-1"},          {"aud", kAudience},
              {"exp", kNow + 600},   {"iat", kNow - 60},         {"nbf", kNow - 60},
              {"jti", "j-1"},        {"client_id", "client-1"},  {"scope", "orders:read admin"}};
}

// ---- tokens ----------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> tokens() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& key : private_keys()) out.emplace_back("valid-" + key.kid(), sign(key, good_claims()));
  const Key& hs = private_key("fz-hs256");
  const Key& es = private_key("fz-es256");
  const std::string good = sign(hs, good_claims());
  const std::string head = good.substr(0, good.find('.'));
  const std::string body = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  const std::string sig = good.substr(good.rfind('.') + 1);
  out.emplace_back("at-jwt", sign(hs, good_claims(), json::object(), std::string("at+jwt")));
  out.emplace_back("es-no-kid", [&] {
    tokenpass::JwsSignOptions o;
    o.kid = "";
    return tokenpass::sign_jws(es, good_claims().dump(), o).value();
  }());
  json c = good_claims();
  c["exp"] = kNow - 3600;
  out.emplace_back("expired", sign(hs, c));
  c = good_claims();
  c["aud"] = json::array({"x", kAudience});
  c["scp"] = json::array({"orders:read"});
  c.erase("scope");
  out.emplace_back("aud-array-scp", sign(hs, c));
  c = good_claims();
  c["iss"] = kOtherIssuer;
  out.emplace_back("other-issuer", sign(hs, c));
  // sign_jws refuses crit and b64 in a header: these are MACed by hand.
  out.emplace_back("crit-known",
                   hs256_token(R"({"alg":"HS256","kid":"fz-hs256","crit":["urn:example:crit"],)"
                               R"("urn:example:crit":1})", good_claims().dump()));
  out.emplace_back("crit-unknown",
                   hs256_token(R"({"alg":"HS256","kid":"fz-hs256","crit":["exp"],"exp":1})",
                               good_claims().dump()));
  out.emplace_back("b64-false",
                   hs256_token(R"({"alg":"HS256","kid":"fz-hs256","crit":["b64"],"b64":false})",
                               good_claims().dump()));
  out.emplace_back("header-jwk-jku", sign(hs, good_claims(),
                                          json{{"jku", "https://evil.example/jwks"},
                                               {"jwk", es.to_public_jwk()}}));
  out.emplace_back("none", b64url(R"({"alg":"none"})") + "." + body + ".");
  out.emplace_back("none-sig", b64url(R"({"alg":"nOnE","kid":"fz-hs256"})") + "." + body + "." + sig);
  out.emplace_back("hs-with-rsa-kid",
                   hs256_token(R"({"alg":"HS256","kid":"fz-rs256"})", good_claims().dump()));
  out.emplace_back("padded", good + "==");
  out.emplace_back("whitespace", "  \n" + good + "\r\n");
  out.emplace_back("inner-space", head + ". " + body + "." + sig);
  out.emplace_back("two-parts", head + "." + body);
  out.emplace_back("five-parts", good + ".AAAA.BBBB");
  out.emplace_back("json-serialization", R"({"payload":")" + body + R"(","signatures":[]})");
  out.emplace_back("dup-member", hs256_token(R"({"alg":"HS256","alg":"HS256"})", "{}"));
  out.emplace_back("deep-header",
                   hs256_token(R"({"alg":"HS256","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
                               "{}"));
  out.emplace_back("bad-utf8", hs256_token("{\"alg\":\"HS256\",\"kid\":\"\xc3\x28\"}", "{}"));
  out.emplace_back("trailing-bits", head + "." + body + "." + sig.substr(0, sig.size() - 1) + "B");
  out.emplace_back("empty-sig", head + "." + body + ".");
  out.emplace_back("ec-der-sig", [&] {
    const std::string t = sign(es, good_claims());
    return t.substr(0, t.rfind('.') + 1) + b64url(std::string("\x30\x06\x02\x01\x01\x02\x01\x01", 8));
  }());
  return out;
}

// "HEADER\nPAYLOAD" inputs of the verify harness's re-signing modes.
std::vector<std::pair<std::string, std::string>> header_payloads() {
  const std::string h = R"({"alg":"HS256","kid":"fz-hs256","typ":"JWT"})";
  const std::string at = R"({"alg":"HS256","kid":"fz-hs256","typ":"at+jwt"})";
  json c = good_claims();
  std::vector<std::pair<std::string, std::string>> out = {
      {"good", h + "\n" + c.dump()},
      {"at", at + "\n" + c.dump()},
      {"crit", R"({"alg":"HS256","kid":"fz-hs256","crit":["urn:example:crit"],"urn:example:crit":true})"
               "\n" + c.dump()},
      {"fractional", h + "\n" + R"({"iss":"https://issuer.example","aud":["orders-api"],"exp":1700000000.5,"iat":1699999999.25,"scope":"orders:read"})"},
      {"big-exp", h + "\n" + R"({"iss":"https://issuer.example","aud":"orders-api","exp":9007199254740993,"scope":"orders:read"})"},
      {"neg-exp", h + "\n" + R"({"iss":"https://issuer.example","aud":"orders-api","exp":-1,"nbf":1e308,"scope":"orders:read"})"},
      {"types", h + "\n" + R"({"iss":1,"aud":[1,2],"exp":"1","scope":["a"],"scp":5,"sub":null})"},
      {"deny", h + "\n" + R"({"iss":"https://issuer.example","aud":"orders-api","exp":1700000600,"iat":1700000000,"scope":"orders:read","deny":1})"},
      {"not-object", h + "\n[1,2,3]"},
      {"not-json", h + "\n\xff\xfe"},
  };
  return out;
}

// ---- keys ------------------------------------------------------------------------

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

PkeyPtr pkey_of(const Key& key) {
  const std::string pem = key.to_private_pem();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
}

std::string encode(EVP_PKEY* pkey, int selection, const char* type, const char* structure) {
  std::unique_ptr<OSSL_ENCODER_CTX, decltype(&OSSL_ENCODER_CTX_free)> ctx(
      OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, type, structure, nullptr),
      OSSL_ENCODER_CTX_free);
  unsigned char* data = nullptr;
  std::size_t len = 0;
  if (!ctx || OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) return {};
  std::string out(reinterpret_cast<char*>(data), len);
  OPENSSL_free(data);
  return out;
}

std::string self_signed_der(EVP_PKEY* pkey) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), pkey);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  const int id = EVP_PKEY_get_base_id(pkey);
  const EVP_MD* md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), pkey, md) <= 0) return {};
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string base64_pem(const std::string& label, const std::string& der) {
  BioPtr b64(BIO_new(BIO_f_base64()), BIO_free);
  BIO* mem = BIO_new(BIO_s_mem());
  BIO_push(b64.get(), mem);
  BIO_write(b64.get(), der.data(), static_cast<int>(der.size()));
  (void)BIO_flush(b64.get());
  char* p = nullptr;
  const long n = BIO_get_mem_data(mem, &p);
  std::string body(p, static_cast<std::size_t>(n));
  BIO_free_all(BIO_pop(b64.get()));
  return "-----BEGIN " + label + "-----\n" + body + "-----END " + label + "-----\n";
}

void key_seeds() {
  int n = 0;
  json public_set = json::array();
  for (const auto& key : private_keys()) {
    const std::string id = key.kid();
    put("jwk", id + "-private", key.to_private_jwk().dump());
    if (key.is_symmetric()) continue;
    put("jwk", id + "-public", key.to_public_jwk().dump());
    public_set.push_back(key.to_public_jwk());
    put("pem_der", id + "-spki.pem", key.to_public_pem());
    put("pem_der", id + "-pkcs8.pem", key.to_private_pem());
    PkeyPtr pkey = pkey_of(key);
    if (!pkey) continue;
    put("pem_der", id + "-spki.der", encode(pkey.get(), EVP_PKEY_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo"));
    put("pem_der", id + "-pkcs8.der", encode(pkey.get(), EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo"));
    if (key.type() != tokenpass::KeyType::OKP) {
      put("pem_der", id + "-traditional.pem", encode(pkey.get(), EVP_PKEY_KEYPAIR, "PEM", "type-specific"));
      put("pem_der", id + "-traditional.der", encode(pkey.get(), EVP_PKEY_KEYPAIR, "DER", "type-specific"));
    }
    if (key.type() == tokenpass::KeyType::RSA) {
      put("pem_der", id + "-pkcs1-public.pem", encode(pkey.get(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific"));
    }
    if (n++ % 2 == 0 || key.type() == tokenpass::KeyType::OKP) {
      const std::string der = self_signed_der(pkey.get());
      if (!der.empty()) {
        put("pem_der", id + "-cert.der", der);
        put("pem_der", id + "-cert.pem", base64_pem("CERTIFICATE", der));
      }
    }
  }
  put("pem_der", "encrypted.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n");
  put("pem_der", "bad-base64.pem", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n");
  put("pem_der", "ec-params-first.pem",
      "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
          private_key("fz-es256").to_private_pem());

  // Near-valid JWKs.
  json es = private_key("fz-es256").to_public_jwk();
  json rsa = private_key("fz-rs256").to_private_jwk();
  const std::vector<std::pair<std::string, json>> jwks = {
      {"ec-wrong-crv", [&] { json j = es; j["crv"] = "P-384"; return j; }()},
      {"ec-short-x", [&] { json j = es; j["x"] = "AAAA"; return j; }()},
      {"ec-okp-crv", [&] { json j = es; j["crv"] = "Ed25519"; return j; }()},
      {"rsa-no-crt", [&] { json j = rsa; for (auto m : {"p", "q", "dp", "dq", "qi"}) j.erase(m); return j; }()},
      {"rsa-some-crt", [&] { json j = rsa; j.erase("qi"); return j; }()},
      {"rsa-oth", [&] { json j = rsa; j["oth"] = json::array(); return j; }()},
      {"rsa-e-1", [&] { json j = rsa; j["e"] = "AQ"; return j; }()},
      {"oct-short", json{{"kty", "oct"}, {"k", "c2hvcnQ"}}},
      {"key-ops-dup", [&] { json j = es; j["key_ops"] = {"verify", "verify"}; return j; }()},
      {"use-enc", [&] { json j = es; j["use"] = "enc"; return j; }()},
      {"alg-mismatch", [&] { json j = es; j["alg"] = "RS256"; return j; }()},
      {"unknown-kty", json{{"kty", "XYZ"}, {"x", "AAAA"}}},
  };
  for (const auto& [name, j] : jwks) put("jwk", name, j.dump());
  put("jwk", "not-json", "{\"kty\":");

  // JWK sets, as a JWKS endpoint would answer.
  put("jwks_response", "public-set", json{{"keys", public_set}}.dump());
  put("jwk", "public-set", json{{"keys", public_set}}.dump());
  json mixed = public_set;
  for (const auto& [name, j] : jwks) mixed.push_back(j);
  mixed.push_back(json("not an object"));
  put("jwks_response", "mixed-set", json{{"keys", mixed}}.dump(2));
  put("jwks_response", "empty-set", R"({"keys":[]})");
  put("jwks_response", "no-keys", R"({"kty":"EC"})");
  put("jwks_response", "keys-not-array", R"({"keys":{}})");
  put("jwks_response", "same-kid", json{{"keys", {es, es}}}.dump());
  put("jwks_response", "dup-member", R"({"keys":[],"keys":[]})");
}

// ---- discovery and HTTP helpers ------------------------------------------------

void http_seeds() {
  const auto meta = [](const std::string& issuer, const std::string& jwks_uri) {
    return json{{"issuer", issuer},
                {"jwks_uri", jwks_uri},
                {"authorization_endpoint", issuer + "/authorize"},
                {"token_endpoint", issuer + "/token"},
                {"response_types_supported", {"code"}},
                {"id_token_signing_alg_values_supported", {"RS256", "ES256"}}}
        .dump();
  };
  const std::string flag_plain(1, '\0');
  const std::string flag_http(1, '\x01');
  const std::string flag_8414(1, '\x02');
  const std::string flag_path(1, '\x04');
  put("discovery", "good", flag_plain + meta(kIssuer, std::string(kIssuer) + "/jwks.json"));
  put("discovery", "good-8414", flag_8414 + meta(kIssuer, std::string(kIssuer) + "/jwks.json"));
  put("discovery", "good-path", flag_path + meta(std::string(kIssuer) + "/tenant/a", "https://keys.example/a"));
  put("discovery", "http-uri-allowed", flag_http + meta(kIssuer, "http://127.0.0.1:8080/jwks"));
  put("discovery", "http-uri-refused", flag_plain + meta(kIssuer, "http://127.0.0.1:8080/jwks"));
  put("discovery", "other-issuer", flag_plain + meta(kOtherIssuer, "https://keys.example/"));
  put("discovery", "issuer-slash", flag_plain + meta(std::string(kIssuer) + "/", "https://keys.example/"));
  put("discovery", "no-jwks-uri", flag_plain + R"({"issuer":"https://issuer.example"})");
  put("discovery", "uri-not-string", flag_plain + R"({"issuer":"https://issuer.example","jwks_uri":1})");
  put("discovery", "bad-uri", flag_plain + R"({"issuer":"https://issuer.example","jwks_uri":"https://u@h:99999/#x"})");
  put("discovery", "not-object", flag_plain + "[]");

  const std::vector<std::string> texts = {
      "max-age=300", "public, max-age=600, must-revalidate", "no-cache", "no-store, max-age=5",
      "max-age=\"60\"", "max-age=99999999999", "max-age=", "s-maxage=10, max-age=20",
      "https://issuer.example/.well-known/jwks.json", "http://[::1]:8080/jwks?x=1",
      "https://h:0/", "https://user@h/", "HTTPS://H?q", "https://h/#frag", "ftp://h/",
      "Cache-Control: max-age=30", "ETag: \"abc\"",
  };
  int i = 0;
  for (const auto& t : texts) put("http_parsers", "seed-" + std::to_string(i++), t);
}

// ---- token endpoint responses ----------------------------------------------------
// Flag byte: bits 0-1 status (200, 400, 401, 503), bit 2 token exchange, bit 3
// client_secret_post + resource, bit 4 the client does not enforce the size limit.

void token_endpoint_seeds() {
  const std::string access = sign(private_key("fz-hs256"), good_claims());
  const auto ok = [&](const json& extra) {
    json body = {{"access_token", access}, {"token_type", "Bearer"}, {"expires_in", 300}};
    body.update(extra);
    return body.dump();
  };
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"ok", ok(json::object())},
      {"ok-scope", ok({{"scope", "orders:read"}})},
      {"ok-exchange", ok({{"token_type", "N_A"},
                          {"issued_token_type", "urn:ietf:params:oauth:token-type:access_token"}})},
      {"no-expires-in", R"({"access_token":"abc","token_type":"Bearer"})"},
      {"expires-in-string", R"({"access_token":"abc","token_type":"Bearer","expires_in":"300"})"},
      {"expires-in-negative", R"({"access_token":"abc","token_type":"Bearer","expires_in":-1})"},
      {"expires-in-fraction", R"({"access_token":"abc","token_type":"Bearer","expires_in":0.5})"},
      {"expires-in-huge", R"({"access_token":"abc","token_type":"Bearer","expires_in":1e300})"},
      {"empty-token", R"({"access_token":"","token_type":"Bearer"})"},
      {"no-type", R"({"access_token":"abc"})"},
      {"error", R"({"error":"invalid_client","error_description":"bad \u0000 secret"})"},
      {"error-not-string", R"({"error":7,"error_description":["x"]})"},
      {"not-object", "[1,2]"},
      {"form", "access_token=abc&token_type=Bearer&expires_in=300&x=%41%zz+"},
      {"empty", ""},
  };
  for (const auto& [name, body] : bodies) {
    for (char flags : {'\x00', '\x01', '\x04', '\x08', '\x13'}) {
      put("token_endpoint", name + "-" + std::to_string(static_cast<int>(flags)), std::string(1, flags) + body);
    }
  }
  put("token_endpoint", "over-limit", std::string(1, '\x10') + ok({{"pad", std::string(4096, 'x')}}));
}

// ---- token endpoint requests -------------------------------------------------------
// Flag byte: bits 0-1 method (POST, POST, GET, PUT), bits 2-3 content type (form, form
// with charset, text/plain, none), bit 4 a second Authorization header; then the
// Authorization value and a NUL (or no NUL: no header), then the form.

void token_request_seeds() {
  const std::string basic = "Basic c3ZjOnMzY3JldA==";  // svc:s3cret
  const std::string cc = "grant_type=client_credentials";
  json subject = good_claims();
  subject["client_id"] = "web";
  subject["jti"] = "j1";
  const std::string user = sign(private_key("fz-es256"), subject, json::object(), std::string("at+jwt"));
  json assertion = {{"iss", "jwt-client"}, {"sub", "jwt-client"}, {"aud", std::string(kIssuer) + "/token"},
                    {"exp", kNow + 60}, {"jti", "a1"}};
  const std::string jwt = sign(private_key("fz-es256"), assertion);
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"cc-basic", basic + '\0' + cc},
      {"cc-basic-lower", "basic c3ZjOnMzY3JldA==" + std::string(1, '\0') + cc},
      {"cc-post", cc + "&client_id=svc&client_secret=s3cret"},
      {"cc-scope-aud", basic + '\0' + cc + "&scope=a&audience=orders-api"},
      {"cc-resource", basic + '\0' + cc + "&resource=https%3A%2F%2Fapi.example%2F"},
      {"cc-two-audiences", basic + '\0' + cc + "&audience=orders-api&audience=https%3A%2F%2Fapi.example%2F"},
      {"cc-repeated", basic + '\0' + cc + "&grant_type=client_credentials"},
      {"cc-two-methods", basic + '\0' + cc + "&client_secret=s3cret"},
      {"no-grant", basic + '\0' + "scope=a"},
      {"bad-scope", basic + '\0' + cc + "&scope=a%22b"},
      {"exchange", basic + '\0' + "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                                   "&subject_token=" + user +
                                   "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"},
      {"jwt", cc + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
                   "&client_assertion=" + jwt},
      {"garbage", "%zz&&==&\xff"},
  };
  for (const auto& [name, text] : requests) {
    for (char flags : {'\x00', '\x04', '\x02', '\x08', '\x10'}) {
      put("token_request", name + "-" + std::to_string(static_cast<int>(flags)), std::string(1, flags) + text);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUTDIR\n");
    return 2;
  }
  g_out = argv[1];
  ::mkdir(g_out.c_str(), 0755);
  for (const auto& [name, token] : tokens()) {
    put("token_decode", name, token);
    for (char mode = 0; mode < 4; ++mode) put("verify", name + "-v" + std::to_string(mode), std::string(1, mode) + token);
  }
  for (const auto& [name, hp] : header_payloads()) {
    for (char mode = 4; mode < 8; ++mode) put("verify", "hp-" + name + "-v" + std::to_string(mode - 4), std::string(1, mode) + hp);
  }
  key_seeds();
  http_seeds();
  token_endpoint_seeds();
  token_request_seeds();
  return 0;
}

// Sign and verify cost per algorithm for a typical ~400-byte access token, each beside
// raw OpenSSL doing the same signature operation on the same bytes with a pre-parsed
// key and a context prepared once (the floor), measured in the same run. The table at
// the end prints floor / tokenpass: 1.0 means tokenpass adds nothing.
//   build/bench/bench/tokenpass_bench [--benchmark_filter=RS256] [--benchmark_min_time=0.2]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "tokenpass/tokenpass.h"

namespace {

using tokenpass::Alg;

const std::vector<Alg> kAlgs = {Alg::HS256, Alg::HS512, Alg::RS256, Alg::PS256, Alg::ES256,
                                Alg::ES384, Alg::ES256K, Alg::EdDSA};

std::string claims_json() {
  return R"({"iss":"https://auth.example.com","sub":"user-4711","aud":"orders-api",)"
         R"("exp":4102444800,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
         R"("client_id":"web-frontend","scope":"orders:read orders:write"})";
}

struct Fixture {
  tokenpass::Key key;
  tokenpass::Key verify_key;
  std::string token;
  std::string signing_input;
  std::string signature;  // raw JWS signature bytes
  std::unique_ptr<tokenpass::Verifier> verifier;
  EVP_PKEY* pkey = nullptr;  // the same key, parsed by OpenSSL, for the floor
  std::string secret;
};

std::string unb64(const std::string& s) {
  std::string b = s;
  for (char& c : b) c = c == '-' ? '+' : c == '_' ? '/' : c;
  const std::size_t pad = (4 - b.size() % 4) % 4;
  b.append(pad, '=');
  std::string out(b.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b.data()),
                                static_cast<int>(b.size()));
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

Fixture& fixture(Alg alg) {
  static std::map<Alg, Fixture> cache;
  auto it = cache.find(alg);
  if (it != cache.end()) return it->second;
  Fixture f{tokenpass::Key::generate(alg), tokenpass::Key::generate(alg), {}, {}, {}, {}, nullptr, {}};
  f.verify_key = f.key.is_symmetric() ? f.key : f.key.public_key().value();
  f.token = tokenpass::sign_jws(f.key, claims_json()).value();
  f.signing_input = f.token.substr(0, f.token.rfind('.'));
  f.signature = unb64(f.token.substr(f.token.rfind('.') + 1));
  tokenpass::Policy p;
  p.issuers = {"https://auth.example.com"};
  p.audiences = {"orders-api"};
  p.required_scopes = {"orders:read"};
  f.verifier = std::make_unique<tokenpass::Verifier>(tokenpass::KeySet({f.verify_key}), p);
  if (f.key.is_symmetric()) {
    f.secret = unb64(f.key.to_private_jwk()["k"].get<std::string>());
  } else {
    const std::string pem = f.key.to_private_pem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    f.pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  return cache.emplace(alg, std::move(f)).first->second;
}

const char* digest_name(Alg a) {
  switch (a) {
    case Alg::HS384: case Alg::RS384: case Alg::PS384: case Alg::ES384: return "SHA384";
    case Alg::HS512: case Alg::RS512: case Alg::PS512: case Alg::ES512: return "SHA512";
    case Alg::EdDSA: case Alg::Ed25519: case Alg::Ed448: return nullptr;
    default: return "SHA256";
  }
}
bool is_hmac(Alg a) { return a == Alg::HS256 || a == Alg::HS384 || a == Alg::HS512; }
bool is_ec(Alg a) { return a == Alg::ES256 || a == Alg::ES384 || a == Alg::ES512 || a == Alg::ES256K; }

// The floor: one context initialised once with the key (and padding), copied per call.
struct RawCtx {
  EVP_MD_CTX* prepared = nullptr;
  EVP_MAC_CTX* mac = nullptr;
  EVP_MD* md = nullptr;
  std::string der_sig;  // ECDSA: OpenSSL wants DER
};

RawCtx prepare(Fixture& f, Alg alg, bool sign) {
  RawCtx r;
  const char* dn = digest_name(alg);
  if (dn != nullptr) r.md = EVP_MD_fetch(nullptr, dn, nullptr);
  if (is_hmac(alg)) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    r.mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(dn), 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC_init(r.mac, reinterpret_cast<const unsigned char*>(f.secret.data()), f.secret.size(), params);
    return r;
  }
  r.prepared = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  if (sign) {
    EVP_DigestSignInit(r.prepared, &pctx, r.md, nullptr, f.pkey);
  } else {
    EVP_DigestVerifyInit(r.prepared, &pctx, r.md, nullptr, f.pkey);
  }
  if (alg == Alg::PS256 || alg == Alg::PS384 || alg == Alg::PS512) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, r.md);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  if (is_ec(alg)) {
    const std::size_t w = f.signature.size() / 2;
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(reinterpret_cast<const unsigned char*>(f.signature.data()), static_cast<int>(w), nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(f.signature.data()) + w, static_cast<int>(w), nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    r.der_sig.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
  }
  return r;
}

bool raw_once(Fixture& f, Alg alg, RawCtx& r, bool sign) {
  const auto* in = reinterpret_cast<const unsigned char*>(f.signing_input.data());
  const std::size_t n = f.signing_input.size();
  if (r.mac != nullptr) {
    EVP_MAC_CTX* c = EVP_MAC_CTX_dup(r.mac);
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    EVP_MAC_update(c, in, n);
    EVP_MAC_final(c, out, &len, sizeof out);
    EVP_MAC_CTX_free(c);
    return sign || CRYPTO_memcmp(out, f.signature.data(), len) == 0;
  }
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  bool ok = false;
  if (alg == Alg::EdDSA) {
    // EdDSA contexts cannot be copied after init in OpenSSL 3.0; init per call.
    if (sign) {
      EVP_DigestSignInit(c, nullptr, nullptr, nullptr, f.pkey);
    } else {
      EVP_DigestVerifyInit(c, nullptr, nullptr, nullptr, f.pkey);
    }
  } else {
    EVP_MD_CTX_copy_ex(c, r.prepared);
  }
  if (sign) {
    unsigned char sig[1024];
    std::size_t len = sizeof sig;
    ok = EVP_DigestSign(c, sig, &len, in, n) == 1;
  } else {
    const std::string& sig = is_ec(alg) ? r.der_sig : f.signature;
    ok = EVP_DigestVerify(c, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(), in, n) == 1;
  }
  EVP_MD_CTX_free(c);
  return ok;
}

void BM_openssl(benchmark::State& st, Alg alg, bool sign) {
  Fixture& f = fixture(alg);
  RawCtx r = prepare(f, alg, sign);
  for (auto _ : st) {
    if (!raw_once(f, alg, r, sign)) st.SkipWithError("raw OpenSSL operation failed");
  }
}

void BM_sign(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  const std::string payload = claims_json();
  for (auto _ : st) {
    auto t = tokenpass::sign_jws(f.key, payload);
    benchmark::DoNotOptimize(t);
  }
}

void BM_verify_jws(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) {
    auto r = tokenpass::verify_jws(f.token, f.verify_key);
    if (!r) st.SkipWithError("verify failed");
    benchmark::DoNotOptimize(r);
  }
}

void BM_verify_full(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) {
    auto r = f.verifier->verify(f.token);
    if (!r) st.SkipWithError("verify failed");
    benchmark::DoNotOptimize(r);
  }
}

void BM_reject_oversize(benchmark::State& st) {
  const std::string huge(10 * 1024 * 1024, 'a');
  Fixture& f = fixture(Alg::HS256);
  for (auto _ : st) {
    auto r = f.verifier->verify(huge);
    benchmark::DoNotOptimize(r);
  }
}

class Capture : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Iteration && !r.error_occurred) {
        ns[r.benchmark_name()] = r.GetAdjustedCPUTime() *
                                 (r.time_unit == benchmark::kNanosecond ? 1.0
                                  : r.time_unit == benchmark::kMicrosecond ? 1e3 : 1e6);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  for (const Alg alg : kAlgs) {
    const std::string a(tokenpass::to_string(alg));
    benchmark::RegisterBenchmark(("openssl_sign/" + a).c_str(), BM_openssl, alg, true);
    benchmark::RegisterBenchmark(("tokenpass_sign/" + a).c_str(), BM_sign, alg);
    benchmark::RegisterBenchmark(("openssl_verify/" + a).c_str(), BM_openssl, alg, false);
    benchmark::RegisterBenchmark(("tokenpass_verify_jws/" + a).c_str(), BM_verify_jws, alg);
    benchmark::RegisterBenchmark(("tokenpass_verify_full/" + a).c_str(), BM_verify_full, alg);
  }
  benchmark::RegisterBenchmark("tokenpass_reject_10MB_token", BM_reject_oversize);
  benchmark::Initialize(&argc, argv);
  Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture);

  std::printf("\ntokens: %zu bytes (HS256) to %zu bytes (RS256). ratio = raw OpenSSL floor / tokenpass (1.00 = no overhead)\n",
              fixture(Alg::HS256).token.size(), fixture(Alg::RS256).token.size());
  std::printf("%-8s %12s %12s %7s | %12s %12s %7s %12s %7s\n", "alg", "sign ns", "floor ns",
              "ratio", "verify ns", "floor ns", "ratio", "full ns", "ratio");
  for (const Alg alg : kAlgs) {
    const std::string a(tokenpass::to_string(alg));
    const auto get = [&](const std::string& n) {
      const auto it = capture.ns.find(n + "/" + a);
      return it == capture.ns.end() ? 0.0 : it->second;
    };
    const double s = get("tokenpass_sign"), sf = get("openssl_sign");
    const double v = get("tokenpass_verify_jws"), vf = get("openssl_verify");
    const double full = get("tokenpass_verify_full");
    if (s == 0 && v == 0) continue;
    std::printf("%-8s %12.0f %12.0f %7.2f | %12.0f %12.0f %7.2f %12.0f %7.2f\n", a.c_str(), s, sf,
                s > 0 ? sf / s : 0, v, vf, v > 0 ? vf / v : 0, full, full > 0 ? vf / full : 0);
  }
  return 0;
}

// Instruction counts, for a comparison that machine noise does not move: verifies (or
// signs) N tokens, or does the same N raw OpenSSL floor operations (bench/floor.h), in
// separate runs. Only the measured loop, `tokenpass_measured`, is counted:
//   valgrind --tool=callgrind --toggle-collect=tokenpass_measured
//       build/bench/bench/tokenpass_instructions verify RS256 1000
// scripts/instructions.sh runs every pair and prints the ratios. Keys (and the tokens
// whose signatures are randomised: ECDSA, PSS) are fixed, so that counts repeat
// exactly from run to run.
//   tokenpass_instructions MODE ALG [N]
//     MODE: floor-verify, verify, verify-observed (verify with Policy::observer set to
//           a PrometheusMetrics), verify-cached, verify-jws, floor-sign, sign,
//           floor-issue, issue (Issuer::issue of an access token's claims; floor:
//           IssueFloor; the jti is random, its length fixed), floor-issue-norand
//           (IssueFloor with a fixed jti: no RAND_bytes),
//           print-token (prints a fresh token for the constants below)
//     ALG:  HS256, RS256, PS256, ES256, EdDSA
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "floor.h"
#include "tokenpass/tokenpass.h"

namespace {

using tokenpass::Alg;

constexpr const char* kRsaPem = R"PEM(-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC9bSBr4NeLWwiN
ksUGRpIWfn46BAPVRI0maB/FMhhAKbqpniyNUlCoHiqBTG+rVYVWuxVYP932UacV
3LC3FZ2SfzOma05LgMe5Eg/vkDSjqsc2FoeopjNWW3N5W+s0U7Vs9G7toayxZs3P
MiyzQp5fuNygroPXAJXiMs8ABPiVYXBtY7AAAQot3F4qycyfVKS9moehlopy9ZKh
pqDTDa9QHE74E1nq54T58W7Zp2/VEExe6jxCruxgk2Vprztuhd3Hniip/q1uTD8w
aH4TxUUjaG39clpFwK0Jl3p/Udue9oyeFFMBxdbcY+afcvHP495bDdt3AyL1b7fh
gHy5j2zXAgMBAAECggEAAXxTnsT6q8sg/AtEpFH1X1vKnaXeadPJz51Ncnx8GDS7
lAz7iHg2zbq+1pjE33EiRJXfCvwlP4NQbil28VioDbgVrZ511L3D0z3DBjv5TbdP
LKtskPQMvwaklzUTWSu25o3cONzlv9Zwkslv9E/3cgS/Jjt4KT2F72o6mWNwl6tS
g6apyc2rYJoKC3SULUcivLQLpInELJq9q9nhV2JeXIQujMxgGyIRSqPGxIJZ3KJQ
wVVksO5C9EpNgryYmikJtLn0drLJAvy4UdyXxy8UWs8hS3v5ZO6j2qF0fEsbW/G0
J9DKixZG0HnAy4OF3L17pUuXrGp7fJ22opj5ww52wQKBgQDjh5gWKIkvBqxZmKSB
AOLTvEo844DV7ddpO5YuFt96GkKbyrIFd0yumEBCkqwF6xmMQiqseVlLt3XtNtef
jJvFaR1cVPPRjcXQjuE8DoKsnXo1BlDmnj19E+YoVEWSeEWhpwBg5W+g2t5NjkOo
uUmFHflrA5SNIl7pY3ca6npHkQKBgQDVIPmzghKpNmt2YQaZYwU7q0IskY3hKQUf
JItfLeGiV3KR0Ub7C+xOjvsuIJKjMpdtnC0fEJRwkpMcCfLVR7JhM9bd79A7neti
Y1CmvRz5M4KXSiv4rnfWrFMhe++SVviWiQjPTrrd+UU20UaBvEh5uPoO0/oWxYS6
ak7uPojJ5wKBgGLvZelUrPoey7iV0AosKXVqLVm2jyH2rrEacN4PohME8iuuAqSv
0E8m8uI/xr84ED7V0pp2laZ/2q5QJ4g/6sf3QgYRBof7PqXGSxgDMzz9qNL/sRPm
gNQvX+fvZOUgmR6GcHqxqU1nfjx4/OCT2O0iMH8g6mpIJL8VOgghJxSRAoGAWjYm
+1BnTbB3NBhFjs9W+7a1v9+sSk3umQwC4jqtcuXI3OfUP5cAYxAqSZAIAYP8jKy6
fJer/SpNkmSzoItEedhTboV/gnyJkY+wJ6OMi/69nAQNMKnIl9lBJr8q3Kprdmxy
ii0s85/7KATU7z0fAEbHsVcQWGsqjy1IU5eslqkCgYBKfdZTuFG2BVFL1URSMX6+
fNDiNEn2AEuyJjlG1Pi90SiBLnjDeatQbPFli91we01LTc4Xh5sTHQiuWzRCPBF8
0VbE0szUA8wTfiIrU3LDSKSVUiFGu1NLoL9JDkSeo26FQP90X6+PbrFJPFTH5iUF
Faf4xeKvEKnv68FbWm4YcA==
-----END PRIVATE KEY-----
)PEM";
constexpr const char* kEcPem = R"PEM(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwFkY5yq38MBpDXDL
S/Y6Q18dQR6PGffb7CM3fAuibE+hRANCAASo543LesamLOPqehmhICCMqLSSyMai
ftmGNVmktr05msLX3Q8UDP7/AxUU8UgXUeG4DA0gngE9/HQrGwOFinjx
-----END PRIVATE KEY-----
)PEM";
constexpr const char* kEdPem = R"PEM(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILBmqghNOcQDepr6A1TaHejazZpBUTL7OVIyLFi28Nlj
-----END PRIVATE KEY-----
)PEM";
constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes, HS256

// ECDSA and PSS signatures are randomised; these were made once with the keys above
// (print-token), so that every run verifies the same bytes.
constexpr const char* kEs256Token =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtleS0xIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhh"
    "bXBsZS5jb20iLCJzdWIiOiJ1c2VyLTQ3MTEiLCJhdWQiOiJvcmRlcnMtYXBpIiwiZXhwIjo0MTAyNDQ0ODAwLCJp"
    "YXQiOjE3MDAwMDAwMDAsImp0aSI6IjViMWYwYTZlLTNjMmQtNGU4Zi05YTdiLTZjNWQ0ZTNmMmExYiIsImNsaWVu"
    "dF9pZCI6IndlYi1mcm9udGVuZCIsInNjb3BlIjoib3JkZXJzOnJlYWQgb3JkZXJzOndyaXRlIn0.G3EYDXNXEoSR"
    "dJnbAz4GzfGbUXADWlG6NGYPMOvCa7bIy2LXqDa0m7xLk0WWuJvPj8kT6WFq9vdHrahX1l0cqA";
constexpr const char* kPs256Token =
    "eyJhbGciOiJQUzI1NiIsImtpZCI6ImtleS0xIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhh"
    "bXBsZS5jb20iLCJzdWIiOiJ1c2VyLTQ3MTEiLCJhdWQiOiJvcmRlcnMtYXBpIiwiZXhwIjo0MTAyNDQ0ODAwLCJp"
    "YXQiOjE3MDAwMDAwMDAsImp0aSI6IjViMWYwYTZlLTNjMmQtNGU4Zi05YTdiLTZjNWQ0ZTNmMmExYiIsImNsaWVu"
    "dF9pZCI6IndlYi1mcm9udGVuZCIsInNjb3BlIjoib3JkZXJzOnJlYWQgb3JkZXJzOndyaXRlIn0.iISqb3alA4kX"
    "1ikSi2cWZmZID6VUgANDe_2w_q3Daqz9Osk-Tcf7sURfmLJaktnFKC6k4akwQaF9XSI8vCMpoWs_ol0RACDaE-ma"
    "7qRNegcIPx9URWGz10yX8AUBRM35VlhbJCNt3QmoOoWBHmHUBy5BUJjTaHc-HACc5ygsg46LA5WLr9q2XzJKMZ3s"
    "aV-0eHoh1GLAGqxTS3ilcqRf7u3ynJoFhYlwWOEDXdJNKpwficcCfTb7zJxD6CODVly6186CHOgcPrNfbPO6y-sI"
    "ShUHkSmMGaL5JyqRcPkQ5h13W4XFwaxtvAZfg_BUniSoHu4gRBWT8-4c8SNh-ty4TQ";

std::string claims_json() {
  return R"({"iss":"https://auth.example.com","sub":"user-4711","aud":"orders-api",)"
         R"("exp":4102444800,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
         R"("client_id":"web-frontend","scope":"orders:read orders:write"})";
}

struct Setup {
  Alg alg;
  std::string pem;  // private key PEM; empty for HMAC
  tokenpass::Key key;
  tokenpass::Key verify_key;
  std::string token;
};

Setup setup(Alg alg) {
  const char* pem = nullptr;
  const char* fixed = "";
  switch (alg) {
    case Alg::HS256: break;
    case Alg::RS256: pem = kRsaPem; break;
    case Alg::PS256: pem = kRsaPem; fixed = kPs256Token; break;
    case Alg::ES256: pem = kEcPem; fixed = kEs256Token; break;
    case Alg::EdDSA: pem = kEdPem; break;
    default: throw std::invalid_argument("unsupported algorithm");
  }
  tokenpass::Key key = pem == nullptr
                           ? tokenpass::Key::from_secret(kSecret, alg, "hs-1").value()
                           : tokenpass::Key::from_pem(pem).value().with_kid("key-1");
  key = key.with_alg(alg).value();
  Setup s{alg, pem == nullptr ? "" : pem, key, key.is_symmetric() ? key : key.public_key().value(),
          fixed};
  if (s.token.empty()) s.token = tokenpass::sign_jws(key, claims_json()).value();
  return s;
}

tokenpass::Policy policy() {
  tokenpass::Policy p;
  p.issuers = {"https://auth.example.com"};
  p.audiences = {"orders-api"};
  p.required_scopes = {"orders:read"};
  return p;
}

}  // namespace

// The only function whose instructions are counted (--toggle-collect).
extern "C" __attribute__((noinline)) void tokenpass_measured(bool (*op)(void*), void* arg,
                                                             long n) {
  long failures = 0;
  for (long i = 0; i < n; ++i) failures += op(arg) ? 0 : 1;
  if (failures != 0) {
    std::fprintf(stderr, "%ld operations failed\n", failures);
    std::exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODE ALG [N]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const auto alg = tokenpass::alg_from_string(argv[2]);
  const long n = argc > 3 ? std::atol(argv[3]) : 1000;
  if (!alg) {
    std::fprintf(stderr, "unknown algorithm %s\n", argv[2]);
    return 2;
  }
  Setup s = setup(*alg);
  if (mode == "print-token") {
    std::printf("%s\n", tokenpass::sign_jws(s.key, claims_json()).value().c_str());
    return 0;
  }
  const std::string signing_input = s.token.substr(0, s.token.rfind('.'));
  const std::string signature =
      tokenpass_bench::b64url_decode(s.token.substr(s.token.rfind('.') + 1));
  EVP_PKEY* pkey = s.pem.empty() ? nullptr : tokenpass_bench::pkey_from_pem(s.pem, true);
  EVP_PKEY* pub = nullptr;
  if (pkey != nullptr) {
    pub = tokenpass_bench::pkey_from_pem(s.verify_key.to_public_pem(), false);
  }

  bool (*op)(void*) = nullptr;
  void* arg = nullptr;
  std::unique_ptr<tokenpass_bench::Floor> floor;
  std::unique_ptr<tokenpass_bench::IssueFloor> issue_floor;
  std::unique_ptr<tokenpass::Issuer> issuer;
  tokenpass::ClaimsBuilder claims;
  std::unique_ptr<tokenpass::Verifier> verifier;
  const std::string payload = claims_json();
  struct SignArg {
    const tokenpass::Key* key;
    const std::string* payload;
  } sign_arg{&s.key, &payload};
  struct VerifyArg {
    const tokenpass::Verifier* verifier;
    const std::string* token;
    const tokenpass::Key* key;
  } verify_arg{nullptr, &s.token, &s.verify_key};
  struct IssueArg {
    const tokenpass::Issuer* issuer;
    const tokenpass::ClaimsBuilder* claims;
  } issue_arg{nullptr, &claims};

  if (mode == "floor-verify" || mode == "floor-sign") {
    const bool sign = mode == "floor-sign";
    floor = std::make_unique<tokenpass_bench::Floor>(*alg, sign ? pkey : pub,
                                                     std::string(kSecret), sign, signing_input,
                                                     signature);
    op = [](void* a) { return static_cast<tokenpass_bench::Floor*>(a)->once(); };
    arg = floor.get();
  } else if (mode == "floor-issue" || mode == "floor-issue-norand") {
    floor = std::make_unique<tokenpass_bench::Floor>(*alg, pkey, std::string(kSecret), true,
                                                     signing_input, signature);
    const std::string header = R"({"alg":")" + std::string(tokenpass::to_string(*alg)) +
                               R"(","kid":")" + s.key.kid() + R"(","typ":"at+jwt"})";
    issue_floor = std::make_unique<tokenpass_bench::IssueFloor>(
        *floor, *alg, header,
        tokenpass_bench::IssueFloor::Claims{"orders-api", "web-frontend",
                                            "orders:read orders:write", "user-4711",
                                            "https://auth.example.com", 300},
        /*random_jti=*/mode == "floor-issue");
    op = [](void* a) { return !static_cast<tokenpass_bench::IssueFloor*>(a)->once().empty(); };
    arg = issue_floor.get();
  } else if (mode == "issue") {
    tokenpass::IssuerOptions io;
    io.typ = "at+jwt";
    issuer = std::make_unique<tokenpass::Issuer>(s.key, "https://auth.example.com",
                                                 std::chrono::minutes(5), io);
    claims.subject("user-4711")
        .audience("orders-api")
        .client_id("web-frontend")
        .scopes({"orders:read", "orders:write"});
    issue_arg.issuer = issuer.get();
    op = [](void* a) {
      auto* v = static_cast<IssueArg*>(a);
      return static_cast<bool>(v->issuer->issue(*v->claims));
    };
    arg = &issue_arg;
  } else if (mode == "verify" || mode == "verify-cached" || mode == "verify-observed") {
    tokenpass::Policy p = policy();
    if (mode == "verify-cached") {
      p.cache.max_entries = 1000;
    }
    if (mode == "verify-observed") p.observer = std::make_shared<tokenpass::PrometheusMetrics>();
    verifier = std::make_unique<tokenpass::Verifier>(tokenpass::KeySet({s.verify_key}), p);
    verify_arg.verifier = verifier.get();
    op = [](void* a) {
      auto* v = static_cast<VerifyArg*>(a);
      return static_cast<bool>(v->verifier->verify(*v->token));
    };
    arg = &verify_arg;
  } else if (mode == "verify-jws") {
    op = [](void* a) {
      auto* v = static_cast<VerifyArg*>(a);
      return static_cast<bool>(tokenpass::verify_jws(*v->token, *v->key));
    };
    arg = &verify_arg;
  } else if (mode == "sign") {
    op = [](void* a) {
      auto* v = static_cast<SignArg*>(a);
      return static_cast<bool>(tokenpass::sign_jws(*v->key, *v->payload));
    };
    arg = &sign_arg;
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  // One call outside the count: lazily prepared contexts, a cache entry.
  if (!op(arg)) {
    std::fprintf(stderr, "%s %s failed\n", mode.c_str(), argv[2]);
    return 1;
  }
  tokenpass_measured(op, arg, n);
  EVP_PKEY_free(pkey);
  EVP_PKEY_free(pub);
  return 0;
}

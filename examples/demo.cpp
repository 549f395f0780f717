// demo: the whole loop in one program. Generate a key, issue a token, verify it, then
// watch a tampered token and an expired token be rejected, each with its error code.
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace {

std::string code(const tokenpass::Error& e) { return std::string(tokenpass::to_string(e.code)); }

std::string shorten(const std::string& token) {
  return token.size() <= 72 ? token : token.substr(0, 40) + "..." + token.substr(token.size() - 28);
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  int failures = 0;

  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::EdDSA);
  std::printf("1. generated an %s key, kid %s\n   public JWK: %s\n",
              std::string(tokenpass::to_string(key.default_alg())).c_str(), key.kid().c_str(),
              key.to_public_jwk().dump().c_str());

  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", 5min, io);
  const std::string token =
      issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"orders:read"})).value();
  std::printf("2. issued a token for user-4711 (5 minutes):\n   %s\n", shorten(token).c_str());

  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  policy.required_scopes = {"orders:read"};
  policy.leeway = 0s;
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), policy);
  if (const auto ok = verifier.verify(token)) {
    std::printf("3. verified: iss=%s sub=%s scope=%s\n", ok->claims().issuer()->c_str(),
                ok->claims().subject()->c_str(), ok->claims().get("scope")->get<std::string>().c_str());
  } else {
    std::printf("3. UNEXPECTED: the fresh token was rejected: %s\n", code(ok.error()).c_str());
    ++failures;
  }

  // Change one character of the payload: the signature no longer matches.
  std::string tampered = token;
  const std::size_t dot = tampered.find('.');
  tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
  if (const auto r = verifier.verify(tampered); !r) {
    std::printf("4. tampered token rejected: error: %s: %s\n", code(r.error()).c_str(),
                r.error().detail.c_str());
  } else {
    std::printf("4. UNEXPECTED: a tampered token was accepted\n");
    ++failures;
  }

  // A token that expired a minute ago.
  const auto now = std::chrono::system_clock::now();
  const std::string old = issuer
                              .issue(tokenpass::ClaimsBuilder()
                                         .subject("user-4711")
                                         .scopes({"orders:read"})
                                         .issued_at(now - 6min)
                                         .expires_at(now - 1min))
                              .value();
  if (const auto r = verifier.verify(old); !r) {
    std::printf("5. expired token rejected:  error: %s: %s\n", code(r.error()).c_str(),
                r.error().detail.c_str());
  } else {
    std::printf("5. UNEXPECTED: an expired token was accepted\n");
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}

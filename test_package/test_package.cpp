// Issues an ES256 token and verifies it, using the installed package only.
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>

int main() {
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions options;
  options.audience = {"test-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5},
                                 options);
  const auto token = issuer.issue(tokenpass::ClaimsBuilder().subject("test-user"));
  if (!token) {
    std::fprintf(stderr, "test_package: issue failed: %s\n", token.error().detail.c_str());
    return 1;
  }

  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"test-api"};
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), policy);
  const auto verified = verifier.verify(*token);
  if (!verified) {
    std::fprintf(stderr, "test_package: verify failed: %s\n", verified.error().detail.c_str());
    return 2;
  }
  if (verified->claims().subject() != "test-user") return 3;
  std::printf("test_package: ok (tokenpass %s)\n", TOKENPASS_VERSION_STRING);
  return 0;
}

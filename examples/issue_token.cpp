// issue_token: what a token service does. Generate (or load) a signing key, publish its
// public JWK set for the services that verify, and issue short-lived access tokens.
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <string>

int main() {
  // In production the key is loaded: tokenpass::Key::from_jwk(read_file("signing.jwk")).
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);

  // The public half, as served from /.well-known/jwks.json.
  const tokenpass::KeySet published({key.public_key().value()});
  std::printf("JWKS: %s\n", published.to_public_jwks().dump().c_str());

  // RFC 9068 access tokens: typ at+jwt, a jti, five minutes of life.
  tokenpass::IssuerOptions options;
  options.audience = {"orders-api"};
  options.typ = "at+jwt";
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5},
                                 options);

  tokenpass::ClaimsBuilder claims;
  claims.subject("user-4711").client_id("web-frontend").scopes({"orders:read", "orders:write"});
  const tokenpass::Result<std::string> token = issuer.issue(claims);
  if (!token) {
    std::fprintf(stderr, "issue failed: %s\n", std::string(tokenpass::to_string(token.error().code)).c_str());
    return 1;
  }
  std::printf("token: %s\n", token->c_str());

  // Check the round trip the way a resource server will.
  const tokenpass::Verifier verifier(
      published, tokenpass::Policy::access_token_profile({"https://auth.example.com"},
                                                         {"orders-api"}));
  const auto verified = verifier.verify(*token);
  if (!verified) {
    std::fprintf(stderr, "verify failed: %s\n",
                 std::string(tokenpass::to_string(verified.error().code)).c_str());
    return 1;
  }
  std::printf("verified: sub=%s kid=%s\n", verified->claims().subject().value_or("").c_str(),
              verified->kid().c_str());
  return 0;
}

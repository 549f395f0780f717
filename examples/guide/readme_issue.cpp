// README "Issue tokens": an Issuer with a key read from a JWK file. The program works in
// a fresh temporary directory, where it first writes signing-key.jwk (a generated
// ES256 key, as a key service would leave it), then issues a token and checks it with
// the key's public half: header, iss, aud, sub, scope, iat, exp and jti.
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("readme_issue." + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  fs::current_path(dir);
  const tokenpass::Key generated = tokenpass::Key::generate(tokenpass::Alg::ES256);
  std::ofstream("signing-key.jwk") << generated.to_private_jwk().dump();

  // [snippet:code]
  tokenpass::Key key = tokenpass::Key::from_jwk(read_file("signing-key.jwk")).value();
  tokenpass::IssuerOptions options;
  options.audience = {"orders-api"};
  options.typ = "at+jwt";                                    // RFC 9068 access tokens
  tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5}, options);
  tokenpass::Result<std::string> jwt =
      issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"orders:read"}));
  // alg and kid come from the key; iat, exp and a 128-bit jti are filled in.
  // [/snippet]

  fs::current_path(fs::temp_directory_path());
  fs::remove_all(dir);

  expect(jwt.has_value(), "the token is issued");
  if (jwt) {
    tokenpass::Policy policy;
    policy.issuers = {"https://auth.example.com"};
    policy.audiences = {"orders-api"};
    policy.typ = "at+jwt";
    policy.required_scopes = {"orders:read"};
    policy.required_claims = {"iat", "jti"};
    const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), policy);
    const auto token = verifier.verify(*jwt);
    expect(token.has_value(), "the token verifies with the key's public half");
    if (token) {
      expect(token->alg() == tokenpass::Alg::ES256 && token->kid() == generated.kid(), "alg and kid are the key's");
      expect(token->claims().subject() == "user-4711", "sub is the one given");
      const auto iat = token->claims().issued_at();
      const auto exp = token->claims().expires_at();
      expect(iat && exp && *exp - *iat == std::chrono::minutes{5}, "exp is iat + 5 minutes");
      expect(token->claims().jwt_id().value_or("").size() == 22, "the jti is 128 bits in base64url");
    }
  }
  if (failures != 0) return 1;
  std::puts("readme_issue: ok");
  return 0;
}

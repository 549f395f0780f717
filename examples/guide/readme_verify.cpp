// README "Verify a token in a request handler": a Verifier built once from a JWK set
// and a policy, and a handler that verifies the bearer token of each request and
// answers a refusal with its status and RFC 6750 challenge. The issuer's key is
// generated here; the program checks an accepted, an under-scoped and a forged token.
// [snippet:include]
#include <tokenpass/tokenpass.h>
// [/snippet]

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  // The issuer's side: its key, its published JWK set, and tokens it issued.
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const std::string jwks_json = tokenpass::KeySet({signing.public_key().value()}).to_public_jwks().dump();
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", std::chrono::minutes{5}, io);
  const std::string good =
      issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"orders:read"})).value();
  const std::string no_scope =
      issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"profile"})).value();
  const tokenpass::Issuer forger(tokenpass::Key::generate(tokenpass::Alg::ES256), "https://auth.example.com",
                                 std::chrono::minutes{5}, io);
  const std::string forged =
      forger.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"orders:read"})).value();

  // [snippet:startup]
  // Once, at start-up: keys and policy. Throws here, once, if the policy is unusable.
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  policy.required_scopes = {"orders:read"};
  const tokenpass::Verifier verifier(tokenpass::KeySet::from_jwks(jwks_json).value(), policy);
  // [/snippet]

  std::string served;  // whom the last accepted request was served for
  const auto serve = [&](const std::string& subject) { served = subject; };

  const auto handle = [&](std::string_view bearer, httplib::Response& res) {
    // [snippet:request]
    // Per request: nothing throws, every outcome is a code.
    auto token = verifier.verify(bearer);  // Result<VerifiedToken>
    if (!token) {
      res.status = tokenpass::http_status(token.error());  // 401, 403, 400, 500 or 503
      if (auto h = tokenpass::www_authenticate(token.error(), "orders", policy.required_scopes))
        res.set_header("WWW-Authenticate", *h);              // RFC 6750 challenge
      return;
    }
    serve(token->claims().subject().value());
    // [/snippet]
  };

  {
    httplib::Response res;
    res.status = 200;
    handle(good, res);
    expect(res.status == 200 && served == "user-4711", "a valid token is served");
  }
  {
    served.clear();
    httplib::Response res;
    handle(no_scope, res);
    expect(res.status == 403 && served.empty(), "a token without orders:read is 403");
    expect(res.get_header_value("WWW-Authenticate") ==
               "Bearer realm=\"orders\", error=\"insufficient_scope\", scope=\"orders:read\"",
           "the 403 names the scope it needs");
  }
  {
    httplib::Response res;
    handle(forged, res);
    expect(res.status == 401 && served.empty(), "a token signed by another key is 401");
    expect(res.get_header_value("WWW-Authenticate").find("error=\"invalid_token\"") != std::string::npos,
           "the 401 says invalid_token");
  }
  if (failures != 0) return 1;
  std::puts("readme_verify: ok");
  return 0;
}

// issue_issuer: issuing tokens with an Issuer, for a service that mints its own (a
// gateway, a login service) (docs/guide/issue-tokens.md). It keeps its signing key in a
// file under /tmp (made on first use), issues RFC 9068 access tokens, publishes the public
// key set, rotates to a new key with the old one still published, and checks each token
// the way a resource server will.
#include <tokenpass/tokenpass.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// [snippet:key-file]
// load_or_make_key: the signing key from `path` (a private JWK), or a new one written
// there, readable by its owner only. The key is the token service's identity: keep it
// across restarts, or every token issued before stops verifying.
tokenpass::Key load_or_make_key(const std::string& path, const std::string& kid) {
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    return tokenpass::Key::from_jwk(text.str()).value();  // throws bad_result_access if unusable
  }
  tokenpass::GenerateOptions options;
  options.kid = kid;  // default: the RFC 7638 thumbprint
  tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256, options);
  std::ofstream out(path, std::ios::trunc);
  ::chmod(path.c_str(), 0600);
  out << key.to_private_jwk().dump() << "\n";  // secrets included: never log it
  if (!out) throw std::runtime_error("cannot write " + path);
  return key;
}
// [/snippet]

}  // namespace

int main() {
  using namespace std::chrono_literals;
  const std::string path = "/tmp/tokenpass_guide_issue_" + std::to_string(::getpid()) + ".jwk";
  std::remove(path.c_str());

  const tokenpass::Key key = load_or_make_key(path, "2024-06");
  check(load_or_make_key(path, "other").thumbprint() == key.thumbprint(),
        "the key file gives the same key back");

  // [snippet:issuer]
  tokenpass::IssuerOptions options;
  options.audience = {"orders-api"};  // `aud` when the claims set none
  options.typ = "at+jwt";             // RFC 9068 access tokens (the default is "JWT")
  options.not_before = false;         // true: nbf = iat
  options.generate_jti = true;        // 128 random bits, when the claims set none
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5}, options);
  // [/snippet]

  // [snippet:issue]
  tokenpass::ClaimsBuilder claims;
  claims.subject("user-4711")
      .client_id("web-frontend")
      .scopes({"orders:read", "orders:write"})        // scope: "orders:read orders:write"
      .claim("tenant", "acme")                        // any member of your own
      .claim("realm_access", {{"roles", {"buyer"}}});  // nested JSON
  tokenpass::Result<std::string> token = issuer.issue(claims);
  // Header: alg (from the key), typ, kid. Claims: iss, iat, exp = iat + 5 min, aud, jti.
  // [/snippet]
  check(token.has_value(), "issued");

  // [snippet:publish]
  // What /.well-known/jwks.json serves: public halves only (to_public_jwks leaves
  // HMAC keys out, and never writes a private member).
  const std::string jwks = tokenpass::KeySet({key.public_key().value()}).to_public_jwks().dump();
  // [/snippet]

  // [snippet:verify]
  // The receiving side, as a resource server builds it from the published set.
  const tokenpass::Verifier verifier(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(jwks)).value(),
      tokenpass::Policy::access_token_profile({"https://auth.example.com"}, {"orders-api"}));
  auto verified = verifier.verify(*token);
  // verified->kid() == "2024-06", claims().scopes() == {"orders:read", "orders:write"}
  // [/snippet]
  check(verified && verified->kid() == "2024-06" && verified->claims().has_scope("orders:write") &&
            verified->claims().find("/realm_access/roles/0") != nullptr &&
            *verified->claims().find("/tenant") == "acme",
        "the token verifies under the RFC 9068 profile");

  // [snippet:errors]
  // A registered claim of the wrong type is refused when issuing, not when verifying.
  auto bad = issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").claim("exp", "tomorrow"));
  // bad.error().code == errc::malformed
  // [/snippet]
  check(!bad && bad.error().code == tokenpass::errc::malformed, "a string exp is malformed");
  // The Issuer refuses a key that cannot sign, once, at construction.
  bool threw = false;
  try {
    tokenpass::Issuer(key.public_key().value(), "https://auth.example.com", 5min);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "a public key cannot make an Issuer");

  // [snippet:rotate]
  // Rotation by hand: publish the next key first, sign with it once receivers have
  // fetched the set, keep the old one published until its last token has expired.
  tokenpass::GenerateOptions next_options;
  next_options.kid = "2024-07";
  const tokenpass::Key next = tokenpass::Key::generate(tokenpass::Alg::ES256, next_options);
  // 1. Both published, the current key still signs.
  const tokenpass::KeySet ahead({key.public_key().value(), next.public_key().value()});
  const std::string jwks_ahead = ahead.to_public_jwks().dump();
  // 2. After the receivers' JWKS TTL: the next key signs; the old one stays published.
  const tokenpass::Issuer rotated(next, "https://auth.example.com", std::chrono::minutes{5},
                                  options);
  // 3. After the longest token lifetime (plus the TTL): only the next key is published.
  const tokenpass::KeySet after_set({next.public_key().value()});
  const std::string jwks_after = after_set.to_public_jwks().dump();
  // [/snippet]
  const tokenpass::Verifier during(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(jwks_ahead)).value(),
      tokenpass::Policy::access_token_profile({"https://auth.example.com"}, {"orders-api"}));
  const tokenpass::Verifier after(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(jwks_after)).value(),
      tokenpass::Policy::access_token_profile({"https://auth.example.com"}, {"orders-api"}));
  const std::string new_token = rotated.issue(claims).value();
  check(during.verify(*token) && during.verify(new_token), "during the rotation both keys verify");
  auto old_after = after.verify(*token);
  check(after.verify(new_token) && !old_after &&
            old_after.error().code == tokenpass::errc::key_not_found,
        "after retiring, an old token is key_not_found");

  std::remove(path.c_str());
  return failures == 0 ? 0 : 1;
}

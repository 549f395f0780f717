// verify_request: what a resource server does on every request. A Verifier is built
// once at start-up; the handler extracts the bearer token, verifies it against the
// policy (issuer, audience, expiry, scopes) and maps any failure to a status and an
// RFC 6750 WWW-Authenticate header, without try/catch.
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

namespace {

struct Request {
  std::map<std::string, std::string> headers;
};
struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
};

const std::vector<std::string> kNeeded = {"orders:read"};

void reject(Response& res, const tokenpass::Error& e) {
  res.status = tokenpass::http_status(e);
  if (const auto h = tokenpass::www_authenticate(e, "orders", kNeeded)) {
    res.headers["WWW-Authenticate"] = *h;
  }
  // Log the code and detail; never the token.
  std::fprintf(stderr, "auth rejected: %s: %s\n", std::string(tokenpass::to_string(e.code)).c_str(),
               e.detail.c_str());
}

// The handler. Bearer extraction is kept minimal here; the propagation module does it
// fully (RFC 6750 §2.1).
void get_order(const tokenpass::Verifier& verifier, const Request& req, Response& res) {
  const auto it = req.headers.find("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (it == req.headers.end() || it->second.compare(0, kScheme.size(), kScheme) != 0) {
    return reject(res, tokenpass::make_error(tokenpass::errc::no_token));
  }
  const auto token = verifier.verify(std::string_view(it->second).substr(kScheme.size()));
  if (!token) return reject(res, token.error());
  res.body = "order list for " + token->claims().subject().value_or("?");
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  // Start-up: the issuer's public keys (from a file or JWKS here) and the policy.
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::RS256);
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  policy.required_scopes = kNeeded;
  policy.leeway = 30s;
  const tokenpass::Verifier verifier(tokenpass::KeySet({signing.public_key().value()}), policy);

  // Tokens as the token service would issue them.
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  const std::string good =
      issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"orders:read"})).value();
  const std::string no_scope =
      issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711").scopes({"profile"})).value();

  struct Case {
    const char* name;
    std::map<std::string, std::string> headers;
    int want;
  };
  const Case cases[] = {
      {"valid token", {{"Authorization", "Bearer " + good}}, 200},
      {"missing scope", {{"Authorization", "Bearer " + no_scope}}, 403},
      {"no token", {}, 401},
      {"garbage token", {{"Authorization", "Bearer not-a-token"}}, 401},
  };
  int failures = 0;
  for (const auto& c : cases) {
    Response res;
    get_order(verifier, Request{c.headers}, res);
    const auto h = res.headers.find("WWW-Authenticate");
    std::printf("%-14s -> %d %s\n", c.name, res.status,
                h == res.headers.end() ? res.body.c_str() : h->second.c_str());
    if (res.status != c.want) ++failures;
  }
  return failures == 0 ? 0 : 1;
}

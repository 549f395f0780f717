// README "Run a token endpoint": a TokenEndpoint with one client, billing, served on an
// httplib::Server. The program serves it on 127.0.0.1, gets billing a token with
// ClientCredentials as a client of the endpoint would, checks it against the
// endpoint's JWKS, and checks that a wrong secret is refused.
#include <tokenpass/tokenpass.h>
// [snippet:include]
#include <tokenpass/adapters/httplib.h>  // mount_token_endpoint
// [/snippet]

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  httplib::Server server;

  // [snippet:code]
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");  // PBKDF2; store salt + hash
  billing.scopes = {"product:reserve"};
  billing.audiences = {"product"};
  tokenpass::TokenEndpointOptions options;
  options.issuer = "https://tokens.internal";
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      key, std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), options);
  tokenpass::mount_token_endpoint(server, endpoint);  // POST /token, RFC 8414 metadata, JWKS
  // [/snippet]

  const int port = server.bind_to_any_port("127.0.0.1");
  expect(port > 0, "the server binds a port");
  std::thread serving([&] { server.listen_after_bind(); });
  {
    const auto http = std::make_shared<tokenpass::HttplibClient>();
    tokenpass::ClientCredentialsOptions cc;
    cc.token_endpoint = "http://127.0.0.1:" + std::to_string(port) + "/token";
    cc.allow_http = true;  // loopback only
    cc.client_id = "billing";
    cc.client_secret = "billing-secret";
    const tokenpass::ClientCredentials credentials(cc, http);
    const auto token = credentials.token("product", {"product:reserve"});
    expect(token.has_value(), "billing gets a token");

    tokenpass::Policy policy;
    policy.issuers = {"https://tokens.internal"};
    policy.audiences = {"product"};
    policy.typ = "at+jwt";
    policy.required_scopes = {"product:reserve"};
    const tokenpass::Verifier verifier(tokenpass::KeySet::from_jwks(endpoint->jwks()).value(), policy);
    if (token) {
      const auto verified = verifier.verify(token->access_token);
      expect(verified && verified->claims().client_id() == "billing",
             "the token verifies with the endpoint's JWKS and names billing");
    }

    cc.client_secret = "not-billing-secret";
    const tokenpass::ClientCredentials wrong(cc, http);
    const auto refused = wrong.token("product", {"product:reserve"});
    expect(!refused && refused.error().code == tokenpass::errc::token_request_refused,
           "a wrong secret is refused (invalid_client)");
  }
  server.stop();
  serving.join();
  if (failures != 0) return 1;
  std::puts("readme_token_endpoint: ok");
  return 0;
}

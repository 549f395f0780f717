// guide: compile only
// README "Keys from the issuer's JWKS, tokens passed on": a service that takes its
// keys from the issuer's discovery document, verifies the caller's token and calls
// payments-api with that token and a service token of its own. It needs the issuer
// at auth.example.com and its token endpoint, so the tests only compile it.
#include <tokenpass/tokenpass.h>
// [snippet:include]
#include <tokenpass/adapters/httplib.h>  // target tokenpass::httplib
// [/snippet]

#include <cstdio>
#include <memory>

namespace {

void log_warn(const char* message) { std::fprintf(stderr, "warning: %s\n", message); }

}  // namespace

int main() {
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"shop-api"};
  httplib::Server server;

  // [snippet:code]
  auto http = std::make_shared<tokenpass::HttplibClient>();
  // OpenID Connect discovery (or RFC 8414); cached per Cache-Control, ETag-revalidated,
  // refreshed ahead in the background, one fetch at a time, stale-if-error.
  auto keys = tokenpass::RemoteJwks::from_issuer("https://auth.example.com", {}, http).value();
  if (!keys->prefetch()) log_warn("JWKS not reachable yet; verifies will fetch it");
  auto users = std::make_shared<const tokenpass::Verifier>(keys, policy);

  // Per request: the user's token from Authorization, and a service token for the call on.
  tokenpass::TokenResolver resolver(users, nullptr);
  tokenpass::ClientCredentialsOptions cc;  // token_endpoint, client_id, client_secret, ...
  auto creds = std::make_shared<const tokenpass::ClientCredentials>(cc, http);
  auto out = tokenpass::Outbound::forward_and_service_token(creds, "X-MS-TOKEN");
  out.allow("payments", {"payments-api", {"payments:charge"}});  // an allow list, nothing else

  server.set_payload_max_length(64 * 1024);  // cpp-httplib buffers a body before a handler runs
  server.Post("/pay", tokenpass::protect(std::make_shared<const tokenpass::TokenResolver>(resolver),
      [&](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext& ctx) {
        auto headers = out.headers_for("payments", ctx.user());  // never an expired token
        if (!headers) return tokenpass::reject_request(res, headers.error(), "shop");
        // ... call payments-api with *headers ...
      }));
  // [/snippet]

  return server.listen("0.0.0.0", 8080) ? 0 : 1;
}

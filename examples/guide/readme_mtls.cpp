// guide: compile only
// README "Services authenticate each other with certificates": the product service on
// mutual TLS, whose /reserve route only billing's certificate may call. It needs its
// certificate, key, the shop's CA and the token service's JWK set in files, so the tests
// only compile it.
#include <tokenpass/tokenpass.h>
// [snippet:include]
#include <tokenpass/adapters/httplib.h>
// [/snippet]

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main() {
  // The keys of the shop's token service and what product accepts.
  const tokenpass::KeySet service_keys = tokenpass::KeySet::from_jwks(read_file("tokens-jwks.json")).value();
  tokenpass::Policy policy;
  policy.issuers = {"https://tokens.internal"};
  policy.audiences = {"product"};
  const auto resolver = std::make_shared<const tokenpass::TokenResolver>(
      std::make_shared<const tokenpass::Verifier>(service_keys, policy), nullptr);
  const tokenpass::ProtectedHandler handler = [](const httplib::Request&, httplib::Response& res,
                                                 const tokenpass::RequestContext& ctx) {
    const tokenpass::PeerCertificate* peer = ctx.peer();  // the caller's certificate
    res.set_content("reserved for " + (peer != nullptr && !peer->uris.empty() ? peer->uris.front() : ""),
                    "text/plain");
  };

  // [snippet:code]
  tokenpass::TlsServerOptions tls;              // TLS 1.2+, client certificates required
  tls.cert_file = "product.pem";  tls.key_file = "product.key";
  tls.client_ca_file = "shop-ca.pem";
  auto server = tokenpass::make_tls_server(tls);  // an httplib::SSLServer
  tokenpass::ProtectOptions only_billing;
  only_billing.allowed_peers = {"spiffe://shop/billing"};  // the caller's URI or DNS SAN
  server->Post("/reserve", tokenpass::protect(resolver, handler, only_billing));
  // In the handler: ctx.peer()->uris, ->subject, ->thumbprint (read once per connection).
  // [/snippet]

  server->set_read_timeout(std::chrono::seconds(5));
  return server->listen("0.0.0.0", 8443) ? 0 : 1;
}

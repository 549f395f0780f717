// proxied_service: a tokenpass-protected service that runs behind nginx and HAProxy in
// tests/proxy/proxy_test.sh. Plain HTTP on 127.0.0.1; the proxies terminate mTLS and
// forward the client's certificate. Usage:
//   proxied_service JWKS_FILE TRUSTED_PROXY_RANGE
// prints "listening PORT" once it serves:
//   GET /nginx/whoami    the certificate from X-SSL-Client-Cert (nginx's
//                        $ssl_client_escaped_cert), callers on spiffe://shop/billing only
//   GET /haproxy/whoami  the certificate from RFC 9440 Client-Cert (HAProxy)
// Both take a user token (ES256, issuer https://issuer.test, audience product) whose
// certificate binding (cnf.x5t#S256) is checked against the forwarded certificate, and
// answer with the caller's first URI SAN; refusals are tokenpass' JSON error bodies.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <httplib.h>

#include "tokenpass/adapters/httplib.h"
#include "tokenpass/forwarded.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: proxied_service JWKS_FILE TRUSTED_PROXY_RANGE\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  auto keys = tokenpass::KeySet::from_jwks(text.str());
  if (!keys) {
    std::cerr << "proxied_service: " << keys.error().detail << "\n";
    return 2;
  }
  tokenpass::Policy policy;
  policy.issuers = {"https://issuer.test"};
  policy.audiences = {"product"};
  policy.require_binding = true;
  const auto verifier = std::make_shared<const tokenpass::Verifier>(std::move(*keys), policy);
  const auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr);

  const auto whoami = [](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext& ctx) {
    res.set_content(ctx.peer() && !ctx.peer()->uris.empty() ? ctx.peer()->uris.front() : "-", "text/plain");
  };
  const tokenpass::TrustedCallers proxies({argv[2]}, {});

  tokenpass::ForwardedCertificateOptions nginx;
  nginx.proxies = proxies;
  nginx.format = tokenpass::ForwardedFormat::escaped_pem;
  nginx.header = "X-SSL-Client-Cert";
  tokenpass::ProtectOptions behind_nginx;
  behind_nginx.forwarded = std::make_shared<const tokenpass::ForwardedCertificates>(nginx);
  behind_nginx.allowed_peers = {"spiffe://shop/billing"};

  tokenpass::ForwardedCertificateOptions haproxy;
  haproxy.proxies = proxies;
  haproxy.format = tokenpass::ForwardedFormat::client_cert;
  tokenpass::ProtectOptions behind_haproxy;
  behind_haproxy.forwarded = std::make_shared<const tokenpass::ForwardedCertificates>(haproxy);

  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  server.Get("/nginx/whoami", tokenpass::protect(resolver, whoami, behind_nginx));
  server.Get("/haproxy/whoami", tokenpass::protect(resolver, whoami, behind_haproxy));
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 2;
  std::printf("listening %d\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}

// README "Behind a proxy, in a mesh": a route behind a TLS-terminating proxy that
// forwards client certificates, with roles and claim headers; claim rules and claim
// headers for the next hop; a Verifier of SPIFFE JWT-SVIDs. The program serves the
// route on 127.0.0.1 and checks what it lets through: a forwarded certificate from
// outside the proxies' range (403 untrusted_forward), a token without the role (403
// insufficient_role), and X-Tenant kept only when the gateway's service token comes
// with it. It checks the claim rule and the claim header on tokens it issues.
#include <tokenpass/tokenpass.h>
#include <tokenpass/adapters/httplib.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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
  const char* kTenant = "https://example.com/tenant";
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::KeySet keys({key.public_key().value()});
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5}, io);
  const auto user = [&](const char* role, const char* tenant) {
    return issuer
        .issue(tokenpass::ClaimsBuilder()
                   .subject("user-4711")
                   .claim("realm_access", {{"roles", {role}}})
                   .claim(kTenant, tenant))
        .value();
  };
  const std::string admin = user("orders:admin", "acme");
  const std::string clerk = user("orders:clerk", "acme");
  const std::string other_tenant = user("orders:admin", "globex");
  const std::string gateway = issuer.issue(tokenpass::ClaimsBuilder().subject("gateway").client_id("gateway")).value();

  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  tokenpass::TokenResolverOptions ro;
  ro.require_service = false;  // the gateway's service token, when it comes
  const auto verifier = std::make_shared<const tokenpass::Verifier>(keys, policy);
  const auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, verifier, ro);
  std::mutex mu;
  std::string tenant_seen;  // the X-Tenant the handler got (under mu: the server's thread writes it)
  const auto seen = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return tenant_seen;
  };
  const tokenpass::ProtectedHandler handler = [&](const httplib::Request& req, httplib::Response& res,
                                                  const tokenpass::RequestContext&) {
    std::lock_guard<std::mutex> lock(mu);
    tenant_seen = req.get_header_value("X-Tenant");
    res.set_content("ok", "text/plain");
  };
  httplib::Server server;
  tokenpass::Outbound outbound = tokenpass::Outbound::forward();
  const auto http = std::make_shared<tokenpass::HttplibClient>();

  // [snippet:code]
  // nginx (or HAProxy, Envoy) terminates mTLS and passes the client's certificate on;
  // only a trusted proxy may: from anyone else the header is refused (403 untrusted_forward).
  tokenpass::ForwardedCertificateOptions fo;
  fo.proxies = tokenpass::TrustedCallers({"10.0.0.0/8"}, {"spiffe://shop/ingress"});  // ranges, proxy identities
  fo.format = tokenpass::ForwardedFormat::escaped_pem;  // or client_cert (RFC 9440), envoy_xfcc
  fo.header = "X-SSL-Client-Cert";                       // nginx: $ssl_client_escaped_cert
  tokenpass::ProtectOptions po;
  po.forwarded = std::make_shared<tokenpass::ForwardedCertificates>(fo);  // binding, allowed_peers
  po.roles = {"orders:admin"};                                          // 403 insufficient_role
  po.role_mapping = tokenpass::RoleMapping::keycloak({"shop-api"});     // realm and client roles
  po.claim_headers = {"X-Tenant"};          // kept only from callers trusted to set them:
  po.claim_header_services = {"gateway"};   // the gateway's verified service token
  server.Get("/admin", tokenpass::protect(resolver, handler, po));

  // Claims by JSON Pointer (RFC 6901), as policy rules and for the next hop.
  policy.claim_rules = {tokenpass::ClaimRule::equals("/https:~1~1example.com~1tenant", "acme")};
  outbound.claim_to_header("X-Tenant", "/https:~1~1example.com~1tenant");  // CR/LF/non-ASCII refused

  // SPIFFE JWT-SVIDs: keys from a bundle ("use": "jwt-svid"), the standard's rules.
  tokenpass::RemoteJwksOptions bundle;
  bundle.url = "https://spire.shop.internal/bundle";
  bundle.spiffe_bundle = true;  // spiffe_refresh_hint drives refresh; older spiffe_sequence refused
  tokenpass::Verifier svids(std::make_shared<tokenpass::RemoteJwks>(bundle, http),
                            tokenpass::Policy::jwt_svid_profile({"spiffe://shop/product"}, {"spiffe://shop/ns/billing"}));
  // [/snippet]

  // The route, on loopback (not one of the trusted proxies' addresses).
  const int port = server.bind_to_any_port("127.0.0.1");
  expect(port > 0, "the server binds a port");
  std::thread serving([&] { server.listen_after_bind(); });
  {
    httplib::Client client("127.0.0.1", port);
    auto r = client.Get("/admin", {{"Authorization", "Bearer " + admin}, {"X-Tenant", "acme"}});
    expect(r && r->status == 200 && seen().empty(), "an admin is served; X-Tenant from it is dropped");
    r = client.Get("/admin", {{"Authorization", "Bearer " + admin}, {"X-MS-TOKEN", gateway}, {"X-Tenant", "acme"}});
    expect(r && r->status == 200 && seen() == "acme", "X-Tenant is kept with the gateway's service token");
    r = client.Get("/admin", {{"Authorization", "Bearer " + clerk}});
    expect(r && r->status == 403 && r->body.find("insufficient_role") != std::string::npos,
           "a token without orders:admin is 403 insufficient_role");
    r = client.Get("/admin", {{"Authorization", "Bearer " + admin}, {"X-SSL-Client-Cert", "-----BEGIN%20CERT"}});
    expect(r && r->status == 403 && r->body.find("untrusted_forward") != std::string::npos,
           "a forwarded certificate from outside 10.0.0.0/8 is 403 untrusted_forward");
  }
  server.stop();
  serving.join();

  // The claim rule, in a Verifier made from the policy now.
  const tokenpass::Verifier tenants(keys, policy);
  expect(tenants.verify(admin).has_value(), "the acme tenant passes the claim rule");
  const auto refused = tenants.verify(other_tenant);
  expect(!refused && refused.error().code == tokenpass::errc::bad_claim, "another tenant is bad_claim");

  // The claim header for the next hop.
  outbound.allow("billing", {"orders-api", {}});
  const auto headers = outbound.headers_for("billing", verifier->verify(admin).value());
  bool tenant_sent = false;
  if (headers) {
    for (const auto& [name, value] : *headers) tenant_sent = tenant_sent || (name == "X-Tenant" && value == "acme");
  }
  expect(tenant_sent, "the next hop gets X-Tenant: acme from the verified token");

  expect(svids.policy().jwt_svid_keys, "the SVID verifier takes jwt-svid keys");
  if (failures != 0) return 1;
  std::puts("readme_mesh: ok");
  return 0;
}

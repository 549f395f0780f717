// Behind a proxy, in a mesh (forwarded.h, claims by path, roles, claims as headers):
// the three forwarded-certificate formats parsed from the test CA's certificates,
// trusted-proxy ranges, claims by JSON Pointer (RFC 6901 examples), claim rules and
// roles, Outbound's claim headers, and all of it through a real protected route on
// 127.0.0.1 (forwarded headers from a trusted and an untrusted peer, roles, claim
// headers stripped). Real proxies in front: tests/proxy/proxy_test.sh.
#include "tokenpass/forwarded.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/issuer.h"
#include "tokenpass/propagation.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::errc;
using namespace tp_test;
using tp_test::ossl::base64;
using tp_test::ossl::sha256;

namespace {

std::string tls_pem(const std::string& name) {
  std::ifstream in(std::string(TOKENPASS_TEST_DATA_DIR) + "/tls/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string der_of(const std::string& pem) {
  std::string body;
  std::istringstream lines(pem);
  std::string line;
  bool in = false;
  while (std::getline(lines, line)) {
    if (line.rfind("-----BEGIN CERTIFICATE", 0) == 0) {
      in = true;
    } else if (line.rfind("-----END", 0) == 0) {
      break;
    } else if (in) {
      body += line;
    }
  }
  // standard base64 → bytes, through the test helpers' url-safe decoder
  for (char& c : body) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!body.empty() && body.back() == '=') body.pop_back();
  return unb64(body);
}

std::string escaped(const std::string& pem) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : pem) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
  }
  return out;
}

tokenpass::HeaderLookup lookup(std::vector<std::pair<std::string, std::string>> headers) {
  return [headers = std::move(headers)](std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
      if (tokenpass::header_name_equals(k, name)) out.push_back(v);
    }
    return out;
  };
}

tokenpass::Claims claims_of(const json& j) { return tokenpass::Claims::from_json(j).value(); }

}  // namespace

TEST_CASE("forwarded certificates: the three formats read the same certificate", "[mesh]") {
  const std::string pem = tls_pem("client_billing.pem");
  const auto direct = tokenpass::PeerCertificate::from_pem(pem);
  REQUIRE(direct);
  const std::string der = der_of(pem);

  const auto rfc9440 = tokenpass::parse_client_cert(":" + base64(der) + ":");
  REQUIRE(rfc9440);
  CHECK(rfc9440->thumbprint == direct->thumbprint);
  CHECK(rfc9440->has_identity("spiffe://shop/billing"));

  const auto nginx = tokenpass::parse_escaped_pem(escaped(pem));
  REQUIRE(nginx);
  CHECK(nginx->thumbprint == direct->thumbprint);
  CHECK(nginx->subject == direct->subject);

  const std::string xfcc_hash = hex(sha256(der));
  const auto envoy = tokenpass::parse_xfcc("By=spiffe://shop/other;Hash=00,By=spiffe://shop/product;Hash=" +
                                           xfcc_hash + ";Cert=\"" + escaped(pem) +
                                           "\";Subject=\"O=shop,CN=billing\";URI=spiffe://shop/billing");
  REQUIRE(envoy);
  CHECK(envoy->thumbprint == direct->thumbprint);
  CHECK(envoy->has_identity("billing.shop.internal"));

  // Hash alone: a thumbprint and nothing else.
  const auto hash_only = tokenpass::parse_xfcc("By=spiffe://shop/product;Hash=" + xfcc_hash);
  REQUIRE(hash_only);
  CHECK(hash_only->thumbprint == direct->thumbprint);
  CHECK(hash_only->uris.empty());

  CHECK(tokenpass::parse_client_cert_chain(":" + base64(der) + ":, :" + base64(der_of(tls_pem("ca.pem"))) + ":")
            .value() == 2);
}

TEST_CASE("forwarded certificates: malformed values are invalid_request", "[mesh]") {
  const std::string pem = tls_pem("client_billing.pem");
  const std::string der = der_of(pem);
  for (const std::string& bad : {std::string(""), std::string("::"), base64(der), ":" + base64(der),
                                ":" + base64(der) + "!:", ":" + base64(der.substr(0, der.size() - 1)) + ":",
                                ":" + b64(der) + ":" /* url-safe alphabet is not RFC 8941's */}) {
    CAPTURE(bad);
    CHECK(error_of(tokenpass::parse_client_cert(bad)) == errc::invalid_request);
  }
  CHECK(error_of(tokenpass::parse_escaped_pem(escaped(pem).substr(0, 300))) == errc::invalid_request);
  CHECK(error_of(tokenpass::parse_escaped_pem("%ZZ" + escaped(pem))) == errc::invalid_request);
  CHECK(error_of(tokenpass::parse_escaped_pem(base64(der))) == errc::invalid_request);
  CHECK(error_of(tokenpass::parse_xfcc("By=spiffe://x")) == errc::invalid_request);
  CHECK(error_of(tokenpass::parse_xfcc("Hash=abc")) == errc::invalid_request);
  CHECK(error_of(tokenpass::parse_xfcc("Cert=\"" + escaped(pem))) == errc::invalid_request);
  // A Hash that names another certificate than Cert.
  CHECK(error_of(tokenpass::parse_xfcc("Hash=" + std::string(64, 'a') + ";Cert=\"" + escaped(pem) + "\"")) ==
        errc::invalid_request);
  CHECK(error_of(tokenpass::parse_client_cert_chain(":" + base64(der) + ":, :AAAA:")) == errc::invalid_request);
}

TEST_CASE("TrustedCallers: ranges, mapped addresses and certificate identities", "[mesh]") {
  const tokenpass::TrustedCallers t({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1/128"}, {"spiffe://shop/ingress"});
  CHECK(t.trusts("10.200.3.4", nullptr));
  CHECK(t.trusts("::ffff:10.1.2.3", nullptr));
  CHECK(t.trusts("192.168.1.7", nullptr));
  CHECK_FALSE(t.trusts("192.168.1.8", nullptr));
  CHECK_FALSE(t.trusts("11.0.0.1", nullptr));
  CHECK(t.trusts("fd12:3456::1", nullptr));
  CHECK(t.trusts("::1", nullptr));
  CHECK_FALSE(t.trusts("fe80::1", nullptr));
  CHECK_FALSE(t.trusts("not an address", nullptr));
  CHECK_FALSE(t.trusts("", nullptr));

  tokenpass::PeerCertificate ingress;
  ingress.uris = {"spiffe://shop/ingress"};
  CHECK_FALSE(t.trusts("127.0.0.1", &ingress));  // not verified
  ingress.verified = true;
  CHECK(t.trusts("127.0.0.1", &ingress));

  const tokenpass::TrustedCallers odd({"10.1.2.3/31"}, {});
  CHECK(odd.trusts("10.1.2.2", nullptr));
  CHECK_FALSE(odd.trusts("10.1.2.4", nullptr));
  CHECK_FALSE(tokenpass::TrustedCallers().trusts("127.0.0.1", nullptr));
  for (const std::string bad : {"10.0.0.0/33", "10.0.0/8", "::1/129", "10.0.0.0/", "10.0.0.0/x", "host.example"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(tokenpass::TrustedCallers({bad}, {}), std::invalid_argument);
  }
}

TEST_CASE("ForwardedCertificates: believed from trusted proxies only", "[mesh]") {
  const std::string pem = tls_pem("client_billing.pem");
  const std::string header = ":" + base64(der_of(pem)) + ":";
  tokenpass::ForwardedCertificateOptions o;
  o.proxies = tokenpass::TrustedCallers({"10.0.0.0/8"}, {});
  const tokenpass::ForwardedCertificates fwd(o);
  const auto own = std::make_shared<const tokenpass::PeerCertificate>(
      tokenpass::PeerCertificate::from_pem(tls_pem("client_gateway.pem")).value());

  // From the proxy: the forwarded certificate, verified as the proxy said.
  auto from_proxy = fwd.caller_certificate(lookup({{"client-cert", header}}), "10.0.0.5", own);
  REQUIRE(from_proxy);
  REQUIRE(*from_proxy);
  CHECK((*from_proxy)->has_identity("spiffe://shop/billing"));
  CHECK((*from_proxy)->verified);
  // The proxy forwarded none: no caller certificate, not the proxy's own.
  auto none = fwd.caller_certificate(lookup({}), "10.0.0.5", own);
  REQUIRE(none);
  CHECK(*none == nullptr);
  CHECK(error_of(fwd.caller_certificate(lookup({{"Client-Cert", header}, {"Client-Cert", header}}), "10.0.0.5",
                                        nullptr)) == errc::invalid_request);
  CHECK(error_of(fwd.caller_certificate(lookup({{"Client-Cert", header}, {"Client-Cert-Chain", ":AAAA:"}}),
                                        "10.0.0.5", nullptr)) == errc::invalid_request);
  CHECK(error_of(fwd.caller_certificate(lookup({{"Client-Cert", ":" + std::string(40000, 'A') + ":"}}), "10.0.0.5",
                                        nullptr)) == errc::too_large);

  // From anyone else: any forwarding header is refused, whatever the format set up.
  for (const char* name : {"Client-Cert", "client-cert-chain", "X-Forwarded-Client-Cert"}) {
    CAPTURE(name);
    CHECK(error_of(fwd.caller_certificate(lookup({{name, header}}), "127.0.0.1", own)) == errc::untrusted_forward);
  }
  // Without such headers, the connection's own certificate.
  auto direct = fwd.caller_certificate(lookup({{"Authorization", "Bearer x"}}), "127.0.0.1", own);
  REQUIRE(direct);
  CHECK(*direct == own);

  tokenpass::ForwardedCertificateOptions self_signed = o;
  self_signed.proxy_verifies = false;
  auto unverified =
      tokenpass::ForwardedCertificates(self_signed).caller_certificate(lookup({{"client-cert", header}}), "10.9.9.9", {});
  REQUIRE(unverified);
  CHECK_FALSE((*unverified)->verified);

  tokenpass::ForwardedCertificateOptions nginx;
  nginx.proxies = o.proxies;
  nginx.format = tokenpass::ForwardedFormat::escaped_pem;
  CHECK_THROWS_AS(tokenpass::ForwardedCertificates(nginx), std::invalid_argument);  // no header name
  nginx.header = "X-SSL-Client-Cert";
  const tokenpass::ForwardedCertificates from_nginx(nginx);
  CHECK(from_nginx.header_names().size() == 4);
  auto read = from_nginx.caller_certificate(lookup({{"x-ssl-client-cert", escaped(pem)}}), "10.1.1.1", nullptr);
  REQUIRE(read);
  CHECK((*read)->thumbprint == tokenpass::PeerCertificate::from_pem(pem)->thumbprint);
  CHECK(error_of(from_nginx.caller_certificate(lookup({{"X-SSL-Client-Cert", escaped(pem)}}), "127.0.0.1", nullptr)) ==
        errc::untrusted_forward);
  CHECK_THROWS_AS(tokenpass::ForwardedCertificates({}), std::invalid_argument);  // no proxy
}

TEST_CASE("Claims::find: RFC 6901 §5 pointers", "[mesh]") {
  // The document of RFC 6901 §5 as claims.
  const json doc = json::parse(R"({"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4,
                                   "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8})");
  const auto c = claims_of(doc);
  REQUIRE(c.find("") != nullptr);
  CHECK(*c.find("") == doc);
  CHECK(*c.find("/foo") == json({"bar", "baz"}));
  CHECK(*c.find("/foo/0") == "bar");
  CHECK(*c.find("/") == 0);
  CHECK(*c.find("/a~1b") == 1);
  CHECK(*c.find("/c%d") == 2);
  CHECK(*c.find("/e^f") == 3);
  CHECK(*c.find("/g|h") == 4);
  CHECK(*c.find("/i\\j") == 5);
  CHECK(*c.find("/k\"l") == 6);
  CHECK(*c.find("/ ") == 7);
  CHECK(*c.find("/m~0n") == 8);
  for (const char* absent : {"/foo/2", "/foo/-", "/foo/01", "/foo/x", "/nope", "/foo/0/deeper", "foo", "/m~2n",
                             "/a~", "/foo/99999999999999999999"}) {
    CAPTURE(absent);
    CHECK(c.find(absent) == nullptr);
  }
  // A namespaced claim with dots and slashes.
  const auto ns = claims_of({{"https://example.com/claims/tenant", "acme"}, {"a.b", {{"c", true}}}});
  CHECK(*ns.find("/https:~1~1example.com~1claims~1tenant") == "acme");
  CHECK(*ns.find("/a.b/c") == true);
}

TEST_CASE("ClaimRule and Policy::claim_rules", "[mesh]") {
  const auto c = claims_of({{"tenant", "acme"},
                            {"level", 3},
                            {"amr", {"pwd", "otp"}},
                            {"acr", "urn:a urn:b"},
                            {"org", {{"unit", "sales"}}}});
  using R = tokenpass::ClaimRule;
  CHECK(R::present("/org/unit").check(c));
  CHECK(error_of(R::present("/org/team").check(c)) == errc::missing_claim);
  CHECK(R::equals("/tenant", "acme").check(c));
  CHECK(error_of(R::equals("/tenant", "other").check(c)) == errc::bad_claim);
  CHECK(error_of(R::equals("/level", "3").check(c)) == errc::bad_claim);  // JSON equality
  CHECK(R::equals("/level", 3).check(c));
  CHECK(R::contains("/amr", "otp").check(c));
  CHECK(error_of(R::contains("/amr", "hwk").check(c)) == errc::bad_claim);
  CHECK(R::contains("/acr", "urn:b").check(c));
  CHECK(error_of(R::contains("/acr", "urn").check(c)) == errc::bad_claim);
  CHECK(R::one_of("/org/unit", {"sales", "support"}).check(c));
  CHECK(error_of(R::one_of("/org/unit", {"hr"}).check(c)) == errc::bad_claim);
  CHECK(error_of(R::one_of("/missing", {"hr"}).check(c)) == errc::missing_claim);

  // Through a Verifier, after the signature and the registered rules.
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::Policy p;
  p.issuers = {"https://issuer.test"};
  p.audiences = {"shop"};
  p.claim_rules = {R::equals("/https:~1~1example.com~1tenant", "acme")};
  const tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), p);
  tokenpass::Issuer issuer(key, "https://issuer.test", 60s);
  tokenpass::ClaimsBuilder ok;
  ok.audience("shop").claim("https://example.com/tenant", "acme");
  CHECK(v.verify(issuer.issue(ok).value()));
  tokenpass::ClaimsBuilder other;
  other.audience("shop").claim("https://example.com/tenant", "evil");
  CHECK(error_of(v.verify(issuer.issue(other).value())) == errc::bad_claim);
  tokenpass::ClaimsBuilder none;
  none.audience("shop");
  CHECK(error_of(v.verify(issuer.issue(none).value())) == errc::missing_claim);

  tokenpass::Policy bad = p;
  bad.claim_rules = {R::equals("tenant", "acme")};
  CHECK_THROWS_AS(tokenpass::Verifier(tokenpass::KeySet({key.public_key().value()}), bad), std::invalid_argument);
  bad.claim_rules = {R{"/tenant", R::Kind::one_of, {}}};
  CHECK_THROWS_AS(tokenpass::Verifier(tokenpass::KeySet({key.public_key().value()}), bad), std::invalid_argument);
}

TEST_CASE("RoleMapping: Keycloak realm and client roles, roles, groups", "[mesh]") {
  const auto keycloak = claims_of(json::parse(R"({
    "realm_access": {"roles": ["offline_access", "shopper"]},
    "resource_access": {"shop-api": {"roles": ["orders:admin"]}, "other/app": {"roles": ["x"]}},
    "groups": ["/staff", "/staff/sales"], "roles": "auditor reader"})"));
  const tokenpass::RoleMapping defaults;
  CHECK(defaults.roles(keycloak) ==
        std::vector<std::string>{"offline_access", "shopper", "auditor", "reader", "/staff", "/staff/sales"});
  const auto kc = tokenpass::RoleMapping::keycloak({"shop-api", "other/app"});
  CHECK(kc.roles(keycloak) == std::vector<std::string>{"offline_access", "shopper", "orders:admin", "x"});
  CHECK(kc.has_role(keycloak, "orders:admin"));
  CHECK_FALSE(defaults.has_role(keycloak, "orders:admin"));

  CHECK(tokenpass::check_roles(keycloak, kc, {"shopper", "orders:admin"}));
  CHECK(error_of(tokenpass::check_roles(keycloak, kc, {"shopper", "admin"})) == errc::insufficient_role);
  CHECK(tokenpass::check_roles(keycloak, kc, {}, {"admin", "x"}));
  CHECK(error_of(tokenpass::check_roles(keycloak, kc, {}, {"admin", "root"})) == errc::insufficient_role);
  CHECK(error_of(tokenpass::check_roles(claims_of({{"roles", {1, 2}}}), defaults, {"1"})) == errc::insufficient_role);
  CHECK(tokenpass::http_status(tokenpass::make_error(errc::insufficient_role)) == 403);
  CHECK(*tokenpass::www_authenticate(tokenpass::make_error(errc::insufficient_role), "api", {"orders"}) ==
        "Bearer realm=\"api\", error=\"insufficient_scope\"");
  CHECK_FALSE(tokenpass::www_authenticate(tokenpass::make_error(errc::untrusted_forward), "api"));
}

TEST_CASE("Outbound::claim_to_header: verified claims for the next hop, made safe", "[mesh]") {
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::Policy p;
  p.issuers = {"https://issuer.test"};
  p.audiences = {"product"};
  const tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), p);
  tokenpass::Issuer issuer(key, "https://issuer.test", 60s);
  const auto verified = [&](const json& extra) {
    tokenpass::ClaimsBuilder b;
    b.audience("product").subject("alice");
    for (const auto& [k, val] : extra.items()) b.claim(k, val);
    return v.verify(issuer.issue(b).value()).value();
  };
  auto out = tokenpass::Outbound::forward();
  out.allow("product", {"product", {}, false})
      .claim_to_header("X-User", "/sub")
      .claim_to_header("X-Tenant", "/https:~1~1example.com~1tenant")
      .claim_to_header("X-Roles", "/realm_access/roles")
      .claim_to_header("X-Level", "/level")
      .claim_to_header("X-Name", "/name", tokenpass::ClaimHeaderEncoding::base64url);
  const auto header = [](const tokenpass::HttpHeaders& h, std::string_view name) -> std::optional<std::string> {
    for (const auto& [k, val] : h) {
      if (k == name) return val;
    }
    return std::nullopt;
  };

  auto h = out.headers_for("product", verified({{"https://example.com/tenant", "acme"},
                                                 {"realm_access", {{"roles", {"a", "b"}}}},
                                                 {"level", 3},
                                                 {"name", "Zoë\r\nX-Evil: 1"}}));
  REQUIRE(h);
  CHECK(header(*h, "X-User") == "alice");
  CHECK(header(*h, "X-Tenant") == "acme");
  CHECK(header(*h, "X-Roles") == "a,b");
  CHECK(header(*h, "X-Level") == "3");
  CHECK(unb64(header(*h, "X-Name").value()) == "Zoë\r\nX-Evil: 1");
  CHECK(header(*h, "X-Name")->find_first_of("\r\n") == std::string::npos);

  // Absent claims send nothing.
  h = out.headers_for("product", verified({}));
  REQUIRE(h);
  CHECK(header(*h, "X-User") == "alice");
  CHECK_FALSE(header(*h, "X-Tenant"));

  // ascii refuses what a header cannot carry as text, and objects.
  for (const json& bad : {json("line\r\nX-Evil: 1"), json(std::string("nul\0x", 5)), json("Zoë"), json({{"o", 1}}),
                          json({json::array()})}) {
    CAPTURE(bad);
    CHECK(error_of(out.headers_for("product", verified({{"https://example.com/tenant", bad}}))) == errc::bad_claim);
  }
  CHECK_THROWS_AS(tokenpass::Outbound::forward().claim_to_header("Authorization", "/sub"), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Outbound::forward().claim_to_header("X Bad", "/sub"), std::invalid_argument);
  CHECK_THROWS_AS(tokenpass::Outbound::forward().claim_to_header("X-Sub", "sub"), std::invalid_argument);
}

namespace {

// MeshService: a protected route on 127.0.0.1 that reports what it saw.
//   GET /whoami   forwarded certificates from 10.0.0.0/8 only (so not from this test),
//                 or from 127.0.0.1 when `trust_local`; bound tokens allowed
//   GET /admin    role "admin" (Keycloak realm roles)
//   GET /claims   X-Tenant is a claim header, trusted from the "gateway" service only
class MeshService {
 public:
  explicit MeshService(bool trust_local) {
    tokenpass::Policy p;
    p.issuers = {"https://issuer.test"};
    p.audiences = {"product"};
    const auto user = std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({key.public_key().value()}), p);
    const auto service = std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({key.public_key().value()}), p);
    tokenpass::TokenResolverOptions ro;
    ro.require_user = false;
    const auto resolver = std::make_shared<const tokenpass::TokenResolver>(user, service, ro);
    tokenpass::ForwardedCertificateOptions fo;
    fo.proxies = tokenpass::TrustedCallers({trust_local ? "127.0.0.0/8" : "10.0.0.0/8"}, {});
    tokenpass::ProtectOptions whoami;
    whoami.forwarded = std::make_shared<const tokenpass::ForwardedCertificates>(fo);
    server_.Get("/whoami", tokenpass::protect(
                               resolver,
                               [](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext& ctx) {
                                 res.set_content(ctx.peer() ? ctx.peer()->uris.at(0) : "-", "text/plain");
                               },
                               whoami));
    tokenpass::ProtectOptions admin;
    admin.roles = {"admin"};
    admin.role_mapping = tokenpass::RoleMapping::keycloak();
    server_.Get("/admin", tokenpass::protect(
                              resolver,
                              [](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext&) {
                                res.set_content("ok", "text/plain");
                              },
                              admin));
    tokenpass::ProtectOptions claims;
    claims.claim_headers = {"X-Tenant"};
    claims.claim_header_services = {"gateway"};
    server_.Get("/claims", tokenpass::protect(
                               resolver,
                               [](const httplib::Request& req, httplib::Response& res, const tokenpass::RequestContext&) {
                                 res.set_content(req.has_header("X-Tenant") ? req.get_header_value("X-Tenant") : "-",
                                                 "text/plain");
                               },
                               claims));
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~MeshService() {
    server_.stop();
    thread_.join();
  }
  MeshService(const MeshService&) = delete;
  MeshService& operator=(const MeshService&) = delete;

  std::string token(const json& extra) const {
    tokenpass::Issuer issuer(key, "https://issuer.test", 60s);
    tokenpass::ClaimsBuilder b;
    b.audience("product").subject("alice");
    for (const auto& [k, v] : extra.items()) b.claim(k, v);
    return issuer.issue(b).value();
  }
  httplib::Result get(const std::string& path, const httplib::Headers& headers) const {
    httplib::Client c("127.0.0.1", port_);
    return c.Get(path.c_str(), headers);
  }

  tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE("protect: forwarded certificates, roles and claim headers over HTTP", "[mesh][http]") {
  const std::string pem = tls_pem("client_billing.pem");
  const std::string cert_header = ":" + base64(der_of(pem)) + ":";
  const std::string thumbprint = tokenpass::PeerCertificate::from_pem(pem)->thumbprint;

  SECTION("a caller that is no trusted proxy cannot claim a certificate") {
    const MeshService svc(false);
    const std::string bound = svc.token({{"cnf", {{"x5t#S256", thumbprint}}}});
    auto r = svc.get("/whoami", {{"Authorization", "Bearer " + bound}, {"Client-Cert", cert_header}});
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(r->body == "{\"error\":\"untrusted_forward\"}");
    CHECK_FALSE(r->has_header("WWW-Authenticate"));
    // Without the header the bound token has no certificate to match.
    r = svc.get("/whoami", {{"Authorization", "Bearer " + bound}});
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->body == "{\"error\":\"bad_binding\"}");
  }
  SECTION("from a trusted proxy the forwarded certificate binds the token") {
    const MeshService svc(true);
    const std::string bound = svc.token({{"cnf", {{"x5t#S256", thumbprint}}}});
    auto r = svc.get("/whoami", {{"Authorization", "Bearer " + bound}, {"Client-Cert", cert_header}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "spiffe://shop/billing");
    const std::string other = ":" + base64(der_of(tls_pem("client_gateway.pem"))) + ":";
    r = svc.get("/whoami", {{"Authorization", "Bearer " + bound}, {"Client-Cert", other}});
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->body == "{\"error\":\"bad_binding\"}");
    r = svc.get("/whoami", {{"Authorization", "Bearer " + bound}, {"Client-Cert", ":AAAA:"}});
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  SECTION("roles per route") {
    const MeshService svc(false);
    auto r = svc.get("/admin", {{"Authorization", "Bearer " + svc.token({{"realm_access", {{"roles", {"admin"}}}}})}});
    REQUIRE(r);
    CHECK(r->status == 200);
    r = svc.get("/admin", {{"Authorization", "Bearer " + svc.token({{"realm_access", {{"roles", {"user"}}}},
                                                                     {"roles", {"admin"}}})}});
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(r->body == "{\"error\":\"insufficient_role\"}");
    CHECK(r->get_header_value("WWW-Authenticate") == "Bearer realm=\"api\", error=\"insufficient_scope\"");
  }
  SECTION("claim headers reach the handler from the trusted service only") {
    const MeshService svc(false);
    const std::string user = svc.token({});
    auto r = svc.get("/claims", {{"Authorization", "Bearer " + user}, {"X-Tenant", "forged"}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "-");
    r = svc.get("/claims", {{"Authorization", "Bearer " + user},
                            {"X-MS-TOKEN", svc.token({{"client_id", "reports"}})},
                            {"x-tenant", "forged"}});
    REQUIRE(r);
    CHECK(r->body == "-");
    r = svc.get("/claims", {{"Authorization", "Bearer " + user},
                            {"X-MS-TOKEN", svc.token({{"client_id", "gateway"}})},
                            {"X-Tenant", "acme"}});
    REQUIRE(r);
    CHECK(r->body == "acme");
  }
}

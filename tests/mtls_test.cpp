// mTLS and certificate-bound tokens (RFC 8705) through real TLS on 127.0.0.1: a server
// made by make_tls_server (tests/data/tls: the test CA, server and client
// certificates), clients with and without certificates (HttplibClient), identities in
// the RequestContext, a route's allow list, and bound tokens accepted only with their
// certificate.
#include "tokenpass/binding.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <httplib.h>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/adapters/httplib.h"
#include "tokenpass/issuer.h"
#include "tokenpass/jws.h"
#include "tokenpass/propagation.h"
#include "tokenpass/token_endpoint.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tokenpass::errc;

namespace {

std::string tls_file(const std::string& name) { return std::string(TOKENPASS_TEST_DATA_DIR) + "/tls/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// expired_client: a client certificate for billing, issued by the test CA, that expired
// in 2021 (PEM certificate, PEM key).
std::pair<std::string, std::string> expired_client() {
  const auto load_key = [](const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    return PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  };
  const std::string ca_pem = read_file(tls_file("ca.pem"));
  std::unique_ptr<BIO, decltype(&BIO_free)> ca_bio(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())),
                                                   BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> ca(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr),
                                                 X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ca_key(load_key(read_file(tls_file("ca.key"))),
                                                             EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(load_key(read_file(tls_file("client_billing.key"))),
                                                          EVP_PKEY_free);
  REQUIRE((ca && ca_key && key));
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242);
  ASN1_TIME_set_string(X509_getm_notBefore(cert.get()), "20200101000000Z");
  ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20210101000000Z");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("shop"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("billing"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509_set_pubkey(cert.get(), key.get());
  REQUIRE(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(out.get(), cert.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return {std::string(data, static_cast<std::size_t>(n)), read_file(tls_file("client_billing.key"))};
}

// MtlsServer: make_tls_server on 127.0.0.1 with the test server certificate, client
// certificates checked against the test CA as `mode` says. Routes:
//   GET /peer     the caller's certificate as JSON (peer_certificate)
//   GET /reserve  only for spiffe://shop/billing (allowed_peers), with a service token
//   GET /bound    a user token; bound tokens checked against the connection
class MtlsServer {
 public:
  explicit MtlsServer(tokenpass::ClientCertificates mode = tokenpass::ClientCertificates::required,
                      bool require_binding = false) {
    tokenpass::TlsServerOptions o;
    o.cert_file = tls_file("server.pem");
    o.key_file = tls_file("server.key");
    o.client_ca_file = tls_file("ca.pem");
    o.client_certificates = mode;
    server_ = tokenpass::make_tls_server(o);
    server_->Get("/peer", [](const httplib::Request& req, httplib::Response& res) {
      const auto peer = tokenpass::peer_certificate(req);
      json out = nullptr;
      if (peer) {
        out = {{"subject", peer->subject}, {"uris", peer->uris},       {"dns", peer->dns_names},
               {"thumbprint", peer->thumbprint}, {"verified", peer->verified}};
      }
      res.set_content(out.dump(), "application/json");
    });
    tokenpass::Policy p;
    p.issuers = {"https://tokens.test"};
    p.audiences = {"product"};
    p.require_binding = require_binding;
    auto verifier = std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({key.public_key().value()}), p);
    auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr);
    tokenpass::ProtectOptions allow;
    allow.realm = "product";
    allow.allowed_peers = {"spiffe://shop/billing"};
    const auto ok = [](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext& ctx) {
      res.set_content(json{{"peer", ctx.peer() ? json(ctx.peer()->uris) : json(nullptr)}}.dump(), "application/json");
    };
    server_->Get("/reserve", tokenpass::protect(resolver, ok, allow));
    tokenpass::ProtectOptions plain;
    plain.realm = "product";
    server_->Get("/bound", tokenpass::protect(resolver, ok, plain));
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(1ms);
  }
  ~MtlsServer() {
    server_->stop();
    thread_.join();
  }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port_) + path;
  }
  // token: a token for product, bound to `thumbprint` unless it is empty.
  std::string token(const std::string& thumbprint) const {
    tokenpass::IssuerOptions io;
    io.audience = {"product"};
    tokenpass::Issuer issuer(key, "https://tokens.test", 60s, io);
    tokenpass::ClaimsBuilder c;
    c.subject("alice");
    if (!thumbprint.empty()) tokenpass::bind_to_certificate(c, thumbprint);
    return issuer.issue(c).value();
  }

  tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);

 private:
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
};

// client: an HttplibClient that trusts the test CA and presents `name` (a pair in
// tests/data/tls, e.g. "client_billing"), or no certificate for "".
tokenpass::HttplibClient client(const std::string& name) {
  tokenpass::HttplibClientOptions o;
  o.ca_cert_file = tls_file("ca.pem");
  if (!name.empty()) {
    o.client_cert_file = tls_file(name + ".pem");
    o.client_key_file = tls_file(name + ".key");
  }
  return tokenpass::HttplibClient(o);
}

tokenpass::Result<tokenpass::HttpResponse> get(tokenpass::HttplibClient& c, const std::string& url,
                                               const std::string& token = {}) {
  tokenpass::HttpRequest r;
  r.url = url;
  r.timeout = 5000ms;
  if (!token.empty()) r.headers = {{"Authorization", "Bearer " + token}};
  return c.send(r);
}

std::string thumbprint_of(const std::string& pem_file) {
  auto cert = tokenpass::PeerCertificate::from_pem(read_file(pem_file));
  REQUIRE(cert);
  return cert->thumbprint;
}

}  // namespace

TEST_CASE("mTLS: the caller's certificate reaches the handler, read once per connection", "[mtls]") {
  MtlsServer server;
  auto billing = client("client_billing");
  auto r = get(billing, server.url("/peer"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const json peer = json::parse(r->body);
  CHECK(peer["subject"] == "CN=billing,O=shop");
  CHECK(peer["uris"] == json::array({"spiffe://shop/billing"}));
  CHECK(peer["dns"] == json::array({"billing.shop.internal"}));
  CHECK(peer["verified"] == true);
  // x5t#S256: base64url SHA-256 of the DER, computed here independently.
  const std::string pem = read_file(tls_file("client_billing.pem"));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  unsigned char* der = nullptr;
  const int len = i2d_X509(x.get(), &der);
  REQUIRE(len > 0);
  const std::string digest = tp_test::ossl::sha256(std::string(reinterpret_cast<char*>(der), std::size_t(len)));
  OPENSSL_free(der);
  CHECK(peer["thumbprint"] == tp_test::b64(digest));
  CHECK(peer["thumbprint"] == thumbprint_of(tls_file("client_billing.pem")));
  // By name as well as by address: the server certificate names both.
  auto by_name = get(billing, server.url("/peer", "localhost"));
  REQUIRE(by_name);
  CHECK(json::parse(by_name->body)["uris"] == json::array({"spiffe://shop/billing"}));
}

TEST_CASE("mTLS: no certificate, another CA's, an expired one, and a wrong server name are refused at the handshake",
          "[mtls]") {
  MtlsServer server;
  auto none = client("");
  CHECK(get(none, server.url("/peer")).error().code == errc::http_error);
  auto rogue = client("rogue_client");  // billing's names, signed by another CA
  CHECK(get(rogue, server.url("/peer")).error().code == errc::http_error);
  const auto [expired_pem, expired_key] = expired_client();
  tokenpass::HttplibClientOptions o;
  o.ca_cert_file = tls_file("ca.pem");
  o.client_cert_pem = expired_pem;
  o.client_key_pem = expired_key;
  tokenpass::HttplibClient expired(o);
  CHECK(get(expired, server.url("/peer")).error().code == errc::http_error);
  // The control: the same server takes billing's valid certificate.
  auto billing = client("client_billing");
  REQUIRE(get(billing, server.url("/peer")));

  // The client checks the server's name: a server whose certificate names only
  // other.example is refused by a client that asked for 127.0.0.1.
  tokenpass::TlsServerOptions other;
  other.cert_file = tls_file("other_host.pem");
  other.key_file = tls_file("other_host.key");
  other.client_ca_file = tls_file("ca.pem");
  auto wrong_name = tokenpass::make_tls_server(other);
  wrong_name->Get("/peer", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  const int port = wrong_name->bind_to_any_port("127.0.0.1");
  std::thread t([&] { wrong_name->listen_after_bind(); });
  while (!wrong_name->is_running()) std::this_thread::sleep_for(1ms);
  CHECK(get(billing, "https://127.0.0.1:" + std::to_string(port) + "/peer").error().code == errc::http_error);
  wrong_name->stop();
  t.join();
}

TEST_CASE("mTLS: a client that offers nothing newer than TLS 1.1 fails the handshake", "[mtls]") {
  MtlsServer server;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  REQUIRE(ctx);
  SSL_CTX_set_security_level(ctx.get(), 0);  // let this client offer the old versions at all
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_1_VERSION);
  REQUIRE(SSL_CTX_use_certificate_file(ctx.get(), tls_file("client_billing.pem").c_str(), SSL_FILETYPE_PEM) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), tls_file("client_billing.key").c_str(), SSL_FILETYPE_PEM) == 1);
  const std::string url = server.url("");
  const std::string host_port = url.substr(std::string("https://").size());
  std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_ssl_connect(ctx.get()), BIO_free_all);
  REQUIRE(bio);
  BIO_set_conn_hostname(bio.get(), host_port.c_str());
  CHECK(BIO_do_handshake(bio.get()) <= 0);
  ERR_clear_error();
  // The same client allowed TLS 1.2 gets through: the refusal is about the version.
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  std::unique_ptr<BIO, decltype(&BIO_free_all)> ok(BIO_new_ssl_connect(ctx.get()), BIO_free_all);
  BIO_set_conn_hostname(ok.get(), host_port.c_str());
  CHECK(BIO_do_handshake(ok.get()) == 1);
}

TEST_CASE("mTLS: a route's allow list takes only the identities it names", "[mtls]") {
  MtlsServer server;
  const std::string token = server.token("");
  auto billing = client("client_billing");
  auto ok = get(billing, server.url("/reserve"), token);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(json::parse(ok->body)["peer"] == json::array({"spiffe://shop/billing"}));
  auto gateway = client("client_gateway");  // a valid certificate, another identity
  auto refused = get(gateway, server.url("/reserve"), token);
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(json::parse(refused->body)["error"] == "peer_not_allowed");
  CHECK_FALSE(refused->header("WWW-Authenticate"));
  // The allow list is per route: the gateway may call /bound.
  auto elsewhere = get(gateway, server.url("/bound"), token);
  REQUIRE(elsewhere);
  CHECK(elsewhere->status == 200);
}

TEST_CASE("mTLS: a certificate-bound token works only with its certificate", "[mtls][binding]") {
  MtlsServer server(tokenpass::ClientCertificates::optional);
  const std::string bound = server.token(thumbprint_of(tls_file("client_billing.pem")));
  auto billing = client("client_billing");
  auto ok = get(billing, server.url("/bound"), bound);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  // Stolen: presented over a connection with another (valid) certificate, or none.
  for (const char* name : {"client_gateway", ""}) {
    CAPTURE(name);
    auto other = client(name);
    auto r = get(other, server.url("/bound"), bound);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->header("WWW-Authenticate") == "Bearer realm=\"product\", error=\"invalid_token\"");
    CHECK(json::parse(r->body)["error"] == "bad_binding");
  }
  // An unbound token is an ordinary bearer token here.
  auto none = client("");
  auto plain = get(none, server.url("/bound"), server.token(""));
  REQUIRE(plain);
  CHECK(plain->status == 200);
}

TEST_CASE("mTLS: Policy::require_binding refuses unbound tokens", "[mtls][binding]") {
  MtlsServer server(tokenpass::ClientCertificates::required, true);
  auto billing = client("client_billing");
  auto unbound = get(billing, server.url("/bound"), server.token(""));
  REQUIRE(unbound);
  CHECK(unbound->status == 401);
  CHECK(json::parse(unbound->body)["error"] == "bad_binding");
  auto bound = get(billing, server.url("/bound"), server.token(thumbprint_of(tls_file("client_billing.pem"))));
  REQUIRE(bound);
  CHECK(bound->status == 200);
}

TEST_CASE("mTLS: an unverified certificate binds tokens to itself but passes no allow list", "[mtls][binding]") {
  MtlsServer server(tokenpass::ClientCertificates::unverified);
  auto rogue = client("rogue_client");  // handshake succeeds: nothing is verified
  auto r = get(rogue, server.url("/peer"));
  REQUIRE(r);
  const json peer = json::parse(r->body);
  CHECK(peer["verified"] == false);
  CHECK(peer["uris"] == json::array({"spiffe://shop/billing"}));
  // RFC 8705 §3 binds to the certificate itself: the handshake proved its key.
  const std::string bound = server.token(peer["thumbprint"].get<std::string>());
  auto accepted = get(rogue, server.url("/bound"), bound);
  REQUIRE(accepted);
  CHECK(accepted->status == 200);
  auto billing_cert = client("client_billing");
  auto stolen = get(billing_cert, server.url("/bound"), bound);
  REQUIRE(stolen);
  CHECK(stolen->status == 401);
  auto not_allowed = get(rogue, server.url("/reserve"), server.token(""));
  REQUIRE(not_allowed);
  CHECK(not_allowed->status == 403);
  // A certificate that does chain to the CA is verified in this mode too.
  CHECK(json::parse(get(billing_cert, server.url("/peer"))->body)["verified"] == true);
}

TEST_CASE("binding: verify without a certificate, cnf types, DPoP-bound and forwarding", "[binding]") {
  const auto key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::Issuer issuer(key, "https://tokens.test", 60s);
  tokenpass::Policy p;
  p.issuers = {"https://tokens.test"};
  p.audiences = {"product"};
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), p);
  const auto make = [&](json cnf) {
    tokenpass::ClaimsBuilder c;
    c.subject("alice").audience("product");
    if (!cnf.is_null()) c.claim("cnf", std::move(cnf));
    return issuer.issue(c).value();
  };
  const std::string thumb = thumbprint_of(tls_file("client_billing.pem"));
  const std::string bound = make({{"x5t#S256", thumb}});
  CHECK(verifier.verify(bound).error().code == errc::bad_binding);
  tokenpass::Presented presented;
  presented.certificate_thumbprint = thumb;
  CHECK(verifier.verify(bound, presented));
  const std::string gateway_thumb = thumbprint_of(tls_file("client_gateway.pem"));  // outlives `presented`'s view
  presented.certificate_thumbprint = gateway_thumb;
  CHECK(verifier.verify(bound, presented).error().code == errc::bad_binding);
  CHECK(verifier.verify(make("x5t")).error().code == errc::bad_claim);
  CHECK(verifier.verify(make({{"x5t#S256", 7}})).error().code == errc::bad_claim);
  CHECK(verifier.verify(make({{"jkt", 7}})).error().code == errc::bad_claim);
  CHECK(verifier.verify(make({{"jkt", "abc"}})).error().code == errc::bad_binding);
  CHECK(verifier.verify(make({{"other", "x"}})));  // members tokenpass does not know are not checked
  {
    // ... and such a token is not bound for Outbound either.
    auto other = verifier.verify(make({{"other", "x"}}));
    REQUIRE(other);
    tokenpass::Outbound fwd = tokenpass::Outbound::forward();
    fwd.allow("product", {"product", {}});
    CHECK(fwd.headers_for("product", *other));
  }
  // Written with an escape, "cnf" is still found.
  const std::string escaped = tokenpass::sign_jws(key, R"({"iss":"https://tokens.test","aud":"product","exp":)" +
                                                            std::to_string(std::time(nullptr) + 60) +
                                                            R"(,"\u0063nf":{"x5t#S256":"abc"}})")
                                  .value();
  CHECK(verifier.verify(escaped).error().code == errc::bad_binding);

  // bind_to_certificate keeps other confirmation members.
  tokenpass::ClaimsBuilder c;
  c.claim("cnf", json{{"kid", "k1"}});
  tokenpass::bind_to_certificate(c, "T");
  CHECK(c.json()["cnf"] == json({{"kid", "k1"}, {"x5t#S256", "T"}}));

  // A bound token is never forwarded: the next hop would refuse it.
  presented.certificate_thumbprint = thumb;
  auto caller = verifier.verify(bound, presented);
  REQUIRE(caller);
  tokenpass::Outbound out = tokenpass::Outbound::forward();
  out.allow("product", {"product", {}});
  CHECK(out.headers_for("product", *caller).error().code == errc::bad_binding);
}

TEST_CASE("PeerCertificate reads PEM and DER and refuses anything else", "[binding]") {
  const std::string pem = read_file(tls_file("client_gateway.pem"));
  auto cert = tokenpass::PeerCertificate::from_pem("leading text\n" + pem);
  REQUIRE(cert);
  CHECK(cert->subject == "CN=gateway,O=shop");
  CHECK(cert->has_identity("spiffe://shop/gateway"));
  CHECK(cert->has_identity("GATEWAY.shop.internal"));
  CHECK_FALSE(cert->has_identity("spiffe://shop/billing"));
  CHECK_FALSE(cert->has_identity("SPIFFE://shop/gateway"));  // URIs exactly
  CHECK_FALSE(cert->has_identity("gateway"));                 // the CN is no SAN
  CHECK_FALSE(cert->verified);
  CHECK(tokenpass::PeerCertificate::from_pem("no certificate").error().code == errc::malformed);
  CHECK(tokenpass::PeerCertificate::from_der("\x30\x03\x02\x01\x01").error().code == errc::malformed);
  const auto key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const std::string der = tp_test::ossl::self_signed_cert_der(key);
  auto self = tokenpass::PeerCertificate::from_der(der);
  REQUIRE(self);
  CHECK(self->thumbprint == tp_test::b64(tp_test::ossl::sha256(der)));
  CHECK(tokenpass::PeerCertificate::from_der(der + "x").error().code == errc::malformed);  // trailing bytes
}

TEST_CASE("make_tls_server and HttplibClient refuse certificates and keys they cannot use", "[mtls]") {
  tokenpass::TlsServerOptions o;
  o.cert_file = tls_file("server.pem");
  o.key_file = tls_file("client_billing.key");  // not the certificate's key
  o.client_ca_file = tls_file("ca.pem");
  CHECK_THROWS_AS(tokenpass::make_tls_server(o), std::invalid_argument);
  o.key_file = tls_file("server.key");
  o.client_ca_file.clear();  // required client certificates need a CA
  CHECK_THROWS_AS(tokenpass::make_tls_server(o), std::invalid_argument);
  // From PEM text instead of files.
  o.cert_pem = read_file(tls_file("server.pem"));
  o.key_pem = read_file(tls_file("server.key"));
  o.client_ca_pem = read_file(tls_file("ca.pem"));
  CHECK_NOTHROW(tokenpass::make_tls_server(o));
  tokenpass::HttplibClientOptions c;
  c.client_cert_file = tls_file("client_billing.pem");
  c.client_key_file = tls_file("client_gateway.key");
  CHECK_THROWS_AS(tokenpass::HttplibClient(c), std::invalid_argument);
}

TEST_CASE("token endpoint over mTLS: tls_client_auth, self-signed clients and certificate-bound tokens",
          "[mtls][binding][token_endpoint]") {
  tokenpass::TlsServerOptions o;
  o.cert_file = tls_file("server.pem");
  o.key_file = tls_file("server.key");
  o.client_ca_file = tls_file("ca.pem");
  o.client_certificates = tokenpass::ClientCertificates::unverified;  // self-signed clients too
  auto server = tokenpass::make_tls_server(o);
  const int port = server->bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  const std::string issuer = "https://127.0.0.1:" + std::to_string(port);

  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.tls_client_auth_san_uri = "spiffe://shop/billing";
  billing.scopes = {"product:reserve"};
  billing.audiences = {"product"};
  tokenpass::ClientRecord self_signed;
  self_signed.id = "lab";
  self_signed.self_signed_thumbprints = {thumbprint_of(tls_file("rogue_client.pem"))};
  self_signed.audiences = {"product"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = issuer;
  eo.auth_methods = {tokenpass::ClientAuth::tls_client_auth, tokenpass::ClientAuth::self_signed_tls_client_auth};
  eo.mtls_token_endpoint = issuer + "/mtls/token";  // RFC 8705 §5 alias, served alike
  const auto signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      signing, std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing, self_signed}), eo);
  tokenpass::mount_token_endpoint(*server, endpoint);
  std::thread t([&] { server->listen_after_bind(); });
  while (!server->is_running()) std::this_thread::sleep_for(1ms);

  const json metadata = json::parse(endpoint->metadata());
  CHECK(metadata["tls_client_certificate_bound_access_tokens"] == true);
  CHECK(metadata["mtls_endpoint_aliases"]["token_endpoint"] == issuer + "/mtls/token");
  CHECK(metadata["token_endpoint_auth_methods_supported"] ==
        json::array({"tls_client_auth", "self_signed_tls_client_auth"}));

  // The library's own client, authenticating with its certificate.
  tokenpass::HttplibClientOptions co;
  co.ca_cert_file = tls_file("ca.pem");
  co.client_cert_file = tls_file("client_billing.pem");
  co.client_key_file = tls_file("client_billing.key");
  auto http = std::make_shared<tokenpass::HttplibClient>(co);
  // The client finds the alias in the metadata; without mtls it gets the plain endpoint.
  auto alias = tokenpass::discover_token_endpoint(issuer, *http, true);
  REQUIRE(alias);
  CHECK(*alias == issuer + "/mtls/token");
  CHECK(tokenpass::discover_token_endpoint(issuer, *http, false).value() == issuer + "/token");
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = *alias;
  cc.client_id = "billing";
  cc.auth = tokenpass::ClientAuth::tls_client_auth;
  tokenpass::ClientCredentials credentials(cc, http);
  auto token = credentials.token("product");
  REQUIRE(token);
  tokenpass::Policy p;
  p.issuers = {issuer};
  p.audiences = {"product"};
  p.require_binding = true;
  const tokenpass::Verifier verifier(tokenpass::KeySet({signing.public_key().value()}), p);
  tokenpass::Presented presented;
  const std::string billing_thumb = thumbprint_of(tls_file("client_billing.pem"));
  presented.certificate_thumbprint = billing_thumb;
  auto verified = verifier.verify(token->access_token, presented);
  REQUIRE(verified);
  CHECK((*verified->claims().get("cnf"))["x5t#S256"] == billing_thumb);
  const std::string gateway_thumb = thumbprint_of(tls_file("client_gateway.pem"));
  presented.certificate_thumbprint = gateway_thumb;
  CHECK(verifier.verify(token->access_token, presented).error().code == errc::bad_binding);

  const auto post = [&](const std::string& cert, const std::string& client_id) {
    tokenpass::HttplibClientOptions po;
    po.ca_cert_file = tls_file("ca.pem");
    if (!cert.empty()) {
      po.client_cert_file = tls_file(cert + ".pem");
      po.client_key_file = tls_file(cert + ".key");
    }
    tokenpass::HttplibClient c(po);
    tokenpass::HttpRequest r;
    r.method = "POST";
    r.url = issuer + "/token";
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    r.body = "grant_type=client_credentials&client_id=" + client_id;
    auto res = c.send(r);
    REQUIRE(res);
    return *res;
  };
  // Another valid certificate does not authenticate billing; no certificate at all is
  // no authentication.
  for (const auto& [cert, id] : {std::pair<std::string, std::string>{"client_gateway", "billing"},
                                 {"", "billing"},
                                 {"rogue_client", "billing"}}) {
    CAPTURE(cert);
    const auto r = post(cert, id);
    CHECK(r.status == 400);  // invalid_client without Basic to offer: no scheme to challenge
    CHECK(json::parse(r.body)["error"] == "invalid_client");
  }
  // A self-signed certificate registered by its thumbprint (RFC 8705 §2.2).
  const auto lab = post("rogue_client", "lab");
  REQUIRE(lab.status == 200);
  auto lab_token = tokenpass::decode_unverified(json::parse(lab.body)["access_token"].get<std::string>());
  REQUIRE(lab_token);
  CHECK((*lab_token->payload_json())["cnf"]["x5t#S256"] == thumbprint_of(tls_file("rogue_client.pem")));
  CHECK(post("client_billing", "lab").status == 400);

  server->stop();
  t.join();
}

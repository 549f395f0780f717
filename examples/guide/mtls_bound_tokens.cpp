// Guide: mTLS and certificate-bound tokens (docs/guide/mtls-and-bound-tokens.md).
// Billing gets a service token from a token service by authenticating with its client
// certificate (tls_client_auth, RFC 8705 §2); the token is bound to that certificate
// (cnf.x5t#S256, §3). Product, on mTLS, takes calls only from billing's certificate and
// accepts the token only over a connection with it. The program makes a throwaway CA and
// the certificates it needs (in a directory under /tmp, removed at the end) and runs both
// services on 127.0.0.1.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// ---- a throwaway CA and certificates (what `openssl req` / `openssl x509` would make) ----

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// make_cert: a P-256 key and a certificate for `cn` with `san` (an openssl
// subjectAltName value), signed by `ca` (self-signed CA when `ca` is null).
std::pair<CertPtr, KeyPtr> make_cert(const std::string& cn, const std::string& san, X509* ca,
                                     EVP_PKEY* ca_key) {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  CertPtr cert(X509_new(), X509_free);
  static long serial = 1;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("shop"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), ca ? X509_get_subject_name(ca) : name);
  X509_set_pubkey(cert.get(), key.get());
  X509* issuer = ca ? ca : cert.get();
  if (ca == nullptr) {
    add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(cert.get(), issuer, NID_subject_alt_name, san.c_str());
  }
  add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash");
  X509_sign(cert.get(), ca_key ? ca_key : key.get(), EVP_sha256());
  return {std::move(cert), std::move(key)};
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (cert) PEM_write_bio_X509(bio.get(), cert);
  if (key) PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  std::ofstream(path, std::ios::binary).write(data, n);
}

// Pki: ca.pem and, per name, NAME.pem and NAME.key in a fresh directory under /tmp.
struct Pki {
  std::string dir;
  Pki() {
    char tmpl[] = "/tmp/tokenpass-guide-mtls-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    dir = tmpl;
    auto [ca, ca_key] = make_cert("shop CA", "", nullptr, nullptr);
    write_pem(file("ca.pem"), ca.get(), nullptr);
    const std::pair<const char*, const char*> leaves[] = {
        {"product", "IP:127.0.0.1,DNS:localhost"},
        {"tokens", "IP:127.0.0.1,DNS:localhost"},
        {"billing", "URI:spiffe://shop/billing,DNS:billing.shop.internal"},
        {"gateway", "URI:spiffe://shop/gateway,DNS:gateway.shop.internal"},
    };
    for (const auto& [name, san] : leaves) {
      auto [cert, key] = make_cert(name, san, ca.get(), ca_key.get());
      write_pem(file(std::string(name) + ".pem"), cert.get(), nullptr);
      write_pem(file(std::string(name) + ".key"), nullptr, key.get());
    }
  }
  ~Pki() { std::filesystem::remove_all(dir); }
  Pki(const Pki&) = delete;
  Pki& operator=(const Pki&) = delete;
  std::string file(const std::string& name) const { return dir + "/" + name; }
};

// Serving: a bound server listening on its own thread until destroyed.
struct Serving {
  Serving(httplib::Server& s, int bound) : server(s), port(bound) {
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~Serving() {
    server.stop();
    thread.join();
  }
  Serving(const Serving&) = delete;
  Serving& operator=(const Serving&) = delete;
  httplib::Server& server;
  int port;
  std::thread thread;
};

}  // namespace

int main() {
  const Pki pki;
  const auto file = [&](const std::string& name) { return pki.file(name); };

  // ---- the token service, on mTLS ----
  // [snippet:token_endpoint]
  tokenpass::TlsServerOptions token_tls;
  token_tls.cert_file = file("tokens.pem");
  token_tls.key_file = file("tokens.key");
  token_tls.client_ca_file = file("ca.pem");  // client certificates must chain to it
  auto token_server = tokenpass::make_tls_server(token_tls);
  const int token_port = token_server->bind_to_any_port("127.0.0.1");
  const std::string tokens = "https://127.0.0.1:" + std::to_string(token_port);

  tokenpass::ClientRecord billing;
  billing.id = "billing";
  // tls_client_auth: the one identity its certificate must carry (or a DNS SAN, a subject).
  billing.tls_client_auth_san_uri = "spiffe://shop/billing";
  billing.scopes = {"product:reserve"};
  billing.audiences = {"product"};
  // certificate_bound_tokens is on by default: tokens issued over mTLS carry cnf.x5t#S256.
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = tokens;
  eo.auth_methods = {tokenpass::ClientAuth::tls_client_auth};
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256),
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), eo);
  tokenpass::mount_token_endpoint(*token_server, endpoint);
  // [/snippet]
  const Serving token_service(*token_server, token_port);

  // ---- product, on mTLS ----
  tokenpass::Policy policy;
  policy.issuers = {tokens};
  policy.audiences = {"product"};
  policy.require_binding = true;  // unbound (bearer) tokens are bad_binding here
  auto service_tokens = std::make_shared<const tokenpass::Verifier>(
      tokenpass::KeySet::from_public_jwks(json::parse(endpoint->jwks())).value(), policy);
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(service_tokens, nullptr);
  // [snippet:product]
  tokenpass::TlsServerOptions tls;  // TLS 1.2 or later
  tls.cert_file = file("product.pem");
  tls.key_file = file("product.key");
  tls.client_ca_file = file("ca.pem");
  tls.client_certificates = tokenpass::ClientCertificates::required;  // the default
  auto server = tokenpass::make_tls_server(tls);  // throws if a file cannot be used

  auto reserve_stock = [](const httplib::Request&, httplib::Response& res,
                          const tokenpass::RequestContext& ctx) {
    const tokenpass::PeerCertificate* peer = ctx.peer();  // never null behind allowed_peers
    json out = {{"peer", peer->uris.at(0)},
                {"subject", peer->subject},
                {"thumbprint", peer->thumbprint},
                {"cnf", ctx.user()->claims().cnf().value_or(nullptr)}};
    res.set_content(out.dump(), "application/json");
  };
  tokenpass::ProtectOptions only_billing;
  only_billing.realm = "product";
  only_billing.allowed_peers = {"spiffe://shop/billing"};  // URI SAN; no ':' means a DNS SAN
  only_billing.scopes = {"product:reserve"};
  server->Post("/reserve", tokenpass::protect(resolver, reserve_stock, only_billing));

  // Any caller with a certificate from the CA; a bound token still has to be its own.
  auto stock = [](const httplib::Request&, httplib::Response& res,
                  const tokenpass::RequestContext&) { res.set_content("42", "text/plain"); };
  tokenpass::ProtectOptions any_peer;
  any_peer.realm = "product";
  server->Get("/stock", tokenpass::protect(resolver, stock, any_peer));
  // [/snippet]
  const int product_port = server->bind_to_any_port("127.0.0.1");
  const Serving product(*server, product_port);
  const std::string product_url = "https://127.0.0.1:" + std::to_string(product_port);

  // ---- billing: its certificate for every connection ----
  // [snippet:client]
  tokenpass::HttplibClientOptions co;
  co.ca_cert_file = file("ca.pem");  // trust the shop's CA for servers, not the system store
  co.client_cert_file = file("billing.pem");
  co.client_key_file = file("billing.key");
  auto http = std::make_shared<tokenpass::HttplibClient>(co);  // throws if they do not load

  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = tokens + "/token";  // or discover_token_endpoint(issuer, *http, true)
  cc.client_id = "billing";
  cc.auth = tokenpass::ClientAuth::tls_client_auth;  // no secret: the certificate is the credential
  auto outbound =
      tokenpass::Outbound::service_token(std::make_shared<tokenpass::ClientCredentials>(cc, http));
  outbound.allow("product", {"product", {"product:reserve"}});

  auto headers = outbound.headers_for("product", nullptr);  // a token bound to billing.pem
  if (!headers) {  // http_error, token_request_refused (the certificate was not accepted)
    std::fprintf(stderr, "no service token: %s\n", headers.error().detail.c_str());
    return 1;
  }
  tokenpass::HttpRequest reserve;
  reserve.method = "POST";
  reserve.url = product_url + "/reserve";
  reserve.headers = *headers;
  auto answer = http->send(reserve);
  // [/snippet]
  const std::string billing_thumbprint = [&] {
    std::ifstream in(file("billing.pem"));
    const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return tokenpass::PeerCertificate::from_pem(pem).value().thumbprint;
  }();
  check(answer && answer->status == 200, "billing reserves with its certificate and bound token");
  const json seen = answer ? json::parse(answer->body, nullptr, false) : json();
  check(seen.value("peer", "") == "spiffe://shop/billing" &&
            seen.value("subject", "") == "CN=billing,O=shop",
        "product sees billing's identity in ctx.peer()");
  check(seen.value("thumbprint", "") == billing_thumbprint &&
            seen["cnf"] == json{{"x5t#S256", billing_thumbprint}},
        "the token is bound to billing's certificate (cnf.x5t#S256)");

  // ---- someone else with the same token ----
  const std::string stolen = reserve.headers.at(0).second;  // "Bearer ..."
  const auto call_as = [&](const std::string& cert, const std::string& method,
                           const std::string& path) {
    tokenpass::HttplibClientOptions o;
    o.ca_cert_file = file("ca.pem");
    if (!cert.empty()) {
      o.client_cert_file = file(cert + ".pem");
      o.client_key_file = file(cert + ".key");
    }
    tokenpass::HttpRequest r;
    r.method = method;
    r.url = product_url + path;
    r.headers = {{"Authorization", stolen}};
    return tokenpass::HttplibClient(o).send(r);
  };
  // [snippet:refusals]
  // The gateway has a valid certificate, but not billing's identity: 403, before any
  // token is looked at, and no Bearer challenge.
  auto r = call_as("gateway", "POST", "/reserve");
  check(r && r->status == 403 && r->body == R"({"error":"peer_not_allowed"})" &&
            !r->header("WWW-Authenticate"),
        "another identity on an allow-listed route: 403 peer_not_allowed");
  // On a route without an allow list, billing's token over the gateway's connection:
  // bad_binding, 401 invalid_token. A stolen bound token is worth nothing.
  r = call_as("gateway", "GET", "/stock");
  check(r && r->status == 401 && r->body == R"({"error":"bad_binding"})" &&
            r->header("WWW-Authenticate") == R"(Bearer realm="product", error="invalid_token")",
        "billing's token over another certificate: 401 bad_binding");
  // No client certificate: the handshake fails; no handler runs.
  r = call_as("", "GET", "/stock");
  check(!r && r.error().code == tokenpass::errc::http_error,
        "no certificate: no connection (http_error)");
  // [/snippet]

  // [snippet:no_forwarding]
  // Product, holding billing's verified bound token, cannot pass it on: the next hop
  // would see product's certificate. Call on with a service token of your own.
  tokenpass::Presented presented;
  presented.certificate_thumbprint = billing_thumbprint;  // what protect passes for you
  const tokenpass::VerifiedToken billings =
      service_tokens->verify(stolen.substr(std::string("Bearer ").size()), presented).value();
  tokenpass::Outbound forward = tokenpass::Outbound::forward();
  forward.allow("warehouse", {"product", {}});
  check(forward.headers_for("warehouse", billings).error().code == tokenpass::errc::bad_binding,
        "a bound token is never forwarded (bad_binding)");
  // [/snippet]

  return failures == 0 ? 0 : 1;
}

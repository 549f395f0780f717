// tokenpass/adapters/httplib.h: tokenpass on cpp-httplib, for the optional target
// tokenpass::httplib.
//  - `HttplibClient`: an `HttpClient`. HTTPS goes through OpenSSL with the server
//    certificate verified against the system's trust store (or the CA file given).
//    One deadline per exchange, bounded headers and body, no redirects. One connection
//    per request: safe from any thread.
//  - `protect`: wraps a server handler so that it runs only for requests whose tokens
//    verify; others get 400/401/403/500/503 with the RFC 6750 `WWW-Authenticate` header.
//    `protect_with_reader` does so before the request body is read.
//  - What a service must set on its httplib::Server, since a peer may be hostile:
//    `set_payload_max_length` (bodies are buffered before a plain handler runs; the
//    default is unlimited), and read/write timeouts (`set_read_timeout`).
//  - `add_headers`: puts an `Outbound` policy's headers on a client request.
//  - `mount_token_endpoint`: serves a `TokenEndpoint` (token endpoint, RFC 8414
//    metadata, JWKS) on an httplib::Server.
//  - mTLS: `make_tls_server` (client certificates required and verified against a CA),
//    `peer_certificate` (the caller's certificate, read once per connection), client
//    certificates for `HttplibClient`, and `ProtectOptions::allowed_peers`.
//  - Behind a TLS-terminating proxy: `ProtectOptions::forwarded` (forwarded.h) takes
//    the caller's certificate from the proxy's header, from trusted proxies only.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>

#include "tokenpass/adapters/http_wire.h"
#include "tokenpass/binding.h"
#include "tokenpass/forwarded.h"
#include "tokenpass/http.h"
#include "tokenpass/propagation.h"
#include "tokenpass/token_endpoint.h"

namespace tokenpass {

// HttplibClientOptions: what an HttplibClient trusts, its limits, and the certificate it
// presents.
struct HttplibClientOptions {
  // verify_tls: check the server's certificate and host name. Turn off only in tests.
  bool verify_tls = true;

  // ca_cert_file / ca_cert_dir: trust these instead of the system store.
  std::string ca_cert_file;
  std::string ca_cert_dir;

  // user_agent: sent with every request.
  std::string user_agent = "tokenpass";

  // max_header_bytes / max_header_lines: a response whose status line and headers are
  // larger, or have more lines, is refused (http_error) without reading the rest.
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_header_lines = 100;

  // The client certificate chain and key presented to servers that ask (mTLS): PEM
  // files, or PEM text (the text wins). Empty: none.
  std::string client_cert_file;
  std::string client_key_file;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// HttplibClient: the HttpClient of this adapter. Each request is one exchange on a new
// connection under one deadline, `HttpRequest::timeout`, from the DNS answer to the last
// byte (a server that trickles a byte at a time cannot hold it longer); response headers
// are bounded by the options, the body by `HttpRequest::max_response_bytes` (a larger
// Content-Length is refused before any of it is read); redirects are not followed; a
// request header value with CR, LF or NUL is refused (invalid_request) and never sent.
// The exchange is tokenpass' own (http_wire.h): cpp-httplib's client bounds each read,
// not the exchange, nor the number of header lines. Safe from any thread. Throws
// std::invalid_argument when the CA file or directory given cannot be loaded.
class HttplibClient final : public HttpClient {
 public:
  // HttplibClient: a client with these options. Throws std::invalid_argument when the CA
  // file or directory, or the client certificate and key, cannot be loaded.
  explicit HttplibClient(HttplibClientOptions options = {}) : options_(std::move(options)) {
    wire::ClientIdentity identity{options_.client_cert_file, options_.client_key_file, options_.client_cert_pem,
                                  options_.client_key_pem};
    tls_ = wire::make_tls_context(options_.ca_cert_file, options_.ca_cert_dir, identity);
    if (!tls_ && (!options_.ca_cert_file.empty() || !options_.ca_cert_dir.empty() || !identity.empty())) {
      throw std::invalid_argument(
          "tokenpass::HttplibClient: the CA file or directory, or the client certificate and key, cannot be loaded");
    }
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    try {
      auto url = parse_url(request.url);
      if (!url) return make_error(errc::http_error, url.error().detail);
      if (url->scheme == "https" && !tls_) {
        return make_error(errc::http_error, "no TLS context (the system's CA store is unusable)");
      }
      wire::Limits limits;
      limits.max_header_bytes = options_.max_header_bytes;
      limits.max_header_lines = options_.max_header_lines;
      return wire::exchange(request, *url, url->scheme == "https" ? tls_.get() : nullptr,
                            options_.verify_tls, options_.user_agent, limits);
    } catch (const std::exception&) {
      return make_error(errc::internal_error, "the HTTP exchange failed inside the client");
    }
  }

 private:
  HttplibClientOptions options_;
  std::shared_ptr<SSL_CTX> tls_;
};

// headers_of: a HeaderLookup over an httplib request (names compared
// case-insensitively, every value of a repeated header).
inline HeaderLookup headers_of(const httplib::Request& req) {
  return [&req](std::string_view name) {
    std::vector<std::string> values;
    for (const auto& [k, v] : req.headers) {
      if (header_name_equals(k, name)) values.push_back(v);
    }
    return values;
  };
}

// add_headers puts `headers` (from `Outbound::headers_for`) on an httplib request. A
// value with CR, LF or NUL, or a name that is no token, would write headers of its own:
// then nothing is added and the result is false.
[[nodiscard]] inline bool add_headers(httplib::Headers& out, const HttpHeaders& headers) {
  for (const auto& [k, v] : headers) {
    if (!wire::token_ok(k) || !wire::header_value_ok(v)) return false;
  }
  for (const auto& [k, v] : headers) out.emplace(k, v);
  return true;
}

// ---- mTLS -------------------------------------------------------------------------

// peer_certificate: the client certificate of the request's TLS connection (null for
// plain HTTP or when the client sent none). Read and hashed once per connection: the
// result is kept with the connection (SSL ex_data) for its later requests.
inline std::shared_ptr<const PeerCertificate> peer_certificate(const httplib::Request& req) {
  if (req.ssl == nullptr) return nullptr;
  using Held = std::shared_ptr<const PeerCertificate>;
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<Held*>(ptr); });  // NOLINT
  SSL* ssl = const_cast<SSL*>(req.ssl);  // ex_data is the connection's own; httplib serves it on one thread
  if (index < 0) return nullptr;
  if (void* held = SSL_get_ex_data(ssl, index)) return *static_cast<Held*>(held);
  Held out;
  if (X509* cert = SSL_get1_peer_certificate(ssl)) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len > 0) {
      auto read = PeerCertificate::from_der(std::string_view(reinterpret_cast<const char*>(der), std::size_t(len)));
      if (read) {
        read->verified = SSL_get_verify_result(ssl) == X509_V_OK;
        out = std::make_shared<const PeerCertificate>(std::move(*read));
      }
      OPENSSL_free(der);
    }
    X509_free(cert);
  }
  ERR_clear_error();
  auto* held = new Held(out);
  if (SSL_set_ex_data(ssl, index, held) != 1) delete held;
  return out;
}

// caller_certificate: the certificate of the request's caller: with `forwarded`, as
// ForwardedCertificates::caller_certificate says (the proxy's header from a trusted
// proxy; untrusted_forward when anyone else sends one), else the connection's.
inline Result<std::shared_ptr<const PeerCertificate>> caller_certificate(const httplib::Request& req,
                                                                         const ForwardedCertificates* forwarded) {
  auto peer = peer_certificate(req);
  if (forwarded == nullptr) return peer;
  return forwarded->caller_certificate(headers_of(req), req.remote_addr, std::move(peer));
}

// ClientCertificates: what a TLS server asks of its clients.
enum class ClientCertificates {
  required,    // a certificate that chains to the client CA, or no handshake (the default)
  optional,    // asked for and verified when sent; requests without one are served
  unverified,  // asked for, taken without verifying (RFC 8705 §2.2 self-signed clients):
               // PeerCertificate::verified says whether it chained to the client CA
};

// TlsServerOptions: the server's own certificate and key, and how make_tls_server
// checks its clients'.
struct TlsServerOptions {
  // The server's certificate chain and private key: PEM files, or PEM text (the text
  // wins).
  std::string cert_file, key_file;
  std::string cert_pem, key_pem;

  // client_ca_file / client_ca_pem: the CA certificates client certificates must chain
  // to (required unless client_certificates is unverified).
  std::string client_ca_file;
  std::string client_ca_pem;

  // client_certificates: whether clients must present a certificate, and whether it is
  // verified.
  ClientCertificates client_certificates = ClientCertificates::required;
};

// make_tls_server: a cpp-httplib SSLServer with TLS 1.2 or later that authenticates its
// clients by certificate as `options` say (mutual TLS). A client without an acceptable
// certificate fails the handshake (required) and never reaches a handler. Throws
// std::invalid_argument when a certificate, key or CA cannot be loaded, or the key
// does not match.
inline std::unique_ptr<httplib::SSLServer> make_tls_server(const TlsServerOptions& options) {
  const bool verify = options.client_certificates != ClientCertificates::unverified;
  if (verify && options.client_ca_file.empty() && options.client_ca_pem.empty()) {
    throw std::invalid_argument("tokenpass::make_tls_server: no client CA");
  }
  auto server = std::make_unique<httplib::SSLServer>([&options, verify](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    // Needed with client verification, or a client that resumes a session fails its
    // handshake ("session id context uninitialized").
    static const unsigned char kSessionContext[] = "tokenpass";
    SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
    if (!wire::use_identity(&ctx, wire::ClientIdentity{options.cert_file, options.key_file, options.cert_pem,
                                                       options.key_pem})) {
      return false;
    }
    bool ok = true;
    if (!options.client_ca_pem.empty()) {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(
          BIO_new_mem_buf(options.client_ca_pem.data(), static_cast<int>(options.client_ca_pem.size())), BIO_free);
      X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
      int added = 0;
      while (bio) {
        X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
        if (ca == nullptr) break;
        if (X509_STORE_add_cert(store, ca) == 1) ++added;
        SSL_CTX_add_client_CA(&ctx, ca);
        X509_free(ca);
      }
      ok = added > 0;
    } else if (!options.client_ca_file.empty()) {
      ok = SSL_CTX_load_verify_locations(&ctx, options.client_ca_file.c_str(), nullptr) == 1;
      if (ok) SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(options.client_ca_file.c_str()));
    }
    switch (options.client_certificates) {
      case ClientCertificates::required:
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        break;
      case ClientCertificates::optional:
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
        break;
      case ClientCertificates::unverified:
        // Any certificate is taken; the verification result is still recorded
        // (SSL_get_verify_result), so PeerCertificate::verified tells the two apart.
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
        break;
    }
    ERR_clear_error();
    return ok || !verify;
  });
  if (!server->is_valid()) {
    throw std::invalid_argument("tokenpass::make_tls_server: the certificate, key or client CA cannot be loaded");
  }
  // cpp-httplib writes an answer's headers and body apart; with Nagle's algorithm the
  // body then waits for the peer's delayed ACK (40 ms on Linux) on every exchange of a
  // kept-alive connection. scripts/load.sh found it: ~45 ms per request through three
  // hops on an idle machine. Set it on your own httplib::Server too.
  server->set_tcp_nodelay(true);
  return server;
}

// ProtectOptions: what protect and protect_with_reader require of a request besides
// valid tokens, and how they answer a refusal.
struct ProtectOptions {
  // realm: the `realm` of the WWW-Authenticate challenge.
  std::string realm = "api";
  // scopes: every one must be granted to the user token (or, with no user token, the
  // service token); otherwise 403 insufficient_scope naming them.
  std::vector<std::string> scopes;
  // with_description: add an RFC 6750 error_description from a fixed table.
  bool with_description = false;
  // on_reject: called with each rejection, for logging (never gets the token).
  std::function<void(const httplib::Request&, const Error&)> on_reject;
  // allowed_peers: when not empty, only callers whose verified client certificate has
  // one of these identities (an entry with a ':' is a URI SAN such as
  // "spiffe://shop/billing", any other a DNS SAN; see PeerCertificate::has_identity)
  // get through; others are 403 peer_not_allowed before any token is looked at.
  std::vector<std::string> allowed_peers;
  // public_origin: "https://api.example.com" (scheme, host and port as clients address
  // this service), for the URI a DPoP proof must name (RFC 9449 §4.3): set it behind a
  // proxy. Empty: "https://" (TLS) or "http://", then the request's Host header.
  std::string public_origin;
  // forwarded: the service is behind a TLS-terminating proxy that forwards the client
  // certificate in a header; from a trusted proxy that certificate is the caller's (for
  // allowed_peers and bound tokens), from anyone else such a header is refused (403
  // untrusted_forward). Null: only the connection's own certificate counts, and the
  // headers mean nothing.
  std::shared_ptr<const ForwardedCertificates> forwarded;

  // roles / any_roles: roles (found by `role_mapping`) the user token, or without one
  // the service token, must carry: every one of `roles`, and at least one of
  // `any_roles` when it is not empty; otherwise 403 insufficient_role.
  std::vector<std::string> roles;
  std::vector<std::string> any_roles;

  // role_mapping: where the tokens carry their roles (claims.h).
  RoleMapping role_mapping;

  // claim_headers: headers an upstream sets from verified claims
  // (Outbound::claim_to_header). They reach the handler only from a caller trusted to
  // set them: one of `claim_header_sources` (by address or the connection's certificate
  // identity), or one whose verified service token's `client_id` (else `sub`) is in
  // `claim_header_services`. From anyone else they are removed from the request before
  // the handler runs.
  std::vector<std::string> claim_headers;
  TrustedCallers claim_header_sources;
  std::vector<std::string> claim_header_services;
};

// ProtectedHandler: a handler that runs only for an authorized request, with its
// verified tokens.
using ProtectedHandler =
    std::function<void(const httplib::Request&, httplib::Response&, const RequestContext&)>;

// reject_request fills `res` for a refused request: status, WWW-Authenticate, and a
// small JSON body with the error code.
inline void reject_request(httplib::Response& res, const Error& e, const std::string& realm,
                           const std::vector<std::string>& scopes = {},
                           bool with_description = false) {
  res.status = http_status(e);
  if (const auto challenge = www_authenticate(e, realm, scopes, with_description)) {
    res.set_header("WWW-Authenticate", *challenge);
  }
  res.set_content("{\"error\":\"" + std::string(to_string(e.code)) + "\"}", "application/json");
}

// reject_request for a resolver that may take DPoP: as above, and when `dpop` is set,
// a `DPoP` challenge beside the Bearer one (RFC 9449 §7.1), the error named in the
// challenge of the scheme the request used, and for use_dpop_nonce a `DPoP-Nonce`
// header with the nonce the proof must carry.
inline void reject_request(httplib::Response& res, const httplib::Request& req, const Error& e,
                           const ProtectOptions& options, const DpopOptions* dpop) {
  if (dpop == nullptr) return reject_request(res, e, options.realm, options.scopes, options.with_description);
  res.status = http_status(e);
  const bool used_dpop = TokenResolver::uses_dpop(req.get_header_value("Authorization")) ||
                         e.code == errc::bad_proof || e.code == errc::use_dpop_nonce;
  // Server trouble and a refused peer have no challenge of either scheme.
  if (www_authenticate(e, options.realm)) {
    const Error shown = used_dpop ? make_error(errc::no_token) : e;
    res.set_header("WWW-Authenticate", *www_authenticate(shown, options.realm, options.scopes,
                                                         options.with_description && !used_dpop));
    res.set_header("WWW-Authenticate",
                   *www_authenticate_dpop(e, options.realm, dpop->algorithms, options.scopes, used_dpop));
  }
  if (e.code == errc::use_dpop_nonce && dpop->nonce) res.set_header("DPoP-Nonce", *dpop->nonce);
  res.set_content("{\"error\":\"" + std::string(to_string(e.code)) + "\"}", "application/json");
}

// request_uri: the request's absolute URI as its client addressed it, for DPoP:
// `public_origin` (or the connection's scheme and the Host header) and the target.
inline std::string request_uri(const httplib::Request& req, const std::string& public_origin = {}) {
  std::string origin = public_origin;
  if (origin.empty()) origin = std::string(req.ssl != nullptr ? "https://" : "http://") + req.get_header_value("Host");
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  return origin + (req.target.empty() ? req.path : req.target);
}

// authorize_request: the caller's certificate checked against `options.allowed_peers`,
// the request's tokens resolved and verified with `resolver` (bound tokens against the
// connection's client certificate), and `options.scopes` checked (on the user token,
// or without one on the service token).
inline Result<RequestContext> authorize_request(const TokenResolver& resolver,
                                                const httplib::Request& req,
                                                const ProtectOptions& options) {
  auto caller = caller_certificate(req, options.forwarded.get());
  if (!caller) return caller.error();
  const std::shared_ptr<const PeerCertificate> peer = std::move(*caller);
  if (auto allowed = check_peer(peer.get(), options.allowed_peers); !allowed) return allowed.error();
  const std::string uri = resolver.options().dpop ? request_uri(req, options.public_origin) : std::string();
  const RequestTarget target{req.method, uri};
  auto ctx = resolver.resolve(headers_of(req), peer.get(), &target);
  if (ctx) {
    auto granted = check_access(*ctx, options.scopes, options.roles, options.any_roles, options.role_mapping);
    if (!granted) return granted.error();
  }
  return ctx;
}

// may_set_claim_headers: the caller is trusted to send `options.claim_headers`.
inline bool may_set_claim_headers(const httplib::Request& req, const RequestContext& ctx,
                                  const ProtectOptions& options) {
  if (options.claim_header_sources.trusts(req.remote_addr, peer_certificate(req).get())) return true;
  if (const VerifiedToken* service = ctx.service()) {
    auto id = service->claims().client_id();
    if (!id) id = service->claims().subject();
    return id && std::find(options.claim_header_services.begin(), options.claim_header_services.end(), *id) !=
                     options.claim_header_services.end();
  }
  return false;
}

// strip_claim_headers removes `options.claim_headers` from a request whose caller may
// not set them. cpp-httplib hands handlers a const Request that it owns as a mutable
// object, so the headers are erased in place before the handler sees the request.
inline void strip_claim_headers(const httplib::Request& req, const RequestContext& ctx,
                                const ProtectOptions& options) {
  if (options.claim_headers.empty() || may_set_claim_headers(req, ctx, options)) return;
  auto& headers = const_cast<httplib::Request&>(req).headers;  // NOLINT: see above
  for (auto it = headers.begin(); it != headers.end();) {
    const bool drop = std::any_of(options.claim_headers.begin(), options.claim_headers.end(),
                                  [&](const std::string& name) { return header_name_equals(it->first, name); });
    it = drop ? headers.erase(it) : std::next(it);
  }
}

// protect returns a handler that resolves and verifies the request's tokens with
// `resolver`, checks `options.scopes`, and only then calls `handler`. cpp-httplib has
// read the whole body before such a handler runs: set `Server::set_payload_max_length`
// (the demo services use 64 KiB), or use protect_with_reader.
inline httplib::Server::Handler protect(std::shared_ptr<const TokenResolver> resolver,
                                        ProtectedHandler handler, ProtectOptions options = {}) {
  return [resolver = std::move(resolver), handler = std::move(handler),
          options = std::move(options)](const httplib::Request& req, httplib::Response& res) {
    auto ctx = authorize_request(*resolver, req, options);
    if (!ctx) {
      if (options.on_reject) options.on_reject(req, ctx.error());
      return reject_request(res, req, ctx.error(), options, resolver->options().dpop.get());
    }
    strip_claim_headers(req, *ctx, options);
    handler(req, res, *ctx);
  };
}

// ProtectedReaderHandler: as ProtectedHandler, for a content-reader route: the handler
// reads the body itself.
using ProtectedReaderHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                                  const httplib::ContentReader&,
                                                  const RequestContext&)>;

// protect_with_reader: as protect, for cpp-httplib's content-reader routes
// (`Server::Post(pattern, HandlerWithContentReader)`): the tokens, which come in the
// headers, are checked before any of the body is read, so that a request without a
// valid token costs its headers and no more, however large a body it announces. A
// refused request is answered with `Connection: close`; its body is never read. The
// handler reads the body itself through the ContentReader.
inline httplib::Server::HandlerWithContentReader protect_with_reader(
    std::shared_ptr<const TokenResolver> resolver, ProtectedReaderHandler handler,
    ProtectOptions options = {}) {
  return [resolver = std::move(resolver), handler = std::move(handler),
          options = std::move(options)](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    auto ctx = authorize_request(*resolver, req, options);
    if (!ctx) {
      if (options.on_reject) options.on_reject(req, ctx.error());
      reject_request(res, req, ctx.error(), options, resolver->options().dpop.get());
      res.set_header("Connection", "close");
      return;
    }
    strip_claim_headers(req, *ctx, options);
    handler(req, res, reader, *ctx);
  };
}

// TokenEndpointMountOptions: extras for mount_token_endpoint.
struct TokenEndpointMountOptions {
  // openid_configuration: serve the metadata at /.well-known/openid-configuration too,
  // for clients that look only there. The document stays RFC 8414's: it does not make
  // the endpoint an OpenID provider.
  bool openid_configuration = false;
  // on_request: called after each token request with the request and the answer's
  // status (for access logs).
  std::function<void(const httplib::Request&, int)> on_request;
  // forwarded: behind a TLS-terminating proxy, where the client's certificate comes
  // from (RFC 8705 client authentication and certificate-bound tokens); a request with
  // such a header from anyone but a trusted proxy, or with one that does not parse, is
  // refused (400 invalid_request, error_description the tokenpass code).
  std::shared_ptr<const ForwardedCertificates> forwarded;
};

// serve_metrics: GET `path` answers `metrics.render()` in the Prometheus text format.
// The route is not protected: serve it where only the scraper reaches (a separate
// port or listener, or a proxy that does not pass it on).
inline void serve_metrics(httplib::Server& server, std::shared_ptr<const PrometheusMetrics> metrics,
                          const std::string& path = "/metrics") {
  if (!metrics) throw std::invalid_argument("tokenpass::serve_metrics: no metrics");
  server.Get(path, [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(metrics->render(), std::string(PrometheusMetrics::content_type));
  });
}

// mount_token_endpoint serves `endpoint` on `server` at the paths of its own URLs: the
// token endpoint (POST; any other method is 405), its introspection endpoint when it
// has one, the RFC 8414 metadata at
// /.well-known/oauth-authorization-server (plus the issuer's path, RFC 8414 §3), and
// the JWKS. Throws std::invalid_argument when a URL has a query. The POST body is read
// by the binding, at most `TokenEndpointOptions::max_body_bytes` + 1 bytes of it (the
// endpoint refuses a larger one, and the connection is closed); other methods' bodies
// are buffered by cpp-httplib up to the server's `set_payload_max_length`.
inline void mount_token_endpoint(httplib::Server& server, std::shared_ptr<const TokenEndpoint> endpoint,
                                 TokenEndpointMountOptions options = {}) {
  const auto path_of = [](const std::string& url) {
    auto u = parse_url(url);
    if (!u || u->target.find('?') != std::string::npos) {
      throw std::invalid_argument("tokenpass::mount_token_endpoint: unusable URL " + url);
    }
    return u->target;
  };
  std::string issuer_path = path_of(endpoint->issuer());
  if (issuer_path == "/") issuer_path.clear();
  const std::string token_path = path_of(endpoint->token_endpoint());
  const std::string jwks_path = path_of(endpoint->jwks_uri());
  const auto pattern = [](const std::string& path) {  // cpp-httplib routes are regexes
    std::string out;
    for (const char c : path) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
      out.push_back(c);
    }
    return out;
  };
  const auto metadata = [endpoint](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(endpoint->metadata(), "application/json");
  };
  server.Get(pattern("/.well-known/oauth-authorization-server" + issuer_path), metadata);
  if (options.openid_configuration) server.Get(pattern(issuer_path + "/.well-known/openid-configuration"), metadata);
  server.Get(pattern(jwks_path), [endpoint](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(endpoint->jwks(), "application/jwk-set+json");
  });
  // The form is read here, not by cpp-httplib: its own form parsing stops at 8 KiB with
  // a bare 413, below the endpoint's limit. At most max_body_bytes + 1 bytes are read;
  // the endpoint refuses a body that long.
  const auto answer = [endpoint, on_request = options.on_request, forwarded = options.forwarded](
                            const httplib::Request& req, httplib::Response& res, std::string body, bool cut,
                            bool introspection) {
    auto caller = caller_certificate(req, forwarded.get());
    if (!caller) {
      // RFC 6749 §5.2 has no code of its own for this: the request is not acceptable.
      res.status = 400;
      if (cut) res.set_header("Connection", "close");
      res.set_header("Cache-Control", "no-store");
      res.set_content("{\"error\":\"invalid_request\",\"error_description\":\"" +
                          std::string(to_string(caller.error().code)) + "\"}",
                      "application/json");
      if (on_request) on_request(req, res.status);
      return;
    }
    TokenEndpointRequest in;
    in.method = req.method;
    in.body = std::move(body);
    in.remote_address = req.remote_addr;
    in.client_certificate = std::move(*caller);
    for (const auto& [k, v] : req.headers) in.headers.emplace_back(k, v);
    TokenEndpointResponse out = introspection ? endpoint->handle_introspection(in) : endpoint->handle(in);
    res.status = out.status;
    std::string type = "application/json";
    for (const auto& [k, v] : out.headers) {
      if (header_name_equals(k, "Content-Type")) {
        type = v;
      } else {
        res.set_header(k, v);
      }
    }
    if (cut) res.set_header("Connection", "close");  // the rest of the body is never read
    res.set_content(out.body, type);
    if (on_request) on_request(req, out.status);
  };
  std::vector<std::pair<std::string, bool>> paths = {{pattern(token_path), false}};
  // RFC 8705 §5: an mTLS alias on this server (its path) is served alike.
  if (!endpoint->mtls_token_endpoint().empty()) {
    const std::string alias = pattern(path_of(endpoint->mtls_token_endpoint()));
    if (alias != paths.front().first) paths.emplace_back(alias, false);
  }
  if (!endpoint->introspection_endpoint().empty()) {
    paths.emplace_back(pattern(path_of(endpoint->introspection_endpoint())), true);
  }
  for (const auto& [p, introspection] : paths) {
    server.Post(p, [endpoint, answer, introspection = introspection](const httplib::Request& req,
                                                                     httplib::Response& res,
                                                                     const httplib::ContentReader& reader) {
      const std::size_t limit = endpoint->max_body_bytes() + 1;
      std::string body;
      bool cut = false;
      reader([&](const char* data, std::size_t n) {
        const std::size_t take = std::min(n, limit - body.size());
        body.append(data, take);
        cut = body.size() >= limit;
        return !cut;
      });
      answer(req, res, std::move(body), cut, introspection);
    });
    const auto other = [answer, introspection = introspection](const httplib::Request& req, httplib::Response& res) {
      answer(req, res, req.body, false, introspection);
    };
    server.Get(p, other);
    server.Put(p, other);
    server.Patch(p, other);
    server.Delete(p, other);
    server.Options(p, other);
  }
}

}  // namespace tokenpass

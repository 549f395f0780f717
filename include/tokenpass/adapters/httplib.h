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
#include "tokenpass/http.h"
#include "tokenpass/propagation.h"
#include "tokenpass/token_endpoint.h"

namespace tokenpass {

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
  explicit HttplibClient(HttplibClientOptions options = {}) : options_(std::move(options)) {
    tls_ = wire::make_tls_context(options_.ca_cert_file, options_.ca_cert_dir);
    if (!tls_ && (!options_.ca_cert_file.empty() || !options_.ca_cert_dir.empty())) {
      throw std::invalid_argument("tokenpass::HttplibClient: the CA file or directory cannot be loaded");
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
};

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

// authorize_request: the request's tokens resolved and verified with `resolver`, and
// `options.scopes` checked (on the user token, or without one on the service token).
inline Result<RequestContext> authorize_request(const TokenResolver& resolver,
                                                const httplib::Request& req,
                                                const ProtectOptions& options) {
  auto ctx = resolver.resolve(headers_of(req));
  if (ctx) {
    const VerifiedToken* subject = ctx->user() ? ctx->user() : ctx->service();
    for (const auto& scope : options.scopes) {
      if (subject == nullptr || !subject->claims().has_scope(scope)) {
        return make_error(errc::insufficient_scope, "a required scope is not granted");
      }
    }
  }
  return ctx;
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
      return reject_request(res, ctx.error(), options.realm, options.scopes,
                            options.with_description);
    }
    handler(req, res, *ctx);
  };
}

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
      reject_request(res, ctx.error(), options.realm, options.scopes, options.with_description);
      res.set_header("Connection", "close");
      return;
    }
    handler(req, res, reader, *ctx);
  };
}

struct TokenEndpointMountOptions {
  // openid_configuration: serve the metadata at /.well-known/openid-configuration too,
  // for clients that look only there. The document stays RFC 8414's: it does not make
  // the endpoint an OpenID provider.
  bool openid_configuration = false;
  // on_request: called after each token request with the request and the answer's
  // status (for access logs).
  std::function<void(const httplib::Request&, int)> on_request;
};

// mount_token_endpoint serves `endpoint` on `server` at the paths of its own URLs: the
// token endpoint (POST; any other method is 405), the RFC 8414 metadata at
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
  const auto answer = [endpoint, on_request = options.on_request](const httplib::Request& req,
                                                                  httplib::Response& res, std::string body,
                                                                  bool cut) {
    TokenEndpointRequest in;
    in.method = req.method;
    in.body = std::move(body);
    in.remote_address = req.remote_addr;
    for (const auto& [k, v] : req.headers) in.headers.emplace_back(k, v);
    TokenEndpointResponse out = endpoint->handle(in);
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
  const std::string p = pattern(token_path);
  server.Post(p, [endpoint, answer](const httplib::Request& req, httplib::Response& res,
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
    answer(req, res, std::move(body), cut);
  });
  const auto other = [answer](const httplib::Request& req, httplib::Response& res) {
    answer(req, res, req.body, false);
  };
  server.Get(p, other);
  server.Put(p, other);
  server.Patch(p, other);
  server.Delete(p, other);
  server.Options(p, other);
}

}  // namespace tokenpass

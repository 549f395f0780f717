// tokenpass/adapters/httplib.h: tokenpass on cpp-httplib, for the optional target
// tokenpass::httplib.
//  - `HttplibClient`: an `HttpClient`. HTTPS goes through OpenSSL with the server
//    certificate verified against the system's trust store (or the CA file given).
//    Redirects are not followed. One connection per request: safe from any thread.
//  - `protect`: wraps a server handler so that it runs only for requests whose tokens
//    verify; others get 400/401/403/503 with the RFC 6750 `WWW-Authenticate` header.
//  - `add_headers`: puts an `Outbound` policy's headers on a client request.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>

#include "tokenpass/http.h"
#include "tokenpass/propagation.h"

namespace tokenpass {

struct HttplibClientOptions {
  // verify_tls: check the server's certificate and host name. Turn off only in tests.
  bool verify_tls = true;
  // ca_cert_file / ca_cert_dir: trust these instead of the system store.
  std::string ca_cert_file;
  std::string ca_cert_dir;
  // user_agent: sent with every request.
  std::string user_agent = "tokenpass";
};

class HttplibClient final : public HttpClient {
 public:
  explicit HttplibClient(HttplibClientOptions options = {}) : options_(std::move(options)) {}

  Result<HttpResponse> send(const HttpRequest& request) override {
    auto url = parse_url(request.url);
    if (!url) return make_error(errc::http_error, url.error().detail);
    std::unique_ptr<httplib::ClientImpl> client;
    if (url->scheme == "https") {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
      auto tls = std::make_unique<httplib::SSLClient>(url->host, url->port);
      tls->enable_server_certificate_verification(options_.verify_tls);
      if (!options_.ca_cert_file.empty() || !options_.ca_cert_dir.empty()) {
        tls->set_ca_cert_path(options_.ca_cert_file.c_str(), options_.ca_cert_dir.c_str());
      }
      client = std::move(tls);
#else
      return make_error(errc::http_error, "this cpp-httplib was built without HTTPS");
#endif
    } else {
      client = std::make_unique<httplib::ClientImpl>(url->host, url->port);
    }
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(request.timeout);
    const auto usecs =
        std::chrono::duration_cast<std::chrono::microseconds>(request.timeout - secs);
    client->set_connection_timeout(secs.count(), usecs.count());
    client->set_read_timeout(secs.count(), usecs.count());
    client->set_write_timeout(secs.count(), usecs.count());
    client->set_follow_location(false);

    httplib::Request req;
    req.method = request.method;
    req.path = url->target;
    for (const auto& [k, v] : request.headers) req.headers.emplace(k, v);
    if (!options_.user_agent.empty() && !req.has_header("User-Agent")) {
      req.headers.emplace("User-Agent", options_.user_agent);
    }
    req.body = request.body;
    std::string body;
    bool too_large = false;
    const std::size_t limit = request.max_response_bytes;
    req.content_receiver = [&](const char* data, std::size_t n, uint64_t /*offset*/,
                               uint64_t /*total*/) {
      if (body.size() + n > limit) {
        too_large = true;
        return false;  // stops the transfer
      }
      body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool ok = client->send(req, res, error);
    if (too_large) return make_error(errc::http_error, "response body over the size limit");
    if (!ok) return make_error(errc::http_error, "HTTP request failed: " + httplib::to_string(error));
    HttpResponse out;
    out.status = res.status;
    for (const auto& [k, v] : res.headers) out.headers.emplace_back(k, v);
    out.body = std::move(body);
    return out;
  }

 private:
  HttplibClientOptions options_;
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

// add_headers puts `headers` (from `Outbound::headers_for`) on an httplib request.
inline void add_headers(httplib::Headers& out, const HttpHeaders& headers) {
  for (const auto& [k, v] : headers) out.emplace(k, v);
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

// protect returns a handler that resolves and verifies the request's tokens with
// `resolver`, checks `options.scopes`, and only then calls `handler`.
inline httplib::Server::Handler protect(std::shared_ptr<const TokenResolver> resolver,
                                        ProtectedHandler handler, ProtectOptions options = {}) {
  return [resolver = std::move(resolver), handler = std::move(handler),
          options = std::move(options)](const httplib::Request& req, httplib::Response& res) {
    auto ctx = resolver->resolve(headers_of(req));
    if (ctx) {
      const VerifiedToken* subject = ctx->user() ? ctx->user() : ctx->service();
      for (const auto& scope : options.scopes) {
        if (subject == nullptr || !subject->claims().has_scope(scope)) {
          ctx = make_error(errc::insufficient_scope, "a required scope is not granted");
          break;
        }
      }
    }
    if (!ctx) {
      if (options.on_reject) options.on_reject(req, ctx.error());
      return reject_request(res, ctx.error(), options.realm, options.scopes,
                            options.with_description);
    }
    handler(req, res, *ctx);
  };
}

}  // namespace tokenpass

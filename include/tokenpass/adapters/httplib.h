// tokenpass/adapters/httplib.h: an `HttpClient` on cpp-httplib, for the optional target
// tokenpass::httplib. HTTPS goes through OpenSSL with the server certificate verified
// against the system's trust store (or the CA file given). Redirects are not followed.
// One connection per request: safe from any number of threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include <httplib.h>

#include "tokenpass/http.h"

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

}  // namespace tokenpass

// tokenpass/http.h: the only I/O the core does, behind a small interface. Remote key
// sets and token clients take an `HttpClient`; the cpp-httplib adapter
// (<tokenpass/adapters/httplib.h>, target tokenpass::httplib) is one, and a service can
// plug in its own stack instead.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenpass/error.h"
#include "tokenpass/export.h"

namespace tokenpass {

// HttpHeaders: header fields as (name, value) pairs, in order; a name may repeat.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// HttpRequest: one request for an `HttpClient` to send.
struct HttpRequest {
  std::string method = "GET";  // "GET", "POST", ...
  std::string url;             // absolute: http:// or https://
  HttpHeaders headers;         // sent as given, in order
  std::string body;            // sent as is; empty for none
  // timeout: for the whole exchange (connect, send, receive).
  std::chrono::milliseconds timeout{5000};
  // max_response_bytes: a larger body is refused (http_error) while it is read.
  std::size_t max_response_bytes = 1024 * 1024;
};

// HttpResponse: what a server answered, whatever the status.
struct HttpResponse {
  int status = 0;       // the HTTP status code
  HttpHeaders headers;  // as received, in order
  std::string body;     // the whole body

  // header: the first header with this name, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
};

// HttpClient: sends one request and returns the response, whatever its status. Errors:
// http_error when no response came (connection refused, timeout, TLS failure, body too
// large). Implementations must be safe to call from several threads at once.
class TOKENPASS_EXPORT HttpClient {
 public:
  virtual ~HttpClient();
  // send makes one exchange for `request`: the response, whatever its status, or
  // http_error (see HttpClient).
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

// Url: the parts of an absolute http(s) URL that the library needs.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  int port = 0;        // the default for the scheme when the URL names none
  std::string target;  // path and query, at least "/"
};

// parse_url splits an absolute http(s) URL. Errors: invalid_request for anything else
// (other schemes, user info, fragments, a bad port, white space or control characters).
TOKENPASS_EXPORT Result<Url> parse_url(std::string_view url);

// header_name_equals compares header names case-insensitively (RFC 9110 §5.1).
TOKENPASS_EXPORT bool header_name_equals(std::string_view a, std::string_view b) noexcept;

}  // namespace tokenpass

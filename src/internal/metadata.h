// fetch_metadata: an issuer's OpenID Connect discovery document or RFC 8414 metadata
// (in that order of paths), its `issuer` equal to the one asked for. Used by
// RemoteJwks::from_issuer and discover_token_endpoint.
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/error.h"
#include "tokenpass/http.h"

namespace tokenpass::internal {

// Errors: invalid_request (the issuer's scheme, unless allow_http), http_error (no
// answer, a status other than 200 at both paths, a body over max_body_bytes), malformed
// (not a JSON object, no issuer), bad_issuer (another issuer).
Result<nlohmann::json> fetch_metadata(std::string_view issuer, bool allow_http, std::chrono::milliseconds timeout,
                                      std::size_t max_body_bytes, HttpClient& http);

}  // namespace tokenpass::internal

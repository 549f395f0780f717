// tokenpass/introspection.h: asking the issuer about a token (RFC 7662), for opaque
// (non-JWT) tokens or when the issuer's word is wanted over a local verify.
// `Introspector` sends one `POST` per call: `token=...&token_type_hint=access_token`,
// the client authenticated with HTTP Basic when an id is configured.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/http.h"

namespace tokenpass {

struct IntrospectionOptions {
  std::string endpoint;  // https:// (http:// only with allow_http)
  // client_id / client_secret: HTTP Basic (RFC 6749 §2.3.1: both form-encoded first);
  // none when the id is empty.
  std::string client_id;
  std::string client_secret;
  bool allow_http = false;
  std::chrono::milliseconds timeout{5000};  // for the whole exchange
  std::size_t max_response_bytes = 1024 * 1024;
};

class TOKENPASS_EXPORT Introspector {
 public:
  // Introspector throws std::invalid_argument for an endpoint that is not an https URL
  // (http only with allow_http), a secret without an id, or a null HttpClient.
  Introspector(IntrospectionOptions options, std::shared_ptr<HttpClient> http);

  // introspect asks about `token`. An answer with `"active": true` gives the response
  // object (RFC 7662 §2.2: its members describe the token; check them with
  // Verifier::check_claims). Errors: inactive (`"active": false`, whatever else it says,
  // or no boolean `active`: an endpoint's unclear answer grants nothing); http_error (no
  // answer, a status other than 200, a body that is not a JSON object or is over
  // max_response_bytes). Never throws. Thread-safe.
  Result<nlohmann::json> introspect(std::string_view token) const;

 private:
  IntrospectionOptions options_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tokenpass

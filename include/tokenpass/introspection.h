// tokenpass/introspection.h: asking the issuer about a token (RFC 7662), for opaque
// (non-JWT) tokens or when the issuer's word is wanted over a local verify.
// `Introspector` sends a `POST` (`token=...&token_type_hint=access_token`, the client
// authenticated with HTTP Basic when an id is configured) for a token it has no answer
// for: answers are cached (an active one until the token's `exp`, at most
// `cache_ttl`; an inactive one for `negative_ttl`), and concurrent calls for one token
// share one request. `TokenResolverOptions::introspector` uses it for opaque tokens.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/http.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

// IntrospectionOptions: where an Introspector asks, as whom, and how long it keeps answers.
struct IntrospectionOptions {
  std::string endpoint;  // https:// (http:// only with allow_http)

  // client_id / client_secret: HTTP Basic (RFC 6749 §2.3.1: both form-encoded first);
  // none when the id is empty.
  std::string client_id;
  std::string client_secret;

  bool allow_http = false;                       // accept http://: tests and loopback only
  std::chrono::milliseconds timeout{5000};       // for the whole exchange
  std::size_t max_response_bytes = 1024 * 1024;  // a larger answer is http_error
  // cache_ttl: an active answer is kept until the token's `exp`, and at most this long
  // (a revoked token keeps being accepted for at most this long). 0: nothing is cached.
  std::chrono::seconds cache_ttl{60};
  // negative_ttl: an inactive answer is kept this long (a flood of one bad token asks
  // once per period). Failures (http_error) are never kept.
  std::chrono::seconds negative_ttl{5};
  std::size_t max_cache_entries = 10000;  // answers kept at most (0: none)
  Clock clock;                            // default std::chrono::system_clock::now
};

// IntrospectionStats: an Introspector's counters since construction.
struct IntrospectionStats {
  std::uint64_t requests = 0;    // introspection requests sent
  std::uint64_t cache_hits = 0;  // answers from the cache (active or inactive)
  std::uint64_t shared = 0;      // calls that waited for another call's request
  std::uint64_t failures = 0;    // requests without a usable answer (http_error)
};

// Introspector: asks an RFC 7662 endpoint whether tokens are active, and caches the
// answers. Thread-safe.
class TOKENPASS_EXPORT Introspector {
 public:
  // Introspector throws std::invalid_argument for an endpoint that is not an https URL
  // (http only with allow_http), a secret without an id, a negative TTL, or a null
  // HttpClient.
  Introspector(IntrospectionOptions options, std::shared_ptr<HttpClient> http);

  // introspect asks about `token`. An answer with `"active": true` gives the response
  // object (RFC 7662 §2.2: its members describe the token; check them with
  // Verifier::check_claims). Errors: inactive (`"active": false`, whatever else it says,
  // or no boolean `active`: an endpoint's unclear answer grants nothing); http_error (no
  // answer, a status other than 200, a body that is not a JSON object or is over
  // max_response_bytes). Never throws. Thread-safe: a call for a token whose request is
  // under way waits for that request's answer.
  Result<nlohmann::json> introspect(std::string_view token) const;

  // stats: the counters now. Thread-safe.
  IntrospectionStats stats() const;

 private:
  Result<nlohmann::json> ask(std::string_view token) const;
  struct Cache;
  IntrospectionOptions options_;
  std::shared_ptr<HttpClient> http_;
  std::shared_ptr<Cache> cache_;
};

}  // namespace tokenpass

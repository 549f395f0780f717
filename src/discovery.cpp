// RemoteJwks::from_issuer: an issuer's JWK set found through OpenID Connect discovery or
// RFC 8414 metadata (internal::fetch_metadata, also behind discover_token_endpoint).
#include <string>
#include <utility>

#include "internal/json.h"
#include "internal/metadata.h"
#include "internal/rules.h"
#include "tokenpass/key_source.h"

namespace tokenpass {

namespace internal {

Result<nlohmann::json> fetch_metadata(std::string_view issuer, bool allow_http, std::chrono::milliseconds timeout,
                                      std::size_t max_body_bytes, HttpClient& http) {
  std::string why;
  if (!internal::scheme_allowed(issuer, allow_http, &why)) {
    return make_error(errc::invalid_request, why);
  }
  auto url = parse_url(issuer);
  if (!url) return url.error();
  std::string base(issuer);
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string path = url->target == "/" ? std::string() : url->target;
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string origin = base.substr(0, base.size() - path.size());
  // OpenID Connect Discovery §4 appends to the issuer; RFC 8414 §3 inserts the
  // well-known segment between the host and the issuer's path.
  const std::string candidates[] = {base + "/.well-known/openid-configuration",
                                    origin + "/.well-known/oauth-authorization-server" + path};
  Error last = make_error(errc::http_error, "no metadata");
  for (const auto& candidate : candidates) {
    HttpRequest req;
    req.url = candidate;
    req.headers.emplace_back("Accept", "application/json");
    req.timeout = timeout;
    req.max_response_bytes = max_body_bytes;
    Result<HttpResponse> res = make_error(errc::http_error, "not sent");
    try {
      res = http.send(req);
    } catch (...) {
      res = make_error(errc::http_error, candidate + ": the HTTP client threw");
    }
    if (!res) {
      last = res.error();
      continue;
    }
    if (res->status != 200) {
      last = make_error(errc::http_error, candidate + ": HTTP status " + std::to_string(res->status));
      continue;
    }
    // Security: as for a JWK set, the limit holds even when the client ignored it.
    if (res->body.size() > max_body_bytes) {
      return make_error(errc::http_error, candidate + ": body over max_body_bytes");
    }
    auto doc = internal::parse_json(res->body, JsonLimits{});
    if (!doc || !doc->is_object()) return make_error(errc::malformed, "metadata is not a JSON object");
    const auto iss = doc->find("issuer");
    if (iss == doc->end() || !iss->is_string()) {
      return make_error(errc::malformed, "metadata has no \"issuer\"");
    }
    // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: must be identical, or the
    // metadata may be an attacker's.
    if (iss->get_ref<const std::string&>() != issuer) {
      return make_error(errc::bad_issuer, "metadata \"issuer\" differs from the configured issuer");
    }
    return std::move(*doc);
  }
  return last;
}

}  // namespace internal

namespace {

Result<std::shared_ptr<RemoteJwks>> discover(std::string_view issuer, RemoteJwksOptions options,
                                             std::shared_ptr<HttpClient> http) {
  if (!http) return make_error(errc::invalid_request, "no HttpClient");
  auto doc = internal::fetch_metadata(issuer, options.allow_http, options.timeout, options.max_body_bytes, *http);
  if (!doc) return doc.error();
  const auto jwks = doc->find("jwks_uri");
  if (jwks == doc->end() || !jwks->is_string()) {
    return make_error(errc::malformed, "metadata has no \"jwks_uri\"");
  }
  options.url = jwks->get<std::string>();
  if (options.metrics_issuer.empty()) options.metrics_issuer = std::string(issuer);
  std::string why;
  if (!internal::scheme_allowed(options.url, options.allow_http, &why)) {
    return make_error(errc::invalid_request, "jwks_uri: " + why);
  }
  try {
    return std::make_shared<RemoteJwks>(std::move(options), std::move(http));
  } catch (const std::invalid_argument& e) {
    return make_error(errc::invalid_request, e.what());
  }
}

}  // namespace

Result<std::shared_ptr<RemoteJwks>> RemoteJwks::from_issuer(std::string_view issuer,
                                                            RemoteJwksOptions options,
                                                            std::shared_ptr<HttpClient> http) {
  try {
    return discover(issuer, std::move(options), std::move(http));
  } catch (...) {
    return make_error(errc::internal_error, "discovery failed inside the library");
  }
}

}  // namespace tokenpass

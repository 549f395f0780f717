#include "tokenpass/introspection.h"

#include <stdexcept>
#include <utility>

#include "internal/basic_auth.h"
#include "internal/json.h"
#include "internal/rules.h"
#include "tokenpass/client_credentials.h"

namespace tokenpass {

Introspector::Introspector(IntrospectionOptions options, std::shared_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {
  std::string why;
  if (!http_) throw std::invalid_argument("tokenpass::Introspector: no HttpClient");
  if (!internal::scheme_allowed(options_.endpoint, options_.allow_http, &why)) {
    throw std::invalid_argument("tokenpass::Introspector: endpoint: " + why);
  }
  if (options_.client_id.empty() && !options_.client_secret.empty()) {
    throw std::invalid_argument("tokenpass::Introspector: a client_secret without a client_id");
  }
}

Result<nlohmann::json> Introspector::introspect(std::string_view token) const {
  try {
    HttpRequest req;
    req.method = "POST";
    req.url = options_.endpoint;
    req.timeout = options_.timeout;
    req.max_response_bytes = options_.max_response_bytes;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    if (!options_.client_id.empty()) {
      req.headers.emplace_back("Authorization", internal::basic_authorization(options_.client_id, options_.client_secret));
    }
    req.body = form_encode({{"token", std::string(token)}, {"token_type_hint", "access_token"}});
    auto res = http_->send(req);
    if (!res) return make_error(errc::http_error, "introspection: " + res.error().detail);
    if (res->status != 200) {
      return make_error(errc::http_error, "introspection: HTTP status " + std::to_string(res->status));
    }
    // The limit holds even when the client ignored it.
    if (res->body.size() > options_.max_response_bytes) {
      return make_error(errc::http_error, "introspection: the answer is over max_response_bytes");
    }
    auto doc = internal::parse_json(res->body, JsonLimits{});
    if (!doc || !doc->is_object()) return make_error(errc::http_error, "introspection: the answer is not a JSON object");
    const auto active = doc->find("active");
    if (active == doc->end() || !active->is_boolean()) {
      return make_error(errc::inactive, "the introspection answer has no boolean \"active\"");
    }
    if (!active->get<bool>()) return make_error(errc::inactive, "the token is not active");
    return std::move(*doc);
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "introspection failed inside the library");
  }
}

}  // namespace tokenpass

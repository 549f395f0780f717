#include "tokenpass/error.h"

#include <array>
#include <cstdlib>
#include <utility>

namespace tokenpass {
namespace {

constexpr std::array<std::pair<errc, std::string_view>, 34> kNames{{
    {errc::malformed, "malformed"},
    {errc::unsupported_alg, "unsupported_alg"},
    {errc::alg_not_allowed, "alg_not_allowed"},
    {errc::key_not_found, "key_not_found"},
    {errc::key_unusable, "key_unusable"},
    {errc::bad_signature, "bad_signature"},
    {errc::expired, "expired"},
    {errc::not_yet_valid, "not_yet_valid"},
    {errc::issued_in_future, "issued_in_future"},
    {errc::too_old, "too_old"},
    {errc::bad_issuer, "bad_issuer"},
    {errc::bad_audience, "bad_audience"},
    {errc::bad_subject, "bad_subject"},
    {errc::bad_type, "bad_type"},
    {errc::missing_claim, "missing_claim"},
    {errc::bad_claim, "bad_claim"},
    {errc::insufficient_scope, "insufficient_scope"},
    {errc::unknown_crit, "unknown_crit"},
    {errc::too_large, "too_large"},
    {errc::replayed, "replayed"},
    {errc::bad_binding, "bad_binding"},
    {errc::bad_proof, "bad_proof"},
    {errc::use_dpop_nonce, "use_dpop_nonce"},
    {errc::inactive, "inactive"},
    {errc::insufficient_role, "insufficient_role"},
    {errc::no_token, "no_token"},
    {errc::invalid_request, "invalid_request"},
    {errc::key_source_unavailable, "key_source_unavailable"},
    {errc::http_error, "http_error"},
    {errc::internal_error, "internal_error"},
    {errc::token_request_refused, "token_request_refused"},
    {errc::replay_store_unavailable, "replay_store_unavailable"},
    {errc::peer_not_allowed, "peer_not_allowed"},
    {errc::untrusted_forward, "untrusted_forward"},
}};

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tokenpass"; }
  std::string message(int value) const override {
    return std::string(to_string(static_cast<errc>(value)));
  }
};

}  // namespace

std::string_view to_string(errc code) noexcept {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "unknown";
}

std::optional<errc> errc_from_string(std::string_view name) noexcept {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

const std::error_category& category() noexcept {
  static const Category instance;
  return instance;
}

std::error_code make_error_code(errc code) noexcept {
  return {static_cast<int>(code), category()};
}

const char* bad_result_access::what() const noexcept {
  return "tokenpass: value() called on a Result that holds an error";
}

namespace detail {
void result_terminate() noexcept {
  // Dereferencing an error Result is a programming error, caught in every build type.
  std::abort();
}
}  // namespace detail

bool is_token_error(const Error& e) noexcept {
  const int v = static_cast<int>(e.code);
  return v > 0 && v < static_cast<int>(errc::no_token);
}

int http_status(const Error& e) noexcept {
  switch (e.code) {
    case errc::no_token:
      return 401;
    case errc::invalid_request:
      return 400;
    case errc::insufficient_scope:
    case errc::insufficient_role:
    case errc::peer_not_allowed:
    case errc::untrusted_forward:
      return 403;
    case errc::key_source_unavailable:
    case errc::http_error:
    case errc::replay_store_unavailable:
      return 503;
    case errc::internal_error:
    case errc::token_request_refused:
      return 500;
    default:
      return 401;
  }
}

namespace {

// RFC 6750 §3: attribute values are quoted-strings; error and scope values are
// limited to %x20-21 / %x23-5B / %x5D-7E, so anything else is dropped, and a realm
// (free text) gets its quotes and backslashes escaped.
std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// is_server_error: the codes that are the server's trouble, not the request's.
bool is_server_error(errc code) {
  return code == errc::key_source_unavailable || code == errc::http_error ||
         code == errc::internal_error || code == errc::token_request_refused ||
         code == errc::replay_store_unavailable;
}

std::string_view description(errc code) {
  switch (code) {
    case errc::invalid_request:
      return "The request is missing a required parameter or is otherwise malformed";
    case errc::insufficient_scope:
      return "The access token does not grant the required scope";
    case errc::insufficient_role:
      return "The access token does not grant the required role";
    case errc::expired:
      return "The access token expired";
    case errc::not_yet_valid:
      return "The access token is not valid yet";
    default:
      return "The access token is invalid";
  }
}

}  // namespace

std::optional<std::string> www_authenticate(const Error& e, std::string_view realm,
                                            const std::vector<std::string>& scopes,
                                            bool with_description) {
  // Server trouble, and a refused peer, are not about the token: no Bearer challenge.
  if (is_server_error(e.code) || e.code == errc::peer_not_allowed || e.code == errc::untrusted_forward) {
    return std::nullopt;
  }
  std::string out = "Bearer realm=" + quoted(realm);
  // RFC 6750 §3.1: a request without any authentication gets no error code.
  if (e.code == errc::no_token) return out;
  const bool scope_error = e.code == errc::insufficient_scope || e.code == errc::insufficient_role;
  out += ", error=";
  out += e.code == errc::invalid_request ? "\"invalid_request\""
         : scope_error                   ? "\"insufficient_scope\""
                                         : "\"invalid_token\"";
  if (with_description) out += ", error_description=" + quoted(description(e.code));
  if (e.code == errc::insufficient_scope && !scopes.empty()) {
    std::string joined;
    for (const auto& s : scopes) {
      if (!joined.empty()) joined.push_back(' ');
      joined += s;
    }
    out += ", scope=" + quoted(joined);
  }
  return out;
}

}  // namespace tokenpass

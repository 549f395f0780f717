#include "tokenpass/claims.h"

#include <cmath>
#include <utility>

namespace tokenpass {

using Json = nlohmann::json;

namespace {

Error bad_claim(std::string_view name, std::string_view what) {
  return make_error(errc::bad_claim, "\"" + std::string(name) + "\" " + std::string(what));
}

// RFC 7519 §2: a NumericDate is a JSON number; tokenpass also requires it finite,
// non-negative and below 2^53 (cli-contract rule 4).
bool is_numeric_date(const Json& v) {
  if (v.is_number_unsigned()) return v.get<Json::number_unsigned_t>() < 9007199254740992ULL;
  if (v.is_number_integer()) {
    const auto i = v.get<Json::number_integer_t>();
    return i >= 0 && i < 9007199254740992LL;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return std::isfinite(d) && d >= 0 && d < kMaxNumericDate;
  }
  return false;
}

bool is_string_or_strings(const Json& v) {
  if (v.is_string()) return true;
  if (!v.is_array()) return false;
  for (const auto& e : v) {
    if (!e.is_string()) return false;
  }
  return true;
}

void split_spaces(std::string_view s, std::vector<std::string>& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t j = s.find(' ', i);
    const std::size_t end = j == std::string_view::npos ? s.size() : j;
    if (end > i) out.emplace_back(s.substr(i, end - i));
    i = end + 1;
  }
}

Json::number_integer_t to_numeric_date(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

Result<void> Claims::check_types(const Json& claims) {
  for (const char* name : {"iss", "sub", "jti", "client_id"}) {
    const auto it = claims.find(name);
    if (it != claims.end() && !it->is_string()) return bad_claim(name, "is not a string");
  }
  if (const auto it = claims.find("aud"); it != claims.end() && !is_string_or_strings(*it)) {
    return bad_claim("aud", "is not a string or an array of strings");
  }
  for (const char* name : {"exp", "nbf", "iat"}) {
    const auto it = claims.find(name);
    if (it != claims.end() && !is_numeric_date(*it)) return bad_claim(name, "is not a NumericDate");
  }
  if (const auto it = claims.find("scope"); it != claims.end() && !it->is_string()) {
    return bad_claim("scope", "is not a space-separated string");
  }
  if (const auto it = claims.find("scp"); it != claims.end() && !is_string_or_strings(*it)) {
    return bad_claim("scp", "is not a string or an array of strings");
  }
  return {};
}

Result<Claims> Claims::from_json(Json claims) {
  if (!claims.is_object()) return make_error(errc::malformed, "claims are not a JSON object");
  if (auto types = check_types(claims); !types) return types.error();
  return Claims(std::move(claims));
}

std::optional<std::string> Claims::string_claim(const char* name) const {
  const auto it = json_.find(name);
  if (it == json_.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<NumericDate> Claims::numeric_date(const char* name) const {
  const auto it = json_.find(name);
  if (it == json_.end() || !is_numeric_date(*it)) return std::nullopt;
  return NumericDate(std::chrono::duration<double>(it->get<double>()));
}

std::vector<std::string> Claims::audience() const {
  std::vector<std::string> out;
  const auto it = json_.find("aud");
  if (it == json_.end()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_string()) out.push_back(a.get<std::string>());
    }
  }
  return out;
}

std::vector<std::string> Claims::scopes() const {
  std::vector<std::string> out;
  // cli-contract rule 6: `scope` wins when present; `scp` is the fallback.
  if (const auto it = json_.find("scope"); it != json_.end()) {
    if (it->is_string()) split_spaces(it->get_ref<const std::string&>(), out);
    return out;
  }
  if (const auto it = json_.find("scp"); it != json_.end()) {
    if (it->is_string()) {
      split_spaces(it->get_ref<const std::string&>(), out);
    } else if (it->is_array()) {
      for (const auto& s : *it) {
        if (s.is_string() && !s.get_ref<const std::string&>().empty()) {
          out.push_back(s.get<std::string>());
        }
      }
    }
  }
  return out;
}

bool Claims::has_scope(std::string_view scope) const {
  for (const auto& s : scopes()) {
    if (s == scope) return true;
  }
  return false;
}

std::optional<Json> Claims::cnf() const {
  const auto it = json_.find("cnf");
  if (it == json_.end() || !it->is_object()) return std::nullopt;
  return *it;
}

std::optional<Json> Claims::get(std::string_view name) const {
  const auto it = json_.find(name);
  if (it == json_.end()) return std::nullopt;
  return *it;
}

ClaimsBuilder& ClaimsBuilder::issuer(std::string iss) { return claim("iss", std::move(iss)); }
ClaimsBuilder& ClaimsBuilder::subject(std::string sub) { return claim("sub", std::move(sub)); }
ClaimsBuilder& ClaimsBuilder::audience(std::string aud) { return claim("aud", std::move(aud)); }
ClaimsBuilder& ClaimsBuilder::audience(std::vector<std::string> aud) {
  return claim("aud", std::move(aud));
}
ClaimsBuilder& ClaimsBuilder::expires_at(std::chrono::system_clock::time_point t) {
  return claim("exp", to_numeric_date(t));
}
ClaimsBuilder& ClaimsBuilder::not_before(std::chrono::system_clock::time_point t) {
  return claim("nbf", to_numeric_date(t));
}
ClaimsBuilder& ClaimsBuilder::issued_at(std::chrono::system_clock::time_point t) {
  return claim("iat", to_numeric_date(t));
}
ClaimsBuilder& ClaimsBuilder::jwt_id(std::string jti) { return claim("jti", std::move(jti)); }
ClaimsBuilder& ClaimsBuilder::client_id(std::string id) {
  return claim("client_id", std::move(id));
}
ClaimsBuilder& ClaimsBuilder::scopes(const std::vector<std::string>& scopes) {
  std::string joined;
  for (const auto& s : scopes) {
    if (!joined.empty()) joined.push_back(' ');
    joined += s;
  }
  return claim("scope", std::move(joined));
}
ClaimsBuilder& ClaimsBuilder::claim(std::string name, Json value) {
  json_[std::move(name)] = std::move(value);
  return *this;
}
ClaimsBuilder& ClaimsBuilder::remove(std::string_view name) {
  json_.erase(std::string(name));
  return *this;
}

}  // namespace tokenpass

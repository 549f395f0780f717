#include "tokenpass/claims.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "internal/claims_data.h"
#include "internal/json.h"
#include "internal/registered.h"

namespace tokenpass {

using Json = nlohmann::json;

namespace {

Error bad_claim(std::string_view name, std::string_view what) {
  return make_error(errc::bad_claim, "\"" + std::string(name) + "\" " + std::string(what));
}

// RFC 7519 §2: a NumericDate is a JSON number; tokenpass also requires it finite,
// non-negative and below 2^53 (cli-contract rule 4).
bool is_numeric_date(const Json& v) {
  if (v.is_number_unsigned()) {
    return v.get<Json::number_unsigned_t>() < internal::kMaxNumericDateInteger;
  }
  if (v.is_number_integer()) {
    const auto i = v.get<Json::number_integer_t>();
    return i >= 0 && static_cast<std::uint64_t>(i) < internal::kMaxNumericDateInteger;
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

// has_type: `v` is of the registered claim's type.
bool has_type(const Json& v, internal::ClaimType type) {
  switch (type) {
    case internal::ClaimType::string:
      return v.is_string();
    case internal::ClaimType::strings:
      return is_string_or_strings(v);
    case internal::ClaimType::date:
      return is_numeric_date(v);
  }
  return false;
}

Json::number_integer_t to_numeric_date(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

Result<void> Claims::check_types(const Json& claims) {
  for (const auto& c : internal::kRegisteredClaims) {
    const auto it = claims.find(c.name);
    if (it != claims.end() && !has_type(*it, c.type)) return bad_claim(c.name, c.type_error);
  }
  return {};
}

Claims::Claims() : Claims([] {
  auto d = std::make_shared<internal::ClaimsData>();
  d->set_json(Json::object());
  return std::shared_ptr<const internal::ClaimsData>(std::move(d));
}()) {}

Claims::Claims(std::shared_ptr<const internal::ClaimsData> data) noexcept
    : data_(std::move(data)) {}

Result<Claims> Claims::from_json(Json claims) {
  auto d = std::make_shared<internal::ClaimsData>();
  if (auto ok = internal::set_claims_json(*d, std::move(claims)); !ok) return ok.error();
  return Claims(std::move(d));
}

namespace {

std::optional<std::string> owned(const std::optional<std::string_view>& v) {
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<NumericDate> date(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return NumericDate(std::chrono::duration<double>(*v));
}

}  // namespace

std::optional<std::string> Claims::issuer() const { return owned(data_->reg.iss); }
std::optional<std::string> Claims::subject() const { return owned(data_->reg.sub); }
std::optional<std::string> Claims::jwt_id() const { return owned(data_->reg.jti); }
std::optional<std::string> Claims::client_id() const { return owned(data_->reg.client_id); }
std::optional<NumericDate> Claims::expires_at() const { return date(data_->reg.exp); }
std::optional<NumericDate> Claims::not_before() const { return date(data_->reg.nbf); }
std::optional<NumericDate> Claims::issued_at() const { return date(data_->reg.iat); }

std::vector<std::string> Claims::audience() const {
  std::vector<std::string> out;
  data_->reg.aud.any_of([&](std::string_view a) {
    out.emplace_back(a);
    return false;
  });
  return out;
}

std::vector<std::string> Claims::scopes() const {
  std::vector<std::string> out;
  internal::any_scope(data_->reg, [&](std::string_view s) {
    out.emplace_back(s);
    return false;
  });
  return out;
}

bool Claims::has_scope(std::string_view scope) const {
  return internal::any_scope(data_->reg, [&](std::string_view s) { return s == scope; });
}

std::optional<Json> Claims::cnf() const {
  auto v = get("cnf");
  if (!v || !v->is_object()) return std::nullopt;
  return v;
}

bool Claims::contains(std::string_view name) const {
  const internal::ClaimsData& d = *data_;
  if (!d.lazy) return d.json().contains(name);
  if (const auto known = d.reg.has(name)) return *known;
  return internal::find_member(d.text, name).has_value();
}

std::optional<Json> Claims::get(std::string_view name) const {
  const internal::ClaimsData& d = *data_;
  if (d.lazy) {
    // One member parsed from the validated text, rather than the whole object.
    const auto text = internal::find_member(d.text, name);
    if (!text) return std::nullopt;
    return Json::parse(*text);
  }
  const Json& j = d.json();
  const auto it = j.find(name);
  if (it == j.end()) return std::nullopt;
  return *it;
}

const Json& Claims::json() const noexcept { return data_->json(); }

namespace internal {

Result<std::string> peek_issuer(std::string_view payload, const JsonLimits& limits) {
  auto claims = parse_json(payload, limits);
  if (!claims) return claims.error();
  const auto iss = claims->is_object() ? claims->find("iss") : claims->end();
  if (!claims->is_object() || iss == claims->end() || !iss->is_string()) {
    return make_error(errc::bad_issuer, "token has no issuer");
  }
  return iss->get<std::string>();
}

std::optional<bool> RegisteredClaims::has(std::string_view name) const noexcept {
  const RegisteredClaim* c = find_registered(name);
  if (c == nullptr) return std::nullopt;
  switch (c->type) {
    case ClaimType::string:
      return (this->*(c->string_member)).has_value();
    case ClaimType::strings:
      return (this->*(c->list_member)).present();
    case ClaimType::date:
      return (this->*(c->date_member)).has_value();
  }
  return std::nullopt;
}

RegisteredClaims rebased(const RegisteredClaims& reg, const char* from, const char* to) {
  const auto move = [&](std::string_view v) {
    return v.data() == nullptr ? v : std::string_view(to + (v.data() - from), v.size());
  };
  RegisteredClaims out = reg;
  for (const auto member : kStringMembers) {
    auto& v = out.*member;
    if (v) v = move(*v);
  }
  for (const auto member : kListMembers) {
    auto& l = out.*member;
    l.single = move(l.single);
    l.array_text = move(l.array_text);
  }
  return out;
}

Result<void> set_claims_json(ClaimsData& data, Json claims) {
  if (!claims.is_object()) return make_error(errc::malformed, "claims are not a JSON object");
  if (auto types = Claims::check_types(claims); !types) return types.error();
  data.lazy = false;
  data.set_json(std::move(claims));
  fill_registered(data.json(), data.reg);
  return {};
}

void fill_registered(const Json& j, RegisteredClaims& reg) {
  for (const auto& c : kRegisteredClaims) {
    const auto it = j.find(c.name);
    if (it == j.end() || !has_type(*it, c.type)) continue;
    switch (c.type) {
      case ClaimType::string:
        reg.*(c.string_member) = it->get_ref<const std::string&>();
        break;
      case ClaimType::strings: {
        StringList& out = reg.*(c.list_member);
        if (it->is_string()) {
          out.kind = StringList::Kind::string;
          out.single = it->get_ref<const std::string&>();
        } else {
          out.kind = StringList::Kind::array;
          out.array_json = &*it;
        }
        break;
      }
      case ClaimType::date:
        reg.*(c.date_member) = it->get<double>();
        break;
    }
  }
}

}  // namespace internal

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

// ---- claims by path, rules, roles --------------------------------------------------

bool is_json_pointer(std::string_view pointer) noexcept {
  if (pointer.empty()) return true;
  if (pointer.front() != '/') return false;
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '~' && (i + 1 == pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) {
      return false;
    }
  }
  return true;
}

const Json* Claims::find(std::string_view pointer) const noexcept {
  if (!is_json_pointer(pointer)) return nullptr;
  const Json* at = &json();
  std::string token;
  while (!pointer.empty()) {
    pointer.remove_prefix(1);  // the '/'
    const std::size_t end = std::min(pointer.find('/'), pointer.size());
    token.clear();
    for (std::size_t i = 0; i < end; ++i) {
      if (pointer[i] == '~') {
        token.push_back(pointer[i + 1] == '1' ? '/' : '~');
        ++i;
      } else {
        token.push_back(pointer[i]);
      }
    }
    pointer.remove_prefix(end);
    if (at->is_object()) {
      const auto it = at->find(token);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      // RFC 6901 §4: "0" or digits without a leading zero; "-" names no element.
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token.front() == '0') ||
          !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return nullptr;
      }
      const std::size_t index = std::stoul(token);
      if (index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
  }
  return at;
}

namespace {

// words: the space-separated words of a string, or the strings of an array.
template <class F>
bool any_word(const Json& value, F&& f) {
  if (value.is_string()) {
    std::string_view s = value.get_ref<const std::string&>();
    while (!s.empty()) {
      const std::size_t end = std::min(s.find(' '), s.size());
      if (end > 0 && f(s.substr(0, end))) return true;
      s.remove_prefix(std::min(end + 1, s.size()));
    }
    return false;
  }
  if (value.is_array()) {
    for (const auto& e : value) {
      if (e.is_string() && f(std::string_view(e.get_ref<const std::string&>()))) return true;
    }
  }
  return false;
}

}  // namespace

ClaimRule ClaimRule::present(std::string pointer) { return {std::move(pointer), Kind::present, {}}; }
ClaimRule ClaimRule::equals(std::string pointer, Json value) {
  return {std::move(pointer), Kind::equals, {std::move(value)}};
}
ClaimRule ClaimRule::contains(std::string pointer, Json value) {
  return {std::move(pointer), Kind::contains, {std::move(value)}};
}
ClaimRule ClaimRule::one_of(std::string pointer, std::vector<Json> values) {
  return {std::move(pointer), Kind::one_of, std::move(values)};
}

Result<void> ClaimRule::check(const Claims& claims) const {
  const Json* value = claims.find(pointer);
  if (value == nullptr) return make_error(errc::missing_claim, "\"" + pointer + "\" is required");
  bool ok = true;
  switch (kind) {
    case Kind::present:
      break;
    case Kind::equals:
      ok = !values.empty() && *value == values.front();
      break;
    case Kind::contains:
      ok = !values.empty() &&
           ((value->is_array() && std::find(value->begin(), value->end(), values.front()) != value->end()) ||
            (value->is_string() && values.front().is_string() &&
             any_word(*value, [&](std::string_view w) { return w == values.front().get_ref<const std::string&>(); })));
      break;
    case Kind::one_of:
      ok = std::find(values.begin(), values.end(), *value) != values.end();
      break;
  }
  if (!ok) return make_error(errc::bad_claim, "\"" + pointer + "\" does not have an accepted value");
  return {};
}

RoleMapping RoleMapping::keycloak(const std::vector<std::string>& clients) {
  RoleMapping m;
  m.paths = {"/realm_access/roles"};
  for (const auto& client : clients) {
    std::string escaped;
    for (const char c : client) {
      if (c == '~') {
        escaped += "~0";
      } else if (c == '/') {
        escaped += "~1";
      } else {
        escaped.push_back(c);
      }
    }
    m.paths.push_back("/resource_access/" + escaped + "/roles");
  }
  return m;
}

std::vector<std::string> RoleMapping::roles(const Claims& claims) const {
  std::vector<std::string> out;
  for (const auto& path : paths) {
    if (const Json* value = claims.find(path)) {
      any_word(*value, [&](std::string_view role) {
        if (std::find(out.begin(), out.end(), role) == out.end()) out.emplace_back(role);
        return false;
      });
    }
  }
  return out;
}

bool RoleMapping::has_role(const Claims& claims, std::string_view role) const {
  for (const auto& path : paths) {
    const Json* value = claims.find(path);
    if (value != nullptr && any_word(*value, [&](std::string_view r) { return r == role; })) return true;
  }
  return false;
}

Result<void> check_roles(const Claims& claims, const RoleMapping& mapping, const std::vector<std::string>& all_of,
                         const std::vector<std::string>& any_of) {
  for (const auto& role : all_of) {
    if (!mapping.has_role(claims, role)) return make_error(errc::insufficient_role, "a required role is not granted");
  }
  if (!any_of.empty() &&
      std::none_of(any_of.begin(), any_of.end(), [&](const std::string& r) { return mapping.has_role(claims, r); })) {
    return make_error(errc::insufficient_role, "none of the accepted roles is granted");
  }
  return {};
}

}  // namespace tokenpass

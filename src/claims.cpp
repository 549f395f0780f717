#include "tokenpass/claims.h"

#include <cmath>
#include <utility>

#include "internal/claims_data.h"
#include "internal/json.h"

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
  if (name == "iss") return iss.has_value();
  if (name == "sub") return sub.has_value();
  if (name == "aud") return aud.present();
  if (name == "exp") return exp.has_value();
  if (name == "nbf") return nbf.has_value();
  if (name == "iat") return iat.has_value();
  if (name == "jti") return jti.has_value();
  if (name == "client_id") return client_id.has_value();
  if (name == "scope") return scope.has_value();
  if (name == "scp") return scp.present();
  return std::nullopt;
}

RegisteredClaims rebased(const RegisteredClaims& reg, const char* from, const char* to) {
  const auto move = [&](std::string_view v) {
    return v.data() == nullptr ? v : std::string_view(to + (v.data() - from), v.size());
  };
  const auto move_opt = [&](const std::optional<std::string_view>& v) {
    return v ? std::optional<std::string_view>(move(*v)) : std::nullopt;
  };
  const auto move_list = [&](StringList l) {
    l.single = move(l.single);
    l.array_text = move(l.array_text);
    return l;
  };
  RegisteredClaims out = reg;
  out.iss = move_opt(reg.iss);
  out.sub = move_opt(reg.sub);
  out.jti = move_opt(reg.jti);
  out.client_id = move_opt(reg.client_id);
  out.scope = move_opt(reg.scope);
  out.aud = move_list(reg.aud);
  out.scp = move_list(reg.scp);
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
  const auto str = [&](const char* name, std::optional<std::string_view>& out) {
    const auto it = j.find(name);
    if (it != j.end() && it->is_string()) out = it->get_ref<const std::string&>();
  };
  const auto list = [&](const char* name, StringList& out) {
    const auto it = j.find(name);
    if (it == j.end()) return;
    if (it->is_string()) {
      out.kind = StringList::Kind::string;
      out.single = it->get_ref<const std::string&>();
    } else if (is_string_or_strings(*it)) {
      out.kind = StringList::Kind::array;
      out.array_json = &*it;
    }
  };
  const auto num = [&](const char* name, std::optional<double>& out) {
    const auto it = j.find(name);
    if (it != j.end() && is_numeric_date(*it)) out = it->get<double>();
  };
  str("iss", reg.iss);
  str("sub", reg.sub);
  str("jti", reg.jti);
  str("client_id", reg.client_id);
  str("scope", reg.scope);
  list("aud", reg.aud);
  list("scp", reg.scp);
  num("exp", reg.exp);
  num("nbf", reg.nbf);
  num("iat", reg.iat);
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

}  // namespace tokenpass

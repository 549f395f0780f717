// tokenpass/claims.h: the claims of a JWT (RFC 7519), read with types, and a builder
// to make them. A `Claims` says nothing about trust: a verified token's claims come
// from `VerifiedToken::claims()`.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/error.h"
#include "tokenpass/export.h"

namespace tokenpass {

namespace internal {
struct ClaimsData;
struct ClaimsAccess;
}  // namespace internal

// Largest NumericDate accepted (RFC 7519 §2 allows any JSON number; tokenpass keeps
// to the integers a double holds exactly).
inline constexpr double kMaxNumericDate = 9007199254740992.0;  // 2^53

// NumericDate: a point in time with the fractions of a second a JWT may carry, and
// the range (up to 2^53 s) that a nanosecond system_clock::time_point cannot hold.
using NumericDate =
    std::chrono::time_point<std::chrono::system_clock, std::chrono::duration<double>>;

// Claims: a JWT's claims set, read with types. Cheap to copy (copies share one
// immutable record) and safe to share across threads.
class TOKENPASS_EXPORT Claims {
 public:
  // Claims: an empty claims object.
  Claims();

  // from_json wraps a claims object and checks the types of the registered claims
  // (see `check_types`). Errors: malformed when `claims` is not an object, bad_claim.
  static Result<Claims> from_json(nlohmann::json claims);

  // check_types: iss, sub, jti, client_id are strings; aud is a string or an array of
  // strings; exp, nbf, iat are NumericDates (a JSON number, integer or not, finite,
  // non-negative, below 2^53); scope is a string; scp is a string or an array of
  // strings. Anything else is bad_claim.
  static Result<void> check_types(const nlohmann::json& claims);

  // issuer / subject / jwt_id / client_id: `iss`, `sub`, `jti`, `client_id`; nullopt
  // when absent (or ill-typed).
  std::optional<std::string> issuer() const;
  std::optional<std::string> subject() const;
  std::optional<std::string> jwt_id() const;
  std::optional<std::string> client_id() const;

  // audience: `aud` as a list (a single string becomes one element).
  std::vector<std::string> audience() const;

  // expires_at / not_before / issued_at: nullopt when absent (or ill-typed).
  std::optional<NumericDate> expires_at() const;
  std::optional<NumericDate> not_before() const;
  std::optional<NumericDate> issued_at() const;

  // scopes: from `scope` (space-separated) when present, else `scp` (an array, or a
  // space-separated string). Empty entries are dropped.
  std::vector<std::string> scopes() const;
  // has_scope: `scope` is one of `scopes()`.
  bool has_scope(std::string_view scope) const;
  // cnf: the confirmation claim (RFC 7800), if it is an object.
  std::optional<nlohmann::json> cnf() const;

  // contains: the claims have a top-level member `name` (a name, not a JSON Pointer).
  bool contains(std::string_view name) const;
  // get: any member as JSON; nullopt when absent.
  std::optional<nlohmann::json> get(std::string_view name) const;
  // find: the value a JSON Pointer (RFC 6901) names, e.g. "/realm_access/roles" or
  // "/https:~1~1example.com~1claims~1tenant" (`~1` is '/', `~0` is '~', so member names
  // with dots and slashes work); "" is the whole object. Null when absent or when
  // `pointer` is not a JSON Pointer. The value lives as long as this Claims (or a copy).
  const nlohmann::json* find(std::string_view pointer) const noexcept;
  // json: the whole claims object. A verified token's claims are read without building
  // it; the first call builds it (thread-safe) and later calls return the same object.
  const nlohmann::json& json() const noexcept;

 private:
  friend struct internal::ClaimsAccess;
  explicit Claims(std::shared_ptr<const internal::ClaimsData> data) noexcept;
  std::shared_ptr<const internal::ClaimsData> data_;  // never null
};

// is_json_pointer: `pointer` is "" or a sequence of "/" reference tokens whose `~` is
// always `~0` or `~1` (RFC 6901 §3).
TOKENPASS_EXPORT bool is_json_pointer(std::string_view pointer) noexcept;

// ClaimRule: a requirement on any claim by path (Policy::claim_rules). A rule whose
// value is absent is missing_claim; one whose value does not satisfy it is bad_claim.
struct TOKENPASS_EXPORT ClaimRule {
  // Kind: what the rule asks of the value.
  enum class Kind {
    present,   // the value exists (any type)
    equals,    // the value equals `values[0]` (JSON equality: 1 and "1" differ)
    contains,  // an array holding `values[0]`, or a string whose space-separated words do
    one_of,    // the value equals one of `values`
  };
  std::string pointer;                 // a JSON Pointer (RFC 6901)
  Kind kind = Kind::present;           // what it asks
  std::vector<nlohmann::json> values;  // what `equals`, `contains`, `one_of` compare with

  // present / equals / contains / one_of make a rule of that kind for `pointer`.
  static ClaimRule present(std::string pointer);
  static ClaimRule equals(std::string pointer, nlohmann::json value);
  static ClaimRule contains(std::string pointer, nlohmann::json value);
  static ClaimRule one_of(std::string pointer, std::vector<nlohmann::json> values);

  // check: the rule over `claims`. Errors: missing_claim, bad_claim.
  Result<void> check(const Claims& claims) const;
};

// RoleMapping: where a token carries its roles (authorities), as JSON Pointers to an
// array of strings or a space-separated string. The roles are the union of them all.
// Keycloak puts realm roles at `/realm_access/roles` and a client's at
// `/resource_access/<client>/roles`; many issuers use `/roles` or `/groups`.
struct TOKENPASS_EXPORT RoleMapping {
  // paths: the JSON Pointers to read, in order.
  std::vector<std::string> paths = {"/realm_access/roles", "/roles", "/groups"};

  // keycloak: realm roles, and the roles of each of `clients` (resource_access).
  static RoleMapping keycloak(const std::vector<std::string>& clients = {});

  // roles: every role the claims carry under `paths`, in path order, each once.
  std::vector<std::string> roles(const Claims& claims) const;
  // has_role: `role` is one of `roles(claims)`.
  bool has_role(const Claims& claims, std::string_view role) const;
};

// check_roles: every role of `all_of`, and (when not empty) at least one of `any_of`,
// is carried. Errors: insufficient_role (403).
TOKENPASS_EXPORT Result<void> check_roles(const Claims& claims, const RoleMapping& mapping,
                                          const std::vector<std::string>& all_of,
                                          const std::vector<std::string>& any_of = {});

// ClaimsBuilder: sets claims for `Issuer::issue` or `sign_jws`. Times are written as
// integer NumericDates (seconds since the epoch).
class TOKENPASS_EXPORT ClaimsBuilder {
 public:
  // ClaimsBuilder starts from an empty object.
  ClaimsBuilder() : json_(nlohmann::json::object()) {}

  // issuer, subject, audience, expires_at, not_before, issued_at, jwt_id, client_id set
  // `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `client_id`; each returns `*this`.
  ClaimsBuilder& issuer(std::string iss);
  ClaimsBuilder& subject(std::string sub);
  ClaimsBuilder& audience(std::string aud);
  ClaimsBuilder& audience(std::vector<std::string> aud);
  ClaimsBuilder& expires_at(std::chrono::system_clock::time_point t);
  ClaimsBuilder& not_before(std::chrono::system_clock::time_point t);
  ClaimsBuilder& issued_at(std::chrono::system_clock::time_point t);
  ClaimsBuilder& jwt_id(std::string jti);
  ClaimsBuilder& client_id(std::string id);

  // scopes writes `scope` as one space-separated string (RFC 8693 §4.2, RFC 9068).
  ClaimsBuilder& scopes(const std::vector<std::string>& scopes);
  // claim sets any member; a registered name set here is written as given.
  ClaimsBuilder& claim(std::string name, nlohmann::json value);
  // remove drops a member.
  ClaimsBuilder& remove(std::string_view name);

  // json: the claims object built so far.
  const nlohmann::json& json() const noexcept { return json_; }
  // to_string: the compact JSON text.
  std::string to_string() const { return json_.dump(); }

 private:
  nlohmann::json json_;
};

}  // namespace tokenpass

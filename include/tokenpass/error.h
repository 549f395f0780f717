// tokenpass/error.h: how tokenpass reports failure. Everything fed by the outside
// world (tokens, keys, JWK sets, HTTP) returns a `Result<T>`: a value or an `Error`
// whose `code` is a stable `errc` and whose `detail` is a short text for logs. The
// `errc` names are the `tokenpass` CLI's error codes.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tokenpass/export.h"

namespace tokenpass {

// errc: why a token, key or request was refused. Append only; values are never
// reused; 0 is never an error. Token codes are below 100 and are the `tokenpass` CLI's
// error codes (exit 1, `error: CODE: ...`); library-only codes start at 100.
// For each: when it happens, and what `http_status` answers.
enum class errc {
  // The token is not a compact JWS (structure, base64url, JSON, duplicate members,
  // anything after the JSON), or a JWK / JWK set / document is not well formed. 401.
  malformed = 1,
  // The header's `alg` is no registered JWS signature algorithm; `none` in any spelling,
  // also with an empty signature part (RFC 7515 A.5). 401.
  unsupported_alg,
  // The token's `alg` is one the key (or the policy's `algorithms`) does not accept. 401.
  alg_not_allowed,
  // No key has the token's `kid` (or the set is empty). 401.
  key_not_found,
  // A key is refused: too small, off its curve, ROCA-weak, `use`/`key_ops` forbid the
  // operation, or unreadable as a key. 401 when it is the key a token named.
  key_unusable,
  // The signature does not verify under any candidate key. 401.
  bad_signature,
  // now >= exp + leeway. 401.
  expired,
  // nbf > now + leeway. 401.
  not_yet_valid,
  // iat > now + leeway. 401.
  issued_in_future,
  // now - iat > max_age + leeway. 401.
  too_old,
  // `iss` missing or not accepted. 401.
  bad_issuer,
  // `aud` missing or none of its values accepted. 401.
  bad_audience,
  // `sub` missing or not the expected subject. 401.
  bad_subject,
  // Header `typ` missing or not the expected type. 401.
  bad_type,
  // A required claim is absent. 401.
  missing_claim,
  // A claim has the wrong JSON type or range (`exp` a string, `jti` a number, ...). 401.
  bad_claim,
  // A required scope is not granted. 403.
  insufficient_scope,
  // `crit` names an extension the caller does not handle (so `b64:false` too). 401.
  unknown_crit,
  // Input over a size limit: the token (before any decoding), a JSON depth or member
  // count. 401.
  too_large,
  // A single-use token (its `jti`) was seen before. 401.
  replayed,
  // The token is bound (`cnf`, RFC 8705 §3) to a client certificate the request does not
  // present: `cnf["x5t#S256"]` differs from the connection's certificate, or there is
  // none; a DPoP-bound token (`cnf.jkt`) presented without its proof; or a binding is
  // required (`Policy::require_binding`) and the token has none. 401.
  bad_binding,
  // A DPoP proof (RFC 9449) is refused: not a dpop+jwt JWS, a private or unfitting key in
  // its header, a bad signature, missing claims, another method or URI, an `ath` that is
  // not the access token's hash, an `iat` outside the window. 401.
  bad_proof,
  // A DPoP proof lacks the nonce the server requires, or names another (RFC 9449 §8). 401.
  use_dpop_nonce,
  // An introspection endpoint (RFC 7662) says the token is not active, or answers without
  // a boolean `active`. 401.
  inactive,
  // The token does not carry a role the route requires (roles mapped from its claims,
  // RoleMapping). 403 with the Bearer challenge's `insufficient_scope` (RFC 6750 §3.1:
  // the request needs higher privileges than the token gives).
  insufficient_role,
  // The request carries no token at all (RFC 6750 §3.1: a challenge without an error
  // code). 401.
  no_token = 100,
  // The request is malformed around the token (two Authorization headers, `Bearer`
  // with nothing after it), or an argument or configuration is unusable. 400.
  invalid_request,
  // No key set could be had from a remote source (fetch failed, backing off). 503.
  key_source_unavailable,
  // An HTTP exchange failed: connection, deadline, TLS, limits, or an answer that is
  // not what the protocol says. 503: it may work later.
  http_error,
  // Our fault, not the caller's: an unexpected exception (memory, a throwing callback)
  // or an OpenSSL failure that is not about the input. 500.
  internal_error,
  // A token endpoint refused our request for good (RFC 6749 §5.2 `invalid_client`,
  // `unauthorized_client`, `invalid_scope`, ...): our credentials or configuration are
  // wrong, and asking again will not help. 500.
  token_request_refused,
  // The replay store could not say whether a single-use token was used before
  // (unreachable, timed out, full): the token is not accepted. 503.
  replay_store_unavailable,
  // The calling peer is not one the route accepts: no verified client certificate, or
  // one whose identities (URI and DNS SANs) are not on the route's allow list. Not a
  // token problem: 403 without a Bearer challenge.
  peer_not_allowed,
  // A request carries a forwarded client certificate header (RFC 9440 `Client-Cert`,
  // `X-Forwarded-Client-Cert`, or the one configured) but does not come from a trusted
  // proxy (forwarded.h). 403 without a Bearer challenge.
  untrusted_forward,
};

// to_string returns the CLI spelling of `code` ("bad_signature"), or "unknown".
TOKENPASS_EXPORT std::string_view to_string(errc code) noexcept;

// errc_from_string parses the CLI spelling back; nullopt for anything else.
TOKENPASS_EXPORT std::optional<errc> errc_from_string(std::string_view name) noexcept;

// category is the one `std::error_category` of tokenpass, named "tokenpass".
TOKENPASS_EXPORT const std::error_category& category() noexcept;

// make_error_code lets `errc` convert to `std::error_code`.
TOKENPASS_EXPORT std::error_code make_error_code(errc code) noexcept;

// Error: a code to branch on and a detail to log. `detail` never holds key
// material or the whole token.
struct Error {
  errc code = errc::malformed;  // why; stable: the one thing to branch on
  std::string detail;           // a short text for logs, never to branch on
};

// make_error is shorthand for `Error{code, std::string(detail)}`.
inline Error make_error(errc code, std::string_view detail = {}) {
  return Error{code, std::string(detail)};
}

// bad_result_access is thrown by `Result<T>::value()` when the result holds an error.
class TOKENPASS_EXPORT bad_result_access : public std::exception {
 public:
  // bad_result_access keeps `error`, the error the result held.
  explicit bad_result_access(Error error) : error_(std::move(error)) {}
  // what: a fixed message; it does not include the error's code or detail.
  const char* what() const noexcept override;
  // error: the error the result held.
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

namespace detail {
[[noreturn]] TOKENPASS_EXPORT void result_terminate() noexcept;
}  // namespace detail

// Result<T> holds a `T` or an `Error`, shaped like C++23 `std::expected<T, Error>`:
// test it with `operator bool`, read with `*`/`->` (which terminate on an error, in
// every build type) or `value()` (which throws `bad_result_access`), and `error()`.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");
  static_assert(!std::is_same_v<std::decay_t<T>, Error>, "Result<Error> is ambiguous");

 public:
  // value_type: `T`, as in `std::expected`.
  using value_type = T;

  // A value, or anything a `T` is made from.
  template <class U = T,
            class = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                     !std::is_same_v<std::decay_t<U>, Error> &&
                                     !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value)  // NOLINT(google-explicit-constructor): mirrors std::expected
      : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  // An error (implicit, so that a function can `return make_error(...)`).
  Result(Error error)  // NOLINT(google-explicit-constructor)
      : state_(std::in_place_index<1>, std::move(error)) {}

  // has_value: the result holds a `T`, not an error.
  bool has_value() const noexcept { return state_.index() == 0; }
  // operator bool: `has_value()`.
  explicit operator bool() const noexcept { return has_value(); }

  // operator*: the value. On an error it terminates (std::abort), in every build type.
  T& operator*() & noexcept { return checked(); }
  // operator* (const): the value; terminates on an error.
  const T& operator*() const& noexcept { return const_cast<Result*>(this)->checked(); }
  // operator* (rvalue): the value, moved out; terminates on an error.
  T&& operator*() && noexcept { return std::move(checked()); }
  // operator->: the value's members; terminates on an error.
  T* operator->() noexcept { return &checked(); }
  // operator-> (const): the value's members; terminates on an error.
  const T* operator->() const noexcept { return &const_cast<Result*>(this)->checked(); }

  // value: the value. On an error it throws `bad_result_access` holding the error.
  T& value() & {
    throw_if_error();
    return std::get<0>(state_);
  }
  // value (const): the value; throws `bad_result_access` on an error.
  const T& value() const& {
    throw_if_error();
    return std::get<0>(state_);
  }
  // value (rvalue): the value, moved out; throws `bad_result_access` on an error.
  T&& value() && {
    throw_if_error();
    return std::move(std::get<0>(state_));
  }
  // value_or: a copy of the value, or `fallback` converted to `T` on an error.
  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
  }

  // error returns the error; calling it on a value terminates.
  const Error& error() const& noexcept {
    if (has_value()) detail::result_terminate();
    return std::get<1>(state_);
  }
  // error (rvalue): the error, moved out; terminates on a value.
  Error&& error() && noexcept {
    if (has_value()) detail::result_terminate();
    return std::move(std::get<1>(state_));
  }

 private:
  T& checked() noexcept {
    if (!has_value()) detail::result_terminate();
    return *std::get_if<0>(&state_);
  }
  void throw_if_error() const {
    if (!has_value()) throw bad_result_access(std::get<1>(state_));
  }

  std::variant<T, Error> state_;
};

// Result<void>: success or an `Error`.
template <>
class [[nodiscard]] Result<void> {
 public:
  // value_type: `void`.
  using value_type = void;

  // Success.
  Result() = default;
  // An error (implicit, so that a function can `return make_error(...)`).
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  // has_value: success, not an error.
  bool has_value() const noexcept { return !error_.has_value(); }
  // operator bool: `has_value()`.
  explicit operator bool() const noexcept { return has_value(); }
  // value: nothing on success; throws `bad_result_access` holding the error otherwise.
  void value() const {
    if (error_) throw bad_result_access(*error_);
  }
  // error returns the error; calling it on success terminates.
  const Error& error() const& noexcept {
    if (!error_) detail::result_terminate();
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

// is_token_error: the code rejects the token itself (401/403), as opposed to a missing
// token, a bad request or an unavailable key source.
TOKENPASS_EXPORT bool is_token_error(const Error& e) noexcept;

// http_status maps an error to the status a resource server answers with (RFC 6750
// §3.1): 401 for no_token and every token error but insufficient_scope, 403 for
// insufficient_scope, 400 for invalid_request, 503 for key_source_unavailable and
// http_error and replay_store_unavailable, 500 for internal_error and
// token_request_refused.
TOKENPASS_EXPORT int http_status(const Error& e) noexcept;

// www_authenticate builds the RFC 6750 §3 `WWW-Authenticate` value for `e`:
// `Bearer realm="…"` alone for no_token; with `error="invalid_request"`,
// `error="invalid_token"` or `error="insufficient_scope", scope="…"` (the `scopes` the
// resource needs). With `with_description`, an `error_description` from a fixed
// per-code table is added; it never echoes the token or `e.detail`. Attribute values
// are quoted and escaped. nullopt for key_source_unavailable, http_error,
// internal_error, token_request_refused and replay_store_unavailable, which are the
// server's trouble and have no challenge.
TOKENPASS_EXPORT std::optional<std::string> www_authenticate(
    const Error& e, std::string_view realm, const std::vector<std::string>& scopes = {},
    bool with_description = false);

}  // namespace tokenpass

namespace std {
template <>
struct is_error_code_enum<tokenpass::errc> : true_type {};
}  // namespace std

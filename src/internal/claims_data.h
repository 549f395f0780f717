// What a Claims object holds, shared between claims.cpp, verifier.cpp and the fast JSON
// scanner (json.cpp). A verified token's claims are kept as the payload text, which
// the scanner validated, plus typed views of the registered claims; the nlohmann::json
// object is built only when someone asks for it (parsing it costs more than an
// RS256 check's whole budget, and most services read only the registered claims).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/claims.h"
#include "tokenpass/jws.h"

namespace tokenpass::internal {

// StringList: a claim that is a string or an array of strings (`aud`, `scp`), as views.
struct StringList {
  enum class Kind : std::uint8_t { absent, string, array };
  Kind kind = Kind::absent;
  std::string_view single;                   // Kind::string
  std::string_view array_text;               // Kind::array, from text: "[...]" of plain strings
  const nlohmann::json* array_json = nullptr;  // Kind::array, from a json object

  bool present() const noexcept { return kind != Kind::absent; }

  // any_of calls `f(std::string_view)` for each string, in order, until it returns
  // true; returns whether one did.
  template <class F>
  bool any_of(F&& f) const {
    if (kind == Kind::string) return f(single);
    if (kind != Kind::array) return false;
    if (array_json != nullptr) {
      for (const auto& e : *array_json) {
        if (f(std::string_view(e.get_ref<const std::string&>()))) return true;
      }
      return false;
    }
    // The scanner accepted only strings without escapes in this array, so every
    // element is the text between a pair of quotes.
    std::size_t i = 0;
    while (true) {
      const std::size_t open = array_text.find('"', i);
      if (open == std::string_view::npos) return false;
      const std::size_t close = array_text.find('"', open + 1);
      if (f(array_text.substr(open + 1, close - open - 1))) return true;
      i = close + 1;
    }
  }
};

// RegisteredClaims: the claims the policy reads, with the types Claims::check_types
// requires (anything else never gets this far). Views point into the owning
// ClaimsData's text or json.
struct RegisteredClaims {
  std::optional<std::string_view> iss, sub, jti, client_id, scope;
  StringList aud, scp;
  std::optional<double> exp, nbf, iat;

  // has: whether `name` is one of the registered claims above, and if so whether it
  // is present.
  std::optional<bool> has(std::string_view name) const noexcept;
};

// any_scope walks the granted scopes as Claims::scopes() lists them, until `f` returns
// true: `scope` split at spaces when present, else `scp` (a string split at spaces, or
// the non-empty strings of an array).
template <class F>
bool any_scope(const RegisteredClaims& reg, F&& f) {
  const auto split = [&](std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const std::size_t j = s.find(' ', i);
      const std::size_t end = j == std::string_view::npos ? s.size() : j;
      if (end > i && f(s.substr(i, end - i))) return true;
      i = end + 1;
    }
    return false;
  };
  if (reg.scope) return split(*reg.scope);
  if (reg.scp.kind == StringList::Kind::string) return split(reg.scp.single);
  return reg.scp.any_of([&](std::string_view s) { return !s.empty() && f(s); });
}

// ClaimsData: immutable once made; shared by every copy of a Claims (and by a
// VerifiedToken). Not copyable or movable: views point into it.
struct ClaimsData {
  // From a verified payload: the text (JSON built on first use). From a json object
  // (Claims::from_json): the object itself, and `text` is empty.
  std::string text;
  bool lazy = false;
  RegisteredClaims reg;

  ClaimsData() = default;
  ClaimsData(const ClaimsData&) = delete;
  ClaimsData& operator=(const ClaimsData&) = delete;

  // json: the claims object, parsed from `text` on first use (thread-safe). The text
  // was validated when the token was verified, so only allocation can fail, and
  // callers promise noexcept: a failed allocation here terminates.
  const nlohmann::json& json() const noexcept {
    if (lazy) std::call_once(once_, [this] { json_ = nlohmann::json::parse(text); });
    return json_;
  }
  // set_json: for eager claims, before the data is shared.
  void set_json(nlohmann::json j) { json_ = std::move(j); }

 private:
  mutable std::once_flag once_;
  mutable nlohmann::json json_;
};

// set_claims_json makes `data` hold the claims object `claims` (before `data` is
// shared). Errors: those of Claims::from_json.
Result<void> set_claims_json(ClaimsData& data, nlohmann::json claims);

// fill_registered reads the registered claims of a json object that passed
// Claims::check_types; the views point into `j`, which must outlive `reg`.
void fill_registered(const nlohmann::json& j, RegisteredClaims& reg);

// peek_issuer reads `iss` from a payload whose signature is NOT checked yet, for key
// sources that choose keys by issuer. Errors: malformed, too_large; bad_issuer when
// there is no string `iss`.
Result<std::string> peek_issuer(std::string_view payload, const JsonLimits& limits);

// rebased: `reg` with its views moved from a text at `from` to a copy of it at `to`.
RegisteredClaims rebased(const RegisteredClaims& reg, const char* from, const char* to);

struct ClaimsAccess {
  static const ClaimsData& data(const Claims& c) noexcept { return *c.data_; }
  static Claims make(std::shared_ptr<const ClaimsData> data) noexcept {
    return Claims(std::move(data));
  }
};

}  // namespace tokenpass::internal

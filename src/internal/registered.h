// The registered claims tokenpass reads, in one table: name, JSON type, the member of
// RegisteredClaims that holds it, and the words of a bad_claim error. The fast scanner
// (json.cpp), Claims::check_types and the typed accessors (claims.cpp) all go through
// it: adding a claim is a row here and a member in RegisteredClaims. Rows are checked in
// this order (the first ill-typed one is reported).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "internal/claims_data.h"
#include "tokenpass/claims.h"

namespace tokenpass::internal {

enum class ClaimType : std::uint8_t {
  string,      // a JSON string
  strings,     // a string or an array of strings (aud, scp)
  date,        // RFC 7519 NumericDate: a number, finite, 0 <= value < 2^53
};

struct RegisteredClaim {
  std::string_view name;
  ClaimType type;
  // The member of RegisteredClaims that holds it: one of these, by type.
  std::optional<std::string_view> RegisteredClaims::*string_member;
  StringList RegisteredClaims::*list_member;
  std::optional<double> RegisteredClaims::*date_member;
  const char* type_error;  // "\"name\" <type_error>" is the bad_claim detail
};

inline constexpr std::array<RegisteredClaim, 10> kRegisteredClaims{{
    {"iss", ClaimType::string, &RegisteredClaims::iss, nullptr, nullptr, "is not a string"},
    {"sub", ClaimType::string, &RegisteredClaims::sub, nullptr, nullptr, "is not a string"},
    {"jti", ClaimType::string, &RegisteredClaims::jti, nullptr, nullptr, "is not a string"},
    {"client_id", ClaimType::string, &RegisteredClaims::client_id, nullptr, nullptr,
     "is not a string"},
    {"aud", ClaimType::strings, nullptr, &RegisteredClaims::aud, nullptr,
     "is not a string or an array of strings"},
    {"exp", ClaimType::date, nullptr, nullptr, &RegisteredClaims::exp, "is not a NumericDate"},
    {"nbf", ClaimType::date, nullptr, nullptr, &RegisteredClaims::nbf, "is not a NumericDate"},
    {"iat", ClaimType::date, nullptr, nullptr, &RegisteredClaims::iat, "is not a NumericDate"},
    // RFC 8693 §4.2: a space-separated list in one string.
    {"scope", ClaimType::string, &RegisteredClaims::scope, nullptr, nullptr,
     "is not a space-separated string"},
    {"scp", ClaimType::strings, nullptr, &RegisteredClaims::scp, nullptr,
     "is not a string or an array of strings"},
}};

// The members of each type, in table order, for code that treats them alike (rebased).
template <ClaimType T, class M, M RegisteredClaim::*Member>
constexpr auto members_of_type() {
  constexpr std::size_t n = [] {
    std::size_t count = 0;
    for (const auto& c : kRegisteredClaims) count += c.type == T ? 1 : 0;
    return count;
  }();
  std::array<M, n> out{};
  std::size_t i = 0;
  for (const auto& c : kRegisteredClaims) {
    if (c.type == T) out[i++] = c.*Member;
  }
  return out;
}
using StringMember = std::optional<std::string_view> RegisteredClaims::*;
using ListMember = StringList RegisteredClaims::*;
inline constexpr auto kStringMembers =
    members_of_type<ClaimType::string, StringMember, &RegisteredClaim::string_member>();
inline constexpr auto kListMembers =
    members_of_type<ClaimType::strings, ListMember, &RegisteredClaim::list_member>();

// kMaxNumericDateInteger: 2^53, the bound of a NumericDate as an integer (kMaxNumericDate
// in claims.h is the same bound as a double).
inline constexpr std::uint64_t kMaxNumericDateInteger = std::uint64_t{1} << 53;
static_assert(static_cast<double>(kMaxNumericDateInteger) == kMaxNumericDate);

// name_key: a name's length and first three bytes in one number (every registered name
// has at least three), so that a lookup compares numbers, and whole names only for
// longer ones.
constexpr std::uint32_t name_key(std::string_view n) noexcept {
  if (n.size() < 3 || n.size() > 255) return 0;
  return static_cast<std::uint32_t>(n.size()) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(n[0])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(n[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(n[2]));
}

inline constexpr std::array<std::uint32_t, kRegisteredClaims.size()> kRegisteredKeys = [] {
  std::array<std::uint32_t, kRegisteredClaims.size()> keys{};
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = name_key(kRegisteredClaims[i].name);
  return keys;
}();

// find_registered: the row for `name`, or null. On the verify path for every member of
// a payload: numbers first.
inline const RegisteredClaim* find_registered(std::string_view name) noexcept {
  const std::uint32_t key = name_key(name);
  if (key == 0) return nullptr;
  for (std::size_t i = 0; i < kRegisteredKeys.size(); ++i) {
    if (kRegisteredKeys[i] != key) continue;
    const RegisteredClaim& c = kRegisteredClaims[i];
    return name.size() == 3 || c.name == name ? &c : nullptr;
  }
  return nullptr;
}

}  // namespace tokenpass::internal

// Strict JSON for untrusted input: duplicate member names reject (RFC 7515 §4 and
// RFC 8725 §3.4 leave no room for "last one wins"), and depth, member counts and
// string lengths are bounded before anything large is built.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/error.h"
#include "tokenpass/jws.h"

namespace tokenpass::internal {

// parse_json: malformed for invalid JSON (including invalid UTF-8) or duplicate
// member names; too_large when a limit is passed. Never throws.
Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits);

}  // namespace tokenpass::internal

// Strict JSON for untrusted input: duplicate member names reject (RFC 7515 §4 and
// RFC 8725 §3.4 leave no room for "last one wins"), and depth, member counts and
// string lengths are bounded before anything large is built.
//
// Besides the general parser, two fast paths for the verify path, each accepting a
// subset of what parse_json accepts and answering "not sure" for everything else, so
// that the caller falls back to parse_json and reports exactly what it reports.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/error.h"
#include "tokenpass/jws.h"

namespace tokenpass::internal {

struct RegisteredClaims;

// parse_json: malformed for invalid JSON (including invalid UTF-8, and anything but
// white space after the value) or duplicate member names; too_large when a limit is
// passed; internal_error when memory runs out (no verdict on the text). Never throws.
Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits);

// SimpleHeader: what parse_simple_header reads from a JWS protected header.
struct SimpleHeader {
  std::string_view alg, kid, typ;
  bool has_alg = false;
  bool has_kid = false;
  bool has_typ = false;
};

// parse_simple_header: true when `text` is a JSON object that parse_json accepts under
// `limits`, everything in it of the kinds scan_claims knows (below), with `alg`, `kid`
// and `typ` strings when present and no `crit` or `b64` member; `out` then holds views
// into `text`. False: use parse_json and the full header check.
bool parse_simple_header(std::string_view text, const JsonLimits& limits, SimpleHeader& out);

// scan_claims: true when `text` is a JSON object that parse_json accepts under
// `limits` and whose registered claims have the types Claims::check_types wants, and
// everything in it is of the kinds the scanner knows: strings without escapes (UTF-8
// checked as parse_json checks it), integers of at most 18 digits, true, false, null,
// arrays and objects (duplicate names checked at every depth). `reg` then holds views
// into `text`. False: use parse_json and Claims::from_json.
bool scan_claims(std::string_view text, const JsonLimits& limits, RegisteredClaims& reg);

// find_member: the raw JSON text of the top-level member `name` of a text that
// scan_claims accepted; nullopt when there is none.
std::optional<std::string_view> find_member(std::string_view scanned, std::string_view name);

}  // namespace tokenpass::internal

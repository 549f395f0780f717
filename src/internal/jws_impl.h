// The two halves of JWS verification, for callers inside the library (the Verifier)
// that need the header's kid before they choose the keys.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/jws.h"

namespace tokenpass::internal {

// ParsedJws: a compact JWS split, its header checked and its signature decoded. The
// views point into the caller's token, which must outlive this.
struct ParsedJws {
  std::string_view signing_input;
  std::string_view payload_b64;
  nlohmann::json header;
  Alg alg = Alg::HS256;
  bool has_kid = false;  // the header has a "kid" (possibly "")
  std::string kid;
  std::string signature;
};

// parse_jws: everything up to key selection (size, structure, header rules).
Result<ParsedJws> parse_jws(std::string_view compact, const JwsVerifyOptions& options);

// verify_parsed: key selection, algorithm rules and the signature check; consumes
// `parsed` on success.
Result<VerifiedJws> verify_parsed(ParsedJws& parsed, const Key* keys, std::size_t count,
                                  const JwsVerifyOptions& options);

// peek_issuer reads `iss` from a payload whose signature is NOT checked yet, for key
// sources that choose keys by issuer. Errors: malformed, too_large; bad_issuer when
// there is no string `iss`.
Result<std::string> peek_issuer(std::string_view payload_b64, const JsonLimits& limits);

}  // namespace tokenpass::internal

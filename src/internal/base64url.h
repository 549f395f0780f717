// Base64url without padding (RFC 7515 §2, RFC 4648 §5), strict on input.
#pragma once

#include <string>
#include <string_view>

namespace tokenpass::internal {

std::string b64url_encode(std::string_view bytes);

// b64url_decode accepts only canonical base64url: the URL-safe alphabet, no padding,
// no white space, no length that leaves 1 char over, and zero bits after the last
// byte. Returns false (and leaves `out` unspecified) otherwise.
bool b64url_decode(std::string_view text, std::string& out);

// is_b64url_alphabet: every char is in [A-Za-z0-9_-].
bool is_b64url_alphabet(std::string_view text) noexcept;

}  // namespace tokenpass::internal

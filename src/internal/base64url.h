// Base64url without padding (RFC 7515 §2, RFC 4648 §5), strict on input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tokenpass::internal {

std::string b64url_encode(std::string_view bytes);

// b64url_encoded_size / b64url_encode_into: the same encoding written into a buffer
// the caller sized, for building a token in one allocation. Returns the end.
constexpr std::size_t b64url_encoded_size(std::size_t bytes) noexcept {
  return bytes / 3 * 4 + (bytes % 3 == 0 ? 0 : bytes % 3 + 1);
}
char* b64url_encode_into(std::string_view bytes, char* out) noexcept;

// b64url_decode accepts only canonical base64url: the URL-safe alphabet, no padding,
// no white space, no length that leaves 1 char over, and zero bits after the last
// byte. Returns false (and leaves `out` unspecified) otherwise.
bool b64url_decode(std::string_view text, std::string& out);

// B64Status: how `b64url_decode_into` found its input. `bad_char` (outside the
// alphabet) is told apart from `not_canonical` (4k+1 length, non-zero trailing bits)
// because a JWS reports them at different points (jws.h).
enum class B64Status { ok, bad_char, not_canonical };

// b64url_decoded_size: how many bytes `chars` characters of base64url decode to
// (an upper bound for a 4k+1 length, which never decodes).
constexpr std::size_t b64url_decoded_size(std::size_t chars) noexcept {
  return chars / 4 * 3 + (chars % 4 == 0 ? 0 : chars % 4 - 1);
}

// b64url_decode_into decodes `text` into `out`, which holds b64url_decoded_size bytes.
// Every character is checked against the alphabet, so `bad_char` wins over
// `not_canonical`; `out` is fully written only for `ok`.
B64Status b64url_decode_into(std::string_view text, unsigned char* out) noexcept;

// is_b64url_alphabet: every char is in [A-Za-z0-9_-].
bool is_b64url_alphabet(std::string_view text) noexcept;

// hex_value: the value of a hexadecimal digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace tokenpass::internal

// Shared helpers for the tests: data files, cached keys, tamper tools.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/tokenpass.h"

namespace tp_test {

// read_data / read_data_json: a file under tests/data.
std::string read_data(const std::string& relative);
nlohmann::json read_data_json(const std::string& relative);

// key_for: a private key for `alg`, generated once per process (RSA generation is slow).
const tokenpass::Key& key_for(tokenpass::Alg alg);

// sample_claims: a typical ~400-byte access-token payload.
std::string sample_claims();

std::string b64(std::string_view bytes);
std::string unb64(std::string_view text);

struct Split {
  std::string header, payload, signature;  // still base64url
};
Split split(std::string_view compact);
std::string join(const Split& s);

namespace tamper {
// flip_each_signature_bit: one token per bit of the decoded signature, that bit flipped.
std::vector<std::string> flip_each_signature_bit(std::string_view compact);
// with_header: the same payload and signature under another protected header text.
std::string with_header(std::string_view compact, std::string_view header_json);
// resign_with_header: a new header, signed properly with `key` over the same payload.
std::string resign_with_header(std::string_view compact, std::string_view header_json,
                               const tokenpass::Key& key, tokenpass::Alg alg);
}  // namespace tamper

}  // namespace tp_test

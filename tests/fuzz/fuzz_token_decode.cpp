// Fuzz target: compact token decoding without verification (`decode_unverified`,
// `decode_unverified_header`). Input: the token text.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenpass_fuzz;
  const std::string_view text = as_view(data, size);
  const auto full = tokenpass::decode_unverified(text);
  const auto header = tokenpass::decode_unverified_header(text);
  if (full) {
    // Both decode the header the same way; a decoded header is always an object.
    check(header.has_value() && *header == full->header() && full->header().is_object());
    if (const auto& pj = full->payload_json()) (void)pj->dump();
  }
  // A small limit gives the same answer or too_large, never anything else.
  const auto small = tokenpass::decode_unverified(text, 256);
  if (!small && small.error().code != tokenpass::errc::too_large) {
    check(!full && full.error().code == small.error().code);
  }
  return 0;
}

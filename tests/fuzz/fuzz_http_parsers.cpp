// Fuzz target: the HTTP helpers of http.h that read what a server sends: `cache_max_age`
// (Cache-Control), `parse_url` (jwks_uri from discovery metadata) and header lookup.
// Input: the text, given to each.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "internal/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenpass_fuzz;
  const std::string_view text = as_view(data, size);
  if (const auto age = tokenpass::internal::cache_max_age(text)) check(age->count() >= 0);
  if (const auto url = tokenpass::parse_url(text)) {
    check(url->scheme == "http" || url->scheme == "https");
    check(!url->host.empty() && url->port >= 1 && url->port <= 65535);
    check(!url->target.empty() && url->target.front() == '/');
  }
  tokenpass::HttpResponse res;
  const std::size_t colon = text.find(':');
  res.headers.emplace_back(std::string(text.substr(0, colon)),
                           colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1)));
  if (colon != std::string_view::npos) {
    check(res.header(text.substr(0, colon)).has_value());
  }
  (void)res.header("Cache-Control");
  return 0;
}

// Small rules the library applies in several places and users never call: how a
// token's alg fits an allowed one, how media types compare, what a Cache-Control header
// allows. Not installed; tests reach them through tokenpass_objects.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "tokenpass/algorithm.h"

namespace tokenpass::internal {

// alg_fits_allowed: a token's `alg` fits an allowed one: the same algorithm, or, on an
// Ed25519 or Ed448 key (`crv`), `EdDSA` and the fully specified name of that curve
// (RFC 9864), either way round.
bool alg_fits_allowed(Alg allowed, Alg token_alg, Curve crv) noexcept;

// typ_matches compares two media types as RFC 7515 §4.1.9 says: case-insensitively,
// with an `application/` prefix ignored on either side.
bool typ_matches(std::string_view a, std::string_view b) noexcept;

// cache_max_age reads `max-age` from a Cache-Control value; nullopt when absent or
// invalid. `no-cache` and `no-store` give 0.
std::optional<std::chrono::seconds> cache_max_age(std::string_view cache_control);

// scheme_allowed: `url` is an absolute http(s) URL, and http only with `allow_http`;
// otherwise false with the reason in `why`.
bool scheme_allowed(std::string_view url, bool allow_http, std::string* why);

}  // namespace tokenpass::internal

// tokenpass/spiffe.h: SPIFFE workload identities (https://spiffe.io).
//  - SPIFFE IDs (spiffe://trust-domain/path), checked and matched by trust domain or
//    path prefix.
//  - JWT-SVIDs: `Policy::jwt_svid_profile` (verifier.h) checks them as the JWT-SVID
//    standard says; their keys come from a SPIFFE bundle, a JWK set whose keys say
//    `"use": "jwt-svid"`: a file (KeySet::from_jwks) or a bundle endpoint
//    (`RemoteJwksOptions::spiffe_bundle`, which honours `spiffe_refresh_hint` and
//    `spiffe_sequence`). Such keys verify JWT-SVIDs only; a `"use": "sig"` key keeps
//    meaning what it means.
#pragma once

#include <string_view>

#include "tokenpass/export.h"

namespace tokenpass {

// is_spiffe_id: `id` is a SPIFFE ID (SPIFFE-ID standard §2): "spiffe://", a trust
// domain of [a-z0-9.-_], and a path of non-empty segments of [a-zA-Z0-9.-_] other than
// "." and ".."; no query, fragment, port or user; at most 2048 bytes.
TOKENPASS_EXPORT bool is_spiffe_id(std::string_view id) noexcept;

// spiffe_id_matches: `id` is a SPIFFE ID that `pattern` covers: "spiffe://shop" (the
// whole trust domain) or "spiffe://shop/ns/billing" (that ID and every one below it,
// segment by segment: it does not cover spiffe://shop/ns/billing2).
TOKENPASS_EXPORT bool spiffe_id_matches(std::string_view id, std::string_view pattern) noexcept;

}  // namespace tokenpass

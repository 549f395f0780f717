// tokenpass/tokenpass.h: the whole public API in one include. Declares nothing itself.
#pragma once

#include "tokenpass/algorithm.h"  // IWYU pragma: export
#include "tokenpass/binding.h"    // IWYU pragma: export
#include "tokenpass/claims.h"     // IWYU pragma: export
#include "tokenpass/dpop.h"       // IWYU pragma: export
#include "tokenpass/client_credentials.h"  // IWYU pragma: export
#include "tokenpass/error.h"      // IWYU pragma: export
#include "tokenpass/forwarded.h"  // IWYU pragma: export
#include "tokenpass/http.h"       // IWYU pragma: export
#include "tokenpass/introspection.h" // IWYU pragma: export
#include "tokenpass/issuer.h"     // IWYU pragma: export
#include "tokenpass/jwk.h"        // IWYU pragma: export
#include "tokenpass/jws.h"        // IWYU pragma: export
#include "tokenpass/key_source.h" // IWYU pragma: export
#include "tokenpass/metrics.h"    // IWYU pragma: export
#include "tokenpass/propagation.h" // IWYU pragma: export
#include "tokenpass/replay.h"     // IWYU pragma: export
#include "tokenpass/spiffe.h"     // IWYU pragma: export
#include "tokenpass/token_endpoint.h" // IWYU pragma: export
#include "tokenpass/verifier.h"   // IWYU pragma: export
#include "tokenpass/version.h"    // IWYU pragma: export

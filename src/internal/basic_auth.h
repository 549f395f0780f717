// basic_authorization: the `Authorization` value of RFC 6749 §2.3.1 client_secret_basic:
// "Basic " + Base64(form-encoded id ":" form-encoded secret). Defined in
// client_credentials.cpp; used by the token clients and the Introspector.
#pragma once

#include <string>
#include <string_view>

namespace tokenpass::internal {

std::string basic_authorization(std::string_view client_id, std::string_view client_secret);

}  // namespace tokenpass::internal

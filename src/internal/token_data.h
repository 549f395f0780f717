// TokenData: everything a VerifiedToken holds, in one shared, immutable record (the
// verified-token cache keeps these records too).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "internal/claims_data.h"
#include "internal/jws_impl.h"

namespace tokenpass::internal {

struct TokenData {
  std::string compact;
  std::string kid;
  bool has_kid = false;             // the header has a kid (possibly "")
  std::size_t header_b64_size = 0;  // the header is the first part of `compact`
  bool introspected = false;        // an opaque token: no header (header() is {})
  ClaimsData claims;

  const nlohmann::json& header() const noexcept {
    std::call_once(header_once_, [this] {
      header_ = introspected ? nlohmann::json::object()
                             : header_json(std::string_view(compact).substr(0, header_b64_size));
    });
    return header_;
  }

 private:
  mutable std::once_flag header_once_;
  mutable nlohmann::json header_;
};

}  // namespace tokenpass::internal

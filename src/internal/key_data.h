// What a Key holds, shared between jwk.cpp and jws.cpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "internal/openssl.h"
#include "tokenpass/jwk.h"

namespace tokenpass::internal {

struct KeyData {
  KeyType kty = KeyType::oct;
  Curve crv = Curve::none;
  std::size_t bits = 0;
  bool is_private = false;
  SharedPkey pkey;     // asymmetric keys
  std::string secret;  // oct keys; wiped on destruction
  std::string kid;
  std::optional<Alg> alg;
  std::string use;
  std::vector<std::string> key_ops;
  std::optional<std::string> x5t_s256;

  KeyData() = default;
  KeyData(const KeyData&) = default;
  KeyData& operator=(const KeyData&) = delete;
  ~KeyData();
};

struct KeyAccess {
  static const KeyData& data(const Key& key) noexcept { return *key.data_; }
  static Key make(std::shared_ptr<const KeyData> data) { return Key(std::move(data)); }
};

}  // namespace tokenpass::internal

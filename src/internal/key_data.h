// What a Key holds, shared between jwk.cpp and jws.cpp.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "internal/openssl.h"
#include "tokenpass/jwk.h"

namespace tokenpass::internal {

// PreparedContexts: OpenSSL contexts initialised once per (key, algorithm) and copied
// for each signature (DigestVerifyInit costs ten times a copy; a new HMAC context
// costs a fetch and the key schedule). Each slot is filled lazily and at most once: a
// thread that loses the race to fill it frees its own and uses the winner's. Slots are
// only read afterwards (EVP_MD_CTX_copy_ex and EVP_MAC_CTX_dup read their source), so
// threads share them without a lock. A copy of the key's data starts with none.
struct PreparedContexts {
  static constexpr std::size_t kAlgs = 16;  // every Alg
  std::array<std::atomic<EVP_MD_CTX*>, kAlgs> verify{};
  std::array<std::atomic<EVP_MD_CTX*>, kAlgs> sign{};
  std::array<std::atomic<EVP_MAC_CTX*>, 3> mac{};  // HS256, HS384, HS512

  PreparedContexts() = default;
  PreparedContexts(const PreparedContexts&) noexcept {}
  PreparedContexts& operator=(const PreparedContexts&) = delete;
  ~PreparedContexts();
};

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
  bool has_key_ops = false;  // the JWK has "key_ops" (possibly [])
  std::optional<std::string> x5t_s256;
  mutable PreparedContexts prepared;

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

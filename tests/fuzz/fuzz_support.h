// Shared by the fuzz harnesses and make_seeds: the fixed key set, the policies the
// verify harness checks against, base64url, HMAC re-signing and an in-process
// HttpClient that answers with the fuzz input.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_keys.h"
#include "tokenpass/tokenpass.h"

namespace tokenpass_fuzz {

using json = nlohmann::json;

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// check: a property the library promises; a violation is a finding, reported as a crash.
inline void check(bool ok) {
  if (!ok) std::abort();
}

inline std::string b64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : bytes) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

inline std::string b64url_decode(std::string_view text) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '-') v = 62;
    if (c == '_') v = 63;
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// private_keys: the fixed keys of fuzz_keys.h, parsed once.
inline const std::vector<tokenpass::Key>& private_keys() {
  static const std::vector<tokenpass::Key> keys = [] {
    std::vector<tokenpass::Key> v;
    for (const char* jwk : kPrivateJwks) v.push_back(tokenpass::Key::from_jwk(jwk).value());
    return v;
  }();
  return keys;
}

inline const tokenpass::Key& private_key(std::string_view kid) {
  for (const auto& k : private_keys()) {
    if (k.kid() == kid) return k;
  }
  std::abort();
}

// public_key_set: what the verify harness trusts: the public halves (the HMAC key as
// it is), plus a key without a kid (it may serve any token) and an RSA key without an
// alg (it fits by type and size), so that every key-selection rule has work to do.
inline tokenpass::KeySet public_key_set() {
  std::vector<tokenpass::Key> v;
  for (const auto& k : private_keys()) v.push_back(k.is_symmetric() ? k : k.public_key().value());
  v.push_back(private_key("fz-es256").public_key().value().with_kid(""));
  json any_alg = private_key("fz-rs256").to_public_jwk();
  any_alg.erase("alg");
  any_alg["kid"] = "fz-rsa-any";
  v.push_back(tokenpass::Key::from_jwk(any_alg).value());
  return tokenpass::KeySet(std::move(v));
}

// The fixed time and names the verify policies use (and the seeds are made for).
inline constexpr std::int64_t kNow = 1700000000;
inline constexpr const char* kIssuer = "https://issuer.example";
inline constexpr const char* kOtherIssuer = "https://other.example";
inline constexpr const char* kAudience = "orders-api";

inline tokenpass::Clock fixed_clock() {
  return [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };
}

// hs256_secret: the raw secret of the fixed HS256 key.
inline const std::string& hs256_secret() {
  static const std::string secret =
      b64url_decode(private_key("fz-hs256").to_private_jwk()["k"].get<std::string>());
  return secret;
}

// hs256_token: `header` and `payload` taken as they are (any bytes), encoded and MACed
// with the fixed HS256 key, so that fuzzed headers and claims get past the signature.
inline std::string hs256_token(std::string_view header, std::string_view payload) {
  std::string out = b64url(header) + "." + b64url(payload);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  const std::string& k = hs256_secret();
  HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()),
       reinterpret_cast<const unsigned char*>(out.data()), out.size(), mac.data(), &len);
  out.push_back('.');
  out += b64url(std::string_view(reinterpret_cast<const char*>(mac.data()), len));
  return out;
}

// FixedClient: an in-process HttpClient that answers every request with the same
// response. It honours `max_response_bytes` the way a real client must (http_error),
// unless told not to, to check that the library's own limit holds.
class FixedClient final : public tokenpass::HttpClient {
 public:
  FixedClient(int status, std::string body, tokenpass::HttpHeaders headers = {},
              bool honour_limit = true)
      : status_(status),
        body_(std::move(body)),
        headers_(std::move(headers)),
        honour_limit_(honour_limit) {}

  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest& req) override {
    check(tokenpass::parse_url(req.url).has_value());
    if (honour_limit_ && body_.size() > req.max_response_bytes) {
      return tokenpass::make_error(tokenpass::errc::http_error, "body over the limit");
    }
    tokenpass::HttpResponse res;
    res.status = status_;
    res.headers = headers_;
    res.body = body_;
    return res;
  }

 private:
  int status_;
  std::string body_;
  tokenpass::HttpHeaders headers_;
  bool honour_limit_;
};

}  // namespace tokenpass_fuzz

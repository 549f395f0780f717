// The two halves of JWS verification, for callers inside the library (the Verifier)
// that need the header's kid before they choose the keys.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenpass/jws.h"

// TOKENPASS_COLD: rarely run (error paths, fallbacks), kept out of the hot code.
// TOKENPASS_NOINLINE: not inlined into the verify path, whose instruction-cache
// footprint counts (OpenSSL's signature code needs most of the cache).
#if defined(__GNUC__)
#define TOKENPASS_COLD __attribute__((cold, noinline))
#define TOKENPASS_NOINLINE __attribute__((noinline))
#else
#define TOKENPASS_COLD
#define TOKENPASS_NOINLINE
#endif

namespace tokenpass::internal {

// fail: make_error, out of line. The verify path shares the instruction cache with
// OpenSSL's signature code; error paths built inline would spread its hot code over
// many more cache lines.
TOKENPASS_COLD inline Error fail(errc code, std::string_view detail) {
  return make_error(code, detail);
}

// Most white space a caller may leave around a token; it is not counted against the
// size limit.
inline constexpr std::size_t kMaxSurroundingSpace = 4096;

// trim_space: `compact` without the white space (SP, HTAB, CR, LF) a header value or
// a file may carry around a token.
inline std::string_view trim_space(std::string_view s) noexcept {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// over_size_limit: `compact` exceeds the size limit even after the white space a token
// may carry around it. Checked before trimming, so that a huge run of white space
// costs nothing either.
inline bool over_size_limit(std::string_view compact, std::size_t max_size) noexcept {
  return compact.size() > max_size && compact.size() - max_size > kMaxSurroundingSpace;
}

// trim_token: `compact` without the white space around it, checked against the size
// limit before (so that a huge input costs nothing more) and after; false (too_large)
// when over it.
inline bool trim_token(std::string_view& compact, std::size_t max_size) noexcept {
  if (over_size_limit(compact, max_size)) return false;
  compact = trim_space(compact);
  return compact.size() <= max_size;
}

// CompactParts: the three parts of a compact JWS, as views into the trimmed token.
struct CompactParts {
  std::string_view compact;        // white space around it removed
  std::string_view header_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;  // may be empty (an unsecured JWS)
  std::string_view signing_input;  // header_b64 "." payload_b64
};

// split_compact: the one parser of the compact form, for verifying and for decoding
// unverified: trim_token, then not empty, not the JSON serialization, three parts
// (two dots; a third dot stays in the signature, where decoding refuses it), and a
// header. Characters are checked where the parts are decoded. Errors: too_large,
// malformed.
Result<CompactParts> split_compact(std::string_view compact, std::size_t max_size);

// token_limits: the JSON limits for a token's header and payload. No string in them can
// be longer than the token, and the token's size limit is the one the user sets: a
// string limit below it would refuse tokens that the size limit admits. Depth and
// member counts stay as given.
inline JsonLimits token_limits(JsonLimits limits, std::size_t max_token_size) noexcept {
  if (limits.max_string < max_token_size) limits.max_string = max_token_size;
  return limits;
}

// ScratchBuffer: N bytes on the stack, or the heap for more.
template <std::size_t N>
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  unsigned char* get(std::size_t n) {
    if (n <= N) return inline_;
    heap_.resize(n);
    return reinterpret_cast<unsigned char*>(heap_.data());
  }

 private:
  unsigned char inline_[N];
  std::string heap_;
};

// ParsedJws: a compact JWS split, its parts decoded and its header checked. Views
// point into the caller's token, which must outlive this, and into this object itself,
// which therefore neither copies nor moves.
struct ParsedJws {
  ParsedJws() = default;
  ParsedJws(const ParsedJws&) = delete;
  ParsedJws& operator=(const ParsedJws&) = delete;

  std::string_view compact;        // white space around it removed
  std::string_view header_b64;
  std::string_view signing_input;  // header_b64 "." payload_b64
  Alg alg = Alg::HS256;
  bool has_kid = false;            // the header has a "kid" (possibly "")
  std::string_view kid;
  std::string_view payload;        // decoded; valid only if payload_canonical
  bool payload_canonical = true;   // reported only after the signature (jws.h)
  const unsigned char* signature = nullptr;
  std::size_t signature_size = 0;

  ScratchBuffer<1024> signature_buffer;  // RSA up to 8192 bits without the heap
  ScratchBuffer<384> header_buffer;
  ScratchBuffer<2048> payload_buffer;
  std::string kid_storage;  // the kid when it came through the full JSON parser
};

// parse_jws: everything up to key selection (size, structure, header rules).
Result<void> parse_jws(std::string_view compact, const JwsVerifyOptions& options, ParsedJws& out);

// verify_parsed: key selection, algorithm rules and the signature check; returns the
// key whose check succeeded (one of `keys`).
Result<const Key*> verify_parsed(const ParsedJws& parsed, const Key* keys, std::size_t count,
                                 const JwsVerifyOptions& options);

// header_json parses a header that parse_jws accepted, from its base64url form.
// Only allocation can fail (and throws).
nlohmann::json header_json(std::string_view header_b64);

// LazyHeader: a verified header whose JSON object is built on first use.
struct LazyHeader {
  std::string b64;
  const nlohmann::json& get() const noexcept {
    std::call_once(once, [this] { value = header_json(b64); });
    return value;
  }

 private:
  mutable std::once_flag once;
  mutable nlohmann::json value;
};

}  // namespace tokenpass::internal

// Byte order and bit helpers for the eight-bytes-at-a-time (SWAR) loops of the verify
// path, portable to compilers without the GCC builtins.
#pragma once

#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#include <stdlib.h>
#endif

namespace tokenpass::internal {

#if defined(__BYTE_ORDER__)
inline constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#elif defined(_WIN32)
inline constexpr bool kLittleEndian = true;
#else
inline constexpr bool kLittleEndian = false;  // the byte-at-a-time loops then
#endif

// first_flagged_byte: the index of the lowest byte of `mask` (not 0) with its high bit
// set; on a little-endian machine, the first such byte in memory.
inline unsigned first_flagged_byte(std::uint64_t mask) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long bit = 0;
  _BitScanForward64(&bit, mask);
  return static_cast<unsigned>(bit) >> 3;
#else
  return static_cast<unsigned>(__builtin_ctzll(mask)) >> 3;
#endif
}

inline std::uint32_t byte_swap(std::uint32_t v) {
#if defined(_MSC_VER) && !defined(__clang__)
  return _byteswap_ulong(v);
#else
  return __builtin_bswap32(v);
#endif
}

}  // namespace tokenpass::internal

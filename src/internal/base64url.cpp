#include "internal/base64url.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "internal/bits.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TOKENPASS_B64_AVX2 1
#endif

namespace tokenpass::internal {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Decoding table: the 6-bit value of each alphabet char, -1 for everything else. It is
// int32 so that OR-ing four lookups tells, by its sign, whether any char was bad.
constexpr std::array<int32_t, 256> make_table() {
  std::array<int32_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}
constexpr std::array<int32_t, 256> kTable = make_table();

inline int32_t lookup(char c) noexcept { return kTable[static_cast<unsigned char>(c)]; }

// The same values pre-shifted into their place in a 24-bit group, one table per
// position, so that four chars decode with four lookups and three ORs. A char outside
// the alphabet sets bit 24 (kBad) instead.
constexpr uint32_t kBad = 1u << 24;
struct ShiftedTables {
  std::array<uint32_t, 256> t[4];
};
constexpr ShiftedTables make_shifted() {
  ShiftedTables s{};
  for (int pos = 0; pos < 4; ++pos) {
    for (int c = 0; c < 256; ++c) {
      const int32_t v = kTable[c];
      s.t[pos][c] = v < 0 ? kBad : static_cast<uint32_t>(v) << (18 - 6 * pos);
    }
  }
  return s;
}
constexpr ShiftedTables kShifted = make_shifted();

inline uint32_t group(const unsigned char* s) noexcept {
  return kShifted.t[0][s[0]] | kShifted.t[1][s[1]] | kShifted.t[2][s[2]] | kShifted.t[3][s[3]];
}

}  // namespace

// kPairs: the two chars of each 12-bit value, so that three bytes encode with two
// lookups.
struct Pairs {
  std::array<char, 2 * 4096> chars;
};
constexpr Pairs make_pairs() {
  Pairs t{};
  for (int v = 0; v < 4096; ++v) {
    t.chars[2 * v] = kAlphabet[v >> 6];
    t.chars[2 * v + 1] = kAlphabet[v & 63];
  }
  return t;
}
constexpr Pairs kPairs = make_pairs();

std::string b64url_encode(std::string_view bytes) {
  std::string out(b64url_encoded_size(bytes.size()), '\0');
  b64url_encode_into(bytes, out.data());
  return out;
}

bool is_b64url_alphabet(std::string_view text) noexcept {
  for (const char c : text) {
    if (lookup(c) < 0) return false;
  }
  return true;
}

#ifdef TOKENPASS_B64_AVX2
namespace {

// decode_avx2 decodes 32 chars at a time while at least 32 remain, and returns how many
// it consumed (a multiple of 32), or SIZE_MAX when a char is outside the alphabet. The
// method is Muła and Lemire's ("Faster Base64 Encoding and Decoding Using AVX2
// Instructions", 2018), with its nibble tables redone for the URL-safe alphabet:
//   high nibble 2: '-' (low D)        -> +17    5: 'P'-'Z' (0-A) -> -65, '_' (F) -> -32
//               3: '0'-'9' (0-9)      -> +4     6: 'a'-'o' (1-F) -> -71
//               4: 'A'-'O' (1-F)      -> -65    7: 'p'-'z' (0-A) -> -71
// A char is valid when lo_table[low] & hi_table[high] is 0: each high nibble has a bit,
// set in lo_table for the low nibbles it does not allow (0x40: high nibbles 0-1, 8-F).
__attribute__((target("avx2"))) std::size_t decode_avx2(const unsigned char* s, std::size_t n,
                                                        unsigned char* out) {
  const __m256i hi_table = _mm256_setr_epi8(
      0x40, 0x40, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
      0x40, 0x40, 0x40, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
      0x40, 0x40);
  const __m256i lo_table = _mm256_setr_epi8(
      0x55, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x43, 0x6B, 0x6B, 0x6A, 0x6B,
      0x63, 0x55, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x43, 0x6B, 0x6B, 0x6A,
      0x6B, 0x63);
  const __m256i roll_table = _mm256_setr_epi8(
      0, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 4, -65, -65, -71, -71,
      0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i underscore = _mm256_set1_epi8('_');
  const __m256i underscore_fix = _mm256_set1_epi8(33);  // -65 + 33 = -32
  const __m256i merge_ab = _mm256_set1_epi32(0x01400140);
  const __m256i merge_abcd = _mm256_set1_epi32(0x00011000);
  const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                         2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i pack = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), nibble);
    const __m256i lo = _mm256_and_si256(c, nibble);
    const __m256i bad =
        _mm256_and_si256(_mm256_shuffle_epi8(lo_table, lo), _mm256_shuffle_epi8(hi_table, hi));
    if (!_mm256_testz_si256(bad, bad)) return SIZE_MAX;
    const __m256i roll = _mm256_add_epi8(
        _mm256_shuffle_epi8(roll_table, hi),
        _mm256_and_si256(_mm256_cmpeq_epi8(c, underscore), underscore_fix));
    const __m256i v = _mm256_add_epi8(c, roll);
    // Four 6-bit values to 24 bits per 32-bit lane, then the three bytes of each lane
    // in order, 12 per 128-bit half, 24 together.
    const __m256i abcd = _mm256_madd_epi16(_mm256_maddubs_epi16(v, merge_ab), merge_abcd);
    const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(abcd, order), pack);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(packed));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 16), _mm256_extracti128_si256(packed, 1));
    out += 24;
  }
  return i;
}

// encode_avx2 encodes 24 bytes into 32 chars at a time while at least 28 bytes remain
// (it reads 4 past the 24), and returns how many bytes it consumed. The method is
// Muła and Lemire's, with the URL-safe alphabet's offsets in its final lookup.
__attribute__((target("avx2"))) std::size_t encode_avx2(const unsigned char* s, std::size_t n,
                                                        char* out) {
  const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1,
                                          0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  const __m256i mask_ac = _mm256_set1_epi32(0x0FC0FC00);
  const __m256i shift_ac = _mm256_set1_epi32(0x04000040);
  const __m256i mask_bd = _mm256_set1_epi32(0x003F03F0);
  const __m256i shift_bd = _mm256_set1_epi32(0x01000010);
  // Offsets from a 6-bit value to its char: 0-25 +65 ('A'), 26-51 +71 ('a'), 52-61 -4
  // ('0'), 62 -17 ('-'), 63 +32 ('_'), looked up by max(v - 51, 0), or 13 below 26.
  const __m256i offsets = _mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -17, 32,
                                           65, 0, 0, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4,
                                           -17, 32, 65, 0, 0);
  const __m256i fifty_one = _mm256_set1_epi8(51);
  const __m256i twenty_six = _mm256_set1_epi8(26);
  const __m256i thirteen = _mm256_set1_epi8(13);
  std::size_t i = 0;
  for (; i + 28 <= n; i += 24) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 12));
    const __m256i in = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), spread);
    const __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(in, mask_ac), shift_ac);
    const __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(in, mask_bd), shift_bd);
    const __m256i v = _mm256_or_si256(ac, bd);
    __m256i index = _mm256_subs_epu8(v, fifty_one);
    index = _mm256_or_si256(index, _mm256_and_si256(_mm256_cmpgt_epi8(twenty_six, v), thirteen));
    const __m256i chars = _mm256_add_epi8(v, _mm256_shuffle_epi8(offsets, index));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), chars);
    out += 32;
  }
  return i;
}

const bool kHaveAvx2 = [] {
  __builtin_cpu_init();  // static initialisers may run before libgcc's
  return __builtin_cpu_supports("avx2") != 0;
}();

}  // namespace
#endif

char* b64url_encode_into(std::string_view bytes, char* out) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
#ifdef TOKENPASS_B64_AVX2
  if (kHaveAvx2 && n >= 28) {
    i = encode_avx2(p, n, out);
    out += i / 3 * 4;
  }
#endif
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    std::memcpy(out, &kPairs.chars[2 * (v >> 12)], 2);
    std::memcpy(out + 2, &kPairs.chars[2 * (v & 0xFFF)], 2);
    out += 4;
  }
  const std::size_t rest = n - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    *out++ = kAlphabet[(v >> 18) & 63];
    *out++ = kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    *out++ = kAlphabet[(v >> 18) & 63];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
  }
  return out;
}

B64Status b64url_decode_into(std::string_view text, unsigned char* out) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  uint32_t seen = 0;
#ifdef TOKENPASS_B64_AVX2
  if (kHaveAvx2 && n >= 32) {
    i = decode_avx2(s, n, out);
    if (i == SIZE_MAX) return B64Status::bad_char;
    out += i / 4 * 3;
  }
#endif
  // While at least two more chars follow the group (so at least one more byte of
  // output), its three bytes are written with one four-byte store.
  for (; kLittleEndian && i + 6 <= n; i += 4) {
    const uint32_t v = group(s + i);
    seen |= v;
    const uint32_t bytes = byte_swap(v << 8);  // in memory: v>>16, v>>8, v, 0
    std::memcpy(out, &bytes, 4);
    out += 3;
  }
  for (; i + 4 <= n; i += 4) {
    const uint32_t v = group(s + i);
    seen |= v;
    out[0] = static_cast<unsigned char>(v >> 16);
    out[1] = static_cast<unsigned char>(v >> 8);
    out[2] = static_cast<unsigned char>(v);
    out += 3;
  }
  int32_t bad = (seen & kBad) != 0 ? -1 : 0;
  const std::size_t rest = n - i;
  int32_t tail[3] = {0, 0, 0};
  for (std::size_t k = 0; k < rest; ++k) {
    tail[k] = kTable[s[i + k]];
    bad |= tail[k];
  }
  if (bad < 0) return B64Status::bad_char;
  switch (rest) {
    case 1:
      // RFC 4648 §5: a length of 4k+1 cannot come from any byte string.
      return B64Status::not_canonical;
    case 2:
      out[0] = static_cast<unsigned char>((tail[0] << 2) | (tail[1] >> 4));
      // Canonical form: the bits left over after the last full byte must be zero, so
      // that one byte string has exactly one encoding (no token malleability).
      return (tail[1] & 0x0F) == 0 ? B64Status::ok : B64Status::not_canonical;
    case 3:
      out[0] = static_cast<unsigned char>((tail[0] << 2) | (tail[1] >> 4));
      out[1] = static_cast<unsigned char>(((tail[1] & 0x0F) << 4) | (tail[2] >> 2));
      return (tail[2] & 0x03) == 0 ? B64Status::ok : B64Status::not_canonical;
    default:
      return B64Status::ok;
  }
}

bool b64url_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1) return false;
  out.resize(b64url_decoded_size(text.size()));
  return b64url_decode_into(text, reinterpret_cast<unsigned char*>(out.data())) == B64Status::ok;
}

}  // namespace tokenpass::internal

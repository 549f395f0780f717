#include "internal/json.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "internal/bits.h"
#include "internal/claims_data.h"
#include "internal/registered.h"

namespace tokenpass::internal {
namespace {

using json = nlohmann::json;

// Builds a json value from SAX events, refusing duplicates and enforcing limits.
class StrictBuilder {
 public:
  explicit StrictBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return add(json(nullptr)); }
  bool boolean(bool v) { return add(json(v)); }
  bool number_integer(json::number_integer_t v) { return add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return add(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*raw*/) {
    return add(json(v));
  }
  bool string(json::string_t& v) {
    if (v.size() > limits_.max_string) return fail(errc::too_large, "JSON string too long");
    return add(json(std::move(v)));
  }
  bool binary(json::binary_t& /*v*/) { return fail(errc::malformed, "binary value"); }
  bool start_object(std::size_t /*n*/) { return open(json::object()); }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*n*/) { return open(json::array()); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (k.size() > limits_.max_string) return fail(errc::too_large, "JSON member name too long");
    json& top = *stack_.back();
    if (top.contains(k)) return fail(errc::malformed, "duplicate JSON member name");
    if (top.size() >= limits_.max_members) return fail(errc::too_large, "too many JSON members");
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*ex*/) {
    if (!error_) error_ = make_error(errc::malformed, "invalid JSON");
    return false;
  }

  json take() { return std::move(root_); }
  const std::optional<Error>& error() const { return error_; }

 private:
  bool fail(errc code, std::string_view why) {
    error_ = make_error(code, why);
    return false;
  }
  // add places `v` in the open container (or as the root) and returns whether the
  // limits allow it; `slot` receives where it went.
  bool add(json v, json** slot = nullptr) {
    json* where = nullptr;
    if (stack_.empty()) {
      root_ = std::move(v);
      where = &root_;
    } else {
      json& top = *stack_.back();
      if (top.is_object()) {
        auto& obj = top.get_ref<json::object_t&>();
        where = &obj.emplace(std::move(key_), std::move(v)).first->second;
      } else {
        auto& arr = top.get_ref<json::array_t&>();
        if (arr.size() >= limits_.max_members) {
          return fail(errc::too_large, "too many JSON array elements");
        }
        arr.push_back(std::move(v));
        where = &arr.back();
      }
    }
    if (slot != nullptr) *slot = where;
    return true;
  }
  bool open(json container) {
    if (stack_.size() >= limits_.max_depth) return fail(errc::too_large, "JSON nested too deeply");
    json* slot = nullptr;
    if (!add(std::move(container), &slot)) return false;
    // Pointers stay valid: a parent array only grows after this child is closed.
    stack_.push_back(slot);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  json root_;
  std::vector<json*> stack_;
  std::string key_;
  std::optional<Error> error_;
};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits) {
  // JSON has no place for a raw NUL byte (RFC 8259 §2, §7), but nlohmann's lexer reads
  // one as the end of the input, so that `{"alg":"HS256"}` NUL anything would parse.
  if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
    return make_error(errc::malformed, "NUL byte in JSON text");
  }
  StrictBuilder builder(limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json, true);
  } catch (const std::bad_alloc&) {
    // Memory is not the text's fault.
    return make_error(errc::internal_error, "out of memory while parsing JSON");
  } catch (const std::exception&) {
    // sax_parse reports syntax errors through parse_error; nothing else is expected.
    ok = false;
  }
  if (!ok) {
    if (builder.error()) return *builder.error();
    return make_error(errc::malformed, "invalid JSON");
  }
  return builder.take();
}

// ---- the fast paths ----------------------------------------------------------
//
// Both answer only for texts they fully understand, and say false for anything else
// (escapes, fractions, a BOM, limits reached, every error): the caller then runs
// parse_json, whose verdict and error code stand. So the fast paths never need to
// reproduce an error, only to accept nothing that parse_json would refuse.

namespace {

inline bool is_ws(char c) {
  // Most bytes are above the space, and one comparison settles them.
  return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

// Byte classes inside a JSON string: 0 plain ASCII, 1 the closing quote, 2 refused by
// the fast paths (control characters, which JSON forbids, and backslash, whose escapes
// they leave to parse_json), 3 the lead byte of a multi-byte UTF-8 sequence or invalid.
constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c < 0x20 ? 2 : c == '"' ? 1 : c == '\\' ? 2 : c < 0x80 ? 0 : 3;
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kClass = make_classes();

// special8: for the 8 bytes at `p`, a mask with the high bit set in each byte that is
// not of class 0; string bodies are mostly class 0, and are skipped eight bytes at a
// time. Standard SWAR tests (a byte below 0x20, equal to '"' or '\\', or with its high
// bit set); borrows only run towards higher bytes, so the lowest flagged byte is
// always a true one, and on a little-endian machine that is the first in memory.
inline std::uint64_t special8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const std::uint64_t quote = x ^ (kOnes * '"');
  const std::uint64_t backslash = x ^ (kOnes * '\\');
  return (((x - kOnes * 0x20) & ~x) | ((quote - kOnes) & ~quote) |
          ((backslash - kOnes) & ~backslash) | x) &
         kHigh;
}

// Name: a member name and a tag of its length and first and last bytes, so that
// looking for a duplicate compares mostly tags.
struct Name {
  std::uint64_t tag;
  const char* data;

  static std::uint64_t tag_of(std::string_view s) {
    if (s.empty()) return 0;
    return static_cast<std::uint64_t>(s.size()) << 16 |
           static_cast<std::uint64_t>(static_cast<unsigned char>(s.front())) << 8 |
           static_cast<unsigned char>(s.back());
  }
  bool is(std::uint64_t t, std::string_view s) const {
    return tag == t && std::memcmp(data, s.data(), s.size()) == 0;
  }
  // bit: one of 64 bits for the tag; an object's names are compared only when a new
  // name's bit is already set, which for a dozen distinct names is rarely the case.
  static std::uint64_t bit(std::uint64_t tag) {
    return std::uint64_t{1} << ((tag * 0x9E3779B97F4A7C15ULL) >> 58);
  }
};

class Scanner {
 public:
  Scanner(std::string_view text, const JsonLimits& limits)
      : p_(text.data()), end_(text.data() + text.size()), limits_(limits) {}

  // document: `text` is one object; its top-level members go to `reg` (claims) or
  // `header` (a JWS header), whichever is set.
  bool document(RegisteredClaims* reg, SimpleHeader* header) {
    reg_ = reg;
    header_ = header;
    skip_ws();
    if (p_ == end_ || *p_ != '{' || !object(0, true)) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  static constexpr std::size_t kMaxDepth = 64;   // deeper: parse_json's business
  static constexpr std::size_t kMaxNames = 128;  // names of all open objects together

  // The hot loops below work on a local copy of p_: a char read may alias any object,
  // p_ included, which would keep the compiler from holding p_ in a register.
  void skip_ws() {
    const char* p = p_;
    while (p != end_ && is_ws(*p)) ++p;
    p_ = p;
  }

  // skip_plain: past the class-0 bytes of a string body.
  void skip_plain() {
    const char* p = p_;
    const char* const end = end_;
    while (kLittleEndian && end - p >= 8) {
      const std::uint64_t special = special8(p);
      if (special != 0) {
        p_ = p + first_flagged_byte(special);
        return;
      }
      p += 8;
    }
    while (p != end && kClass[static_cast<unsigned char>(*p)] == 0) ++p;
    p_ = p;
  }

  // string: at a '"'; no escapes; UTF-8 checked as parse_json checks it.
  bool string(std::string_view& out) {
    const char* start = ++p_;
    while (true) {
      skip_plain();
      if (p_ == end_) return false;
      const std::uint8_t cls = kClass[static_cast<unsigned char>(*p_)];
      if (cls == 1) break;
      if (cls == 2 || !utf8()) return false;
    }
    out = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return out.size() <= limits_.max_string;
  }

  // utf8: one well-formed multi-byte sequence (Unicode 15 table 3-7: no overlong
  // forms, no surrogates, nothing above U+10FFFF), as parse_json requires.
  bool utf8() {
    const auto at = [&](std::ptrdiff_t i) { return static_cast<unsigned char>(p_[i]); };
    const unsigned char c = at(0);
    std::ptrdiff_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      len = 3;
    } else if (c == 0xED) {
      len = 3;
      hi = 0x9F;
    } else if (c == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4;
      hi = 0x8F;
    } else {
      return false;
    }
    if (end_ - p_ < len || at(1) < lo || at(1) > hi) return false;
    for (std::ptrdiff_t i = 2; i < len; ++i) {
      if (at(i) < 0x80 || at(i) > 0xBF) return false;
    }
    p_ += len;
    return true;
  }

  // integer: "-"? ("0" | [1-9][0-9]*), at most 18 digits, so that it fits an int64
  // whatever its sign; a fraction or an exponent is left to parse_json.
  bool integer(bool& negative, std::uint64_t* value) {
    const char* p = p_;
    negative = p != end_ && *p == '-';
    if (negative) ++p;
    const char* const start = p;
    std::uint64_t v = 0;
    while (p != end_ && static_cast<unsigned char>(*p - '0') < 10) {
      v = v * 10 + static_cast<std::uint64_t>(*p - '0');  // wraps past 19 digits: refused below
      ++p;
    }
    p_ = p;
    const std::size_t digits = static_cast<std::size_t>(p - start);
    if (digits == 0 || digits > 18 || (*start == '0' && digits > 1)) return false;
    if (p != end_ && (*p == '.' || *p == 'e' || *p == 'E')) return false;
    if (value != nullptr) *value = v;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  bool value(std::size_t depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '"': {
        std::string_view s;
        return string(s);
      }
      case '{':
        return object(depth, false);
      case '[':
        return array(depth, false);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default: {
        bool negative = false;
        return integer(negative, nullptr);
      }
    }
  }

  // object: at a '{', with `depth` containers open around it; the top level's members
  // are read as they pass.
  bool object(std::size_t depth, bool top) {
    if (depth >= limits_.max_depth || depth >= kMaxDepth) return false;
    ++p_;
    const std::size_t first = names_count_;
    std::size_t members = 0;
    std::uint64_t seen = 0;
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      if (p_ == end_ || *p_ != '"') return false;
      std::string_view name;
      if (!string(name) || ++members > limits_.max_members) return false;
      const std::uint64_t tag = Name::tag_of(name);
      const std::uint64_t bit = Name::bit(tag);
      const std::size_t count = names_count_;
      if ((seen & bit) != 0) {
        for (std::size_t i = first; i < count; ++i) {
          if (names_[i].is(tag, name)) return false;  // as parse_json: duplicates reject
        }
      }
      seen |= bit;
      if (count == kMaxNames) return false;
      names_[count] = Name{tag, name.data()};
      names_count_ = count + 1;
      skip_ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_ws();
      if (!(top ? member(name, depth + 1) : value(depth + 1))) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        break;
      }
      if (*p_ != ',') return false;
      ++p_;
      skip_ws();
    }
    names_count_ = first;
    return true;
  }

  bool array(std::size_t depth, bool strings_only) {
    if (depth >= limits_.max_depth || depth >= kMaxDepth) return false;
    ++p_;
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    std::size_t count = 0;
    while (true) {
      if (++count > limits_.max_members) return false;
      if (strings_only) {
        std::string_view s;
        if (p_ == end_ || *p_ != '"' || !string(s)) return false;
      } else if (!value(depth + 1)) {
        return false;
      }
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      skip_ws();
    }
  }

  bool member(std::string_view name, std::size_t depth) {
    if (reg_ != nullptr) return registered(name, depth, *reg_);
    if (header_ != nullptr) return header_member(name, depth, *header_);
    return value(depth);
  }

  // header_member: alg, kid and typ must be strings; crit and b64 have rules that live
  // in one place only, the full header check.
  bool header_member(std::string_view name, std::size_t depth, SimpleHeader& h) {
    std::string_view* out = nullptr;
    bool* has = nullptr;
    if (name == "alg") {
      out = &h.alg;
      has = &h.has_alg;
    } else if (name == "kid") {
      out = &h.kid;
      has = &h.has_kid;
    } else if (name == "typ") {
      out = &h.typ;
      has = &h.has_typ;
    } else if (name == "crit" || name == "b64") {
      return false;
    } else {
      return value(depth);
    }
    if (p_ == end_ || *p_ != '"' || !string(*out)) return false;
    *has = true;
    return true;
  }

  // registered: a top-level member's value; a registered claim (internal/registered.h)
  // must have its type (anything else goes the slow way, which reports it).
  bool registered(std::string_view name, std::size_t depth, RegisteredClaims& reg) {
    const RegisteredClaim* claim = find_registered(name);
    if (claim == nullptr) return value(depth);
    if (p_ == end_) return false;
    switch (claim->type) {
      case ClaimType::string: {
        std::string_view s;
        if (*p_ != '"' || !string(s)) return false;
        reg.*(claim->string_member) = s;
        return true;
      }
      case ClaimType::strings: {
        StringList& list = reg.*(claim->list_member);
        if (*p_ == '"') {
          std::string_view s;
          if (!string(s)) return false;
          list.kind = StringList::Kind::string;
          list.single = s;
          return true;
        }
        const char* start = p_;
        if (*p_ != '[' || !array(depth, true)) return false;
        list.kind = StringList::Kind::array;
        list.array_text = std::string_view(start, static_cast<std::size_t>(p_ - start));
        return true;
      }
      case ClaimType::date: {
        // Integers only here; fractions are the full parser's.
        bool negative = false;
        std::uint64_t v = 0;
        if (!integer(negative, &v) || negative || v >= kMaxNumericDateInteger) return false;
        reg.*(claim->date_member) = static_cast<double>(v);
        return true;
      }
    }
    return false;
  }

  const char* p_;
  const char* end_;
  const JsonLimits& limits_;
  Name names_[kMaxNames];  // left uninitialised: only the first names_count_ are read
  std::size_t names_count_ = 0;
  RegisteredClaims* reg_ = nullptr;
  SimpleHeader* header_ = nullptr;
};

// skip_value: past one value of a text scan_claims accepted.
const char* skip_value(const char* p, const char* end) {
  if (*p == '"') return static_cast<const char*>(std::memchr(p + 1, '"', end - p - 1)) + 1;
  if (*p != '{' && *p != '[') {
    while (p != end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p)) ++p;
    return p;
  }
  std::size_t depth = 0;
  do {
    if (*p == '"') {
      p = static_cast<const char*>(std::memchr(p + 1, '"', end - p - 1));
    } else if (*p == '{' || *p == '[') {
      ++depth;
    } else if (*p == '}' || *p == ']') {
      --depth;
    }
    ++p;
  } while (depth > 0);
  return p;
}

}  // namespace

bool parse_simple_header(std::string_view text, const JsonLimits& limits, SimpleHeader& out) {
  Scanner scanner(text, limits);
  return scanner.document(nullptr, &out);
}

bool scan_claims(std::string_view text, const JsonLimits& limits, RegisteredClaims& reg) {
  Scanner scanner(text, limits);
  return scanner.document(&reg, nullptr);
}

std::optional<std::string_view> find_member(std::string_view scanned, std::string_view name) {
  const char* p = scanned.data();
  const char* end = p + scanned.size();
  const auto ws = [&] {
    while (p != end && is_ws(*p)) ++p;
  };
  ws();
  ++p;  // '{'
  while (true) {
    ws();
    if (*p != '"') return std::nullopt;  // '}'
    const char* name_end = static_cast<const char*>(std::memchr(p + 1, '"', end - p - 1));
    const std::string_view member(p + 1, static_cast<std::size_t>(name_end - p - 1));
    p = name_end + 1;
    ws();
    ++p;  // ':'
    ws();
    const char* value = p;
    p = skip_value(p, end);
    if (member == name) return std::string_view(value, static_cast<std::size_t>(p - value));
    ws();
    if (*p != ',') return std::nullopt;
    ++p;
  }
}

}  // namespace tokenpass::internal

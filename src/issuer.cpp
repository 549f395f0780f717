#include "tokenpass/issuer.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "internal/base64url.h"
#include "internal/jws_impl.h"
#include "internal/key_data.h"
#include "internal/openssl.h"
#include "internal/random.h"
#include "internal/registered.h"
#include "internal/signature.h"

namespace tokenpass {

using json = nlohmann::json;

namespace {

// PayloadText: the claims' JSON text, on the stack up to 1 KiB (an access token's claims
// take a few hundred bytes), on the heap beyond.
class PayloadText {
 public:
  PayloadText() = default;
  PayloadText(const PayloadText&) = delete;
  PayloadText& operator=(const PayloadText&) = delete;

  void append(const char* s, std::size_t n) {
    if (n > capacity_ - size_) grow(n);
    std::memcpy(data_ + size_, s, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void append(char c) { append(&c, 1); }
  void pop_back() noexcept { --size_; }
  std::string_view view() const noexcept { return {data_, size_}; }

 private:
  void grow(std::size_t n) {
    std::string bigger(std::max(2 * capacity_, size_ + n), '\0');
    std::memcpy(bigger.data(), data_, size_);
    heap_ = std::move(bigger);
    data_ = heap_.data();
    capacity_ = heap_.size();
  }

  char inline_[1024];
  std::string heap_;
  char* data_ = inline_;
  std::size_t size_ = 0;
  std::size_t capacity_ = sizeof inline_;
};

// append_json writes `value` as `json::dump()` does (compact, members in name order) at
// the end of `out`, and throws json::type_error for a string that is not UTF-8, as dump
// does. (Writing straight into `out` through nlohmann's internal serializer would save
// one allocation; the library keeps to nlohmann's public API.)
void append_json(const json& value, PayloadText& out) { out.append(value.dump()); }

// numeric_date: RFC 7519 §2, whole seconds since the epoch (as ClaimsBuilder writes them).
std::int64_t numeric_date(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// is_numeric_date: what Claims::check_types accepts of an integer date.
bool is_numeric_date(std::int64_t v) {
  return v >= 0 && static_cast<std::uint64_t>(v) < internal::kMaxNumericDateInteger;
}

// dump_or_nullopt: the JSON text of `value`; nullopt when a string in it is not UTF-8
// (reported by each issue, as a claim of the caller's would be).
std::optional<std::string> dump_or_nullopt(const json& value) {
  try {
    return value.dump();
  } catch (const json::type_error&) {
    return std::nullopt;
  }
}

constexpr std::string_view kUtf8Error = "claim values must be valid UTF-8";

}  // namespace

Issuer::Issuer(Key key, std::string issuer, std::chrono::seconds lifetime, IssuerOptions options)
    : key_(std::move(key)),
      issuer_(std::move(issuer)),
      lifetime_(lifetime),
      options_(std::move(options)),
      alg_(options_.alg.value_or(key_.default_alg())) {
  if (!key_.can_sign()) throw std::invalid_argument("tokenpass::Issuer: the key cannot sign");
  if (options_.alg && !key_.fits(*options_.alg)) {
    throw std::invalid_argument("tokenpass::Issuer: the key does not fit the algorithm");
  }
  if (issuer_.empty()) throw std::invalid_argument("tokenpass::Issuer: empty issuer");
  if (lifetime_ <= std::chrono::seconds::zero()) {
    throw std::invalid_argument("tokenpass::Issuer: lifetime must be positive");
  }
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };

  // Everything issue() writes that is the same for every token, made once. The header is
  // what sign_jws writes for these options (members in name order: alg, kid, typ), and a
  // problem with it is reported by each issue, after the claims', as sign_jws would.
  if (!key_.fits(alg_)) {
    header_error_ = make_error(errc::alg_not_allowed, "the key does not fit this alg");
  } else {
    json header = json::object();
    header["alg"] = std::string(to_string(alg_));
    if (!key_.kid().empty()) header["kid"] = key_.kid();
    header["typ"] = options_.typ;
    if (auto text = dump_or_nullopt(header)) {
      header_b64_ = internal::b64url_encode(*text) + '.';
    } else {
      header_error_ = make_error(errc::malformed, "header values must be valid UTF-8");
    }
  }
  iss_json_ = dump_or_nullopt(issuer_);
  if (options_.audience.size() == 1) {
    aud_json_ = dump_or_nullopt(options_.audience.front());
  } else if (!options_.audience.empty()) {
    aud_json_ = dump_or_nullopt(options_.audience);
  }
}

Result<std::string> Issuer::issue(const ClaimsBuilder& claims) const {
  try {
    // The caller's `iss` is replaced by this issuer's, so it is neither checked nor
    // written; every other claim of theirs is kept as it is.
    const json* given = &claims.json();
    json without_iss;
    if (given->contains("iss")) {
      without_iss = *given;
      without_iss.erase("iss");
      given = &without_iss;
    }
    const auto now = options_.clock();
    const std::int64_t iat = numeric_date(now);
    const std::int64_t exp = numeric_date(now + lifetime_);
    const bool add_iat = !given->contains("iat");
    const bool add_exp = !given->contains("exp");
    const bool add_nbf = options_.not_before && !given->contains("nbf");
    const bool add_aud = !options_.audience.empty() && !given->contains("aud");
    const bool add_jti = options_.generate_jti && !given->contains("jti");

    // The jti's bytes come from this thread's block of RAND_bytes output (one call per
    // 256 jtis, fork-safe: internal/random.h), not from a RAND_bytes call of their own.
    unsigned char jti[16];
    if (add_jti && !internal::buffered_random_bytes(jti, sizeof jti)) {
      return make_error(errc::internal_error, "internal error while issuing");
    }

    // Claims::check_types over the claims as they will be written. The ones added here
    // are of the right type, except a date out of range (a clock before 1970); then the
    // whole set is checked, so that the first bad claim in the table's order is reported.
    if ((add_iat && !is_numeric_date(iat)) || (add_exp && !is_numeric_date(exp)) ||
        (add_nbf && !is_numeric_date(iat))) {
      json all = *given;
      if (add_iat) all["iat"] = iat;
      if (add_exp) all["exp"] = exp;
      if (add_nbf) all["nbf"] = iat;
      if (auto types = Claims::check_types(all); !types) {
        return make_error(errc::malformed, types.error().detail);
      }
    }
    if (auto types = Claims::check_types(*given); !types) {
      return make_error(errc::malformed, types.error().detail);
    }
    if (!iss_json_ || (add_aud && !aud_json_)) return make_error(errc::malformed, kUtf8Error);

    // The payload: the caller's claims as json::dump writes them, then the added ones.
    PayloadText text;
    append_json(*given, text);
    text.pop_back();  // the object's closing brace
    bool first = text.view().size() == 1;
    const auto member = [&](std::string_view name) {
      if (!first) text.append(',');
      first = false;
      text.append('"');
      text.append(name);
      text.append("\":", 2);
    };
    const auto number = [&](std::string_view name, std::int64_t v) {
      member(name);
      char digits[24];
      const auto r = std::to_chars(digits, digits + sizeof digits, v);
      text.append(digits, static_cast<std::size_t>(r.ptr - digits));
    };
    member("iss");
    text.append(*iss_json_);
    if (add_iat) number("iat", iat);
    if (add_exp) number("exp", exp);
    if (add_nbf) number("nbf", iat);
    if (add_aud) {
      member("aud");
      text.append(*aud_json_);
    }
    if (add_jti) {
      // 128 random bits, base64url (22 characters).
      char encoded[internal::b64url_encoded_size(sizeof jti)];
      internal::b64url_encode_into(std::string_view(reinterpret_cast<const char*>(jti), sizeof jti),
                                   encoded);
      member("jti");
      text.append('"');
      text.append(encoded, sizeof encoded);
      text.append('"');
    }
    text.append('}');

    if (header_error_) return *header_error_;
    // The token in one allocation: the header made once, the payload, then the signature
    // over them, computed from the key's prepared context.
    const internal::KeyData& data = internal::KeyAccess::data(key_);
    const std::size_t max_sig = internal::max_signature_size(data, alg_);
    const std::size_t input_size =
        header_b64_.size() + internal::b64url_encoded_size(text.view().size());
    std::string out(input_size + 1 + internal::b64url_encoded_size(max_sig), '\0');
    std::memcpy(out.data(), header_b64_.data(), header_b64_.size());
    internal::b64url_encode_into(text.view(), out.data() + header_b64_.size());
    internal::ScratchBuffer<1024> sig_buffer;
    unsigned char* sig = sig_buffer.get(max_sig);
    const std::size_t sig_len =
        internal::compute_signature(data, alg_, std::string_view(out.data(), input_size), sig);
    if (sig_len == 0) {
      return make_error(errc::internal_error, "OpenSSL could not sign with the key");
    }
    out[input_size] = '.';
    const char* end = internal::b64url_encode_into(
        std::string_view(reinterpret_cast<const char*>(sig), sig_len), out.data() + input_size + 1);
    out.resize(static_cast<std::size_t>(end - out.data()));
    return out;
  } catch (const json::type_error&) {
    // Claims that json::dump refuses (strings that are not UTF-8) are bad input.
    internal::clear_openssl_errors();
    return make_error(errc::malformed, kUtf8Error);
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while issuing");
  }
}

}  // namespace tokenpass

#include "tokenpass/jws.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <utility>

#include "internal/base64url.h"
#include "internal/bits.h"
#include "internal/json.h"
#include "internal/jws_impl.h"
#include "internal/key_data.h"
#include "internal/openssl.h"
#include "internal/rules.h"
#include "internal/signature.h"
#include "tokenpass/http.h"

namespace tokenpass {

namespace internal {
struct JwsAccess {
  static VerifiedJws verified(std::shared_ptr<const LazyHeader> header, std::string payload,
                              Alg alg, std::string kid, Key key) {
    return VerifiedJws(std::move(header), std::move(payload), alg, std::move(kid),
                       std::move(key));
  }
  static UnverifiedJws unverified() { return UnverifiedJws(); }
  static void fill(UnverifiedJws& u, nlohmann::json header, std::string payload,
                   std::optional<nlohmann::json> payload_json, std::string signature) {
    u.header_ = std::move(header);
    u.payload_ = std::move(payload);
    u.payload_json_ = std::move(payload_json);
    u.signature_ = std::move(signature);
  }
};

nlohmann::json header_json(std::string_view header_b64) {
  std::string text;
  internal::b64url_decode(header_b64, text);
  return nlohmann::json::parse(text);
}
}  // namespace internal

VerifiedJws::VerifiedJws(std::shared_ptr<const internal::LazyHeader> header, std::string payload,
                         Alg alg, std::string kid, Key key)
    : header_(std::move(header)),
      payload_(std::move(payload)),
      alg_(alg),
      kid_(std::move(kid)),
      key_(std::move(key)) {}

const nlohmann::json& VerifiedJws::header() const noexcept { return header_->get(); }

namespace {

using internal::KeyAccess;
using internal::KeyData;
using json = nlohmann::json;

// ---- structure ---------------------------------------------------------------

Result<json> decode_header(std::string_view header_b64, const JsonLimits& limits) {
  std::string text;
  if (!internal::b64url_decode(header_b64, text)) {
    return make_error(errc::malformed, "header is not canonical base64url");
  }
  auto header = internal::parse_json(text, limits);
  if (!header) {
    Error e = std::move(header).error();
    e.detail = "header: " + e.detail;
    return e;
  }
  if (!header->is_object()) return make_error(errc::malformed, "header is not a JSON object");
  return header;
}

std::string_view strip_application(std::string_view s) {
  constexpr std::string_view kPrefix = "application/";
  if (s.size() >= kPrefix.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kPrefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != kPrefix[i]) match = false;
    }
    if (match) s.remove_prefix(kPrefix.size());
  }
  return s;
}

// HeaderMember: one protected header member as the rules see it, whichever parser read
// it: absent, a string (its text), or present as anything else.
struct HeaderMember {
  enum class Kind : std::uint8_t { absent, string, other };
  Kind kind = Kind::absent;
  std::string_view text;
};

// HeaderMembers: what the header rules look at. `object` is the whole header, from the
// full parser; the small one reads only headers without crit and b64 (it answers "not
// sure" for those), and leaves it null.
struct HeaderMembers {
  HeaderMember alg, kid, typ;
  const json* object = nullptr;
};

HeaderMembers members_of(const json& header) {
  HeaderMembers m;
  m.object = &header;
  const auto read = [&](const char* name, HeaderMember& out) {
    const auto it = header.find(name);
    if (it == header.end()) return;
    if (!it->is_string()) {
      out.kind = HeaderMember::Kind::other;
      return;
    }
    out.kind = HeaderMember::Kind::string;
    out.text = it->get_ref<const std::string&>();
  };
  read("alg", m.alg);
  read("kid", m.kid);
  read("typ", m.typ);
  return m;
}

struct HeaderFacts {
  Alg alg;
  bool has_kid = false;
  std::string_view kid;  // into what `members` viewed
};

// check_header applies the header rules that do not depend on the key, the same for
// either parser. A problem with the signature part's encoding (`signature_problem`, when
// not empty) is reported right after `alg`: an unsecured token (`none`, often with an
// empty signature) is unsupported_alg whatever its signature part looks like.
Result<HeaderFacts> check_header(const HeaderMembers& h, const JwsVerifyOptions& options,
                                 std::string_view signature_problem) {
  using Kind = HeaderMember::Kind;
  if (h.alg.kind == Kind::absent) return internal::fail(errc::malformed, "header has no \"alg\"");
  if (h.alg.kind != Kind::string) {
    return internal::fail(errc::malformed, "header \"alg\" is not a string");
  }
  // RFC 8725 §3.1: "none" (in any case) and unknown names are not algorithms here.
  const auto alg = alg_from_string(h.alg.text);
  if (!alg) {
    return internal::fail(errc::unsupported_alg, "\"alg\" is not a supported JWS algorithm");
  }
  if (!signature_problem.empty()) return internal::fail(errc::malformed, signature_problem);

  if (h.object != nullptr) {
    const json& header = *h.object;
    if (const auto crit = header.find("crit"); crit != header.end()) {
      // RFC 7515 §4.1.11: a non-empty array of names; any we do not understand rejects.
      if (!crit->is_array() || crit->empty()) {
        return make_error(errc::malformed, "\"crit\" is not a non-empty array");
      }
      for (const auto& name : *crit) {
        if (!name.is_string()) return make_error(errc::malformed, "\"crit\" holds a non-string");
        const auto& n = name.get_ref<const std::string&>();
        if (std::find(options.critical.begin(), options.critical.end(), n) ==
            options.critical.end()) {
          return make_error(errc::unknown_crit, "\"crit\" names an extension not understood");
        }
        if (!header.contains(n)) {
          return make_error(errc::malformed, "\"crit\" names a member the header lacks");
        }
      }
    }
    if (const auto b64 = header.find("b64"); b64 != header.end()) {
      // RFC 7797: unencoded payloads are not supported; b64 without crit is invalid too.
      if (!b64->is_boolean() || !b64->get<bool>()) {
        return make_error(errc::unknown_crit, "unencoded payloads (b64:false) are not accepted");
      }
    }
  }
  if (h.object != nullptr && !options.header_members.empty()) {
    for (const auto& [name, value] : h.object->items()) {
      if (std::find(options.header_members.begin(), options.header_members.end(), name) ==
          options.header_members.end()) {
        return make_error(errc::malformed, "the header holds a member the policy does not allow");
      }
    }
  }
  if (!options.typ_if_present.empty() && h.typ.kind != Kind::absent) {
    const bool known = h.typ.kind == Kind::string &&
                       std::any_of(options.typ_if_present.begin(), options.typ_if_present.end(),
                                   [&](const std::string& t) { return internal::typ_matches(h.typ.text, t); });
    if (!known) return internal::fail(errc::bad_type, "header \"typ\" is not an accepted type");
  }
  if (options.typ) {
    if (h.typ.kind != Kind::string) return internal::fail(errc::bad_type, "header has no \"typ\"");
    if (!internal::typ_matches(h.typ.text, *options.typ)) {
      return internal::fail(errc::bad_type, "header \"typ\" is not the expected type");
    }
  }
  HeaderFacts facts{*alg, false, {}};
  if (h.kid.kind == Kind::other) {
    return internal::fail(errc::malformed, "header \"kid\" is not a string");
  }
  if (h.kid.kind == Kind::string) {
    facts.has_kid = true;
    facts.kid = h.kid.text;
  }
  // Security (RFC 8725 §3.10 and DESIGN.md): "jwk", "jku", "x5u" and "x5c" are never
  // read. Keys come only from the caller.
  return facts;
}

bool narrowed_allows(const JwsVerifyOptions& options, Alg alg, Curve crv) {
  if (options.algorithms.empty()) return true;
  return std::any_of(options.algorithms.begin(), options.algorithms.end(),
                     [&](Alg a) { return internal::alg_fits_allowed(a, alg, crv); });
}

}  // namespace

namespace internal {
namespace {

// find_dot: the first '.' in [p, end), or end; eight bytes at a time.
const char* find_dot(const char* p, const char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  if (internal::kLittleEndian) {
    while (end - p >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p, 8);
      x ^= kOnes * '.';
      const std::uint64_t zero = (x - kOnes) & ~x & (kOnes * 0x80);
      if (zero != 0) return p + internal::first_flagged_byte(zero);
      p += 8;
    }
  }
  while (p != end && *p != '.') ++p;
  return p;
}

TOKENPASS_COLD Error bad_char(std::string_view signature_b64) {
  if (signature_b64.find('.') != std::string_view::npos) {
    return make_error(errc::malformed, "more than three parts (a JWE is not a JWS)");
  }
  return make_error(errc::malformed, "character outside the base64url alphabet");
}

// parse_header_slow: any header the small parser is not sure of, through the full JSON
// parser and check_header, which decide and report. Out of line: it is rarely needed.
TOKENPASS_COLD Result<void> parse_header_slow(std::string_view header_text,
                                              std::string_view signature_problem,
                                              const JwsVerifyOptions& options,
                                              const JsonLimits& limits, ParsedJws& out) {
  auto parsed = parse_json(header_text, limits);
  if (!parsed) {
    Error e = std::move(parsed).error();
    e.detail = "header: " + e.detail;
    return e;
  }
  if (!parsed->is_object()) return internal::fail(errc::malformed, "header is not a JSON object");
  auto facts = check_header(members_of(*parsed), options, signature_problem);
  if (!facts) return facts.error();
  out.alg = facts->alg;
  out.has_kid = facts->has_kid;
  out.kid_storage = std::string(facts->kid);
  out.kid = out.kid_storage;
  return {};
}

}  // namespace

Result<CompactParts> split_compact(std::string_view compact, std::size_t max_size) {
  if (!trim_token(compact, max_size)) return internal::fail(errc::too_large, "token exceeds the size limit");
  if (compact.empty()) return internal::fail(errc::malformed, "empty token");
  if (compact.front() == '{') {
    return internal::fail(errc::malformed, "JWS JSON serialization is not accepted");
  }
  const char* begin = compact.data();
  const char* end = begin + compact.size();
  // A fourth part shows up as a '.' in the signature, which decoding refuses; only then
  // is it told apart from any other character outside the alphabet (bad_char).
  const char* dot1 = find_dot(begin, end);
  const char* dot2 = dot1 == end ? end : find_dot(dot1 + 1, end);
  if (dot2 == end) return internal::fail(errc::malformed, "a compact JWS has three parts");
  CompactParts p;
  p.compact = compact;
  p.header_b64 = std::string_view(begin, static_cast<std::size_t>(dot1 - begin));
  p.payload_b64 = std::string_view(dot1 + 1, static_cast<std::size_t>(dot2 - dot1 - 1));
  p.signature_b64 = std::string_view(dot2 + 1, static_cast<std::size_t>(end - dot2 - 1));
  p.signing_input = std::string_view(begin, static_cast<std::size_t>(dot2 - begin));
  // An empty signature is well-formed compact JWS (an unsecured JWS, RFC 7515 A.5): the
  // decoders show it; verification refuses it for its alg.
  if (p.header_b64.empty()) return internal::fail(errc::malformed, "empty protected header");
  return p;
}

Result<void> parse_jws(std::string_view compact, const JwsVerifyOptions& options, ParsedJws& out) {
  auto parts = split_compact(compact, options.max_token_size);
  if (!parts) return parts.error();
  const std::string_view header_b64 = parts->header_b64;
  const std::string_view payload_b64 = parts->payload_b64;
  const std::string_view signature_b64 = parts->signature_b64;

  // All three parts are decoded at once, each straight into where it is used. The
  // alphabet is checked for all of them first; a non-canonical encoding is reported
  // at its own place in the order jws.h documents.
  const std::size_t header_size = b64url_decoded_size(header_b64.size());
  unsigned char* header = out.header_buffer.get(header_size);
  const B64Status header_status = b64url_decode_into(header_b64, header);
  const std::size_t payload_size = b64url_decoded_size(payload_b64.size());
  unsigned char* payload = out.payload_buffer.get(payload_size);
  const B64Status payload_status = b64url_decode_into(payload_b64, payload);
  out.payload = std::string_view(reinterpret_cast<const char*>(payload), payload_size);
  out.signature_size = b64url_decoded_size(signature_b64.size());
  unsigned char* signature = out.signature_buffer.get(out.signature_size);
  const B64Status signature_status = b64url_decode_into(signature_b64, signature);
  if (header_status == B64Status::bad_char || payload_status == B64Status::bad_char ||
      signature_status == B64Status::bad_char) {
    return bad_char(signature_b64);
  }
  if (header_status != B64Status::ok) {
    return internal::fail(errc::malformed, "header is not canonical base64url");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(header), header_size);
  // The signature's encoding is judged right after the header's alg (check_header).
  const std::string_view signature_problem =
      signature_b64.empty()                 ? std::string_view("empty signature")
      : signature_status != B64Status::ok ? std::string_view("signature is not canonical base64url")
                                            : std::string_view();
  const JsonLimits limits = token_limits(options.json_limits, options.max_token_size);

  // The common header ({"alg":..,"kid":..,"typ":..}, nothing unusual) is read by a
  // small parser; anything it is not sure of (crit, b64, escapes, a member that is not a
  // string, any JSON error) goes through the full JSON parser. Either way check_header
  // applies the rules.
  SimpleHeader simple;
  // A restriction on the header's members needs them all: the full parser.
  if (options.header_members.empty() && parse_simple_header(header_text, limits, simple)) {
    HeaderMembers m;
    const auto member = [](bool has, std::string_view text) {
      return has ? HeaderMember{HeaderMember::Kind::string, text} : HeaderMember{};
    };
    m.alg = member(simple.has_alg, simple.alg);
    m.kid = member(simple.has_kid, simple.kid);
    m.typ = member(simple.has_typ, simple.typ);
    auto facts = check_header(m, options, signature_problem);
    if (!facts) return facts.error();
    out.alg = facts->alg;
    out.has_kid = facts->has_kid;
    out.kid = facts->kid;
  } else if (auto slow = parse_header_slow(header_text, signature_problem, options, limits, out);
             !slow) {
    return slow.error();
  }
  out.compact = parts->compact;
  out.header_b64 = header_b64;
  out.signing_input = parts->signing_input;
  out.payload_canonical = payload_status == B64Status::ok;
  out.signature = signature;
  return {};
}

Result<const Key*> verify_parsed(const ParsedJws& parsed, const Key* keys, std::size_t count,
                                 const JwsVerifyOptions& options) {
  // RFC 7515 §4.1.4 and cli-contract rule 2: a kid picks the keys with that kid; keys
  // without a kid may serve any token; a token without a kid tries every key.
  // A header "kid":"" is a kid like any other: it matches only keys without one.
  bool by_kid = false;
  if (parsed.has_kid) {
    for (std::size_t i = 0; i < count && !by_kid; ++i) by_kid = keys[i].kid() == parsed.kid;
  }
  const auto candidate = [&](const Key& k) {
    return by_kid ? k.kid() == parsed.kid : !parsed.has_kid || k.kid().empty();
  };

  bool any = false;
  bool tried = false;
  bool refused_use = false;
  for (std::size_t i = 0; i < count; ++i) {
    const Key& key = keys[i];
    if (!candidate(key)) continue;
    any = true;
    // RFC 8725 §3.1: the key decides which algorithms are acceptable, not the token.
    if (!key.fits(parsed.alg) || !narrowed_allows(options, parsed.alg, key.curve())) {
      continue;
    }
    // A SPIFFE bundle's keys ("use": "jwt-svid") serve JWT-SVIDs only.
    const KeyData& kd = KeyAccess::data(key);
    const bool usable =
        options.jwt_svid_keys && kd.use == "jwt-svid"
            ? !kd.has_key_ops || std::find(kd.key_ops.begin(), kd.key_ops.end(), "verify") != kd.key_ops.end()
            : key.can_verify();
    if (!usable) {
      refused_use = true;
      continue;
    }
    tried = true;
    const SigCheck check = check_signature(KeyAccess::data(key), parsed.alg,
                                           parsed.signing_input, parsed.signature,
                                           parsed.signature_size);
    if (check == internal::SigCheck::failed) {
      return internal::fail(errc::internal_error, "OpenSSL failed while checking the signature");
    }
    if (check == internal::SigCheck::bad) continue;
    if (!parsed.payload_canonical) {
      return internal::fail(errc::malformed, "payload is not canonical base64url");
    }
    return &key;
  }
  if (!any) {
    return internal::fail(errc::key_not_found,
                          count == 0 ? "no keys" : "no key has the token's kid");
  }
  if (tried) return internal::fail(errc::bad_signature, "signature does not verify");
  if (refused_use) {
    return internal::fail(errc::key_unusable, "the key's \"use\" or \"key_ops\" forbid verifying");
  }
  return internal::fail(errc::alg_not_allowed, "the token's alg is not one the key accepts");
}

}  // namespace internal

namespace {

Result<VerifiedJws> verify_impl(std::string_view compact, const Key* keys, std::size_t count,
                                const JwsVerifyOptions& options) {
  internal::ParsedJws parsed;
  if (auto ok = internal::parse_jws(compact, options, parsed); !ok) return ok.error();
  auto key = internal::verify_parsed(parsed, keys, count, options);
  if (!key) return key.error();
  auto header = std::make_shared<internal::LazyHeader>();
  header->b64 = std::string(parsed.header_b64);
  return internal::JwsAccess::verified(std::move(header), std::string(parsed.payload),
                                      parsed.alg, std::string(parsed.kid), **key);
}

template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  // verify never throws: an exception here can only be resource exhaustion or a bug,
  // and is reported as a refusal rather than escaping into a request handler.
  try {
    return fn();
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while verifying");
  }
}

}  // namespace

namespace internal {
bool typ_matches(std::string_view a, std::string_view b) noexcept {
  // RFC 7515 §4.1.9: media types compare case-insensitively, as header names do.
  return header_name_equals(strip_application(a), strip_application(b));
}
}  // namespace internal

namespace {

// plain: printable ASCII that json::dump writes as it is (no escape needed).
bool plain(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\'; });
}

Result<std::string> sign_impl(const Key& key, std::string_view payload,
                              const JwsSignOptions& options) {
  if (!key.can_sign()) {
    return make_error(errc::key_unusable,
                      key.is_private() ? "the key's \"use\" or \"key_ops\" forbid signing"
                                       : "a public key cannot sign");
  }
  const Alg alg = options.alg.value_or(key.default_alg());
  if (!key.fits(alg)) return make_error(errc::alg_not_allowed, "the key does not fit this alg");
  if (!options.extra_header.is_object()) {
    return make_error(errc::malformed, "extra header is not a JSON object");
  }
  const std::string& kid = options.kid ? *options.kid : key.kid();
  std::string header_text;
  if (options.extra_header.empty() && plain(kid) && (!options.typ || plain(*options.typ))) {
    // The usual header, written directly: byte for byte what json::dump makes of it
    // (members in name order, no white space), without building a JSON object.
    header_text.reserve(64 + kid.size() + (options.typ ? options.typ->size() : 0));
    header_text += "{\"alg\":\"";
    header_text += to_string(alg);
    header_text += '"';
    if (!kid.empty()) {
      header_text += ",\"kid\":\"";
      header_text += kid;
      header_text += '"';
    }
    if (options.typ) {
      header_text += ",\"typ\":\"";
      header_text += *options.typ;
      header_text += '"';
    }
    header_text += '}';
  } else {
    json header = json::object();
    header["alg"] = std::string(to_string(alg));
    if (!kid.empty()) header["kid"] = kid;
    if (options.typ) header["typ"] = *options.typ;
    for (const auto& [name, value] : options.extra_header.items()) {
      if (name == "alg" || name == "crit" || name == "b64") {
        return make_error(errc::malformed, "extra header may not set \"" + name + "\"");
      }
      header[name] = value;
    }
    header_text = header.dump();
  }
  // The token is built in one allocation: header "." payload, then the signature over
  // them appended in place.
  const KeyData& data = KeyAccess::data(key);
  const std::size_t max_sig = internal::max_signature_size(data, alg);
  const std::size_t input_size = internal::b64url_encoded_size(header_text.size()) + 1 +
                                 internal::b64url_encoded_size(payload.size());
  std::string out;
  out.reserve(input_size + 1 + internal::b64url_encoded_size(max_sig));
  out.resize(input_size);
  char* p = internal::b64url_encode_into(header_text, out.data());
  *p++ = '.';
  internal::b64url_encode_into(payload, p);
  internal::ScratchBuffer<1024> sig_buffer;
  unsigned char* sig = sig_buffer.get(max_sig);
  const std::size_t sig_len = internal::compute_signature(data, alg, out, sig);
  if (sig_len == 0) return make_error(errc::internal_error, "OpenSSL could not sign with the key");
  out.resize(input_size + 1 + internal::b64url_encoded_size(sig_len));
  out[input_size] = '.';
  internal::b64url_encode_into(
      std::string_view(reinterpret_cast<const char*>(sig), sig_len), out.data() + input_size + 1);
  return out;
}

}  // namespace

Result<std::string> sign_jws(const Key& key, std::string_view payload,
                             const JwsSignOptions& options) {
  // json::dump throws type_error on strings that are not UTF-8 (a kid, typ or extra
  // header value); that is bad input, reported like any other. Anything else thrown
  // (memory) is ours.
  try {
    return sign_impl(key, payload, options);
  } catch (const nlohmann::json::type_error&) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "header values must be valid UTF-8");
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while signing");
  }
}

Result<VerifiedJws> verify_jws(std::string_view compact, const Key& key,
                               const JwsVerifyOptions& options) {
  return guarded([&] { return verify_impl(compact, &key, 1, options); });
}

Result<VerifiedJws> verify_jws(std::string_view compact, const KeySet& keys,
                               const JwsVerifyOptions& options) {
  return guarded(
      [&] { return verify_impl(compact, keys.keys().data(), keys.keys().size(), options); });
}

Result<nlohmann::json> decode_unverified_header(std::string_view compact,
                                               std::size_t max_token_size) {
  return guarded([&]() -> Result<nlohmann::json> {
    auto parts = internal::split_compact(compact, max_token_size);
    if (!parts) return parts.error();
    if (!internal::is_b64url_alphabet(parts->header_b64)) return internal::bad_char(parts->header_b64);
    return decode_header(parts->header_b64, internal::token_limits(JsonLimits{}, max_token_size));
  });
}

Result<UnverifiedJws> decode_unverified(std::string_view compact, std::size_t max_token_size) {
  return guarded([&]() -> Result<UnverifiedJws> {
    auto parts = internal::split_compact(compact, max_token_size);
    if (!parts) return parts.error();
    for (const auto part : {parts->header_b64, parts->payload_b64, parts->signature_b64}) {
      if (!internal::is_b64url_alphabet(part)) return internal::bad_char(parts->signature_b64);
    }
    const JsonLimits limits = internal::token_limits(JsonLimits{}, max_token_size);
    auto header = decode_header(parts->header_b64, limits);
    if (!header) return header.error();
    std::string payload;
    std::string signature;
    if (!internal::b64url_decode(parts->payload_b64, payload) ||
        !internal::b64url_decode(parts->signature_b64, signature)) {
      return make_error(errc::malformed, "part is not canonical base64url");
    }
    std::optional<json> payload_json;
    if (auto pj = internal::parse_json(payload, limits)) payload_json = std::move(*pj);
    UnverifiedJws u = internal::JwsAccess::unverified();
    internal::JwsAccess::fill(u, std::move(*header), std::move(payload), std::move(payload_json),
                              std::move(signature));
    return u;
  });
}

}  // namespace tokenpass

#include "tokenpass/dpop.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "internal/base64url.h"
#include "internal/json.h"
#include "internal/openssl.h"
#include "tokenpass/jwk.h"
#include "tokenpass/jws.h"

namespace tokenpass {

using json = nlohmann::json;

namespace {

Error bad(std::string_view why) { return make_error(errc::bad_proof, why); }

bool asymmetric(Alg a) {
  return a != Alg::HS256 && a != Alg::HS384 && a != Alg::HS512;
}

char hex_digit(int v) { return static_cast<char>(v < 10 ? '0' + v : 'A' + v - 10); }

using internal::hex_value;

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// normalize_percent: %xx upper-cased, and decoded where it encodes an unreserved
// character (RFC 3986 §6.2.2.1, §6.2.2.2). False for a bad escape.
bool normalize_percent(std::string_view in, std::string& out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    const char c = static_cast<char>(hi * 16 + lo);
    if (unreserved(c)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex_digit(hi));
      out.push_back(hex_digit(lo));
    }
    i += 2;
  }
  return true;
}

// remove_dot_segments: RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string in) {
  std::string out;
  while (!in.empty()) {
    if (in.rfind("../", 0) == 0) {
      in.erase(0, 3);
    } else if (in.rfind("./", 0) == 0) {
      in.erase(0, 2);
    } else if (in.rfind("/./", 0) == 0) {
      in.erase(0, 2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.rfind("/../", 0) == 0 || in == "/..") {
      in = in == "/.." ? "/" : in.substr(3);
      const std::size_t slash = out.rfind('/');
      out.erase(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") {
      in.clear();
    } else {
      const std::size_t next = in.find('/', in[0] == '/' ? 1 : 0);
      out += in.substr(0, next);
      in.erase(0, next == std::string::npos ? in.size() : next);
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<std::string> normalize_htu(std::string_view uri) {
  const auto invalid = [](std::string_view why) { return make_error(errc::invalid_request, why); };
  // Query and fragment are not part of htu (RFC 9449 §4.2).
  uri = uri.substr(0, std::min(uri.find('?'), uri.find('#')));
  const std::size_t colon = uri.find("://");
  if (colon == std::string_view::npos) return invalid("not an absolute URI");
  const std::string scheme = lower(std::string(uri.substr(0, colon)));
  if (scheme != "http" && scheme != "https") return invalid("not an http(s) URI");
  std::string_view rest = uri.substr(colon + 3);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return invalid("no usable authority");
  for (const char c : uri) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return invalid("white space or a control character");
  }
  // Host (lower-cased, also an IPv6 literal's hex) and port.
  std::string host;
  std::string port;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("bad IPv6 literal");
    host = lower(std::string(authority.substr(0, close + 1)));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("bad authority");
      port = std::string(after.substr(1));
    }
  } else {
    const std::size_t pc = authority.rfind(':');
    std::string h;
    if (!normalize_percent(authority.substr(0, pc), h)) return invalid("bad percent-encoding");
    host = lower(h);
    if (pc != std::string_view::npos) port = std::string(authority.substr(pc + 1));
  }
  if (host.empty()) return invalid("no host");
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) || port.size() > 5) {
    return invalid("bad port");
  }
  while (port.size() > 1 && port.front() == '0') port.erase(0, 1);
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port.clear();
  std::string p;
  if (!normalize_percent(path, p)) return invalid("bad percent-encoding");
  p = remove_dot_segments(p);
  if (p.empty()) p = "/";
  return scheme + "://" + host + (port.empty() ? "" : ":" + port) + p;
}

Result<DpopProof> check_dpop_proof(std::string_view proof, std::string_view htm, std::string_view htu,
                                   std::string_view access_token, const DpopOptions& options) {
  try {
    auto decoded = decode_unverified(proof, 16 * 1024);
    if (!decoded) return bad("the proof is not a compact JWS");
    const json& header = decoded->header();
    // RFC 9449 §4.2: typ exactly dpop+jwt.
    const auto typ = header.find("typ");
    if (typ == header.end() || !typ->is_string() || typ->get_ref<const std::string&>() != "dpop+jwt") {
      return bad("typ is not dpop+jwt");
    }
    if (header.contains("crit")) return bad("crit is not accepted in a proof");
    const auto alg_it = header.find("alg");
    const auto alg = alg_it != header.end() && alg_it->is_string() ? alg_from_string(alg_it->get<std::string>())
                                                                   : std::nullopt;
    if (!alg || !asymmetric(*alg)) return bad("alg is no asymmetric JWS algorithm");
    if (!options.algorithms.empty() &&
        std::find(options.algorithms.begin(), options.algorithms.end(), *alg) == options.algorithms.end()) {
      return bad("alg is not accepted");
    }
    const auto jwk = header.find("jwk");
    if (jwk == header.end() || !jwk->is_object()) return bad("no jwk in the header");
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
      if (jwk->contains(priv)) return bad("the header's jwk holds private members");
    }
    auto key = Key::from_jwk(*jwk);
    if (!key || key->is_symmetric() || !key->fits(*alg)) return bad("the header's jwk does not fit alg");
    JwsVerifyOptions vo;
    vo.algorithms = {*alg};
    vo.max_token_size = 16 * 1024;
    auto verified = verify_jws(proof, *key, vo);
    if (!verified) return bad("the proof's signature does not verify");
    auto claims = internal::parse_json(verified->payload(), JsonLimits{});
    if (!claims || !claims->is_object()) return bad("the proof's claims are not a JSON object");
    const json& c = *claims;
    const auto str = [&](const char* name) -> const std::string* {
      const auto it = c.find(name);
      return it != c.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
    };
    const std::string* jti = str("jti");
    const std::string* claim_htm = str("htm");
    const std::string* claim_htu = str("htu");
    const std::string* ath = str("ath");
    const auto iat_it = c.find("iat");
    if (jti == nullptr || jti->empty() || claim_htm == nullptr || claim_htu == nullptr ||
        (ath == nullptr && !access_token.empty()) || iat_it == c.end() || !iat_it->is_number()) {
      return bad("the proof lacks jti, htm, htu, iat or ath (or one has the wrong type)");
    }
    if (*claim_htm != htm) return bad("htm is not the request's method");
    auto want = normalize_htu(htu);
    auto got = normalize_htu(*claim_htu);
    if (!want || !got || *want != *got) return bad("htu is not the request's URI");
    if (!access_token.empty()) {
      const std::string hash = internal::b64url_encode(internal::sha256(access_token));
      if (ath == nullptr || !internal::ct_equal(*ath, hash)) return bad("ath is not the hash of the access token");
    }
    const double iat = iat_it->get<double>();
    if (!(iat >= 0 && iat < 9007199254740992.0)) return bad("iat is out of range");
    const auto clock = options.clock ? options.clock : Clock([] { return std::chrono::system_clock::now(); });
    const double now = std::chrono::duration<double>(clock().time_since_epoch()).count();
    if (iat < now - static_cast<double>(options.max_age.count())) return bad("the proof is too old (iat)");
    if (iat > now + static_cast<double>(options.future_leeway.count())) return bad("the proof is from the future (iat)");
    if (options.nonce) {
      const std::string* nonce = str("nonce");
      if (nonce == nullptr || *nonce != *options.nonce) {
        return make_error(errc::use_dpop_nonce, "the proof does not carry the server's nonce");
      }
    }
    DpopProof out;
    out.jkt = key->thumbprint();
    out.jti = *jti;
    out.iat = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(iat)));
    out.replay_until = out.iat + options.max_age + options.future_leeway;
    return out;
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "the proof could not be checked");
  }
}

std::optional<std::string> www_authenticate_dpop(const Error& e, std::string_view realm, const std::vector<Alg>& algs,
                                                 const std::vector<std::string>& scopes, bool with_error) {
  const Error shown = with_error ? e : make_error(errc::no_token);
  auto bearer = www_authenticate(shown, realm, scopes);
  if (!bearer) return std::nullopt;
  std::string out = "DPoP" + bearer->substr(std::string_view("Bearer").size());
  const std::string_view generic = "error=\"invalid_token\"";
  const std::size_t at = out.find(generic);
  if (at != std::string::npos && (e.code == errc::bad_proof || e.code == errc::use_dpop_nonce)) {
    out.replace(at, generic.size(),
                e.code == errc::bad_proof ? "error=\"invalid_dpop_proof\"" : "error=\"use_dpop_nonce\"");
  }
  std::string names;
  for (const Alg a : algs.empty() ? all_algs() : algs) {
    if (!asymmetric(a)) continue;
    if (!names.empty()) names.push_back(' ');
    names += to_string(a);
  }
  out += ", algs=\"" + names + "\"";
  return out;
}

namespace {
constexpr std::size_t kMaxNonceOrigins = 256;

// nonce_ok: RFC 9449 §8.1: nonce = 1*NQCHAR.
bool nonce_ok(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > 1024) return false;
  return std::all_of(nonce.begin(), nonce.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
  });
}

// origin_of: scheme://host[:port] of a normalised URI.
std::string origin_of(const std::string& normalized) {
  const std::size_t slash = normalized.find('/', normalized.find("://") + 3);
  return normalized.substr(0, slash);
}
}  // namespace

struct DpopSigner::State {
  explicit State(Key k) : key(std::move(k)) {}
  Key key;
  Alg alg = Alg::ES256;
  Clock clock;
  std::string public_jwk;  // the header's jwk, serialized once
  std::string jkt;
  mutable std::mutex mu;
  mutable std::map<std::string, std::string> nonces;  // origin -> latest nonce
};

DpopSigner::DpopSigner(Key private_key, std::optional<Alg> alg, Clock clock) {
  if (!private_key.is_private() || private_key.is_symmetric() || !private_key.can_sign()) {
    throw std::invalid_argument("tokenpass::DpopSigner: the key is not a private asymmetric signing key");
  }
  const Alg chosen = alg ? *alg : private_key.default_alg();
  if (!private_key.fits(chosen) || !asymmetric(chosen)) {
    throw std::invalid_argument("tokenpass::DpopSigner: the algorithm does not fit the key");
  }
  json jwk = private_key.to_public_jwk();
  // The proof names its key by value; kid, alg, use and key_ops say nothing there.
  for (const char* member : {"kid", "alg", "use", "key_ops"}) jwk.erase(member);
  std::string jkt = private_key.thumbprint();
  auto state = std::make_shared<State>(std::move(private_key));
  state->public_jwk = jwk.dump();
  state->jkt = std::move(jkt);
  state->alg = chosen;
  state->clock = clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); });
  state_ = std::move(state);
}

Result<std::string> DpopSigner::proof(std::string_view htm, std::string_view htu, std::string_view access_token,
                                      std::string_view nonce) const {
  try {
    if (htm.empty()) return make_error(errc::invalid_request, "DPoP proof: no method");
    auto normalized = normalize_htu(htu);
    if (!normalized) return normalized.error();
    std::string use_nonce(nonce);
    if (use_nonce.empty()) {
      const std::lock_guard<std::mutex> lock(state_->mu);
      const auto it = state_->nonces.find(origin_of(*normalized));
      if (it != state_->nonces.end()) use_nonce = it->second;
    }
    // htu as the request names it, less query and fragment (RFC 9449 §4.2).
    const std::string_view bare = htu.substr(0, std::min(htu.find('?'), htu.find('#')));
    json claims = {{"jti", internal::b64url_encode(internal::random_bytes(16))},
                   {"htm", std::string(htm)},
                   {"htu", std::string(bare)},
                   {"iat", std::chrono::duration_cast<std::chrono::seconds>(state_->clock().time_since_epoch()).count()}};
    if (!access_token.empty()) claims["ath"] = internal::b64url_encode(internal::sha256(access_token));
    if (!use_nonce.empty()) claims["nonce"] = use_nonce;
    JwsSignOptions so;
    so.alg = state_->alg;
    so.kid = std::string();
    so.typ = std::string("dpop+jwt");
    so.extra_header = {{"jwk", json::parse(state_->public_jwk)}};
    auto signed_proof = sign_jws(state_->key, claims.dump(), so);
    if (!signed_proof) return make_error(errc::internal_error, "DPoP proof: " + signed_proof.error().detail);
    return signed_proof;
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "DPoP proof: signing failed inside the library");
  }
}

void DpopSigner::remember_nonce(std::string_view htu, std::string_view nonce) const {
  try {
    if (!nonce_ok(nonce)) return;
    auto normalized = normalize_htu(htu);
    if (!normalized) return;
    const std::string origin = origin_of(*normalized);
    const std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->nonces.size() >= kMaxNonceOrigins && state_->nonces.count(origin) == 0) {
      state_->nonces.erase(state_->nonces.begin());
    }
    state_->nonces[origin] = std::string(nonce);
  } catch (const std::exception&) {
    // Out of memory: the nonce is not remembered; the next proof may be refused and retried.
  }
}

const std::string& DpopSigner::jkt() const noexcept { return state_->jkt; }
Alg DpopSigner::alg() const noexcept { return state_->alg; }

}  // namespace tokenpass

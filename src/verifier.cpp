#include "tokenpass/verifier.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "internal/claims_data.h"
#include "internal/json.h"
#include "internal/jws_impl.h"
#include "internal/openssl.h"
#include "internal/token_cache.h"
#include "internal/token_data.h"
#include "tokenpass/dpop.h"
#include "tokenpass/spiffe.h"

namespace tokenpass {

using json = nlohmann::json;

namespace internal {

namespace {

// parse_claims_slow: a payload the scanner is not sure of, through the full JSON parser
// and Claims' type checks, which decide and report. Out of line: it is rarely needed.
TOKENPASS_COLD Result<void> parse_claims_slow(ClaimsData& claims, const JsonLimits& limits) {
  auto payload = parse_json(claims.text, limits);
  if (!payload) {
    Error e = std::move(payload).error();
    e.detail = "claims: " + e.detail;
    return e;
  }
  return set_claims_json(claims, std::move(*payload));
}

// copy_for_caller: a token from the cache, as its own record: the cache's record is
// never handed out, so that JSON a caller builds on demand (header(), claims().json())
// lives with the caller's copy and never grows the cache. Claims kept as a JSON object
// (already built) are shared.
std::pair<std::shared_ptr<const TokenData>, Claims> copy_for_caller(const TokenCache::Hit& hit) {
  const TokenData& from = *hit.data;
  auto to = std::make_shared<TokenData>();
  to->compact = from.compact;
  to->kid = from.kid;
  to->has_kid = from.has_kid;
  to->header_b64_size = from.header_b64_size;
  std::shared_ptr<const ClaimsData> claims;
  if (from.claims.lazy) {
    to->claims.text = from.claims.text;
    to->claims.lazy = true;
    to->claims.reg = rebased(from.claims.reg, from.claims.text.data(), to->claims.text.data());
    claims = std::shared_ptr<const ClaimsData>(to, &to->claims);
  } else {
    claims = std::shared_ptr<const ClaimsData>(hit.data, &from.claims);
  }
  return {std::move(to), ClaimsAccess::make(std::move(claims))};
}

}  // namespace

}  // namespace internal

Policy Policy::access_token_profile(std::vector<std::string> issuers,
                                    std::vector<std::string> audiences) {
  Policy p;
  p.issuers = std::move(issuers);
  p.audiences = std::move(audiences);
  // RFC 9068 §2.1 (typ) and §2.2 (required claims).
  p.typ = "at+jwt";
  p.required_claims = {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"};
  return p;
}

Policy Policy::jwt_svid_profile(std::vector<std::string> audiences, std::vector<std::string> spiffe_ids) {
  if (audiences.empty()) throw std::invalid_argument("tokenpass::Policy::jwt_svid_profile: no audience");
  if (spiffe_ids.empty()) throw std::invalid_argument("tokenpass::Policy::jwt_svid_profile: no SPIFFE ID");
  for (const auto& id : spiffe_ids) {
    if (!is_spiffe_id(id)) throw std::invalid_argument("tokenpass::Policy::jwt_svid_profile: not a SPIFFE ID: " + id);
  }
  Policy p;
  p.any_issuer();
  p.audiences = std::move(audiences);
  p.require_exp = true;
  p.algorithms = {Alg::RS256, Alg::RS384, Alg::RS512, Alg::ES256, Alg::ES384,
                  Alg::ES512, Alg::PS256, Alg::PS384, Alg::PS512};
  p.header_members = {"alg", "kid", "typ"};
  p.typ_if_present = {"JWT", "JOSE"};
  p.jwt_svid_keys = true;
  p.required_claims = {"sub", "aud", "exp"};
  p.custom_checks.push_back([ids = std::move(spiffe_ids)](const Claims& claims) -> Result<void> {
    const auto sub = claims.subject();
    if (!sub || !is_spiffe_id(*sub)) return make_error(errc::bad_subject, "\"sub\" is not a SPIFFE ID");
    for (const auto& id : ids) {
      if (spiffe_id_matches(*sub, id)) return {};
    }
    return make_error(errc::bad_subject, "the SPIFFE ID is not accepted");
  });
  return p;
}

VerifiedToken::VerifiedToken(std::shared_ptr<const internal::TokenData> data, Claims claims,
                             Alg alg)
    : data_(std::move(data)), claims_(std::move(claims)), alg_(alg) {}

const json& VerifiedToken::header() const noexcept { return data_->header(); }
const std::string& VerifiedToken::kid() const noexcept { return data_->kid; }
const std::string& VerifiedToken::compact() const noexcept { return data_->compact; }
bool VerifiedToken::introspected() const noexcept { return data_->introspected; }

namespace {

void check_policy(const Policy& p) {
  const auto fail = [](const char* why) {
    throw std::invalid_argument(std::string("tokenpass::Policy: ") + why);
  };
  if (p.issuers.empty() && !p.accept_any_issuer) {
    fail("no issuer given; list the accepted issuers or call any_issuer()");
  }
  if (p.audiences.empty() && !p.accept_any_audience) {
    fail("no audience given; list the accepted audiences or call any_audience()");
  }
  if (p.leeway < std::chrono::seconds::zero() || p.leeway > kMaxLeeway) {
    fail("leeway must be between 0 and 10 minutes");
  }
  if (p.max_age && *p.max_age < std::chrono::seconds::zero()) fail("max_age is negative");
  if (p.typ && p.typ->empty()) fail("typ is empty");
  for (const auto& s : p.required_scopes) {
    if (s.empty() || s.find(' ') != std::string::npos) fail("a required scope is empty or has a space");
  }
  for (const auto& set : p.alternative_scopes) {
    if (set.empty()) fail("an alternative scope set is empty");
  }
  for (const auto& c : p.custom_checks) {
    if (!c) fail("a custom check is empty");
  }
  for (const auto& rule : p.claim_rules) {
    if (!is_json_pointer(rule.pointer)) fail("a claim rule's path is not a JSON Pointer");
    if (rule.kind != ClaimRule::Kind::present && rule.values.empty()) fail("a claim rule has no value");
  }
  if (p.max_token_size == 0) fail("max_token_size is 0");
  if (p.single_use_max_lifetime && p.single_use_max_lifetime->count() <= 0) {
    fail("single_use_max_lifetime is not positive");
  }
  if (p.cache.max_entries > 0 && p.cache.max_bytes == 0) fail("cache.max_bytes is 0");
}

// reported: `answer` of `store`, told to the observer (if any) first.
Result<void> reported(Observer* observer, const ReplayStore& store, Result<void> answer) {
  if (observer != nullptr) {
    const ReplayOutcome outcome = answer                                  ? ReplayOutcome::fresh
                                  : answer.error().code == errc::replayed ? ReplayOutcome::replayed
                                                                          : ReplayOutcome::unavailable;
    observer->replay_check(store.kind(), outcome);
  }
  return answer;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  // A plain loop: std::find's unrolled one is more code than these short lists need.
  for (const auto& e : v) {
    if (e == s) return true;
  }
  return false;
}

}  // namespace

Verifier::Verifier(std::shared_ptr<const KeySource> keys, Policy policy)
    : keys_(std::move(keys)), policy_(std::move(policy)) {
  if (!keys_) throw std::invalid_argument("tokenpass::Verifier: no key source");
  check_policy(policy_);
  if (!policy_.clock) policy_.clock = [] { return std::chrono::system_clock::now(); };
  jws_options_.algorithms = policy_.algorithms;
  jws_options_.typ = policy_.typ;
  jws_options_.critical = policy_.critical;
  jws_options_.max_token_size = policy_.max_token_size;
  jws_options_.typ_if_present = policy_.typ_if_present;
  jws_options_.header_members = policy_.header_members;
  jws_options_.jwt_svid_keys = policy_.jwt_svid_keys;
  // The limits for a token's JSON, fixed with the policy (strings follow the size limit).
  jws_options_.json_limits = internal::token_limits(policy_.json_limits, policy_.max_token_size);
  if (keys_->fixed()) {
    auto served = keys_->served_keys(KeyQuery{});
    if (served) {
      static_keys_ = std::move(served->keys);
      static_version_ = served->version;
    }
  }
  if (policy_.cache.max_entries > 0) {
    cache_ = std::make_shared<internal::TokenCache>(policy_.cache.max_entries,
                                                    policy_.cache.max_bytes, policy_.observer);
  }
}

TokenCacheStats Verifier::cache_stats() const {
  return cache_ ? cache_->stats() : TokenCacheStats{};
}

Verifier::Verifier(KeySet keys, Policy policy)
    : Verifier(std::make_shared<const StaticKeySource>(std::move(keys)), std::move(policy)) {}

Result<void> Verifier::check_claims(const Claims& claims) const {
  const Policy& p = policy_;
  // Every Claims had its types checked when it was made (Claims::from_json or the
  // verifier's scan of a payload), and these are typed views of its registered claims.
  const internal::RegisteredClaims& r = internal::ClaimsAccess::data(claims).reg;

  for (const auto& name : p.required_claims) {
    if (!claims.contains(name)) {
      return internal::fail(errc::missing_claim, "\"" + name + "\" is required");
    }
  }
  if (p.require_exp && !r.exp) return internal::fail(errc::missing_claim, "\"exp\" is required");

  // RFC 7519 §4.1.4-6 with cli-contract rule 4: valid while now < exp + leeway;
  // nbf <= now + leeway; iat <= now + leeway; now - iat <= max_age + leeway.
  const NumericDate now(p.clock());
  const std::chrono::duration<double> leeway(p.leeway);
  const auto date = [](double d) { return NumericDate(std::chrono::duration<double>(d)); };
  if (r.exp && !(now < date(*r.exp) + leeway)) {
    return internal::fail(errc::expired, "the token has expired");
  }
  if (r.nbf && date(*r.nbf) > now + leeway) {
    return internal::fail(errc::not_yet_valid, "the token is not valid yet (nbf)");
  }
  if (r.iat && date(*r.iat) > now + leeway) {
    return internal::fail(errc::issued_in_future, "the token was issued in the future (iat)");
  }
  if (p.max_age) {
    if (!r.iat) return internal::fail(errc::missing_claim, "\"iat\" is required for max_age");
    if (now - date(*r.iat) > std::chrono::duration<double>(*p.max_age) + leeway) {
      return internal::fail(errc::too_old, "the token is older than max_age");
    }
  }

  if (!p.accept_any_issuer || !p.issuers.empty()) {
    if (!r.iss || !contains(p.issuers, *r.iss)) {
      return internal::fail(errc::bad_issuer,
                            r.iss ? "issuer not accepted" : "token has no issuer");
    }
  }
  if (!p.accept_any_audience || !p.audiences.empty()) {
    const bool match = r.aud.any_of([&](std::string_view a) { return contains(p.audiences, a); });
    if (!match) {
      const bool none = !r.aud.any_of([](std::string_view) { return true; });
      return internal::fail(errc::bad_audience,
                            none ? "token has no audience" : "audience not accepted");
    }
  }
  if (p.subject) {
    if (!r.sub || *r.sub != *p.subject) {
      return internal::fail(errc::bad_subject,
                            r.sub ? "subject not accepted" : "token has no subject");
    }
  }

  if (!p.required_scopes.empty() || !p.alternative_scopes.empty()) {
    const auto all_granted = [&](const std::vector<std::string>& needed) {
      return std::all_of(needed.begin(), needed.end(), [&](const std::string& s) {
        return internal::any_scope(r, [&](std::string_view g) { return g == s; });
      });
    };
    if (!all_granted(p.required_scopes)) {
      return internal::fail(errc::insufficient_scope, "a required scope is not granted");
    }
    if (!p.alternative_scopes.empty() &&
        std::none_of(p.alternative_scopes.begin(), p.alternative_scopes.end(), all_granted)) {
      return internal::fail(errc::insufficient_scope, "no accepted scope set is granted");
    }
  }

  for (const auto& rule : p.claim_rules) {
    if (auto r2 = rule.check(claims); !r2) return r2.error();
  }
  for (const auto& check : p.custom_checks) {
    if (auto r2 = check(claims); !r2) return r2.error();
  }
  return {};
}

namespace {

// Confirmation: the members of `cnf` (RFC 7800) that tokenpass checks.
struct Confirmation {
  bool present = false;
  std::optional<std::string> x5t;  // x5t#S256, RFC 8705 §3.1
  std::optional<std::string> jkt;  // RFC 9449 §6.1
};

// confirmation_of reads `cnf`; bad_claim for the wrong types.
Result<Confirmation> confirmation_of(const Claims& claims) {
  const internal::ClaimsData& d = internal::ClaimsAccess::data(claims);
  if (d.lazy) {
    // A payload the scanner took (strings without escapes): `cnf` and its members are
    // read from the text, and no JSON is built.
    const auto cnf = internal::find_member(d.text, "cnf");
    if (!cnf) return Confirmation{};
    if (cnf->empty() || cnf->front() != '{') return internal::fail(errc::bad_claim, "\"cnf\" is not an object");
    Confirmation c;
    c.present = true;
    for (const auto& [name, slot] : {std::pair<const char*, std::optional<std::string>*>{"x5t#S256", &c.x5t},
                                     {"jkt", &c.jkt}}) {
      const auto m = internal::find_member(*cnf, name);
      if (!m) continue;
      if (m->size() < 2 || m->front() != '"') {
        return internal::fail(errc::bad_claim, std::string("\"cnf.") + name + "\" is not a string");
      }
      *slot = std::string(m->substr(1, m->size() - 2));
    }
    return c;
  }
  const nlohmann::json& j = d.json();
  const auto it = j.find("cnf");
  if (it == j.end()) return Confirmation{};
  if (!it->is_object()) return internal::fail(errc::bad_claim, "\"cnf\" is not an object");
  Confirmation c;
  c.present = true;
  for (const auto& [name, slot] : {std::pair<const char*, std::optional<std::string>*>{"x5t#S256", &c.x5t},
                                   {"jkt", &c.jkt}}) {
    const auto m = it->find(name);
    if (m == it->end()) continue;
    if (!m->is_string()) return internal::fail(errc::bad_claim, std::string("\"cnf.") + name + "\" is not a string");
    *slot = m->get<std::string>();
  }
  return c;
}

}  // namespace

Result<void> Verifier::check_binding(const Claims& claims, const Presented& presented,
                                     std::string_view compact) const {
  auto cnf = confirmation_of(claims);
  if (!cnf) return cnf.error();
  if (cnf->x5t) {
    if (presented.certificate_thumbprint.empty()) {
      return internal::fail(errc::bad_binding, "the token is bound to a client certificate and none was presented");
    }
    if (!internal::ct_equal(*cnf->x5t, presented.certificate_thumbprint)) {
      return internal::fail(errc::bad_binding, "the token is bound to another client certificate");
    }
  }
  if (cnf->jkt || presented.dpop != nullptr) {
    if (presented.dpop == nullptr) {
      return internal::fail(errc::bad_binding, "the token is bound to a DPoP key (cnf.jkt) and no proof was checked");
    }
    const DpopRequest& req = *presented.dpop;
    const DpopOptions defaults;
    auto proof = check_dpop_proof(req.proof, req.htm, req.htu, compact, req.options ? *req.options : defaults);
    if (!proof) {
      if (policy_.observer) policy_.observer->dpop_failure(proof.error().code);
      return proof.error();
    }
    if (!cnf->jkt) return internal::fail(errc::bad_binding, "a DPoP proof came with a token not bound to a key");
    if (!internal::ct_equal(*cnf->jkt, proof->jkt)) {
      return internal::fail(errc::bad_binding, "the token is bound to another DPoP key");
    }
    if (policy_.proof_replay_store) {
      auto first = reported(policy_.observer.get(), *policy_.proof_replay_store,
                            policy_.proof_replay_store->first_use("dpop", proof->jti, proof->replay_until));
      if (!first && !(first.error().code != errc::replayed && policy_.replay_fail_open)) {
        if (first.error().code == errc::replayed) {
          if (policy_.observer) policy_.observer->dpop_failure(errc::replayed);
          return internal::fail(errc::replayed, "the DPoP proof was used before");
        }
        return first;
      }
    }
  }
  if (policy_.require_binding && !cnf->x5t && !cnf->jkt) {
    return internal::fail(errc::bad_binding, "the token is not bound, and the policy requires it");
  }
  return {};
}

Result<void> Verifier::check_single_use(const Claims& claims) const {
  if (!policy_.replay_store) return {};
  const internal::RegisteredClaims& r = internal::ClaimsAccess::data(claims).reg;
  if (!r.jti) return internal::fail(errc::missing_claim, "\"jti\" is required for single use");
  if (!r.exp) return internal::fail(errc::missing_claim, "\"exp\" is required for single use");
  const auto now = policy_.clock();
  const auto until = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                         NumericDate(std::chrono::duration<double>(*r.exp))) +
                     policy_.leeway;
  if (policy_.single_use_max_lifetime && until - now > *policy_.single_use_max_lifetime) {
    return internal::fail(errc::bad_claim, "\"exp\" is too far ahead for a single-use token");
  }
  auto first = reported(policy_.observer.get(), *policy_.replay_store,
                        policy_.replay_store->first_use(r.iss.value_or(std::string_view()), *r.jti, until));
  if (!first && first.error().code != errc::replayed && policy_.replay_fail_open) return {};
  return first;
}

namespace internal {
// VerifyTrace: what an observed verify learns on its way, for its VerifyEvent.
struct VerifyTrace {
  std::optional<Alg> alg;
  bool cache_hit = false;
  std::optional<std::string> iss;  // unverified unless the token was accepted
};
}  // namespace internal

namespace {
// IssuerPeek: on the way out of a refused observed verify, reads the unverified `iss`
// for the metrics label (only ever compared with configured issuers).
struct IssuerPeek {
  internal::VerifyTrace* trace;
  const internal::ParsedJws& parsed;
  const JsonLimits& limits;
  ~IssuerPeek() {
    if (trace == nullptr || trace->iss || !parsed.payload_canonical || parsed.payload.empty()) return;
    try {
      if (auto iss = internal::peek_issuer(parsed.payload, limits)) trace->iss = std::move(*iss);
    } catch (...) {
      // Only a label is lost.
    }
  }
};
}  // namespace

Result<VerifiedToken> Verifier::verify_unguarded(std::string_view compact, const Presented& presented,
                                                 internal::VerifyTrace* trace) const {
  if (!cache_) return verify_full(compact, 0, presented, trace);
  // The cache is keyed by the token without the white space around it.
  if (!internal::trim_token(compact, policy_.max_token_size)) {
    return internal::fail(errc::too_large, "token exceeds the size limit");
  }

  const std::size_t hash = std::hash<std::string_view>{}(compact);
  const double now = NumericDate(policy_.clock()).time_since_epoch().count();
  if (auto hit = cache_->find(compact, hash, now, static_keys_ ? static_version_ : 0)) {
    bool usable = static_keys_ != nullptr;
    if (!usable) {
      // The key source is asked as for a first verify (a remote one may refresh), and
      // the entry counts only while it hands out the very set that verified the token.
      const internal::TokenData& d = *hit->data;
      KeyQuery query;
      query.kid = d.kid;
      query.has_kid = d.has_kid;
      if (keys_->wants_issuer() && d.claims.reg.iss) query.issuer = *d.claims.reg.iss;
      auto served = keys_->served_keys(query);
      if (!served) return served.error();
      usable = internal::TokenCache::same_set(hit->version, served->version);
    }
    if (usable) {
      if (trace != nullptr) {
        trace->cache_hit = true;
        trace->alg = hit->alg;
        if (hit->data->claims.reg.iss) trace->iss = std::string(*hit->data->claims.reg.iss);
      }
      if (policy_.observer) policy_.observer->token_cache(CacheOutcome::hit, 1);
      auto copy = internal::copy_for_caller(*hit);
      VerifiedToken token(std::move(copy.first), std::move(copy.second), hit->alg);
      // exp, nbf, iat and every claim rule, against the clock of now.
      if (auto ok = check_claims(token.claims()); !ok) return ok.error();
      if (auto ok = check_binding(token.claims(), presented, compact); !ok) return ok.error();
      // A cached token seen again is a use like any other.
      if (auto ok = check_single_use(token.claims()); !ok) return ok.error();
      return token;
    }
    cache_->refuse(hash, hit->data);
  }
  if (policy_.observer) policy_.observer->token_cache(CacheOutcome::miss, 1);
  return verify_full(compact, hash, presented, trace);
}

Result<VerifiedToken> Verifier::verify_full(std::string_view compact, std::size_t hash,
                                            const Presented& presented, internal::VerifyTrace* trace) const {
  internal::ParsedJws parsed;
  if (auto ok = internal::parse_jws(compact, jws_options_, parsed); !ok) return ok.error();
  const JsonLimits& limits = jws_options_.json_limits;
  const IssuerPeek peek{trace, parsed, limits};
  if (trace != nullptr) trace->alg = parsed.alg;
  KeyQuery query;
  query.kid = parsed.kid;
  query.has_kid = parsed.has_kid;
  std::string issuer_hint;
  if (keys_->wants_issuer()) {
    // The source picks keys by issuer, so `iss` is read before the signature holds. It
    // only selects among configured issuers, and must equal the verified `iss` below.
    if (!parsed.payload_canonical) {
      return internal::fail(errc::malformed, "payload is not canonical base64url");
    }
    auto hint = internal::peek_issuer(parsed.payload, limits);
    if (!hint) return hint.error();
    issuer_hint = std::move(*hint);
    query.issuer = issuer_hint;
  }
  // A static source's set is fetched once, at construction: copying its shared_ptr here
  // would make every verify write to one reference count that all threads share.
  ServedKeys fetched;
  if (!static_keys_) {
    auto got = keys_->served_keys(query);
    if (!got) return got.error();
    fetched = std::move(*got);
  }
  const std::shared_ptr<const KeySet>& keys = static_keys_ ? static_keys_ : fetched.keys;
  const std::uint64_t version = static_keys_ ? static_version_ : fetched.version;
  const KeySet& set = *keys;
  auto key = internal::verify_parsed(parsed, set.keys().data(), set.size(), jws_options_);
  if (!key) return key.error();

  // Only now, with the signature checked, is the payload read at all: once, by the
  // scanner, which keeps it as text and reads the registered claims; a payload it is
  // not sure of goes through the full parser, which reports what is wrong.
  auto data = std::make_shared<internal::TokenData>();
  internal::ClaimsData& claims = data->claims;
  claims.text = std::string(parsed.payload);
  if (internal::scan_claims(claims.text, limits, claims.reg)) {
    claims.lazy = true;
  } else if (auto ok = internal::parse_claims_slow(claims, limits); !ok) {
    return ok.error();
  }
  if (trace != nullptr && claims.reg.iss) trace->iss = std::string(*claims.reg.iss);
  if (keys_->wants_issuer() && (!claims.reg.iss || *claims.reg.iss != issuer_hint)) {
    return internal::fail(errc::bad_issuer,
                          "the verified issuer is not the one the keys belong to");
  }
  data->compact = std::string(parsed.compact);
  data->kid = std::string(parsed.kid);
  data->has_kid = parsed.has_kid;
  data->header_b64_size = parsed.header_b64.size();
  Claims view = internal::ClaimsAccess::make(
      std::shared_ptr<const internal::ClaimsData>(data, &data->claims));
  if (auto ok = check_claims(view); !ok) return ok.error();
  if (auto ok = check_binding(view, presented, parsed.compact); !ok) return ok.error();
  if (auto ok = check_single_use(view); !ok) return ok.error();
  if (cache_ && claims.reg.exp) {
    // Tokens without exp are not kept: an entry must not outlive its token.
    const double now = NumericDate(policy_.clock()).time_since_epoch().count();
    cache_->insert(hash, data, parsed.alg, version, *claims.reg.exp, now);
  }
  return VerifiedToken(std::move(data), std::move(view), parsed.alg);
}

Result<VerifiedToken> Verifier::verify(std::string_view compact) const { return verify(compact, Presented{}); }

Result<VerifiedToken> Verifier::verify_introspected(std::string_view token, const nlohmann::json& answer,
                                                    const Presented& presented) const {
  try {
    if (!answer.is_object()) return internal::fail(errc::malformed, "the introspection answer is not an object");
    if (token.size() > jws_options_.max_token_size) return internal::fail(errc::too_large, "the token is too large");
    auto data = std::make_shared<internal::TokenData>();
    data->introspected = true;
    data->compact = std::string(token);
    internal::ClaimsData& claims = data->claims;
    claims.text = answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (auto ok = internal::parse_claims_slow(claims, jws_options_.json_limits); !ok) return ok.error();
    Claims view = internal::ClaimsAccess::make(std::shared_ptr<const internal::ClaimsData>(data, &data->claims));
    if (auto ok = check_claims(view); !ok) return ok.error();
    if (auto ok = check_binding(view, presented, token); !ok) return ok.error();
    if (auto ok = check_single_use(view); !ok) return ok.error();
    // alg: there is none; the first algorithm stands in (documented as meaningless).
    return VerifiedToken(std::move(data), std::move(view), Alg::HS256);
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "internal error while checking an introspected token");
  }
}

Result<VerifiedToken> Verifier::verify(std::string_view compact, const Presented& presented) const {
  if (policy_.observer) return verify_observed(compact, presented);
  // verify never throws: a custom check or the clock could, and so could memory.
  try {
    return verify_unguarded(compact, presented, nullptr);
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while verifying");
  }
}

std::string_view Verifier::issuer_label(std::string_view iss) const noexcept {
  for (const auto& configured : policy_.issuers) {
    if (configured == iss) return configured;
  }
  return "other";
}

Result<VerifiedToken> Verifier::verify_observed(std::string_view compact, const Presented& presented) const {
  const auto start = std::chrono::steady_clock::now();
  internal::VerifyTrace trace;
  Result<VerifiedToken> result = make_error(errc::internal_error, "internal error while verifying");
  try {
    result = verify_unguarded(compact, presented, &trace);
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
  }
  VerifyEvent event;
  event.issuer = trace.iss ? issuer_label(*trace.iss) : std::string_view("other");
  if (!result) event.error = result.error().code;
  event.alg = trace.alg;
  event.cache = cache_ != nullptr;
  event.cache_hit = trace.cache_hit;
  event.duration = std::chrono::steady_clock::now() - start;
  policy_.observer->verified(event);
  return result;
}

}  // namespace tokenpass

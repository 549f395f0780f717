#include "tokenpass/verifier.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "internal/json.h"
#include "internal/jws_impl.h"
#include "internal/openssl.h"

namespace tokenpass {

using json = nlohmann::json;

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

VerifiedToken::VerifiedToken(json header, Claims claims, std::string kid, Alg alg,
                             std::string compact)
    : header_(std::move(header)),
      claims_(std::move(claims)),
      kid_(std::move(kid)),
      alg_(alg),
      compact_(std::move(compact)) {}

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
  if (p.max_token_size == 0) fail("max_token_size is 0");
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool all_granted(const std::vector<std::string>& needed, const std::vector<std::string>& granted) {
  return std::all_of(needed.begin(), needed.end(),
                     [&](const std::string& s) { return contains(granted, s); });
}

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
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
  jws_options_.json_limits = policy_.json_limits;
}

Verifier::Verifier(KeySet keys, Policy policy)
    : Verifier(std::make_shared<const StaticKeySource>(std::move(keys)), std::move(policy)) {}

Result<void> Verifier::check_claims(const Claims& claims) const {
  const Policy& p = policy_;
  const json& j = claims.json();
  if (auto types = Claims::check_types(j); !types) return types.error();

  for (const auto& name : p.required_claims) {
    if (!j.contains(name)) return make_error(errc::missing_claim, "\"" + name + "\" is required");
  }
  if (p.require_exp && !j.contains("exp")) {
    return make_error(errc::missing_claim, "\"exp\" is required");
  }

  // RFC 7519 §4.1.4-6 with cli-contract rule 4: valid while now < exp + leeway;
  // nbf <= now + leeway; iat <= now + leeway; now - iat <= max_age + leeway.
  const NumericDate now(p.clock());
  const std::chrono::duration<double> leeway(p.leeway);
  if (const auto exp = claims.expires_at(); exp && !(now < *exp + leeway)) {
    return make_error(errc::expired, "the token has expired");
  }
  if (const auto nbf = claims.not_before(); nbf && *nbf > now + leeway) {
    return make_error(errc::not_yet_valid, "the token is not valid yet (nbf)");
  }
  const auto iat = claims.issued_at();
  if (iat && *iat > now + leeway) {
    return make_error(errc::issued_in_future, "the token was issued in the future (iat)");
  }
  if (p.max_age) {
    if (!iat) return make_error(errc::missing_claim, "\"iat\" is required for max_age");
    if (now - *iat > std::chrono::duration<double>(*p.max_age) + leeway) {
      return make_error(errc::too_old, "the token is older than max_age");
    }
  }

  if (!p.accept_any_issuer || !p.issuers.empty()) {
    const auto iss = claims.issuer();
    if (!iss || !contains(p.issuers, *iss)) {
      return make_error(errc::bad_issuer, iss ? "issuer not accepted" : "token has no issuer");
    }
  }
  if (!p.accept_any_audience || !p.audiences.empty()) {
    const auto aud = claims.audience();
    const bool match = std::any_of(aud.begin(), aud.end(),
                                   [&](const std::string& a) { return contains(p.audiences, a); });
    if (!match) {
      return make_error(errc::bad_audience,
                        aud.empty() ? "token has no audience" : "audience not accepted");
    }
  }
  if (p.subject) {
    const auto sub = claims.subject();
    if (!sub || *sub != *p.subject) {
      return make_error(errc::bad_subject, sub ? "subject not accepted" : "token has no subject");
    }
  }

  if (!p.required_scopes.empty() || !p.alternative_scopes.empty()) {
    const auto granted = claims.scopes();
    if (!all_granted(p.required_scopes, granted)) {
      return make_error(errc::insufficient_scope, "a required scope is not granted");
    }
    if (!p.alternative_scopes.empty() &&
        std::none_of(p.alternative_scopes.begin(), p.alternative_scopes.end(),
                     [&](const auto& set) { return all_granted(set, granted); })) {
      return make_error(errc::insufficient_scope, "no accepted scope set is granted");
    }
  }

  for (const auto& check : p.custom_checks) {
    if (auto r = check(claims); !r) return r.error();
  }
  return {};
}

Result<VerifiedToken> Verifier::verify_unguarded(std::string_view compact) const {
  compact = trim(compact);
  auto parsed = internal::parse_jws(compact, jws_options_);
  if (!parsed) return parsed.error();
  KeyQuery query;
  query.kid = parsed->kid;
  query.has_kid = parsed->has_kid;
  std::string issuer_hint;
  if (keys_->wants_issuer()) {
    // The source picks keys by issuer, so `iss` is read before the signature holds. It
    // only selects among configured issuers, and must equal the verified `iss` below.
    auto hint = internal::peek_issuer(parsed->payload_b64, policy_.json_limits);
    if (!hint) return hint.error();
    issuer_hint = std::move(*hint);
    query.issuer = issuer_hint;
  }
  auto keys = keys_->keys_for(query);
  if (!keys) return keys.error();
  const KeySet& set = **keys;
  auto jws = internal::verify_parsed(*parsed, set.keys().data(), set.size(), jws_options_);
  if (!jws) return jws.error();

  // Only now, with the signature checked, is the payload read at all.
  auto payload = internal::parse_json(jws->payload(), policy_.json_limits);
  if (!payload) {
    Error e = std::move(payload).error();
    e.detail = "claims: " + e.detail;
    return e;
  }
  auto claims = Claims::from_json(std::move(*payload));
  if (!claims) return claims.error();
  if (keys_->wants_issuer() && claims->issuer() != issuer_hint) {
    return make_error(errc::bad_issuer, "the verified issuer is not the one the keys belong to");
  }
  if (auto ok = check_claims(*claims); !ok) return ok.error();
  return VerifiedToken(jws->header(), std::move(*claims), jws->kid(), jws->alg(),
                       std::string(compact));
}

Result<VerifiedToken> Verifier::verify(std::string_view compact) const {
  // verify never throws: a custom check or the clock could, and so could memory.
  try {
    return verify_unguarded(compact);
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "internal error while verifying");
  }
}

}  // namespace tokenpass

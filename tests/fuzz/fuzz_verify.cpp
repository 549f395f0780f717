// Fuzz target: `Verifier::verify` against the fixed key set (HS256, RS256, PS384, ES256,
// ES384, ES256K, Ed25519, Ed448; a key without kid, one without alg) under four
// policies. Input: one mode byte, then
//   mode 0-3: a compact token, checked by verifier `mode`;
//   mode 4-7: "HEADER\nPAYLOAD", two JSON texts taken as they are and MACed with the
//             HS256 key, so that fuzzed headers and claims get past the signature;
//             checked by verifier `mode - 4`.
// Verifier 0 has a twin with the verified-token cache on: a miss and a hit must both
// answer exactly what the uncached verifier does.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;

std::vector<tokenpass::Verifier> make_verifiers() {
  const tokenpass::KeySet keys = public_key_set();
  std::vector<tokenpass::Verifier> out;

  // 0: a typical API policy: issuer, audience, scope, leeway, max_age, a custom check
  // and one understood crit extension.
  tokenpass::Policy api;
  api.issuers = {kIssuer};
  api.audiences = {kAudience, "billing-api"};
  api.required_scopes = {"orders:read"};
  api.leeway = std::chrono::seconds(30);
  api.max_age = std::chrono::hours(1);
  api.critical = {"urn:example:crit"};
  api.clock = fixed_clock();
  api.custom_checks.push_back([](const tokenpass::Claims& c) -> tokenpass::Result<void> {
    if (c.contains("deny")) return tokenpass::make_error(tokenpass::errc::bad_claim, "deny");
    return {};
  });
  out.emplace_back(keys, api);

  // 1: RFC 9068 access tokens: typ at+jwt, many required claims, a subject and
  // alternative scope sets.
  tokenpass::Policy at = tokenpass::Policy::access_token_profile({kIssuer}, {kAudience});
  at.subject = "user-1";
  at.alternative_scopes = {{"orders:read", "orders:write"}, {"admin"}};
  at.clock = fixed_clock();
  out.emplace_back(keys, at);

  // 2: lenient on claims, strict on size: any issuer and audience, no exp needed, a
  // narrowed algorithm list and small limits.
  tokenpass::Policy small;
  small.any_issuer().any_audience();
  small.require_exp = false;
  small.leeway = std::chrono::seconds(0);
  small.algorithms = {tokenpass::Alg::HS256, tokenpass::Alg::ES256, tokenpass::Alg::EdDSA};
  small.max_token_size = 4096;
  small.json_limits.max_depth = 8;
  small.json_limits.max_members = 64;
  small.json_limits.max_string = 256;
  small.clock = fixed_clock();
  out.emplace_back(keys, small);

  // 3: keys chosen by the token's (unverified) issuer.
  std::map<std::string, std::shared_ptr<const tokenpass::KeySource>> sources;
  sources[kIssuer] = std::make_shared<tokenpass::StaticKeySource>(keys);
  sources[kOtherIssuer] = std::make_shared<tokenpass::StaticKeySource>(
      tokenpass::KeySet({private_key("fz-hs256")}));
  tokenpass::Policy by_iss;
  by_iss.issuers = {kIssuer, kOtherIssuer};
  by_iss.any_audience();
  by_iss.clock = fixed_clock();
  out.emplace_back(std::make_shared<tokenpass::IssuerKeySources>(std::move(sources)), by_iss);
  return out;
}

// cached_twin: verifier 0's policy with the verified-token cache on, to check that a
// cache hit answers exactly what a full verify answers.
tokenpass::Verifier cached_twin(const tokenpass::Verifier& v) {
  tokenpass::Policy p = v.policy();
  p.cache.max_entries = 64;
  return tokenpass::Verifier(public_key_set(), p);
}

bool same(const tokenpass::Result<tokenpass::VerifiedToken>& a,
          const tokenpass::Result<tokenpass::VerifiedToken>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return a.error().code == b.error().code;
  return a->claims().json() == b->claims().json() && a->header() == b->header() &&
         a->kid() == b->kid() && a->alg() == b->alg() && a->compact() == b->compact();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<tokenpass::Verifier> verifiers = make_verifiers();
  if (size == 0) return 0;
  const unsigned mode = data[0] % 8;
  std::string_view rest = as_view(data + 1, size - 1);
  std::string token;
  if (mode >= 4) {
    const std::size_t nl = rest.find('\n');
    token = hs256_token(rest.substr(0, nl),
                        nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1));
    rest = token;
  }
  const tokenpass::Verifier& v = verifiers[mode % 4];
  const auto r = v.verify(rest);
  if (mode % 4 == 0) {
    static const tokenpass::Verifier cached = cached_twin(verifiers[0]);
    const auto miss = cached.verify(rest);
    const auto hit = cached.verify(rest);
    check(same(r, miss) && same(r, hit));
  }
  if (r) {
    // What a handler reads from a verified token must be there and well typed.
    check(r->header().is_object() && r->claims().json().is_object());
    (void)r->claims().audience();
    (void)r->claims().scopes();
    (void)r->expires_at();
    check(v.check_claims(r->claims()).has_value());
  } else {
    check(r.error().code != tokenpass::errc{});
    (void)tokenpass::http_status(r.error());
    (void)tokenpass::www_authenticate(r.error(), "fuzz", {"orders:read"}, true);
  }
  return 0;
}

#include "tokenpass/issuer.h"

#include <stdexcept>
#include <utility>

#include "internal/base64url.h"
#include "internal/openssl.h"
#include "tokenpass/jws.h"

namespace tokenpass {

using json = nlohmann::json;

Issuer::Issuer(Key key, std::string issuer, std::chrono::seconds lifetime, IssuerOptions options)
    : key_(std::move(key)),
      issuer_(std::move(issuer)),
      lifetime_(lifetime),
      options_(std::move(options)) {
  if (!key_.can_sign()) throw std::invalid_argument("tokenpass::Issuer: the key cannot sign");
  if (options_.alg && !key_.fits(*options_.alg)) {
    throw std::invalid_argument("tokenpass::Issuer: the key does not fit the algorithm");
  }
  if (issuer_.empty()) throw std::invalid_argument("tokenpass::Issuer: empty issuer");
  if (lifetime_ <= std::chrono::seconds::zero()) {
    throw std::invalid_argument("tokenpass::Issuer: lifetime must be positive");
  }
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
}

Result<std::string> Issuer::issue(const ClaimsBuilder& claims) const {
  try {
    ClaimsBuilder c = claims;
    const json& j = c.json();
    const auto now = options_.clock();
    c.issuer(issuer_);
    if (!j.contains("iat")) c.issued_at(now);
    if (!j.contains("exp")) c.expires_at(now + lifetime_);
    if (options_.not_before && !j.contains("nbf")) c.not_before(now);
    if (!j.contains("aud") && !options_.audience.empty()) {
      if (options_.audience.size() == 1) {
        c.audience(options_.audience.front());
      } else {
        c.audience(options_.audience);
      }
    }
    if (options_.generate_jti && !j.contains("jti")) {
      c.jwt_id(internal::b64url_encode(internal::random_bytes(16)));
    }
    if (auto types = Claims::check_types(c.json()); !types) {
      return make_error(errc::malformed, types.error().detail);
    }
    JwsSignOptions sign;
    sign.alg = options_.alg;
    sign.typ = options_.typ;
    return sign_jws(key_, c.to_string(), sign);
  } catch (const nlohmann::json::type_error&) {
    // Claims that json::dump refuses (strings that are not UTF-8) are bad input.
    internal::clear_openssl_errors();
    return make_error(errc::malformed, "claim values must be valid UTF-8");
  } catch (const std::exception&) {
    internal::clear_openssl_errors();
    return make_error(errc::internal_error, "internal error while issuing");
  }
}

}  // namespace tokenpass

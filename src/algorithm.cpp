#include "tokenpass/algorithm.h"

#include "internal/rules.h"

#include <array>
#include <utility>

namespace tokenpass {
namespace {

constexpr std::array<std::pair<Alg, std::string_view>, 16> kAlgNames{{
    {Alg::HS256, "HS256"}, {Alg::HS384, "HS384"}, {Alg::HS512, "HS512"},
    {Alg::RS256, "RS256"}, {Alg::RS384, "RS384"}, {Alg::RS512, "RS512"},
    {Alg::PS256, "PS256"}, {Alg::PS384, "PS384"}, {Alg::PS512, "PS512"},
    {Alg::ES256, "ES256"}, {Alg::ES384, "ES384"}, {Alg::ES512, "ES512"},
    {Alg::ES256K, "ES256K"}, {Alg::EdDSA, "EdDSA"}, {Alg::Ed25519, "Ed25519"},
    {Alg::Ed448, "Ed448"},
}};

constexpr std::array<std::pair<Curve, std::string_view>, 6> kCurveNames{{
    {Curve::P256, "P-256"},
    {Curve::P384, "P-384"},
    {Curve::P521, "P-521"},
    {Curve::secp256k1, "secp256k1"},
    {Curve::Ed25519, "Ed25519"},
    {Curve::Ed448, "Ed448"},
}};

}  // namespace

std::string_view to_string(Alg alg) noexcept {
  for (const auto& [a, name] : kAlgNames) {
    if (a == alg) return name;
  }
  return "unknown";
}

std::string_view to_string(KeyType kty) noexcept {
  switch (kty) {
    case KeyType::oct:
      return "oct";
    case KeyType::RSA:
      return "RSA";
    case KeyType::EC:
      return "EC";
    case KeyType::OKP:
      return "OKP";
    default:
      return "unknown";
  }
}

std::string_view to_string(Curve crv) noexcept {
  for (const auto& [c, name] : kCurveNames) {
    if (c == crv) return name;
  }
  return "";
}

std::optional<Alg> alg_from_string(std::string_view name) noexcept {
  // RFC 7515 §4.1.1: alg values are case-sensitive; "none" is simply not listed.
  for (const auto& [a, n] : kAlgNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

std::optional<KeyType> key_type_from_string(std::string_view kty) noexcept {
  if (kty == "oct") return KeyType::oct;
  if (kty == "RSA") return KeyType::RSA;
  if (kty == "EC") return KeyType::EC;
  if (kty == "OKP") return KeyType::OKP;
  return std::nullopt;
}

std::optional<Curve> curve_from_string(std::string_view crv) noexcept {
  for (const auto& [c, n] : kCurveNames) {
    if (n == crv) return c;
  }
  return std::nullopt;
}

const std::vector<Alg>& all_algs() noexcept {
  static const std::vector<Alg> algs = [] {
    std::vector<Alg> v;
    for (const auto& entry : kAlgNames) v.push_back(entry.first);
    return v;
  }();
  return algs;
}

KeyType key_type_for(Alg alg) noexcept {
  switch (alg) {
    case Alg::HS256:
    case Alg::HS384:
    case Alg::HS512:
      return KeyType::oct;
    case Alg::RS256:
    case Alg::RS384:
    case Alg::RS512:
    case Alg::PS256:
    case Alg::PS384:
    case Alg::PS512:
      return KeyType::RSA;
    case Alg::ES256:
    case Alg::ES384:
    case Alg::ES512:
    case Alg::ES256K:
      return KeyType::EC;
    default:
      return KeyType::OKP;
  }
}

std::size_t hmac_min_secret_bytes(Alg alg) noexcept {
  switch (alg) {
    case Alg::HS256:
      return 32;
    case Alg::HS384:
      return 48;
    case Alg::HS512:
      return 64;
    default:
      return 0;
  }
}

bool alg_fits(Alg alg, KeyType kty, Curve crv, std::size_t size) noexcept {
  if (key_type_for(alg) != kty) return false;
  switch (alg) {
    case Alg::HS256:
    case Alg::HS384:
    case Alg::HS512:
      return size >= hmac_min_secret_bytes(alg);
    case Alg::ES256:
      return crv == Curve::P256;
    case Alg::ES384:
      return crv == Curve::P384;
    case Alg::ES512:
      return crv == Curve::P521;
    case Alg::ES256K:
      return crv == Curve::secp256k1;
    case Alg::EdDSA:
      return crv == Curve::Ed25519 || crv == Curve::Ed448;
    case Alg::Ed25519:
      return crv == Curve::Ed25519;
    case Alg::Ed448:
      return crv == Curve::Ed448;
    default:  // RSA
      return size >= kMinRsaBits;
  }
}

namespace internal {

bool alg_fits_allowed(Alg key_alg, Alg token_alg, Curve crv) noexcept {
  if (key_alg == token_alg) return true;
  const auto eddsa_family = [crv](Alg a) {
    return a == Alg::EdDSA || (a == Alg::Ed25519 && crv == Curve::Ed25519) ||
           (a == Alg::Ed448 && crv == Curve::Ed448);
  };
  return eddsa_family(key_alg) && eddsa_family(token_alg) &&
         (crv == Curve::Ed25519 || crv == Curve::Ed448);
}

}  // namespace internal

}  // namespace tokenpass

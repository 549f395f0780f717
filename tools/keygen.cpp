// tools/keygen.cpp: `tokenpass keygen --alg ALG [--kid KID] [--bits N] [--crv CRV]`.
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "tokenpass/algorithm.h"
#include "tokenpass/jwk.h"

namespace tokenpass::cli {

namespace {

constexpr const char* kUsage =
    "usage: tokenpass keygen --alg ALG [--kid KID] [--bits N] [--crv CRV]\n"
    "\n"
    "Prints a new private JWK with \"alg\", \"kid\" and, for asymmetric keys, \"use\":\"sig\".\n"
    "  --alg ALG   HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384\n"
    "              ES512 ES256K EdDSA (also Ed25519, Ed448)\n"
    "  --kid KID   key id (default: the RFC 7638 thumbprint)\n"
    "  --bits N    RSA modulus size, 2048 (default) to 16384\n"
    "  --crv CRV   EdDSA: Ed25519 (default) or Ed448; EC algorithms: their own curve only\n";

// Large enough for any real use; bounds how long a typo can keep the machine busy.
constexpr std::int64_t kMaxRsaBits = 16384;

}  // namespace

int run_keygen(const std::vector<std::string>& argv) {
  const Args args = Args::parse(argv, {{"--alg"}, {"--kid"}, {"--bits"}, {"--crv"}},
                                /*max_positionals=*/0);
  if (args.help()) {
    std::cout << kUsage;
    return kExitOk;
  }
  const auto alg_name = args.get("--alg");
  if (!alg_name) usage_error("keygen needs --alg (see --help)");
  const Alg alg = parse_alg("--alg", *alg_name);
  const KeyType kty = key_type_for(alg);

  GenerateOptions options;
  if (const auto kid = args.get("--kid")) {
    if (kid->empty()) usage_error("--kid is empty");
    options.kid = *kid;
  }
  if (const auto bits = args.get("--bits")) {
    if (kty != KeyType::RSA) usage_error("--bits applies to RSA algorithms only");
    // cli-contract rule 17 and RFC 7518 §3.3: under 2048 bits is refused.
    options.rsa_bits = static_cast<std::size_t>(
        parse_int("--bits", *bits, static_cast<std::int64_t>(kMinRsaBits), kMaxRsaBits));
  }
  if (const auto crv_name = args.get("--crv")) {
    const auto crv = curve_from_string(*crv_name);
    // cli-contract rule 17: a curve that does not fit the algorithm is exit 2.
    if (!crv || *crv == Curve::none || !alg_fits(alg, kty, *crv, 0)) {
      usage_error("--crv does not fit --alg " + std::string(to_string(alg)));
    }
    // Only OKP keys have a choice of curve; an EC algorithm names its own.
    if (kty == KeyType::OKP) options.curve = *crv;
  }

  Key key = [&] {
    try {
      return Key::generate(alg, options);
    } catch (const std::invalid_argument& e) {
      usage_error(e.what());
    }
  }();
  write_out(key.to_private_jwk().dump() + "\n");
  return kExitOk;
}

}  // namespace tokenpass::cli

// tools/sign.cpp: `tokenpass sign --key KEYFILE [--alg ALG] [--kid KID] [--typ TYP]
// [--header JSON] [--ttl SECONDS] [--payload-raw] [CLAIMS|-]`.
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "tokenpass/jwk.h"
#include "tokenpass/jws.h"

namespace tokenpass::cli {

namespace {

constexpr const char* kUsage =
    "usage: tokenpass sign --key KEYFILE [--alg ALG] [--kid KID] [--typ TYP]\n"
    "                      [--header JSON] [--ttl SECONDS] [--payload-raw] [CLAIMS|-]\n"
    "\n"
    "Signs the JSON claims object in the file CLAIMS (stdin when absent or -) and prints\n"
    "the compact JWS. Claim values are kept exactly as given.\n"
    "  --key KEYFILE   private JWK, JWK set, PKCS#8 or traditional RSA/EC PEM\n"
    "  --alg ALG       algorithm (default: the key's \"alg\", else the one its type fits)\n"
    "  --kid KID       picks the key of a JWK set and is written to the header\n"
    "                  (default: the key's own kid)\n"
    "  --typ TYP       header \"typ\" (default JWT; --typ '' leaves it out)\n"
    "  --header JSON   more protected header members: kid, typ, cty, private names\n"
    "                  (alg, crit and b64 are refused)\n"
    "  --ttl SECONDS   set iat to now and exp to now + SECONDS\n"
    "  --payload-raw   sign the input bytes as they are, not only a JSON object\n";

// ±100 years: room for tests of expired and far-future tokens, no overflow.
constexpr std::int64_t kMaxTtl = 100LL * 366 * 24 * 3600;

// pick_key chooses the signing key of a key file (cli-contract rules 10 and 17).
Key pick_key(const KeyFile& file, const std::optional<std::string>& kid) {
  if (!file.is_set) return file.keys.front();
  if (kid) {
    const Key* match = nullptr;
    for (const Key& k : file.keys) {
      if (k.kid() != *kid) continue;
      if (match == nullptr || (!match->is_private() && k.is_private())) match = &k;
    }
    if (match != nullptr) return *match;
    for (const auto& s : file.skipped) {
      if (s.kid == *kid) fail(make_error(errc::key_unusable, s.error.detail));
    }
    usage_error("no key of the JWK set has the kid given with --kid");
  }
  const Key* only = nullptr;
  for (const Key& k : file.keys) {
    if (!k.is_private()) continue;
    if (only != nullptr) usage_error("the JWK set holds several private keys; pick one with --kid");
    only = &k;
  }
  if (only == nullptr) fail(make_error(errc::key_unusable, "the JWK set holds no private key"));
  return *only;
}

}  // namespace

int run_sign(const std::vector<std::string>& argv) {
  const Args args = Args::parse(argv,
                                {{"--key"},
                                 {"--alg"},
                                 {"--kid"},
                                 {"--typ"},
                                 {"--header"},
                                 {"--ttl"},
                                 {"--payload-raw", false}},
                                /*max_positionals=*/1);
  if (args.help()) {
    std::cout << kUsage;
    return kExitOk;
  }
  // Options first: every refusal they cause is exit 2 (cli-contract rule 17).
  const auto key_path = args.get("--key");
  if (!key_path) usage_error("sign needs --key (see --help)");
  const auto input_path = args.positional().value_or("-");
  if (*key_path == "-" && input_path == "-")
    usage_error("--key and the claims cannot both be stdin");

  JwsSignOptions options;
  if (const auto alg = args.get("--alg")) options.alg = parse_alg("--alg", *alg);
  const auto kid = args.get("--kid");
  if (kid) options.kid = *kid;
  if (const auto typ = args.get("--typ")) {
    options.typ = typ->empty() ? std::nullopt : std::optional<std::string>(*typ);
  }
  if (const auto header = args.get("--header")) {
    const auto extra = parse_json_object(*header);
    if (!extra) usage_error("--header is not a JSON object (without repeated names)");
    for (const char* name : {"alg", "crit", "b64"}) {
      if (extra->contains(name)) usage_error(std::string("--header may not set \"") + name + "\"");
    }
    options.extra_header = *extra;
  }
  const bool raw = args.has("--payload-raw");
  std::optional<std::int64_t> ttl;
  if (const auto t = args.get("--ttl")) {
    if (raw) usage_error("--ttl needs a JSON claims object, not --payload-raw");
    ttl = parse_int("--ttl", *t, -kMaxTtl, kMaxTtl);
  }

  const KeyFile file = load_key_file(*key_path);
  const Key key = pick_key(file, kid);
  // A key that cannot sign at all is the key's fault (exit 1, rule 16); an --alg it
  // does not fit is the option's (exit 2, rule 17).
  if (!key.can_sign()) {
    fail(make_error(errc::key_unusable, key.is_private()
                                            ? "the key's \"use\" or \"key_ops\" forbid signing"
                                            : "a public key cannot sign"));
  }
  if (options.alg && !key.fits(*options.alg)) {
    usage_error("the key does not fit --alg " + std::string(to_string(*options.alg)));
  }

  std::string payload = read_file(input_path, "claims");
  if (!raw) {
    auto claims = parse_json_object(payload);
    if (!claims) usage_error("the claims are not a JSON object (without repeated names)");
    if (ttl) {
      const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      (*claims)["iat"] = now;
      (*claims)["exp"] = now + *ttl;
    }
    // cli-contract rule 15: nlohmann keeps 64-bit integers (signed and unsigned) and
    // doubles exactly, and dump() writes UTF-8 as is.
    payload = claims->dump();
  }

  auto token = sign_jws(key, payload, options);
  if (!token) {
    const errc code = token.error().code;
    if (code == errc::alg_not_allowed || code == errc::malformed) {
      usage_error("cannot sign: " + token.error().detail);
    }
    fail(std::move(token).error());
  }
  write_out(*token + "\n");
  return kExitOk;
}

}  // namespace tokenpass::cli

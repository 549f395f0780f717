// tools/pubkey.cpp: `tokenpass pubkey [KEYFILE|-]`.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.h"
#include "tokenpass/jwk.h"

namespace tokenpass::cli {

namespace {

constexpr const char* kUsage =
    "usage: tokenpass pubkey [KEYFILE|-]\n"
    "\n"
    "Prints the public JWK set {\"keys\":[...]} of a key given as JWK, JWK set or PEM\n"
    "(stdin when KEYFILE is absent or -). \"kid\", \"alg\" and \"use\" are kept. An oct (HMAC)\n"
    "key has no public half and is refused.\n";

bool has_op(const Key& key, const char* op) {
  const auto& ops = key.key_ops();
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

}  // namespace

int run_pubkey(const std::vector<std::string>& argv) {
  const Args args = Args::parse(argv, {}, /*max_positionals=*/1);
  if (args.help()) {
    std::cout << kUsage;
    return kExitOk;
  }
  const KeyFile file = load_key_file(args.positional().value_or("-"));
  // cli-contract rule 16: an unusable key is key_unusable, as in verify. In a JWK set
  // we publish, a refused member is not silently dropped.
  if (!file.skipped.empty()) {
    fail(make_error(errc::key_unusable,
                    "a key of the JWK set is unusable: " + file.skipped.front().error.detail));
  }
  nlohmann::json keys = nlohmann::json::array();
  for (const Key& key : file.keys) {
    if (key.is_symmetric()) continue;
    if (!key.use().empty() && key.use() != "sig") {
      fail(make_error(errc::key_unusable, "the key's \"use\" is not \"sig\""));
    }
    if (!key.key_ops().empty() && !has_op(key, "sign") && !has_op(key, "verify")) {
      fail(make_error(errc::key_unusable, "the key's \"key_ops\" allow neither sign nor verify"));
    }
    nlohmann::json jwk = key.to_public_jwk();
    // A private key's "key_ops":["sign"] would make its public half useless for
    // verifying; the contract keeps kid, alg and use only (rule 11).
    jwk.erase("key_ops");
    keys.push_back(std::move(jwk));
  }
  if (keys.empty()) usage_error("an oct (HMAC) key has no public half");
  write_out(nlohmann::json{{"keys", std::move(keys)}}.dump() + "\n");
  return kExitOk;
}

}  // namespace tokenpass::cli

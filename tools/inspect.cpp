// tools/inspect.cpp: `tokenpass inspect [TOKEN|-]`: decode WITHOUT verification.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.h"
#include "tokenpass/jws.h"

namespace tokenpass::cli {

namespace {

constexpr const char* kUsage =
    "usage: tokenpass inspect [--max-size BYTES] [TOKEN|-]\n"
    "\n"
    "Prints {\"header\":{...},\"payload\":...} of TOKEN (the token text; stdin when absent\n"
    "or -) decoded WITHOUT verification: nothing about it is checked or trusted. The\n"
    "payload is shown as JSON when it is JSON, else as a string.\n";

}  // namespace

int run_inspect(const std::vector<std::string>& argv) {
  const Args args = Args::parse(argv, {{"--max-size"}}, /*max_positionals=*/1);
  if (args.help()) {
    std::cout << kUsage;
    return kExitOk;
  }
  std::size_t max_size = kDefaultMaxTokenSize;
  if (const auto v = args.get("--max-size")) {
    max_size = static_cast<std::size_t>(parse_int("--max-size", *v, 1, INT32_MAX));
  }
  const std::string token = token_argument(args.positional());
  // cli-contract rule 12: a malformed token is exit 1, malformed.
  const UnverifiedJws jws = check(decode_unverified(token, max_size));
  nlohmann::json out = nlohmann::json::object();
  out["header"] = jws.header();
  if (jws.payload_json()) {
    out["payload"] = *jws.payload_json();
  } else {
    out["payload"] = jws.payload_bytes();
  }
  std::cerr << "warning: decoded WITHOUT verification; the signature and claims are NOT "
               "verified\n";
  // A payload that is not JSON may hold any bytes: invalid UTF-8 is replaced, not fatal.
  write_out(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return kExitOk;
}

}  // namespace tokenpass::cli

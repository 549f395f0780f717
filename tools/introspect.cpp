// tools/introspect.cpp: `tokenpass introspect --url URL [...] [TOKEN|-]`: asks an RFC
// 7662 introspection endpoint about a token and checks the answer's members like verify
// checks claims.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "tokenpass/claims.h"
#include "tokenpass/introspection.h"
#include "tokenpass/verifier.h"
#ifdef TOKENPASS_CLI_HAS_HTTPLIB
#include "tokenpass/adapters/httplib.h"
#endif

namespace tokenpass::cli {

namespace {

constexpr const char* kUsage =
    "usage: tokenpass introspect --url URL [--client-id ID --client-secret SECRET] [--allow-http]\n"
    "                            [--iss ISS]... [--aud AUD]... [--scope SCOPE]... [--now EPOCH]\n"
    "                            [--leeway SECONDS] [--timeout SECONDS] [TOKEN|-]\n"
    "\n"
    "Asks the RFC 7662 introspection endpoint URL about TOKEN (opaque or JWT; stdin when\n"
    "absent or -) and prints the answer when it says \"active\": true. Its members are\n"
    "checked as verify checks claims: exp and nbf when present; with --iss, --aud or\n"
    "--scope, a missing iss, aud or scope fails. \"active\": false, or no boolean active,\n"
    "is inactive (exit 1). No answer, a status other than 200, a body that is not a JSON\n"
    "object or is over 1 MiB: exit 2.\n"
    "  --url URL             the introspection endpoint (HTTPS unless --allow-http)\n"
    "  --client-id ID        authenticate with HTTP Basic (with --client-secret)\n"
    "  --client-secret SECRET\n"
    "  --iss ISS, --aud AUD, --scope SCOPE, --now EPOCH, --leeway SECONDS  as for verify\n"
    "  --timeout SECONDS     deadline of the exchange, connect to last byte (default 10)\n";

}  // namespace

int run_introspect(const std::vector<std::string>& argv) {
  const Args args = Args::parse(argv,
                                {{"--url"},
                                 {"--client-id"},
                                 {"--client-secret"},
                                 {"--allow-http", false},
                                 {"--iss", true, true},
                                 {"--aud", true, true},
                                 {"--scope", true, true},
                                 {"--now"},
                                 {"--leeway"},
                                 {"--timeout"}},
                                /*max_positionals=*/1);
  if (args.help()) {
    std::cout << kUsage;
    return kExitOk;
  }
  IntrospectionOptions io;
  const auto url = args.get("--url");
  if (!url) usage_error("introspect needs --url (see --help)");
  io.endpoint = *url;
  io.allow_http = args.has("--allow-http");
  io.client_id = args.get("--client-id").value_or("");
  io.client_secret = args.get("--client-secret").value_or("");
  if (io.client_id.empty() != io.client_secret.empty()) {
    usage_error("--client-id and --client-secret go together");
  }
  io.timeout = parse_timeout(args);
  io.max_response_bytes = 1024 * 1024;
  // The answer's members are checked like claims (cli-contract "introspect").
  Policy policy;
  policy.issuers = args.all("--iss");
  if (policy.issuers.empty()) policy.any_issuer();
  policy.audiences = args.all("--aud");
  if (policy.audiences.empty()) policy.any_audience();
  policy.required_scopes = parse_scopes(args);
  policy.leeway = parse_leeway(args);
  policy.require_exp = false;
  if (const auto now = args.get("--now")) {
    const auto t = parse_now(*now);
    policy.clock = [t] { return t; };
  }
#ifdef TOKENPASS_CLI_HAS_HTTPLIB
  std::unique_ptr<Introspector> introspector;
  try {
    introspector = std::make_unique<Introspector>(io, std::make_shared<HttplibClient>());
  } catch (const std::invalid_argument& e) {
    usage_error(std::string("--url: ") + e.what());
  }
  std::unique_ptr<Verifier> rules;
  try {
    rules = std::make_unique<Verifier>(KeySet(std::vector<Key>{}), policy);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  const std::string token = token_argument(args.positional());
  auto answer = introspector->introspect(token);
  if (!answer && answer.error().code == errc::http_error) usage_error("--url: " + answer.error().detail);
  const nlohmann::json response = check(std::move(answer));
  // `iat` is not checked (the contract): the rules see the members without it.
  nlohmann::json members = response;
  members.erase("iat");
  const Claims claims = check(Claims::from_json(std::move(members)));
  if (auto ok = rules->check_claims(claims); !ok) fail(ok.error());
  write_out(response.dump() + "\n");
  return kExitOk;
#else
  usage_error("introspect: this build has no HTTP client (cpp-httplib)");
#endif
}

}  // namespace tokenpass::cli

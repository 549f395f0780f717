// tools/main.cpp: `tokenpass`, the command-line face of the library. The interface is
// fixed by shared/cli-contract.md; each subcommand lives in its own file.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "tokenpass/version.h"

namespace {

using tokenpass::cli::kExitOk;
using tokenpass::cli::kExitUsage;

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"keygen", "make a new private JWK", tokenpass::cli::run_keygen},
    {"pubkey", "print the public JWK set of a key", tokenpass::cli::run_pubkey},
    {"sign", "sign a JSON claims object (or raw bytes) as a compact JWS", tokenpass::cli::run_sign},
    {"verify", "verify a token and print its claims", tokenpass::cli::run_verify},
    {"inspect", "decode a token WITHOUT verifying it", tokenpass::cli::run_inspect},
    {"introspect", "ask an RFC 7662 introspection endpoint about a token", tokenpass::cli::run_introspect},
};

void usage(std::ostream& out) {
  out << "usage: tokenpass COMMAND [OPTIONS]\n"
         "       tokenpass COMMAND --help\n"
         "       tokenpass --version\n"
         "\n"
         "commands:\n";
  for (const auto& c : kCommands) {
    out << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.summary << '\n';
  }
  out << "\n"
         "exit status: 0 success; 1 the token or key was rejected (stderr: \"error: CODE: ...\");\n"
         "2 usage, I/O or internal error.\n";
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (args.empty()) {
    usage(std::cerr);
    return kExitUsage;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "-h" || command == "--help") {
    usage(std::cout);
    return kExitOk;
  }
  if (command == "--version") {
    std::cout << "tokenpass " << TOKENPASS_VERSION_STRING << '\n';
    return kExitOk;
  }
  // `tokenpass help COMMAND` is `tokenpass COMMAND --help`.
  std::string name = command;
  if (command == "help") {
    if (args.empty()) {
      usage(std::cout);
      return kExitOk;
    }
    name = args.front();
    args = {"--help"};
  }
  for (const auto& c : kCommands) {
    if (c.name != name) continue;
    try {
      return c.run(args);
    } catch (const std::exception& e) {
      return tokenpass::cli::report(e);
    }
  }
  std::cerr << "error: unknown command (see tokenpass --help)\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  const int rc = run(argc, argv);
  // The process ends without running atexit handlers: a remote key fetch abandoned to
  // its deadline (RemoteJwks never waits for a peer) may still be releasing its TLS
  // context on its own thread, and OpenSSL's atexit cleanup would free what that thread
  // still uses. Everything the tool writes is flushed first.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(rc);
}

// tools/cli.h: what the `tokenpass` subcommands share: argument parsing, input, key
// files, and the exit-code discipline of shared/cli-contract.md (0 success, 1 the token
// or key was rejected, 2 usage, I/O or internal error).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenpass/algorithm.h"
#include "tokenpass/error.h"
#include "tokenpass/jwk.h"

namespace tokenpass::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;

// UsageError: exit 2. `what()` is printed as `error: MESSAGE`; it must never start
// with an errc name, so that it cannot be mistaken for a rejection.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Rejected: exit 1, printed as `error: CODE: detail`.
class Rejected : public std::exception {
 public:
  explicit Rejected(Error error) : error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return error_.detail.c_str(); }

 private:
  Error error_;
};

// usage_error ends the command with exit 2.
[[noreturn]] void usage_error(std::string message);
// fail ends the command for a library error: token codes (below 100) exit 1 with
// `error: CODE: detail`; library-only codes (key_source_unavailable, ...) exit 2.
[[noreturn]] void fail(Error error);

// check returns the value of `r` or ends the command through `fail`.
template <class T>
T check(Result<T> r) {
  if (!r) fail(std::move(r).error());
  return std::move(*r);
}

// report prints the stderr line for an exception thrown by a command and returns the
// exit code. Used by main only.
int report(const std::exception& e);

// ---- arguments -----------------------------------------------------------------

struct OptionSpec {
  std::string_view name;  // "--alg"
  bool takes_value = true;
  bool repeatable = false;
};

// Args: `--name VALUE`, `--name=VALUE`, flags, `-h`/`--help`, `--` and positionals.
// `-` alone is a positional (stdin). Unknown options, missing values, repeats of
// single options and too many positionals are usage errors.
class Args {
 public:
  static Args parse(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs,
                    std::size_t max_positionals);

  bool help() const noexcept { return help_; }
  bool has(std::string_view name) const;
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  // positional: the i-th positional, if given.
  std::optional<std::string> positional(std::size_t i = 0) const;

 private:
  bool help_ = false;
  std::vector<std::pair<std::string, std::string>> options_;
  std::vector<std::string> positionals_;
};

// parse_int reads a decimal integer option value in [min, max]; else usage error.
std::int64_t parse_int(std::string_view option, const std::string& text, std::int64_t min,
                       std::int64_t max);
// parse_alg reads a JWS algorithm name; `none` (any case) or unknown is a usage error.
Alg parse_alg(std::string_view option, const std::string& text);

// ---- input ---------------------------------------------------------------------

// read_file reads a whole file ("-": stdin); I/O failure is a usage error (exit 2).
std::string read_file(const std::string& path, std::string_view what);
std::string read_stdin();
// token_argument: the TOKEN argument is the token text itself; absent or "-" reads
// stdin (cli-contract rule 14). White space around it is left for the library to trim.
std::string token_argument(const std::optional<std::string>& arg);

// parse_json_object reads a JSON object for `sign` and `--header`: nullopt when the
// text is not JSON, not an object, or repeats a member name. Numbers keep their exact
// type (64-bit signed and unsigned integers, doubles).
std::optional<nlohmann::json> parse_json_object(std::string_view text);

// ---- key files -----------------------------------------------------------------

// KeyFile: the keys of a key file, in file order.
struct KeyFile {
  std::vector<Key> keys;
  std::vector<SkippedKey> skipped;  // members of a JWK set that were refused
  bool is_set = false;
};

// load_key_file reads a JWK, a JWK set, a PEM key or a PEM certificate ("-": stdin).
// cli-contract rule 1: unreadable, or not JSON/PEM at all, is a usage error (exit 2);
// a key that parses but is refused is key_unusable (exit 1), as is a JWK set none of
// whose members could be loaded.
KeyFile load_key_file(const std::string& path);

// ---- commands ------------------------------------------------------------------

int run_keygen(const std::vector<std::string>& args);
int run_pubkey(const std::vector<std::string>& args);
int run_sign(const std::vector<std::string>& args);
int run_verify(const std::vector<std::string>& args);
int run_inspect(const std::vector<std::string>& args);
int run_introspect(const std::vector<std::string>& args);

// Options verify and introspect share: --now (seconds since the epoch, fractions
// allowed), --scope (repeatable; a space-separated value names several), --leeway (0 to
// 600, default 0), --timeout (cli-contract rule 18: 1 to 3600, default 10 s).
std::chrono::system_clock::time_point parse_now(const std::string& text);
std::vector<std::string> parse_scopes(const Args& args);
std::chrono::seconds parse_leeway(const Args& args);
std::chrono::milliseconds parse_timeout(const Args& args);

// write_out writes `bytes` to stdout exactly; a write failure is a usage error.
void write_out(std::string_view bytes);

}  // namespace tokenpass::cli

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include "cli.h"
#include "tokenpass/jws.h"
#include "tokenpass/verifier.h"

namespace tokenpass::cli {

using json = nlohmann::json;

// ---- errors --------------------------------------------------------------------

void usage_error(std::string message) { throw UsageError(std::move(message)); }

void fail(Error error) {
  if (error.detail.empty()) error.detail = "rejected";
  if (static_cast<int>(error.code) < 100) throw Rejected(std::move(error));
  // Library-only codes (key_source_unavailable, invalid_request, no_token) are not
  // verdicts on the token: exit 2, and no `error: CODE:` line.
  std::string what(to_string(error.code));
  for (char& c : what) {
    if (c == '_') c = ' ';
  }
  throw UsageError(what + ": " + error.detail);
}

int report(const std::exception& e) {
  if (const auto* r = dynamic_cast<const Rejected*>(&e)) {
    std::cerr << "error: " << to_string(r->error().code) << ": " << r->error().detail << '\n';
    return kExitRejected;
  }
  if (dynamic_cast<const UsageError*>(&e) != nullptr) {
    std::cerr << "error: " << e.what() << '\n';
    return kExitUsage;
  }
  std::cerr << "error: internal error (" << e.what() << ")\n";
  return kExitUsage;
}

void write_out(std::string_view bytes) {
  std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::cout.flush();
  if (!std::cout) usage_error("cannot write to standard output");
}

// ---- arguments -----------------------------------------------------------------

Args Args::parse(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs,
                 std::size_t max_positionals) {
  Args out;
  // Help wins over every other mistake on the line.
  for (const auto& a : argv) {
    if (a == "--") break;
    if (a == "-h" || a == "--help") {
      out.help_ = true;
      return out;
    }
  }
  bool options_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a == "-" || a.empty() || a[0] != '-') {
      out.positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> value;
    if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) usage_error("unknown option " + name + " (see --help)");
    if (spec->takes_value && !value) {
      if (i + 1 >= argv.size()) usage_error(name + " needs a value");
      value = argv[++i];
    }
    if (!spec->takes_value && value) usage_error(name + " takes no value");
    if (!spec->repeatable && out.has(name)) usage_error(name + " given more than once");
    out.options_.emplace_back(name, value.value_or(std::string()));
  }
  // Security: never echo a stray argument; it may be a token.
  if (out.positionals_.size() > max_positionals) usage_error("too many arguments (see --help)");
  return out;
}

bool Args::has(std::string_view name) const {
  for (const auto& o : options_) {
    if (o.first == name) return true;
  }
  return false;
}

std::optional<std::string> Args::get(std::string_view name) const {
  for (const auto& o : options_) {
    if (o.first == name) return o.second;
  }
  return std::nullopt;
}

std::vector<std::string> Args::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& o : options_) {
    if (o.first == name) out.push_back(o.second);
  }
  return out;
}

std::optional<std::string> Args::positional(std::size_t i) const {
  if (i < positionals_.size()) return positionals_[i];
  return std::nullopt;
}

std::int64_t parse_int(std::string_view option, const std::string& text, std::int64_t min,
                       std::int64_t max) {
  std::int64_t v = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  const auto [ptr, ec] = std::from_chars(first, last, v);
  if (text.empty() || ec != std::errc() || ptr != last) {
    usage_error(std::string(option) + " needs an integer");
  }
  if (v < min || v > max) {
    usage_error(std::string(option) + " must be between " + std::to_string(min) + " and " +
                std::to_string(max));
  }
  return v;
}

Alg parse_alg(std::string_view option, const std::string& text) {
  const auto alg = alg_from_string(text);
  // cli-contract rule 3: `--alg none` (any case) or an unknown name is exit 2.
  if (!alg) usage_error(std::string(option) + ": not a supported JWS algorithm");
  return *alg;
}

// ---- input ---------------------------------------------------------------------

std::string read_stdin() {
  std::string out{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  if (std::cin.bad()) usage_error("cannot read standard input");
  return out;
}

std::string read_file(const std::string& path, std::string_view what) {
  if (path == "-") return read_stdin();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    usage_error("cannot read " + std::string(what) + " '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) usage_error("cannot read " + std::string(what) + " '" + path + "'");
  return buf.str();
}

std::string token_argument(const std::optional<std::string>& arg) {
  if (!arg || *arg == "-") return read_stdin();
  return *arg;
}

std::optional<json> parse_json_object(std::string_view text) {
  // nlohmann keeps the last of repeated names; refuse them instead, as the verifier
  // does (cli-contract rule 8). One set of names per open object.
  std::vector<std::set<std::string>> open;
  bool duplicate = false;
  const json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      default:
        break;
    }
    return true;
  };
  // nlohmann reads a NUL byte as the end of the input; JSON has no place for one.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded() || duplicate || !j.is_object()) return std::nullopt;
  return j;
}

// ---- key files -----------------------------------------------------------------

namespace {

[[noreturn]] void key_unusable(std::string detail) { fail(make_error(errc::key_unusable, detail)); }

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

KeyFile load_key_file(const std::string& path) {
  const std::string text = read_file(path, "key file");
  const std::string_view body = trim(text);
  KeyFile out;
  if (!body.empty() && body.front() == '{') {
    const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    // nlohmann reads a NUL byte as the end of the input; JSON has no place for one.
    if (doc.is_discarded() || body.find('\0') != std::string_view::npos) usage_error("key file '" + path + "' is not valid JSON");
    // The library parses the text again, strictly (duplicates, limits): anything it
    // refuses in what is JSON is a refused key, not an unreadable file.
    if (doc.contains("keys")) {
      out.is_set = true;
      auto set = KeySet::from_jwks(body);
      if (!set) key_unusable("JWK set refused: " + set.error().detail);
      out.keys = set->keys();
      out.skipped = set->skipped();
      if (out.keys.empty()) {
        key_unusable(out.skipped.empty()
                         ? std::string("the JWK set holds no keys")
                         : "no key of the JWK set is usable: " + out.skipped.front().error.detail);
      }
      return out;
    }
    auto key = Key::from_jwk(body);
    if (!key) key_unusable(key.error().detail);
    out.keys.push_back(std::move(*key));
    return out;
  }
  if (body.find("-----BEGIN ") != std::string_view::npos) {
    auto key = Key::from_pem(body);
    if (!key) {
      if (key.error().code == errc::key_unusable) fail(key.error());
      usage_error("key file '" + path + "' holds no readable PEM key or certificate");
    }
    out.keys.push_back(std::move(*key));
    return out;
  }
  usage_error("key file '" + path + "' is neither a JWK, a JWK set nor PEM");
}

// ---- options verify and introspect share ------------------------------------------

std::chrono::system_clock::time_point parse_now(const std::string& text) {
  char* end = nullptr;
  const double t = text.empty() ? -1 : std::strtod(text.c_str(), &end);
  // The clock is a nanosecond time_point: it ends in 2262.
  const double max =
      std::chrono::duration<double>(std::chrono::system_clock::duration::max()).count() / 2;
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(t) || t < 0 || t > max) {
    usage_error("--now needs a time in seconds since the epoch");
  }
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(t)));
}

std::vector<std::string> parse_scopes(const Args& args) {
  std::vector<std::string> out;
  for (const auto& s : args.all("--scope")) {
    // A space-separated list names several scopes, as in the `scope` claim.
    std::size_t i = 0;
    while (i <= s.size()) {
      const std::size_t j = std::min(s.find(' ', i), s.size());
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j + 1;
    }
    if (s.find_first_not_of(' ') == std::string::npos) usage_error("--scope is empty");
  }
  return out;
}

std::chrono::seconds parse_leeway(const Args& args) {
  const auto v = args.get("--leeway");
  return std::chrono::seconds(v ? parse_int("--leeway", *v, 0, kMaxLeeway.count()) : 0);
}

std::chrono::milliseconds parse_timeout(const Args& args) {
  const auto t = args.get("--timeout");
  return std::chrono::seconds(t ? parse_int("--timeout", *t, 1, 3600) : 10);
}

}  // namespace tokenpass::cli

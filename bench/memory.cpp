// Memory over many verifies: verifies N tokens and prints, ten times along the way,
// the process's resident set (VmRSS) and the bytes malloc holds in use (mallinfo2),
// which a leak would make grow.
//   tokenpass_memory ALG N [--cache] [--distinct=K] [--json]
//     --cache       Policy::cache on (10 000 entries, 16 MiB)
//     --distinct=K  cycle through K different tokens (default 1); with --cache and K
//                   above the cache's size, every verify also inserts and evicts
//     --json        also build each verified token's header and claims JSON
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tokenpass/tokenpass.h"

namespace {

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ALG N [--cache] [--distinct=K] [--json]\n", argv[0]);
    return 2;
  }
  const auto alg = tokenpass::alg_from_string(argv[1]);
  const long n = std::atol(argv[2]);
  bool cache = false;
  bool json = false;
  long distinct = 1;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--cache") == 0) cache = true;
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strncmp(argv[i], "--distinct=", 11) == 0) distinct = std::atol(argv[i] + 11);
  }
  if (!alg || n <= 0 || distinct <= 0) return 2;
  const tokenpass::Key key = tokenpass::Key::generate(*alg);
  const tokenpass::Key pub = key.is_symmetric() ? key : key.public_key().value();
  std::vector<std::string> tokens;
  for (long i = 0; i < distinct; ++i) {
    tokens.push_back(
        tokenpass::sign_jws(
            key, R"({"iss":"https://auth.example.com","sub":"user-4711","aud":"orders-api",)"
                 R"("exp":4102444800,"iat":1700000000,"jti":")" +
                     std::to_string(i) +
                     R"(","client_id":"web-frontend","scope":"orders:read orders:write"})")
            .value());
  }
  tokenpass::Policy p;
  p.issuers = {"https://auth.example.com"};
  p.audiences = {"orders-api"};
  p.required_scopes = {"orders:read"};
  if (cache) p.cache.max_entries = 10000;
  const tokenpass::Verifier verifier(tokenpass::KeySet({pub}), p);

  std::printf("%-12s %10s %14s %10s %12s\n", "verifies", "rss KiB", "malloc in use", "cache",
              "cache bytes");
  const long step = n / 10 > 0 ? n / 10 : 1;
  std::size_t sink = 0;
  for (long i = 0; i < n; ++i) {
    auto r = verifier.verify(tokens[static_cast<std::size_t>(i % distinct)]);
    if (!r) {
      std::fprintf(stderr, "verify failed: %s\n", r.error().detail.c_str());
      return 1;
    }
    if (json) sink += r->header().size() + r->claims().json().size();
    if ((i + 1) % step == 0 || i == 0) {
      const auto stats = verifier.cache_stats();
      std::printf("%-12ld %10ld %14zu %10zu %12zu\n", i + 1, rss_kib(), mallinfo2().uordblks,
                  stats.entries, stats.bytes);
      std::fflush(stdout);
    }
  }
  return sink == 1 ? 1 : 0;
}

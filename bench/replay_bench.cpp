// Single-use tokens: ES256 verify plain, with a MemoryReplayStore, and with a
// RedisReplayStore on loopback, in the same run, alternating in short rounds so that
// machine noise hits all alike; with 1 and 4 threads. Every verify uses a token not seen
// before (a fresh jti), as single use requires. Prints ops/s, the median ratio to plain
// verify, and the Redis round trip per check.
//   tokenpass_replay_bench REDIS_URL [--rounds=11] [--time=0.2]
// scripts/replay_bench.sh starts a redis-server and runs it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tokenpass/adapters/redis.h"
#include "tokenpass/tokenpass.h"

namespace {

using Clock = std::chrono::steady_clock;

// Tokens with distinct jtis, made ahead so that issuing is not measured.
std::vector<std::string> make_tokens(const tokenpass::Key& key, std::size_t n, const std::string& tag) {
  tokenpass::Issuer issuer(key, "https://issuer", std::chrono::minutes(10));
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    tokenpass::ClaimsBuilder c;
    c.subject("svc").audience("api").jwt_id(tag + std::to_string(i));
    out.push_back(issuer.issue(c).value());
  }
  return out;
}

// run: verifies for `seconds` on `threads` threads, each through its own slice of
// tokens; returns ops/s.
double run(const tokenpass::Verifier& v, const std::vector<std::string>& tokens,
           std::atomic<std::size_t>& next, int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> ops{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::uint64_t mine = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t i = next.fetch_add(1) % tokens.size();
        if (!v.verify(tokens[i])) failures.fetch_add(1);
        ++mine;
      }
      ops += mine;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failures.load() != 0) std::fprintf(stderr, "warning: %d verifies failed\n", failures.load());
  return static_cast<double>(ops.load()) / elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tokenpass_replay_bench REDIS_URL [--rounds=N] [--time=S]\n");
    return 2;
  }
  int rounds = 11;
  double seconds = 0.2;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--rounds=", 0) == 0) rounds = std::stoi(a.substr(9));
    if (a.rfind("--time=", 0) == 0) seconds = std::stod(a.substr(7));
  }
  auto options = tokenpass::RedisReplayStoreOptions::from_url(argv[1]);
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error().detail.c_str());
    return 2;
  }
  auto redis = tokenpass::RedisReplayStore::connect(*options);
  if (!redis) {
    std::fprintf(stderr, "%s\n", redis.error().detail.c_str());
    return 2;
  }
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::KeySet keys({key.public_key().value()});
  tokenpass::Policy plain_policy;
  plain_policy.issuers = {"https://issuer"};
  plain_policy.audiences = {"api"};
  tokenpass::Policy memory_policy = plain_policy;
  memory_policy.replay_store = std::make_shared<tokenpass::MemoryReplayStore>();
  tokenpass::Policy redis_policy = plain_policy;
  redis_policy.replay_store = *redis;
  const tokenpass::Verifier plain(keys, plain_policy);
  const tokenpass::Verifier memory(keys, memory_policy);
  const tokenpass::Verifier with_redis(keys, redis_policy);

  // Enough distinct tokens that no jti is used twice within a run.
  std::printf("making tokens ...\n");
  const auto plain_tokens = make_tokens(key, 200000, "p");  // as many: the same cache misses
  const auto memory_tokens = make_tokens(key, 200000, "m");
  const auto redis_tokens = make_tokens(key, 200000, "r");
  std::atomic<std::size_t> next_plain{0}, next_memory{0}, next_redis{0};

  std::printf("%-22s %7s %12s %8s\n", "op", "threads", "ops/s", "ratio");
  for (const int threads : {1, 4}) {
    std::vector<double> p, m, r;
    for (int i = 0; i < rounds; ++i) {
      p.push_back(run(plain, plain_tokens, next_plain, threads, seconds));
      m.push_back(run(memory, memory_tokens, next_memory, threads, seconds));
      r.push_back(run(with_redis, redis_tokens, next_redis, threads, seconds));
    }
    std::vector<double> mr, rr;
    for (int i = 0; i < rounds; ++i) {
      mr.push_back(m[i] / p[i]);
      rr.push_back(r[i] / p[i]);
    }
    std::printf("%-22s %7d %12.0f %8s\n", "verify ES256", threads, median(p), "1.00");
    std::printf("%-22s %7d %12.0f %8.2f\n", "+ single use, memory", threads, median(m), median(mr));
    std::printf("%-22s %7d %12.0f %8.2f\n", "+ single use, Redis", threads, median(r), median(rr));
    std::printf("replay: ES256 %d memory_ratio=%.3f redis_ratio=%.3f\n", threads, median(mr), median(rr));
  }
  // The Redis round trip on its own: one SET NX EXAT per call, one thread.
  const auto exp = std::chrono::system_clock::now() + std::chrono::minutes(10);
  const int n = 20000;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) (void)(*redis)->first_use("bench", "rt" + std::to_string(i), exp);
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n;
  std::printf("Redis round trip (SET NX EXAT, 1 thread): %.1f us per check\n", us);
  return 0;
}

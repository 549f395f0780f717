// Throughput of tokenpass beside the raw OpenSSL floor (bench/floor.h), measured in
// the same run, for a typical ~400-byte access token and every algorithm:
//   verify          Verifier::verify with the policy's claim checks, no cache (a token
//                   seen for the first time); floor: the signature check alone
//   verify-cached   Verifier::verify of a token seen before (Policy::cache); floor: the
//                   HS256 signature check (the issue's bar: a hit beats any signature)
//   sign            sign_jws; floor: the signature operation alone
//   issue           (only with --ops) Issuer::issue of an access token's claims (sub,
//                   aud, client_id, scope, built once by the caller; the Issuer adds iss,
//                   iat, exp and a random jti; typ at+jwt); floor: the same token made on
//                   raw OpenSSL (IssueFloor: RAND_bytes, snprintf, base64url, the
//                   signature operation)
//   issue-norand-floor  (only with --ops) the same Issuer::issue; floor: IssueFloor
//                   with a fixed jti, no RAND_bytes (all of the floor above but the
//                   jti's randomness, which the Issuer still pays for)
//   verify-observed (only with --ops) verify as above with Policy::observer set to a
//                   tokenpass::PrometheusMetrics; floor: the signature check. Then the
//                   observer's cost itself: verify with the observer against verify
//                   without one (the plain `verify` Verifier), alternating in rounds
//                   the same way, printed as
//                     bench: observer ALG THREADS with/without=R cpu=R
//   verify-miss     (only with --ops) Verifier::verify with Policy::cache on, of tokens
//                   it has not kept (256 tokens through a 64-entry cache): a first
//                   sight that also pays for the cache; floor: the signature check
//   verify-remote   (only with --ops) verify as above with the keys from a RemoteJwks
//                   (fetched once from an in-process HttpClient, then read per verify
//                   as a service reads its issuer's keys); floor: the signature check
// each with 1 and 2 threads. Floor and tokenpass alternate in short rounds, so that
// the machine's noise (other builds, frequency changes) hits both alike; a ratio is
// the median over the rounds of tokenpass ops/s / floor ops/s (1.00: no overhead).
// Throughput is wall-clock: for N threads, the sum over threads of ops / elapsed.
// Besides the table, one line per measurement, for scripts:
//   bench: OP ALG THREADS tokenpass=OPS/s floor=OPS/s ratio=R
//
//   tokenpass_bench [--algs=HS256,RS256] [--ops=verify,verify-observed,sign,issue]
//                   [--threads=1,2] [--rounds=31] [--time=0.05]
//   tokenpass_bench --gbench [Google Benchmark flags]   per-call latency, one thread
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "floor.h"
#include "tokenpass/tokenpass.h"

namespace {

using tokenpass::Alg;
using tokenpass_bench::Floor;
using tokenpass_bench::IssueFloor;

std::string claims_json(int n = 0) {
  return R"({"iss":"https://auth.example.com","sub":"user-4711","aud":"orders-api",)"
         R"("exp":4102444800,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a)" +
         std::to_string(100 + n) +
         R"(","client_id":"web-frontend","scope":"orders:read orders:write"})";
}

constexpr int kMaxThreads = 8;

// Fixture: one algorithm's keys, tokens, verifiers and floors.
struct Fixture {
  Alg alg;
  tokenpass::Key key;
  tokenpass::Key verify_key;
  std::vector<std::string> tokens;  // one per thread, same size, different jti
  std::unique_ptr<tokenpass::Verifier> verifier;         // no cache
  std::unique_ptr<tokenpass::Verifier> cached_verifier;  // Policy::cache, tokens seen
  std::unique_ptr<tokenpass::Verifier> small_cache;      // 64 entries, for verify-miss
  std::unique_ptr<tokenpass::Verifier> remote_verifier;  // RemoteJwks, for verify-remote
  std::vector<std::string> pool;                         // 256 tokens, made on first use
  std::unique_ptr<Floor> verify_floor;
  std::unique_ptr<Floor> sign_floor;
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY* pub = nullptr;
  // For issue, made on first use (prepare_issue).
  std::unique_ptr<tokenpass::Issuer> issuer{};
  tokenpass::ClaimsBuilder issue_claims{};
  std::unique_ptr<IssueFloor> issue_floor{};
  std::unique_ptr<IssueFloor> issue_norand_floor{};  // a fixed jti: no RAND_bytes
  // For verify-observed, made on first use (observed_verifier).
  std::unique_ptr<tokenpass::Verifier> observed_verifier{};
  std::shared_ptr<tokenpass::PrometheusMetrics> metrics{};
};

// Keys are made once per type: RS* and PS* share an RSA key, as a real issuer might.
tokenpass::Key key_for(Alg alg) {
  static std::map<int, tokenpass::Key> made;
  int slot = static_cast<int>(alg);
  if (alg == Alg::RS384 || alg == Alg::RS512 || alg == Alg::PS256 || alg == Alg::PS384 ||
      alg == Alg::PS512) {
    slot = static_cast<int>(Alg::RS256);
  }
  auto it = made.find(slot);
  if (it == made.end()) {
    const Alg gen = slot == static_cast<int>(Alg::RS256) ? Alg::RS256 : alg;
    it = made.emplace(slot, tokenpass::Key::generate(gen)).first;
  }
  return it->second.with_alg(alg).value();
}

tokenpass::Policy policy() {
  tokenpass::Policy p;
  p.issuers = {"https://auth.example.com"};
  p.audiences = {"orders-api"};
  p.required_scopes = {"orders:read"};
  return p;
}

Fixture& fixture(Alg alg) {
  static std::map<Alg, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[alg];
  if (slot) return *slot;
  auto f = std::make_unique<Fixture>(
      Fixture{alg, key_for(alg), key_for(alg), {}, {}, {}, {}, {}, {}, nullptr, nullptr});
  f->verify_key = f->key.is_symmetric() ? f->key : f->key.public_key().value();
  for (int t = 0; t < kMaxThreads; ++t) {
    f->tokens.push_back(tokenpass::sign_jws(f->key, claims_json(t)).value());
  }
  const tokenpass::KeySet keys({f->verify_key});
  f->verifier = std::make_unique<tokenpass::Verifier>(keys, policy());
  tokenpass::Policy cached = policy();
  cached.cache.max_entries = 10000;
  f->cached_verifier = std::make_unique<tokenpass::Verifier>(keys, cached);
  cached.cache.max_entries = 64;
  f->small_cache = std::make_unique<tokenpass::Verifier>(keys, cached);
  for (const auto& t : f->tokens) {
    if (!f->verifier->verify(t) || !f->cached_verifier->verify(t)) {
      throw std::runtime_error("bench: a token does not verify");
    }
  }
  std::string secret;
  if (f->key.is_symmetric()) {
    secret =
        tokenpass_bench::b64url_decode(f->key.to_private_jwk()["k"].get<std::string>());
  } else {
    f->pkey = tokenpass_bench::pkey_from_pem(f->key.to_private_pem(), true);
    f->pub = tokenpass_bench::pkey_from_pem(f->verify_key.to_public_pem(), false);
  }
  const std::string& token = f->tokens[0];
  const std::string input = token.substr(0, token.rfind('.'));
  const std::string sig = tokenpass_bench::b64url_decode(token.substr(token.rfind('.') + 1));
  f->verify_floor = std::make_unique<Floor>(alg, f->pub, secret, false, input, sig);
  f->sign_floor = std::make_unique<Floor>(alg, f->pkey, secret, true, input, sig);
  slot = std::move(f);
  return *slot;
}

// prepare_issue: an Issuer as a token service has one (typ at+jwt, 5 minutes, a random
// jti) and the claims the caller sets for a token; the floor makes the same token, with
// the same header, claims and key. Both must make tokens of the same size that the
// Verifier accepts.
void prepare_issue(Fixture& f) {
  if (f.issuer) return;
  tokenpass::IssuerOptions io;
  io.typ = "at+jwt";
  f.issuer = std::make_unique<tokenpass::Issuer>(f.key, "https://auth.example.com",
                                                 std::chrono::minutes(5), io);
  f.issue_claims.subject("user-4711")
      .audience("orders-api")
      .client_id("web-frontend")
      .scopes({"orders:read", "orders:write"});
  const std::string header = R"({"alg":")" + std::string(tokenpass::to_string(f.alg)) +
                             R"(","kid":")" + f.key.kid() + R"(","typ":"at+jwt"})";
  const IssueFloor::Claims claims{"orders-api", "web-frontend", "orders:read orders:write",
                                  "user-4711", "https://auth.example.com", 300};
  f.issue_floor = std::make_unique<IssueFloor>(*f.sign_floor, f.alg, header, claims);
  f.issue_norand_floor =
      std::make_unique<IssueFloor>(*f.sign_floor, f.alg, header, claims, /*random_jti=*/false);
  const std::string ours = f.issuer->issue(f.issue_claims).value();
  for (const std::string& floor : {f.issue_floor->once(), f.issue_norand_floor->once()}) {
    if (ours.size() != floor.size() || !f.verifier->verify(ours) || !f.verifier->verify(floor)) {
      throw std::runtime_error("bench: the issued tokens differ in size or do not verify");
    }
  }
}

// observed_verifier: the plain Verifier's keys and policy, with a PrometheusMetrics as
// the observer (a service's /metrics).
tokenpass::Verifier& observed_verifier(Fixture& f) {
  if (!f.observed_verifier) {
    f.metrics = std::make_shared<tokenpass::PrometheusMetrics>();
    tokenpass::Policy p = policy();
    p.observer = f.metrics;
    f.observed_verifier =
        std::make_unique<tokenpass::Verifier>(tokenpass::KeySet({f.verify_key}), p);
    for (const auto& t : f.tokens) {
      if (!f.observed_verifier->verify(t)) {
        throw std::runtime_error("bench: a token does not verify");
      }
    }
    if (f.metrics->render().find("tokenpass_verify_total") == std::string::npos) {
      throw std::runtime_error("bench: the observer heard nothing");
    }
  }
  return *f.observed_verifier;
}

// JwksClient: an HttpClient that answers every request with one JWK set.
class JwksClient final : public tokenpass::HttpClient {
 public:
  explicit JwksClient(std::string body) : body_(std::move(body)) {}
  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest&) override {
    tokenpass::HttpResponse res;
    res.status = 200;
    res.headers.emplace_back("Cache-Control", "max-age=3600");
    res.body = body_;
    return res;
  }

 private:
  std::string body_;
};

tokenpass::Verifier& remote_verifier(Fixture& f) {
  if (!f.remote_verifier) {
    const nlohmann::json jwk =
        f.key.is_symmetric() ? f.key.to_private_jwk() : f.verify_key.to_public_jwk();
    tokenpass::RemoteJwksOptions opt;
    opt.url = "https://auth.example.com/jwks.json";
    auto jwks = std::make_shared<tokenpass::RemoteJwks>(
        opt, std::make_shared<JwksClient>(nlohmann::json{{"keys", {jwk}}}.dump()));
    if (!jwks->prefetch()) throw std::runtime_error("bench: the JWK set did not load");
    f.remote_verifier = std::make_unique<tokenpass::Verifier>(jwks, policy());
    for (const auto& t : f.tokens) {
      if (!f.remote_verifier->verify(t)) throw std::runtime_error("bench: a token does not verify");
    }
  }
  return *f.remote_verifier;
}

// ---- the interleaved throughput runs -----------------------------------------

using Op = std::function<bool(int thread)>;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Rate {
  double wall = 0;  // ops/s: sum over threads of ops / wall-clock seconds
  double cpu = 0;   // ops/s: sum over threads of ops / thread CPU seconds
};

// run: `threads` threads call `op` for about `seconds`.
Rate run(const Op& op, int threads, double seconds) {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<double> wall(static_cast<std::size_t>(threads));
  std::vector<double> cpu(static_cast<std::size_t>(threads));
  std::vector<long> count(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const auto w0 = std::chrono::steady_clock::now();
      const double c0 = thread_cpu_seconds();
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t)) failures.fetch_add(1, std::memory_order_relaxed);
        ++n;
      }
      cpu[static_cast<std::size_t>(t)] = thread_cpu_seconds() - c0;
      wall[static_cast<std::size_t>(t)] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
      count[static_cast<std::size_t>(t)] = n;
    });
  }
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& th : pool) th.join();
  if (failures.load() != 0) throw std::runtime_error("bench: an operation failed");
  Rate r;
  for (std::size_t t = 0; t < pool.size(); ++t) {
    r.wall += static_cast<double>(count[t]) / wall[t];
    r.cpu += static_cast<double>(count[t]) / std::max(cpu[t], 1e-9);
  }
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Result {
  std::string op;
  Alg alg;
  int threads;
  double tokenpass = 0;  // median ops/s (wall)
  double floor = 0;
  double ratio = 0;      // median of per-round tokenpass / floor
  double ratio_cpu = 0;  // the same from CPU time
  double tokenpass_cpu = 0;  // median ops per CPU-second, summed over threads
  double floor_cpu = 0;
};

Result measure(const std::string& op_name, Alg alg, int threads, const Op& tp, const Op& floor,
               int rounds, double seconds) {
  std::vector<double> tp_rates;
  std::vector<double> floor_rates;
  std::vector<double> ratios;
  std::vector<double> cpu_ratios;
  std::vector<double> tp_cpu;
  std::vector<double> floor_cpu;
  run(tp, threads, std::max(seconds / 4, 0.05));  // warm-up: caches, contexts, page faults
  run(floor, threads, std::max(seconds / 4, 0.05));
  for (int r = 0; r < rounds; ++r) {
    // Alternate which goes first, so that neither always follows the other.
    Rate a;
    Rate b;
    if (r % 2 == 0) {
      a = run(tp, threads, seconds);
      b = run(floor, threads, seconds);
    } else {
      b = run(floor, threads, seconds);
      a = run(tp, threads, seconds);
    }
    tp_rates.push_back(a.wall);
    floor_rates.push_back(b.wall);
    ratios.push_back(a.wall / b.wall);
    cpu_ratios.push_back(a.cpu / b.cpu);
    tp_cpu.push_back(a.cpu);
    floor_cpu.push_back(b.cpu);
  }
  return Result{op_name,          alg,
                threads,          median(tp_rates),
                median(floor_rates), median(ratios),
                median(cpu_ratios), median(tp_cpu),
                median(floor_cpu)};
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// ---- Google Benchmark mode (--gbench): per-call latency ------------------------

void BM_floor_verify(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) benchmark::DoNotOptimize(f.verify_floor->once());
}
void BM_verify(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) benchmark::DoNotOptimize(f.verifier->verify(f.tokens[0]));
}
void BM_verify_observed(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  const tokenpass::Verifier& v = observed_verifier(f);
  for (auto _ : st) benchmark::DoNotOptimize(v.verify(f.tokens[0]));
}
void BM_verify_cached(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) benchmark::DoNotOptimize(f.cached_verifier->verify(f.tokens[0]));
}
void BM_verify_jws(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) benchmark::DoNotOptimize(tokenpass::verify_jws(f.tokens[0], f.verify_key));
}
void BM_floor_sign(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  for (auto _ : st) benchmark::DoNotOptimize(f.sign_floor->once());
}
void BM_sign(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  const std::string payload = claims_json();
  for (auto _ : st) benchmark::DoNotOptimize(tokenpass::sign_jws(f.key, payload));
}

void BM_floor_issue(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  prepare_issue(f);
  for (auto _ : st) benchmark::DoNotOptimize(f.issue_floor->once());
}
void BM_floor_issue_norand(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  prepare_issue(f);
  for (auto _ : st) benchmark::DoNotOptimize(f.issue_norand_floor->once());
}
void BM_issue(benchmark::State& st, Alg alg) {
  Fixture& f = fixture(alg);
  prepare_issue(f);
  for (auto _ : st) benchmark::DoNotOptimize(f.issuer->issue(f.issue_claims));
}

int gbench(int argc, char** argv, const std::vector<Alg>& algs) {
  for (const Alg alg : algs) {
    const std::string a(tokenpass::to_string(alg));
    benchmark::RegisterBenchmark(("floor_verify/" + a).c_str(), BM_floor_verify, alg);
    benchmark::RegisterBenchmark(("verify/" + a).c_str(), BM_verify, alg);
    benchmark::RegisterBenchmark(("verify_observed/" + a).c_str(), BM_verify_observed, alg);
    benchmark::RegisterBenchmark(("verify_cached/" + a).c_str(), BM_verify_cached, alg);
    benchmark::RegisterBenchmark(("verify_jws/" + a).c_str(), BM_verify_jws, alg);
    benchmark::RegisterBenchmark(("floor_sign/" + a).c_str(), BM_floor_sign, alg);
    benchmark::RegisterBenchmark(("sign/" + a).c_str(), BM_sign, alg);
    benchmark::RegisterBenchmark(("floor_issue/" + a).c_str(), BM_floor_issue, alg);
    benchmark::RegisterBenchmark(("floor_issue_norand/" + a).c_str(), BM_floor_issue_norand,
                                 alg);
    benchmark::RegisterBenchmark(("issue/" + a).c_str(), BM_issue, alg);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Alg> algs = tokenpass::all_algs();
  std::vector<std::string> ops = {"verify", "verify-cached", "sign"};
  std::vector<int> thread_counts = {1, 2};
  int rounds = 31;
  double seconds = 0.05;
  bool use_gbench = false;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&](const char* name) -> std::string {
      return a.rfind(name, 0) == 0 ? a.substr(std::strlen(name)) : std::string();
    };
    if (a == "--gbench") {
      use_gbench = true;
    } else if (!value("--algs=").empty()) {
      algs.clear();
      for (const auto& n : split_list(value("--algs="))) {
        const auto alg = tokenpass::alg_from_string(n);
        if (!alg) {
          std::fprintf(stderr, "unknown algorithm %s\n", n.c_str());
          return 2;
        }
        algs.push_back(*alg);
      }
    } else if (!value("--ops=").empty()) {
      ops = split_list(value("--ops="));
    } else if (!value("--threads=").empty()) {
      thread_counts.clear();
      for (const auto& n : split_list(value("--threads="))) {
        thread_counts.push_back(std::min(std::max(std::stoi(n), 1), kMaxThreads));
      }
    } else if (!value("--rounds=").empty()) {
      rounds = std::max(1, std::stoi(value("--rounds=")));
    } else if (!value("--time=").empty()) {
      seconds = std::stod(value("--time="));
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (use_gbench) return gbench(static_cast<int>(rest.size()), rest.data(), algs);

  Fixture& hs256 = fixture(Alg::HS256);  // the floor of verify-cached
  std::printf("tokenpass bench: %d rounds of %.2f s per side; token %zu bytes (HS256) to %zu "
              "(RS256); OpenSSL %s\n",
              rounds, seconds, hs256.tokens[0].size(), fixture(Alg::RS256).tokens[0].size(),
              OpenSSL_version(OPENSSL_VERSION));
  std::fflush(stdout);

  std::vector<Result> results;
  std::vector<Result> observer_results;  // verify with an observer / without
  const std::string payload = claims_json();
  for (const Alg alg : algs) {
    Fixture& f = fixture(alg);
    for (const std::string& op : ops) {
      for (const int threads : thread_counts) {
        Op tp;
        Op floor;
        if (op == "verify") {
          tp = [&f](int t) {
            return static_cast<bool>(f.verifier->verify(f.tokens[static_cast<std::size_t>(t)]));
          };
          floor = [&f](int) { return f.verify_floor->once(); };
        } else if (op == "verify-observed") {
          tokenpass::Verifier& v = observed_verifier(f);
          tp = [&f, &v](int t) {
            return static_cast<bool>(v.verify(f.tokens[static_cast<std::size_t>(t)]));
          };
          floor = [&f](int) { return f.verify_floor->once(); };
        } else if (op == "verify-cached") {
          // Each thread presents its own token, as different users' requests do.
          tp = [&f](int t) {
            return static_cast<bool>(
                f.cached_verifier->verify(f.tokens[static_cast<std::size_t>(t)]));
          };
          floor = [&hs256](int) { return hs256.verify_floor->once(); };
        } else if (op == "verify-miss") {
          if (f.pool.empty()) {
            for (int i = 0; i < 256; ++i) {
              f.pool.push_back(tokenpass::sign_jws(f.key, claims_json(1000 + i)).value());
            }
          }
          // Each thread walks the pool from its own place; 256 tokens through 64
          // entries (LRU) means none is found.
          tp = [&f](int t) {
            thread_local std::size_t next = 0;
            const std::string& token = f.pool[(next++ + static_cast<std::size_t>(t) * 128) % 256];
            return static_cast<bool>(f.small_cache->verify(token));
          };
          floor = [&f](int) { return f.verify_floor->once(); };
        } else if (op == "verify-remote") {
          tokenpass::Verifier& v = remote_verifier(f);
          tp = [&f, &v](int t) {
            return static_cast<bool>(v.verify(f.tokens[static_cast<std::size_t>(t)]));
          };
          floor = [&f](int) { return f.verify_floor->once(); };
        } else if (op == "sign") {
          tp = [&f, &payload](int) {
            return static_cast<bool>(tokenpass::sign_jws(f.key, payload));
          };
          floor = [&f](int) { return f.sign_floor->once(); };
        } else if (op == "issue") {
          prepare_issue(f);
          tp = [&f](int) { return static_cast<bool>(f.issuer->issue(f.issue_claims)); };
          floor = [&f](int) { return !f.issue_floor->once().empty(); };
        } else if (op == "issue-norand-floor") {
          prepare_issue(f);
          tp = [&f](int) { return static_cast<bool>(f.issuer->issue(f.issue_claims)); };
          floor = [&f](int) { return !f.issue_norand_floor->once().empty(); };
        } else {
          std::fprintf(stderr, "unknown op %s\n", op.c_str());
          return 2;
        }
        results.push_back(measure(op, alg, threads, tp, floor, rounds, seconds));
        const Result& r = results.back();
        std::printf("bench: %s %s %d tokenpass=%.0f/s floor=%.0f/s ratio=%.2f\n", r.op.c_str(),
                    std::string(tokenpass::to_string(r.alg)).c_str(), r.threads, r.tokenpass,
                    r.floor, r.ratio);
        std::fflush(stdout);
        if (op == "verify-observed") {
          // The observer's own cost: the same verify with and without it, head to head.
          const Op without = [&f](int t) {
            return static_cast<bool>(f.verifier->verify(f.tokens[static_cast<std::size_t>(t)]));
          };
          observer_results.push_back(
              measure("observer", alg, threads, tp, without, rounds, seconds));
          const Result& o = observer_results.back();
          std::printf("bench: observer %s %d with/without=%.3f cpu=%.3f\n",
                      std::string(tokenpass::to_string(o.alg)).c_str(), o.threads, o.ratio,
                      o.ratio_cpu);
          std::fflush(stdout);
        }
      }
    }
  }

  std::printf("\n%-18s %-8s %3s %14s %14s %7s %9s\n", "op", "alg", "thr", "tokenpass/s",
              "floor/s", "ratio", "ratio-cpu");
  for (const Result& r : results) {
    std::printf("%-18s %-8s %3d %14.0f %14.0f %7.2f %9.2f\n", r.op.c_str(),
                std::string(tokenpass::to_string(r.alg)).c_str(), r.threads, r.tokenpass, r.floor,
                r.ratio, r.ratio_cpu);
  }
  if (!observer_results.empty()) {
    std::printf("\nobserver cost: verify with a PrometheusMetrics observer / without one\n");
    std::printf("%-8s %3s %14s %14s %12s %9s\n", "alg", "thr", "with/s", "without/s",
                "with/without", "cpu");
    for (const Result& o : observer_results) {
      std::printf("%-8s %3d %14.0f %14.0f %12.3f %9.3f\n",
                  std::string(tokenpass::to_string(o.alg)).c_str(), o.threads, o.tokenpass,
                  o.floor, o.ratio, o.ratio_cpu);
    }
  }
  // Scaling: throughput with the most threads over throughput with one.
  if (thread_counts.size() > 1) {
    const int lo = thread_counts.front();
    const int hi = thread_counts.back();
    // Wall-clock scaling needs the cores free of other work; the floor beside it shows
    // what the machine gave. CPU-time scaling (ops per CPU-second, summed over threads)
    // leaves out time the threads were not running: below the thread count, it shows
    // threads slowing each other (shared cache lines), whatever else runs.
    std::printf("\nscaling %d -> %d threads: wall-clock (tokenpass, floor) and CPU-time "
                "(tokenpass, floor)\n", lo, hi);
    for (const Result& a : results) {
      if (a.threads != lo) continue;
      for (const Result& b : results) {
        if (b.threads == hi && b.op == a.op && b.alg == a.alg) {
          std::printf("%-18s %-8s wall %.2fx %.2fx   cpu %.2fx %.2fx\n", a.op.c_str(),
                      std::string(tokenpass::to_string(a.alg)).c_str(), b.tokenpass / a.tokenpass,
                      b.floor / a.floor, b.tokenpass_cpu / a.tokenpass_cpu,
                      b.floor_cpu / a.floor_cpu);
        }
      }
    }
  }
  return 0;
}

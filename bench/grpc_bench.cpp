// A unary gRPC call with token verification beside the same call without it, same run,
// same process: two servers on 127.0.0.1 serving shop.v1.Products/Get, one plain, one
// behind tokenpass::GrpcAuth (ES256 user token in `authorization`, a scope for the
// method). Clients on `threads` threads call each server in turn for `time` seconds per
// round, `rounds` rounds alternating; the medians are reported as calls/s, mean latency,
// the latency verification adds and the throughput ratio (verified / plain), and the
// cost of Verifier::verify alone for the same token.
//   tokenpass_grpc_bench [--threads=N] [--time=SECONDS] [--rounds=N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "shop.grpc.pb.h"
#include "tokenpass/adapters/grpc.h"
#include "tokenpass/issuer.h"

namespace {

using Clock = std::chrono::steady_clock;

class Products final : public shop::v1::Products::Service {
 public:
  explicit Products(std::shared_ptr<const tokenpass::GrpcAuth> auth) : auth_(std::move(auth)) {}
  grpc::Status Get(grpc::ServerContext* ctx, const shop::v1::GetProductRequest* req,
                   shop::v1::Product* resp) override {
    const auto answer = [&](const std::string& user) {
      resp->set_sku(req->sku());
      resp->set_name("product");
      resp->set_price_cents(1299);
      resp->set_user(user);
      return grpc::Status::OK;
    };
    if (!auth_) return answer("");
    return auth_->guard(ctx, [&](const tokenpass::RequestContext& who) {
      return answer(who.user()->claims().subject().value_or(""));
    });
  }

 private:
  std::shared_ptr<const tokenpass::GrpcAuth> auth_;
};

struct Served {
  std::unique_ptr<Products> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

Served serve(std::shared_ptr<const tokenpass::GrpcAuth> auth) {
  Served s;
  s.service = std::make_unique<Products>(auth);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &s.port);
  builder.RegisterService(s.service.get());
  if (auth) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(auth->interceptor());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  s.server = builder.BuildAndStart();
  if (!s.server) std::abort();
  return s;
}

struct Round {
  double calls_per_s = 0;
  double mean_us = 0;
  long failures = 0;
};

Round run(int port, const std::string& token, int threads, double seconds) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = shop::v1::Products::NewStub(channel);
  std::atomic<long> calls{0}, failures{0};
  std::atomic<long long> busy_ns{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      long n = 0, bad = 0;
      long long ns = 0;
      shop::v1::GetProductRequest req;
      req.set_sku("sku-1");
      while (Clock::now() < end) {
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization", "Bearer " + token);
        shop::v1::Product resp;
        const auto t0 = Clock::now();
        const grpc::Status status = stub->Get(&ctx, req, &resp);
        ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
        ++n;
        if (!status.ok()) ++bad;
      }
      calls += n;
      failures += bad;
      busy_ns += ns;
    });
  }
  for (auto& th : pool) th.join();
  Round r;
  r.calls_per_s = static_cast<double>(calls.load()) / seconds;
  r.mean_us = calls.load() ? static_cast<double>(busy_ns.load()) / 1000.0 / static_cast<double>(calls.load()) : 0;
  r.failures = failures.load();
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int arg(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind(name + "=", 0) == 0) return std::atoi(a.c_str() + name.size() + 1);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = arg(argc, argv, "--rounds", 3);
  const int seconds = arg(argc, argv, "--time", 3);
  const int threads_max = arg(argc, argv, "--threads", 4);

  const auto key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"product"};
  const tokenpass::Issuer issuer(key, "https://gateway.bench", std::chrono::hours(1), io);
  const std::string token =
      issuer.issue(tokenpass::ClaimsBuilder().subject("alice").scopes({"products:read"})).value();
  tokenpass::Policy policy;
  policy.issuers = {"https://gateway.bench"};
  policy.audiences = {"product"};
  auto verifier =
      std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({key.public_key().value()}), policy);
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr);
  tokenpass::GrpcProtectOptions options;
  options.methods["/shop.v1.Products/Get"].scopes = {"products:read"};
  auto auth = std::make_shared<const tokenpass::GrpcAuth>(resolver, options);

  Served plain = serve(nullptr);
  Served verified = serve(auth);
  std::printf("unary shop.v1.Products/Get on 127.0.0.1 (plaintext), ES256 user token verified on every call\n");
  std::printf("%d rounds of %d s per server, alternating; medians\n", rounds, seconds);
  std::printf("%-8s %14s %12s %14s %12s %12s %10s\n", "threads", "plain call/s", "plain us", "verified call/s",
              "verified us", "added us", "ratio");
  for (int threads = 1; threads <= threads_max; threads *= 2) {
    std::vector<double> p_rate, p_lat, v_rate, v_lat;
    long failures = 0;
    run(plain.port, token, threads, 0.5);  // warm both channels and servers
    run(verified.port, token, threads, 0.5);
    for (int r = 0; r < rounds; ++r) {
      const Round p = run(plain.port, token, threads, seconds);
      const Round v = run(verified.port, token, threads, seconds);
      p_rate.push_back(p.calls_per_s);
      p_lat.push_back(p.mean_us);
      v_rate.push_back(v.calls_per_s);
      v_lat.push_back(v.mean_us);
      failures += p.failures + v.failures;
    }
    std::printf("%-8d %14.0f %12.1f %14.0f %12.1f %12.1f %10.3f%s\n", threads, median(p_rate), median(p_lat),
                median(v_rate), median(v_lat), median(v_lat) - median(p_lat), median(v_rate) / median(p_rate),
                failures ? "  (calls failed!)" : "");
  }
  // The verify alone, same token, same run: what of the added latency is the signature
  // and claims check, and what is the interceptor's (metadata, the call's record).
  const int verifies = 2000;
  const auto t0 = Clock::now();
  for (int i = 0; i < verifies; ++i) {
    if (!verifier->verify(token)) return 1;
  }
  const double verify_us =
      std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(verifies);
  std::printf("Verifier::verify alone (ES256, 1 thread): %.1f us per token\n", verify_us);
  plain.server->Shutdown();
  verified.server->Shutdown();
  return 0;
}

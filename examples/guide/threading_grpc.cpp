// threading_grpc: what a gRPC handler may keep of its call's verified tokens, and for how
// long (docs/guide/threading-and-lifetimes.md). shop.v1.Products (examples/proto) runs on
// 127.0.0.1 behind GrpcAuth's interceptor; Get hands the caller's tokens to a job that
// runs after the call has ended. A client calls it with call_credentials.
#include <tokenpass/adapters/grpc.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "shop.grpc.pb.h"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// Later: jobs run on a thread of their own after the handler that queued them returned.
class Later {
 public:
  void push(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(std::move(job));
  }
  ~Later() {
    for (auto& t : threads_) t.join();
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// Log: what the jobs record, shared with them (a job may outlive the service's handler).
class Log {
 public:
  void record(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(line);
    cv_.notify_all();
  }
  std::vector<std::string> wait_for(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return lines_.size() >= n; });
    return lines_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

class Products final : public shop::v1::Products::Service {
 public:
  Products(std::shared_ptr<const tokenpass::GrpcAuth> auth, Later& later, std::shared_ptr<Log> log)
      : auth_(std::move(auth)), later_(later), log_(std::move(log)) {}

  // [snippet:caller]
  grpc::Status Get(grpc::ServerContext* ctx, const shop::v1::GetProductRequest* req,
                   shop::v1::Product* out) override {
    // caller(ctx) answers from when the call's metadata arrived until the call ends; after
    // that, for this ServerContext, it is internal_error. Ask at the start, keep the result.
    tokenpass::Result<std::shared_ptr<const tokenpass::RequestContext>> who = auth_->caller(ctx);
    if (!who) return tokenpass::grpc_status(who.error());
    std::shared_ptr<const tokenpass::RequestContext> kept = *who;  // shares the call's tokens
    later_.push([kept, sku = req->sku(), log = log_] {  // runs after the call has ended: fine
      log->record(kept->user()->claims().subject().value_or("?") + " looked at " + sku);
    });
    out->set_sku(req->sku());
    out->set_user(kept->user()->claims().subject().value_or(""));
    return grpc::Status::OK;  // never keep `ctx` itself: it is gone with the call
  }
  // [/snippet]

 private:
  std::shared_ptr<const tokenpass::GrpcAuth> auth_;
  Later& later_;
  std::shared_ptr<Log> log_;
};

}  // namespace

int main() {
  using namespace std::chrono_literals;
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"product"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"product"};
  auto users = std::make_shared<const tokenpass::Verifier>(tokenpass::KeySet({signing.public_key().value()}),
                                                           policy);
  auto auth =
      std::make_shared<tokenpass::GrpcAuth>(std::make_shared<const tokenpass::TokenResolver>(users, nullptr));

  auto log = std::make_shared<Log>();
  Later later;  // declared before the service and the server: joins its jobs after them
  Products service(auth, later, log);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(auth->interceptor());  // keeps the GrpcAuth's state alive
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port <= 0) return 1;

  auto stub = shop::v1::Products::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  const tokenpass::VerifiedToken alice =
      users->verify(issuer.issue(tokenpass::ClaimsBuilder().subject("alice")).value()).value();
  auto outbound = std::make_shared<tokenpass::Outbound>(tokenpass::Outbound::forward());
  outbound->allow("product", {"product", {}});
  for (const char* sku : {"sku-1", "sku-2"}) {
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + 5s);
    tokenpass::GrpcCallOptions plaintext;
    plaintext.allow_insecure = true;  // only because this example's channel has no TLS
    // call_credentials copies `alice`: the credentials may outlive this scope.
    call.set_credentials(tokenpass::call_credentials(outbound, "product", &alice, plaintext));
    shop::v1::GetProductRequest req;
    req.set_sku(sku);
    shop::v1::Product reply;
    const grpc::Status status = stub->Get(&call, req, &reply);
    check(status.ok() && reply.user() == "alice", std::string("Get ") + sku + " as alice");
  }
  check(log->wait_for(2).size() == 2, "both jobs read the caller's token after their calls had ended");
  server->Shutdown();
  return failures == 0 ? 0 : 1;
}

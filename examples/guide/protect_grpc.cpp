// Guide: protect a gRPC service (docs/guide/protect-an-endpoint.md). GrpcAuth's
// interceptor verifies each call's metadata before the handler runs, per-method rules
// say which scopes a method needs, and each handler starts with `guard`. A client sends
// a token by hand and through `call_credentials`. The service is shop.v1.Products
// (examples/proto/shop.proto) on 127.0.0.1, plaintext to stay self-contained.
#include <tokenpass/adapters/grpc.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "shop.grpc.pb.h"

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

class Products final : public shop::v1::Products::Service {
 public:
  explicit Products(std::shared_ptr<const tokenpass::GrpcAuth> auth) : auth_(std::move(auth)) {}

  // [snippet:handler]
  grpc::Status Reserve(grpc::ServerContext* ctx, const shop::v1::ReserveRequest* req,
                       shop::v1::Reservation* out) override {
    return auth_->guard(ctx, [&](const tokenpass::RequestContext& who) {
      out->set_sku(req->sku());
      out->set_quantity(req->quantity());
      out->set_reserved_for(who.user()->claims().subject().value_or(""));
      return grpc::Status::OK;
    });
  }
  // [/snippet]

  grpc::Status Get(grpc::ServerContext* ctx, const shop::v1::GetProductRequest* req,
                   shop::v1::Product* out) override {
    return auth_->guard(ctx, [&](const tokenpass::RequestContext& who) {
      out->set_sku(req->sku());
      out->set_name("product " + req->sku());
      out->set_user(who.user()->claims().subject().value_or(""));
      return grpc::Status::OK;
    });
  }

  grpc::Status List(grpc::ServerContext* ctx, const shop::v1::ListRequest* req,
                    grpc::ServerWriter<shop::v1::Product>* writer) override {
    return auth_->guard(ctx, [&](const tokenpass::RequestContext&) {
      for (int i = 0; i < req->limit(); ++i) {
        shop::v1::Product p;
        p.set_sku("sku-" + std::to_string(i));
        writer->Write(p);
      }
      return grpc::Status::OK;
    });
  }

 private:
  std::shared_ptr<const tokenpass::GrpcAuth> auth_;
};

// trailer: one trailing metadata value of a finished call.
std::string trailer(const grpc::ClientContext& ctx, const std::string& key) {
  const auto& t = ctx.GetServerTrailingMetadata();
  const auto found = t.find(key);
  return found == t.end() ? std::string() : std::string(found->second.data(), found->second.size());
}

}  // namespace

int main() {
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"product"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  const auto token = [&](const std::vector<std::string>& scopes) {
    return issuer.issue(tokenpass::ClaimsBuilder().subject("alice").scopes(scopes)).value();
  };

  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"product"};
  auto users = std::make_shared<const tokenpass::Verifier>(
      tokenpass::KeySet({signing.public_key().value()}), policy);
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(users, nullptr);

  // [snippet:rules]
  tokenpass::GrpcProtectOptions rules;
  rules.realm = "shop";
  rules.methods["/shop.v1.Products/Get"].scopes = {"products:read"};
  rules.methods["/shop.v1.Products/List"].scopes = {"products:read"};
  rules.methods["/shop.v1.Products/Reserve"].scopes = {"products:reserve"};
  rules.public_methods = {"/grpc.health.v1.Health/Check"};  // no token at all
  // A method added to the service later is refused until it is listed here.
  rules.unlisted = tokenpass::GrpcProtectOptions::Unlisted::refused;
  auto auth = std::make_shared<tokenpass::GrpcAuth>(resolver, rules);  // the same resolver as HTTP
  // [/snippet]

  // [snippet:server]
  Products service(auth);
  grpc::ServerBuilder builder;
  int port = 0;
  // Production: grpc::SslServerCredentials (mtls-and-bound-tokens.md); tokens on a
  // plaintext port are anyone's.
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(auth->interceptor());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  // [/snippet]
  if (!server || port <= 0) return 1;

  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = shop::v1::Products::NewStub(channel);
  // reserve: one Reserve call with `authorization` as its metadata (none when empty).
  struct Answer {
    grpc::Status status;
    shop::v1::Reservation reply;
    std::string challenge;  // the www-authenticate trailer
  };
  const auto reserve = [&](const std::string& authorization) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    shop::v1::ReserveRequest req;
    req.set_sku("sku-1");
    req.set_quantity(2);
    Answer a;
    a.status = stub->Reserve(&ctx, req, &a.reply);
    a.challenge = trailer(ctx, "www-authenticate");
    return a;
  };

  // [snippet:answers]
  Answer a = reserve("Bearer " + token({"products:reserve"}));
  check(a.status.ok() && a.reply.reserved_for() == "alice", "OK with the method's scope");

  // No token: UNAUTHENTICATED, the tokenpass code as the message, a bare challenge.
  a = reserve("");
  check(a.status.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
            a.status.error_message() == "no_token" && a.challenge == R"(Bearer realm="shop")",
        "UNAUTHENTICATED no_token");

  // A forged token: UNAUTHENTICATED bad_signature, error="invalid_token".
  std::string forged = token({"products:reserve"});
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  a = reserve("Bearer " + forged);
  check(a.status.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
            a.status.error_message() == "bad_signature" &&
            a.challenge == R"(Bearer realm="shop", error="invalid_token")",
        "UNAUTHENTICATED bad_signature");

  // A token for reading calls Reserve: PERMISSION_DENIED, and no answer leaves.
  a = reserve("Bearer " + token({"products:read"}));
  check(a.status.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
            a.status.error_message() == "insufficient_scope" &&
            a.challenge ==
                R"(Bearer realm="shop", error="insufficient_scope", scope="products:reserve")" &&
            a.reply.reserved_for().empty(),
        "PERMISSION_DENIED insufficient_scope naming the method's scope");
  // [/snippet]

  // A server stream is verified once, when it opens.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ctx.AddMetadata("authorization", "Bearer " + token({"products:read"}));
    shop::v1::ListRequest req;
    req.set_limit(3);
    auto reader = stub->List(&ctx, req);
    shop::v1::Product p;
    int n = 0;
    while (reader->Read(&p)) ++n;
    check(reader->Finish().ok() && n == 3, "a stream with the scope");
  }

  // [snippet:call_credentials]
  // In a handler: call the next service with what an Outbound policy says for it
  // (pass-tokens-on.md), here the caller's own token.
  const tokenpass::VerifiedToken caller = users->verify(token({"products:read"})).value();
  auto outbound = std::make_shared<tokenpass::Outbound>(tokenpass::Outbound::forward());
  outbound->allow("product", {"product", {}});

  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + 5s);
  tokenpass::GrpcCallOptions plaintext;
  plaintext.allow_insecure = true;  // only because this example's channel has no TLS
  call.set_credentials(tokenpass::call_credentials(outbound, "product", &caller, plaintext));
  shop::v1::GetProductRequest get;
  get.set_sku("sku-9");
  shop::v1::Product product;
  const grpc::Status got = stub->Get(&call, get, &product);
  check(got.ok() && product.user() == "alice", "the caller's token forwarded by call_credentials");
  // [/snippet]

  // Without allow_insecure, gRPC does not send the token over a plaintext channel: the
  // call fails on the client and never reaches the server.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ctx.set_credentials(tokenpass::call_credentials(outbound, "product", &caller));
    shop::v1::Product p;
    const grpc::Status refused = stub->Get(&ctx, get, &p);
    check(!refused.ok() && p.user().empty(), "no token sent over plaintext by default");
  }

  server->Shutdown(std::chrono::system_clock::now() + 2s);
  return failures == 0 ? 0 : 1;
}

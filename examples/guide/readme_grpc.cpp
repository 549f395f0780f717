// guide: compile only
// README "gRPC services": the product service of examples/proto/shop.proto behind a
// GrpcAuth interceptor, and billing's side, which reserves at product with the
// caller's token and its own. It needs the token service's JWK set in a file and
// product listening, so the tests only compile it.
#include <tokenpass/tokenpass.h>
// [snippet:include]
#include <tokenpass/adapters/grpc.h>  // target tokenpass::grpc (-DTOKENPASS_WITH_GRPC=ON)
// [/snippet]

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "shop.grpc.pb.h"

using shop::v1::Reservation;
using shop::v1::ReserveRequest;

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class Products final : public shop::v1::Products::Service {
 public:
  explicit Products(std::shared_ptr<const tokenpass::GrpcAuth> a) : auth(std::move(a)) {}

  // [snippet:service]
  // In the service: the call's verified tokens, or its refusal.
  grpc::Status Reserve(grpc::ServerContext* ctx, const ReserveRequest* req, Reservation* out) override {
    return auth->guard(ctx, [&](const tokenpass::RequestContext& who) {  // who.user(), who.service()
      out->set_sku(req->sku());
      out->set_quantity(req->quantity());
      out->set_reserved_for(who.user()->claims().subject().value_or(""));
      return grpc::Status::OK;
    });
  }
  // [/snippet]

 private:
  std::shared_ptr<const tokenpass::GrpcAuth> auth;
};

}  // namespace

// Billing's side, in a handler that has its caller's verified tokens (`ctx`): reserve
// at product on the caller's behalf.
grpc::Status reserve_at_product(shop::v1::Products::Stub& product,
                                const std::shared_ptr<const tokenpass::Outbound>& outbound,
                                const tokenpass::RequestContext& ctx, const ReserveRequest& request,
                                Reservation* reservation) {
  // [snippet:call]
  // Calling another service: the caller's token and this service's own, per call.
  grpc::ClientContext call;
  call.set_credentials(tokenpass::call_credentials(outbound, "product", ctx.user()));
  // [/snippet]
  return product.Reserve(&call, request, reservation);
}

int main() {
  // Users' tokens from the shop's token service, with billing's service token beside.
  tokenpass::Policy users;
  users.issuers = {"https://tokens.internal"};
  users.audiences = {"product"};
  tokenpass::Policy services = users;  // the calling services' own tokens
  const tokenpass::KeySet keys = tokenpass::KeySet::from_jwks(read_file("tokens-jwks.json")).value();
  tokenpass::TokenResolverOptions ro;
  ro.require_service = true;
  const auto resolver = std::make_shared<const tokenpass::TokenResolver>(
      std::make_shared<const tokenpass::Verifier>(keys, users),
      std::make_shared<const tokenpass::Verifier>(keys, services), ro);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("0.0.0.0:50051", grpc::InsecureServerCredentials());

  // [snippet:setup]
  tokenpass::GrpcProtectOptions rules;
  rules.methods["/shop.v1.Products/Reserve"].scopes = {"products:reserve"};
  rules.unlisted = tokenpass::GrpcProtectOptions::Unlisted::refused;  // a new method stays closed
  auto auth = std::make_shared<tokenpass::GrpcAuth>(resolver, rules);  // the same TokenResolver
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(auth->interceptor());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // [/snippet]

  Products service(auth);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  server->Wait();
  return 0;
}

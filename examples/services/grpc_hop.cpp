#include "services/grpc_hop.h"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "shop.grpc.pb.h"
#include "tokenpass/adapters/grpc.h"

namespace shop {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Products final : public shop::v1::Products::Service {
 public:
  Products(std::shared_ptr<const tokenpass::GrpcAuth> auth, std::function<void(const std::string&)> log)
      : auth_(std::move(auth)), log_(std::move(log)) {}

  grpc::Status Reserve(grpc::ServerContext* ctx, const shop::v1::ReserveRequest* req,
                       shop::v1::Reservation* resp) override {
    return auth_->guard(ctx, [&](const tokenpass::RequestContext& who) {
      const std::string via =
          who.peer() && !who.peer()->uris.empty() ? " (caller " + who.peer()->uris.front() + ")" : "";
      if (log_) {
        log_("product (gRPC Reserve): user token of " + who.user()->claims().subject().value_or("?") +
             " and service token of " + who.service()->claims().client_id().value_or("?") + " both verified" + via +
             "; reserving");
      }
      resp->set_sku(req->sku());
      resp->set_quantity(req->quantity());
      resp->set_reserved_for(who.user()->claims().subject().value_or(""));
      return grpc::Status::OK;
    });
  }

 private:
  std::shared_ptr<const tokenpass::GrpcAuth> auth_;
  std::function<void(const std::string&)> log_;
};

}  // namespace

struct ProductGrpc::Impl {
  std::shared_ptr<tokenpass::GrpcAuth> auth;
  std::unique_ptr<Products> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

ProductGrpc::ProductGrpc(const Trust& trust, std::shared_ptr<const tokenpass::ReplayStore> replay_store, int port,
                         std::function<void(const std::string&)> log)
    : impl_(std::make_unique<Impl>()) {
  tokenpass::TokenResolverOptions ro;
  ro.require_user = true;
  ro.require_service = true;
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(
      trust.verifier("product"),
      trust.service_verifier("product", "billing", "product:reserve", std::move(replay_store)), ro);
  tokenpass::GrpcProtectOptions options;
  options.realm = "product";
  options.unlisted = tokenpass::GrpcProtectOptions::Unlisted::refused;  // only Reserve is served
  options.methods["/shop.v1.Products/Reserve"] = {};  // the service token carries product:reserve
  options.client_certificates_verified = trust.tls.on();
  if (trust.tls.on()) options.allowed_peers = {"spiffe://shop/billing"};
  options.on_reject = [log](std::string_view method, const tokenpass::Error& e) {
    if (log) log("product (gRPC " + std::string(method) + "): rejected: " + std::string(tokenpass::to_string(e.code)));
  };
  impl_->auth = std::make_shared<tokenpass::GrpcAuth>(resolver, options);
  impl_->service = std::make_unique<Products>(impl_->auth, std::move(log));

  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (trust.tls.on()) {
    grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    o.pem_root_certs = read_file(trust.tls.ca);
    o.pem_key_cert_pairs.push_back({read_file(trust.tls.key), read_file(trust.tls.cert)});
    creds = grpc::SslServerCredentials(o);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), creds, &impl_->port);
  builder.RegisterService(impl_->service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(impl_->auth->interceptor());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port <= 0) throw std::runtime_error("gRPC: cannot listen on port " + std::to_string(port));
}

ProductGrpc::~ProductGrpc() {
  if (impl_ && impl_->server) impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

std::string ProductGrpc::address() const { return "127.0.0.1:" + std::to_string(impl_->port); }

ProductCall grpc_reserve(const Trust& trust, const std::string& address) {
  std::shared_ptr<grpc::Channel> channel;
  tokenpass::GrpcCallOptions call_options;
  if (trust.tls.on()) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = read_file(trust.tls.ca);
    o.pem_private_key = read_file(trust.tls.key);
    o.pem_cert_chain = read_file(trust.tls.cert);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");  // the demo's certificates name localhost
    channel = grpc::CreateCustomChannel(address, grpc::SslCredentials(o), args);
  } else {
    channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    call_options.allow_insecure = true;
  }
  auto stub = std::shared_ptr<shop::v1::Products::Stub>(shop::v1::Products::NewStub(channel));
  return [stub, call_options](const std::shared_ptr<const tokenpass::Outbound>& outbound,
                              const tokenpass::RequestContext& ctx,
                              const std::string& body) -> tokenpass::Result<nlohmann::json> {
    const nlohmann::json order = nlohmann::json::parse(body, nullptr, false);
    shop::v1::ReserveRequest req;
    req.set_sku(order.is_object() && order.contains("item") ? order["item"].dump() : "?");
    req.set_quantity(1);
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    call.set_credentials(tokenpass::call_credentials(outbound, "product", ctx.user(), call_options));
    shop::v1::Reservation out;
    const grpc::Status status = stub->Reserve(&call, req, &out);
    if (!status.ok()) {
      return tokenpass::make_error(tokenpass::errc::http_error, "product over gRPC: " + status.error_message());
    }
    return nlohmann::json{{"reserved", true}, {"for_user", out.reserved_for()}, {"via", "grpc"}};
  };
}

}  // namespace shop

// tokenpass/adapters/grpc.h: tokenpass on gRPC C++, for the optional target
// tokenpass::grpc (CMake switch TOKENPASS_WITH_GRPC).
//  - Server side: `GrpcAuth` verifies each call's tokens with a `TokenResolver` before
//    its handler runs, through a server interceptor: the `authorization` metadata
//    (`Bearer <token>`) and the service-token key the resolver names (`x-ms-token`),
//    then the scopes and roles of the method called (full name, "/shop.v1.Products/Get").
//    A stream is verified once, when it opens. A refused call ends with
//    UNAUTHENTICATED, PERMISSION_DENIED (insufficient_scope, insufficient_role,
//    peer_not_allowed), UNAVAILABLE or INTERNAL, the tokenpass code as the status
//    message and the RFC 6750 challenge in a `www-authenticate` trailer.
//    The handler asks `GrpcAuth::guard` (or `caller`) for the verified tokens. With TLS
//    the client certificate is `RequestContext::peer()`: for certificate-bound tokens
//    (RFC 8705) and `allowed_peers`.
//  - Client side: `call_credentials` turns an `Outbound` policy and a destination into
//    `grpc::CallCredentials` for one call: the caller's token forwarded, this service's
//    own token, both, or an exchanged one. gRPC sends them only over TLS unless
//    `GrpcCallOptions::allow_insecure` says otherwise.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/security/credentials.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>

#include "tokenpass/claims.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/propagation.h"

namespace tokenpass {

// GrpcMethodRule: what one method needs beyond `GrpcProtectOptions::scopes`.
struct GrpcMethodRule {
  // scopes: every one granted to the user token (or, without one, the service token).
  std::vector<std::string> scopes;

  // roles / any_roles: as ProtectOptions (httplib.h): every one of `roles`, at least one
  // of `any_roles` when it is not empty, found by `GrpcProtectOptions::role_mapping`.
  std::vector<std::string> roles;
  std::vector<std::string> any_roles;
};

// GrpcProtectOptions: what a GrpcAuth requires of each call besides valid tokens, per
// method, and how it answers a refusal.
struct GrpcProtectOptions {
  // realm: the `realm` of the `www-authenticate` challenge.
  std::string realm = "api";
  // with_description: add an RFC 6750 error_description from a fixed table.
  bool with_description = false;
  // scopes: needed on every method that is not public.
  std::vector<std::string> scopes;
  // methods: per full method name ("/package.Service/Method"), what it needs besides.
  std::map<std::string, GrpcMethodRule, std::less<>> methods;
  // public_methods: full method names served without any token (health checks).
  std::vector<std::string> public_methods;
  // unlisted: what a method that is neither in `methods` nor in `public_methods` gets:
  // authenticated (the resolver's tokens and `scopes`) or refused (PERMISSION_DENIED,
  // insufficient_scope), so that a method added to the service later is closed until
  // it is listed.
  enum class Unlisted { authenticated, refused };
  Unlisted unlisted = Unlisted::authenticated;  // see Unlisted
  RoleMapping role_mapping;                     // where the tokens carry their roles
  // allowed_peers: when not empty, only callers whose verified client certificate has
  // one of these identities (PeerCertificate::has_identity) get through; others are
  // PERMISSION_DENIED peer_not_allowed before any token is looked at.
  std::vector<std::string> allowed_peers;
  // client_certificates_verified: the server's credentials require client certificates
  // and verify them (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY), so a
  // certificate present was verified: PeerCertificate::verified. gRPC's auth context
  // does not say so itself. Off: certificates still bind tokens (RFC 8705 §3 binds to
  // the certificate itself), but `allowed_peers` admits nobody.
  bool client_certificates_verified = false;
  // on_reject: called with each refusal and the method, for logging (never the token).
  std::function<void(std::string_view method, const Error&)> on_reject;
};

// grpc_status: the gRPC status a refusal ends a call with, after `http_status`: 401 and
// 400 are UNAUTHENTICATED (no_token, invalid_request, every token error but the 403
// ones), 403 PERMISSION_DENIED (insufficient_scope, insufficient_role,
// peer_not_allowed), 503 UNAVAILABLE (key_source_unavailable, http_error,
// replay_store_unavailable), anything else INTERNAL. The message is the tokenpass code
// ("expired"), for clients to act on.
TOKENPASS_EXPORT grpc::Status grpc_status(const Error& e);

// GrpcAuth: the server side. Build one per server, register `interceptor()` with the
// ServerBuilder, and give the same object to the services so their handlers can ask
// for the verified tokens:
//
//   auto auth = std::make_shared<tokenpass::GrpcAuth>(resolver, options);
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
//   f.push_back(auth->interceptor());
//   builder.experimental().SetInterceptorCreators(std::move(f));
//
//   grpc::Status Get(grpc::ServerContext* ctx, const Req* req, Resp* resp) override {
//     return auth->guard(ctx, [&](const tokenpass::RequestContext& who) { ... });
//   }
//
// A refused call ends with its refusal whatever the handler returns, and nothing the
// handler sends (messages, initial or trailing metadata) reaches the caller: a handler
// that forgets to ask leaks nothing. It still runs, though (gRPC's interceptors cannot stop it): start every
// handler with `guard`. Thread-safe.
class TOKENPASS_EXPORT GrpcAuth {
 public:
  // Throws std::invalid_argument when `resolver` is null.
  GrpcAuth(std::shared_ptr<const TokenResolver> resolver, GrpcProtectOptions options = {});
  ~GrpcAuth();
  GrpcAuth(const GrpcAuth&) = delete;
  GrpcAuth& operator=(const GrpcAuth&) = delete;

  // interceptor: the factory to register (ServerBuilder::experimental()
  // .SetInterceptorCreators). It keeps this GrpcAuth's state alive.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> interceptor() const;

  // caller: the verified tokens of a call the interceptor let through. Errors: the
  // call's refusal; internal_error when the interceptor did not see this call (not
  // registered with the server, or another GrpcAuth's). Valid while the call runs.
  Result<std::shared_ptr<const RequestContext>> caller(const grpc::ServerContextBase* ctx) const;

  // guard: `handler(const RequestContext&)` runs only for an authorized call and its
  // grpc::Status is returned; otherwise the refusal's status is.
  template <class Handler>
  grpc::Status guard(const grpc::ServerContextBase* ctx, Handler&& handler) const {
    auto who = caller(ctx);
    if (!who) return grpc_status(who.error());
    return std::forward<Handler>(handler)(static_cast<const RequestContext&>(**who));
  }

  // authorize: the checks themselves for a call to `method`, for a server without the
  // interceptor (the `www-authenticate` trailer is then the handler's to add: see
  // `challenge`). Never throws.
  Result<RequestContext> authorize(const grpc::ServerContextBase& ctx, std::string_view method) const;

  // challenge: the `www-authenticate` value for a refusal, if it has one.
  std::optional<std::string> challenge(const Error& e, std::string_view method) const;

  // options: as given to the constructor.
  const GrpcProtectOptions& options() const noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// GrpcCallOptions: how call_credentials may send the tokens.
struct GrpcCallOptions {
  // allow_insecure: send the tokens on a channel without transport security too (a
  // plaintext hop to a mesh sidecar that adds mTLS). Off: gRPC refuses to send them
  // there and the call fails (UNAVAILABLE) without reaching the server, as a bearer
  // token on a plaintext connection is anyone's (RFC 6750 §5.3).
  bool allow_insecure = false;
};

// call_credentials: credentials for one call to `destination` on behalf of `caller`
// (null when there is no end user), with what `outbound` sends there
// (Outbound::headers_for; header names lowercased for gRPC). Use them on the call's
// ClientContext: `context.set_credentials(call_credentials(...))`. When no headers can
// be had (destination not allowed, the caller's token expired, no service token), the
// call fails before it is sent, the tokenpass code in its status message (the plugin
// answers UNAUTHENTICATED, or UNAVAILABLE when the token service could not be reached;
// gRPC 1.51 reports any plugin failure as UNAVAILABLE). `caller` is copied. Throws
// std::invalid_argument when `outbound` is null.
TOKENPASS_EXPORT std::shared_ptr<grpc::CallCredentials> call_credentials(
    std::shared_ptr<const Outbound> outbound, std::string destination, const VerifiedToken* caller,
    GrpcCallOptions options = {});

}  // namespace tokenpass

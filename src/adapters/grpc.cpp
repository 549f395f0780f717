// tokenpass::grpc: GrpcAuth (a server interceptor that verifies each call before its
// handler runs, and ends refused calls with their status and challenge) and
// call_credentials (an Outbound policy as gRPC call credentials).
#include "tokenpass/adapters/grpc.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/byte_buffer.h>

namespace tokenpass {

grpc::Status grpc_status(const Error& e) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (http_status(e)) {
    case 400:
    case 401:
      code = grpc::StatusCode::UNAUTHENTICATED;
      break;
    case 403:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case 503:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    default:
      break;
  }
  return grpc::Status(code, std::string(to_string(e.code)));
}

// Outcome: what the interceptor decided for one call.
struct CallOutcome {
  // call: the gRPC call this outcome is for. A ServerContext may outlive its call's
  // interceptor, or its address be reused (async API, context allocators): `caller`
  // answers only for the call that was decided.
  const grpc_call* call = nullptr;
  std::shared_ptr<const RequestContext> context;  // set when authorized
  std::optional<Error> refusal;
  std::optional<std::string> challenge;
};

struct GrpcAuth::State {
  std::shared_ptr<const TokenResolver> resolver;
  GrpcProtectOptions options;
  // The calls under way that the interceptor has decided, by their ServerContext: a
  // handler finds its own through `caller`. Entries live from the call's metadata to
  // the end of the call (the interceptor's destruction).
  mutable std::mutex mu;
  mutable std::unordered_map<const grpc::ServerContextBase*, std::shared_ptr<const CallOutcome>> calls;

  bool is_public(std::string_view method) const {
    return std::find(options.public_methods.begin(), options.public_methods.end(), method) !=
           options.public_methods.end();
  }

  std::shared_ptr<const PeerCertificate> peer_of(const grpc::ServerContextBase& ctx) const {
    const auto auth = ctx.auth_context();
    if (!auth) return nullptr;
    const auto pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (pem.empty()) return nullptr;
    auto cert = PeerCertificate::from_pem(std::string_view(pem.front().data(), pem.front().size()));
    if (!cert) return nullptr;
    cert->verified = options.client_certificates_verified;
    return std::make_shared<const PeerCertificate>(std::move(*cert));
  }

  Result<RequestContext> authorize(const grpc::ServerContextBase& ctx, std::string_view method,
                                   const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
    if (is_public(method)) return RequestContext{};
    const auto rule = options.methods.find(method);
    if (rule == options.methods.end() && options.unlisted == GrpcProtectOptions::Unlisted::refused) {
      return make_error(errc::insufficient_scope, "the method is not listed in the access rules");
    }
    const auto peer = peer_of(ctx);
    if (auto allowed = check_peer(peer.get(), options.allowed_peers); !allowed) return allowed.error();
    // gRPC metadata keys are lowercase; the resolver's header names may not be.
    const HeaderLookup lookup = [&metadata](std::string_view name) {
      std::vector<std::string> values;
      for (const auto& [k, v] : metadata) {
        if (header_name_equals(std::string_view(k.data(), k.size()), name)) values.emplace_back(v.data(), v.size());
      }
      return values;
    };
    auto resolved = resolver->resolve(lookup, peer.get());
    if (!resolved) return resolved.error();
    if (auto granted = check_access(*resolved, options.scopes, {}, {}, options.role_mapping); !granted) {
      return granted.error();
    }
    if (rule != options.methods.end()) {
      const GrpcMethodRule& r = rule->second;
      if (auto granted = check_access(*resolved, r.scopes, r.roles, r.any_roles, options.role_mapping); !granted) {
        return granted.error();
      }
    }
    return resolved;
  }

  std::optional<std::string> challenge(const Error& e, std::string_view method) const {
    std::vector<std::string> scopes = options.scopes;
    if (const auto rule = options.methods.find(method); rule != options.methods.end()) {
      scopes.insert(scopes.end(), rule->second.scopes.begin(), rule->second.scopes.end());
    }
    return www_authenticate(e, options.realm, scopes, options.with_description);
  }

  // decide: the outcome for a call. May throw only std::bad_alloc (the interceptor then
  // refuses the call).
  std::shared_ptr<const CallOutcome> decide(const grpc::ServerContextBase& ctx, const grpc_call* call,
                                            std::string_view method,
                                            const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
    auto outcome = std::make_shared<CallOutcome>();
    outcome->call = call;
    Result<RequestContext> decided = make_error(errc::internal_error, "the call could not be checked");
    try {
      decided = authorize(ctx, method, metadata);
    } catch (...) {
      // A resolver or a callback that threw: the call is refused, never let through.
    }
    if (decided) {
      outcome->context = std::make_shared<const RequestContext>(std::move(*decided));
    } else {
      outcome->challenge = challenge(decided.error(), method);
      outcome->refusal = std::move(decided).error();
      if (options.on_reject) {
        try {
          options.on_reject(method, *outcome->refusal);
        } catch (...) {
          // A logging callback must not change the answer.
        }
      }
    }
    return outcome;
  }
};

namespace {

using Hook = grpc::experimental::InterceptionHookPoints;

// CallInterceptor: one per call. Decides when the client's metadata arrives (once per
// stream), and for a refused call replaces whatever the handler sends.
class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(std::shared_ptr<const GrpcAuth::State> state, grpc::experimental::ServerRpcInfo* info)
      : state_(std::move(state)), info_(info) {}

  ~CallInterceptor() override {
    if (!registered_) return;
    std::lock_guard<std::mutex> lock(state_->mu);
    // Only this call's record: should gRPC hand the same ServerContext to a new call
    // before this interceptor is gone, that call's record stays.
    const auto found = state_->calls.find(info_->server_context());
    if (found != state_->calls.end() && found->second == outcome_) state_->calls.erase(found);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    try {
      intercept(methods);
    } catch (...) {
      // Out of memory: the call is refused (`outcome_` stays unset or refused) and goes on.
    }
    methods->Proceed();
  }

 private:
  void intercept(grpc::experimental::InterceptorBatchMethods* methods) {
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_INITIAL_METADATA) && !outcome_) {
      grpc::ServerContextBase* ctx = info_->server_context();
      outcome_ = state_->decide(*ctx, ctx->c_call(), info_->method() ? info_->method() : "",
                                *methods->GetRecvInitialMetadata());
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->calls[ctx] = outcome_;
      registered_ = true;
    }
    const bool refused = !outcome_ || outcome_->refusal;
    if (!refused) return;
    // A handler that did not ask: nothing of its answer reaches the caller, neither its
    // messages nor its metadata.
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->clear();
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
      if (grpc::ByteBuffer* message = methods->GetSerializedSendMessage()) message->Clear();
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      const Error refusal = outcome_ && outcome_->refusal
                                ? *outcome_->refusal
                                : make_error(errc::internal_error, "the call's metadata was not seen");
      methods->ModifySendStatus(grpc_status(refusal));
      auto* trailers = methods->GetSendTrailingMetadata();
      trailers->clear();
      if (outcome_ && outcome_->challenge) trailers->emplace("www-authenticate", *outcome_->challenge);
    }
  }

  std::shared_ptr<const GrpcAuth::State> state_;
  grpc::experimental::ServerRpcInfo* info_;
  std::shared_ptr<const CallOutcome> outcome_;
  bool registered_ = false;
};

class InterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit InterceptorFactory(std::shared_ptr<const GrpcAuth::State> state) : state_(std::move(state)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CallInterceptor(state_, info);  // gRPC owns it until the call ends
  }

 private:
  std::shared_ptr<const GrpcAuth::State> state_;
};

}  // namespace

GrpcAuth::GrpcAuth(std::shared_ptr<const TokenResolver> resolver, GrpcProtectOptions options)
    : state_(std::make_shared<State>()) {
  if (!resolver) throw std::invalid_argument("tokenpass::GrpcAuth: no resolver");
  state_->resolver = std::move(resolver);
  state_->options = std::move(options);
}

GrpcAuth::~GrpcAuth() = default;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> GrpcAuth::interceptor() const {
  return std::make_unique<InterceptorFactory>(state_);
}

Result<std::shared_ptr<const RequestContext>> GrpcAuth::caller(const grpc::ServerContextBase* ctx) const {
  std::shared_ptr<const CallOutcome> outcome;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    const auto found = state_->calls.find(ctx);
    if (found != state_->calls.end()) outcome = found->second;
  }
  // The record must be this very call's (not an earlier call's at the same address).
  if (!outcome || outcome->call != const_cast<grpc::ServerContextBase*>(ctx)->c_call()) {  // NOLINT: c_call is not const
    return make_error(errc::internal_error, "this GrpcAuth's interceptor did not see the call");
  }
  if (outcome->refusal) return *outcome->refusal;
  return outcome->context;
}

Result<RequestContext> GrpcAuth::authorize(const grpc::ServerContextBase& ctx, std::string_view method) const {
  try {
    return state_->authorize(ctx, method, ctx.client_metadata());
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "the call could not be checked");
  }
}

std::optional<std::string> GrpcAuth::challenge(const Error& e, std::string_view method) const {
  return state_->challenge(e, method);
}

const GrpcProtectOptions& GrpcAuth::options() const noexcept { return state_->options; }

// ---- client side ---------------------------------------------------------------------

namespace {

class OutboundPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  OutboundPlugin(std::shared_ptr<const Outbound> outbound, std::string destination,
                 std::optional<VerifiedToken> caller)
      : outbound_(std::move(outbound)), destination_(std::move(destination)), caller_(std::move(caller)) {}

  // May block (a service token fetched or exchanged): gRPC runs it off its event loop.
  bool IsBlocking() const override { return true; }
  const char* GetType() const override { return "tokenpass"; }

  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<std::string, std::string>* metadata) override {
    try {
      auto headers = outbound_->headers_for(destination_, caller_ ? &*caller_ : nullptr);
      if (!headers) {
        grpc::Status refused = grpc_status(headers.error());
        // The caller's side could not make the call: no "permission" was denied by anyone.
        if (refused.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, refused.error_message());
        }
        return refused;
      }
      for (const auto& [name, value] : *headers) {
        std::string key(name);
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        metadata->emplace(std::move(key), value);
      }
      return grpc::Status::OK;
    } catch (...) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(to_string(errc::internal_error)));
    }
  }

 private:
  std::shared_ptr<const Outbound> outbound_;
  std::string destination_;
  std::optional<VerifiedToken> caller_;
};

}  // namespace

std::shared_ptr<grpc::CallCredentials> call_credentials(std::shared_ptr<const Outbound> outbound,
                                                        std::string destination, const VerifiedToken* caller,
                                                        GrpcCallOptions options) {
  if (!outbound) throw std::invalid_argument("tokenpass::call_credentials: no Outbound policy");
  std::optional<VerifiedToken> held;
  if (caller != nullptr) held = *caller;
  auto plugin = std::make_unique<OutboundPlugin>(std::move(outbound), std::move(destination), std::move(held));
  if (options.allow_insecure) {
    return grpc::experimental::MetadataCredentialsFromPlugin(std::move(plugin), GRPC_SECURITY_NONE);
  }
  return grpc::MetadataCredentialsFromPlugin(std::move(plugin));
}

}  // namespace tokenpass

// The demo shop: a token service, a gateway, a billing service and a product service,
// each a cpp-httplib server on 127.0.0.1. The example programs run them one per
// process (scripts/demo.sh); the end-to-end tests run them in one process.
//
//   client --POST /login--> gateway --> token service /login       (user token)
//   client --POST /orders (Bearer user)--> gateway
//     gateway --POST /charge (user token + gateway's own token in X-MS-TOKEN)--> billing
//       billing --POST /reserve (user token + billing's own token in X-MS-TOKEN)--> product
//
// Every service finds the token service's keys through discovery (RemoteJwks). User
// tokens (`typ: at+jwt`) and service tokens (`typ: svc+jwt`) are told apart by type
// (RFC 8725 §3.11, §3.12): neither is accepted where the other is expected, and billing
// and product accept a user only together with the calling service's own token, so a
// client cannot skip the gateway.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <atomic>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tokenpass/adapters/httplib.h"
#include "tokenpass/tokenpass.h"

namespace shop {

// Tls: a service's certificate and key and the shop's CA (PEM files). With it, the
// service serves HTTPS and asks its callers for client certificates from that CA
// (mTLS), and its own calls present its certificate. Empty: plain HTTP.
struct Tls {
  std::string ca, cert, key;
  bool on() const { return !cert.empty(); }
  // in: DIR/ca.pem, DIR/NAME.pem, DIR/NAME.key.
  static Tls in(const std::string& dir, const std::string& name) {
    return Tls{dir + "/ca.pem", dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  }
};

// Server: an httplib server on 127.0.0.1 (port 0: a free one) run on its own thread;
// with `tls`, an HTTPS server that authenticates callers by certificate as `callers`
// says (tokenpass::make_tls_server).
class Server {
 public:
  explicit Server(const Tls& tls = {},
                  tokenpass::ClientCertificates callers = tokenpass::ClientCertificates::required);
  virtual ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // start binds, lets the service add what needs its URL (before_listen), then serves in
  // the background. Returns false when the port is taken.
  bool start(int port = 0);
  void stop();
  int port() const { return port_; }
  std::string url() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_); }
  // set_log: where the service narrates what it checked (the demo prints it).
  void set_log(std::function<void(const std::string&)> log) { log_ = std::move(log); }
  // metrics: what the service's verifiers, key sources and clients observed, served at
  // GET /metrics (Prometheus text format).
  const std::shared_ptr<tokenpass::PrometheusMetrics>& metrics() const { return metrics_; }

 protected:
  // before_listen: called by start once the port is bound (url() is known) and before
  // any request is served: the only place routes may still be added.
  virtual void before_listen() {}
  void log(const std::string& line) const {
    if (log_) log_(line);
  }
  std::unique_ptr<httplib::Server> http_;
  std::function<void(const std::string&)> log_;
  std::shared_ptr<tokenpass::PrometheusMetrics> metrics_ = std::make_shared<tokenpass::PrometheusMetrics>();

 private:
  std::thread thread_;
  int port_ = 0;
  bool tls_ = false;
};

// TokenServiceConfig: users and clients with PBKDF2-hashed secrets (see
// examples/token_service.json).
struct TokenServiceConfig {
  struct User {
    std::string name, salt, hash;
    std::vector<std::string> scopes;
    std::optional<std::chrono::seconds> token_lifetime;  // overrides user_token_lifetime
  };
  struct Client {
    std::string id, salt, hash;  // salt and hash may be empty for a private_key_jwt client
    std::vector<std::string> scopes, audiences;
    bool may_exchange = false;
    // single_use: its service tokens are meant for one call: they live
    // single_use_token_lifetime, and carry a jti (as every token here does).
    bool single_use = false;
    // auth_methods: "client_secret_basic", "client_secret_post", "private_key_jwt"
    // (default: the secret methods); jwks: its public keys, for private_key_jwt.
    std::vector<tokenpass::ClientAuth> auth_methods;
    std::optional<tokenpass::KeySet> jwks;
    // tls_client_auth_san_uri: the URI SAN (SPIFFE ID) of its client certificate, for
    // tls_client_auth (RFC 8705 §2.1); tokens it gets over mTLS are bound to it.
    std::string tls_client_auth_san_uri;
    // opaque_tokens: its tokens are opaque (explained by the introspection endpoint);
    // may_introspect: it may ask that endpoint about tokens (RFC 7662).
    bool opaque_tokens = false;
    bool may_introspect = false;
  };
  int iterations = 20000;
  std::vector<std::string> user_audiences;
  std::chrono::seconds user_token_lifetime{300};
  std::chrono::seconds service_token_lifetime{300};
  std::chrono::seconds single_use_token_lifetime{30};
  std::vector<User> users;
  std::vector<Client> clients;
  // tls: {"ca", "cert", "key"} in the file: serve HTTPS, take client certificates from
  // that CA (optional: users log in without one), and offer tls_client_auth.
  Tls tls;

  // from_json reads the file format of examples/token_service.json; throws on errors.
  static TokenServiceConfig from_json(const nlohmann::json& j);
  // registry: the clients as the token endpoint's registry.
  std::shared_ptr<const tokenpass::ClientRegistry> registry() const;
};

class PublishedKeys;  // services.cpp: the token service's published keys, as a KeySource

// TokenService: the token endpoint of the library (tokenpass::TokenEndpoint, mounted by
// tokenpass::mount_token_endpoint: POST /token with client credentials and RFC 8693 token
// exchange, RFC 8414 metadata, GET /.well-known/jwks.json) configured from a
// TokenServiceConfig, and the shop's own POST /login (form username, password) for
// users. Unknown user and client names cost the same PBKDF2 work as known ones; failed
// logins and client authentications are throttled per name (5 a minute) and per
// address (20 a minute), answered 429 with Retry-After. Request bodies are limited to
// 64 KiB.
class TokenService : public Server {
 public:
  // `clock` lets tests issue tokens at a chosen time.
  TokenService(TokenServiceConfig config, tokenpass::Key signing_key,
               tokenpass::Clock clock = nullptr);
  // pbkdf2_runs: secrets hashed so far (the same for a known and an unknown name).
  std::uint64_t pbkdf2_runs() const;
  const tokenpass::TokenEndpoint& endpoint() const { return *endpoint_; }
  // rotate_key: `next` signs every token from now on (users' and services'); the keys
  // that signed before stay in the JWKS (TokenEndpoint::rotate_key), and token
  // exchange accepts user tokens signed by any of them. Thread-safe; after start().
  void rotate_key(tokenpass::Key next);

 private:
  // before_listen: the issuer name is this service's URL, known once bound.
  void before_listen() override;
  void login(const httplib::Request& req, httplib::Response& res);
  // user_issuer: users' tokens (RFC 9068, this service's URL as iss) signed with `key`.
  std::shared_ptr<const tokenpass::Issuer> user_issuer(tokenpass::Key key) const;
  TokenServiceConfig config_;
  tokenpass::Key key_;
  tokenpass::Clock clock_;
  std::shared_ptr<tokenpass::TokenEndpoint> endpoint_;
  // user_tokens_: replaced whole on rotation (std::atomic_load / atomic_store).
  std::shared_ptr<const tokenpass::Issuer> user_tokens_;
  std::mutex rotate_mu_;
  // published_: the endpoint's published keys, for the subject-token verifier.
  std::shared_ptr<PublishedKeys> published_;
  tokenpass::FailureThrottle by_name_{5, std::chrono::seconds(60)};
  tokenpass::FailureThrottle by_address_{20, std::chrono::seconds(60)};
  std::atomic<std::uint64_t> login_pbkdf2_runs_{0};
};

// Keys and verifiers the three resource services share: the token service's JWKS
// through discovery, and an RFC 9068 policy for an audience.
struct Trust {
  std::string issuer;
  // tls: this service's certificate (mTLS), for its server and its own calls.
  Tls tls;
  std::shared_ptr<tokenpass::HttpClient> http;
  std::shared_ptr<tokenpass::RemoteJwks> keys;
  // metrics: the observer of the keys, the verifiers and the credentials made here; the
  // service built on this Trust serves it at /metrics.
  std::shared_ptr<tokenpass::PrometheusMetrics> metrics = std::make_shared<tokenpass::PrometheusMetrics>();
  // connect runs discovery and the first JWKS fetch; throws std::runtime_error. With
  // `tls`, every call presents that certificate and trusts only the shop's CA. A
  // `jwks_max_ttl` above 0 caps how long a fetched set counts as fresh (the load runs:
  // keys refreshed every few seconds, so that an outage of the token service is
  // bridged by stale serving).
  static Trust connect(const std::string& issuer, const Tls& tls = {},
                       std::chrono::seconds jwks_max_ttl = std::chrono::seconds(0));
  // credentials: this service's client-credentials client: its certificate
  // (tls_client_auth, the tokens bound to it) with TLS, else its secret; the token
  // endpoint from the issuer's metadata. Throws std::runtime_error.
  std::shared_ptr<const tokenpass::ClientCredentials> credentials(const std::string& client_id,
                                                                  const std::string& client_secret,
                                                                  bool fresh_each_call = false) const;
  // verifier: user tokens for `audience` (RFC 9068, typ at+jwt).
  std::shared_ptr<const tokenpass::Verifier> verifier(const std::string& audience) const;
  // service_verifier: service tokens (typ svc+jwt) for `audience` from the client
  // `client_id`, granting `scope`.
  // With `replay_store`, each token is accepted once.
  std::shared_ptr<const tokenpass::Verifier> service_verifier(
      const std::string& audience, const std::string& client_id, const std::string& scope,
      std::shared_ptr<const tokenpass::ReplayStore> replay_store = nullptr) const;
};

// Gateway: POST /login (passed to the token service) and POST /orders (user token
// with orders:write, forwarded to billing with the gateway's own client-credentials
// token in X-MS-TOKEN).
class Gateway : public Server {
 public:
  Gateway(const Trust& trust, std::string billing_url, std::string client_id = "gateway",
          std::string client_secret = "gateway-secret");
  const tokenpass::ClientCredentials& credentials() const { return *credentials_; }

 private:
  std::shared_ptr<const tokenpass::ClientCredentials> credentials_;
};

// ProductCall: how billing reserves at product: with billing's Outbound policy, for the
// caller's verified tokens, the order's JSON body in, product's JSON answer out (an
// error when product refused or could not be reached). examples/services/grpc_hop.h
// has one over gRPC; without one, billing POSTs /reserve over HTTP.
using ProductCall = std::function<tokenpass::Result<nlohmann::json>(
    const std::shared_ptr<const tokenpass::Outbound>&, const tokenpass::RequestContext&, const std::string&)>;

// Billing: POST /charge (user token with orders:write, audience billing, and the
// gateway's service token with billing:charge); reserves the item at product with the
// user's token forwarded and its own client-credentials token in X-MS-TOKEN.
class Billing : public Server {
 public:
  // fresh_service_tokens: a new service token for every call (product may accept each
  // one once), instead of the cached one.
  Billing(const Trust& trust, std::string product_url, std::string client_id,
          std::string client_secret, bool fresh_service_tokens = false, ProductCall product_call = nullptr);
  const tokenpass::ClientCredentials& credentials() const { return *credentials_; }

 private:
  std::shared_ptr<const tokenpass::ClientCredentials> credentials_;
};

// Product: POST /reserve needs both the user's token (audience product) and a service
// token from billing (X-MS-TOKEN, scope product:reserve, client_id billing). With a
// replay store, each service token is accepted once, by whichever replica sees it
// first (a Redis store is shared by the replicas). GET /stock takes one DPoP-bound
// service token of the reports client (`Authorization: DPoP`, scope product:read,
// RFC 9449), each proof once.
// With `behind_proxy` (an address range, e.g. "127.0.0.2/32"), the service runs behind
// a TLS-terminating proxy: plain HTTP, the caller's certificate taken from the proxy's
// X-SSL-Client-Cert header (nginx's $ssl_client_escaped_cert) when the request comes
// from that range, and refused (untrusted_forward) from anyone else.
class Product : public Server {
 public:
  explicit Product(const Trust& trust,
                   std::shared_ptr<const tokenpass::ReplayStore> replay_store = nullptr,
                   const std::string& behind_proxy = {});
};

}  // namespace shop

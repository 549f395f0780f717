#include "services/services.h"

#include <algorithm>
#include <stdexcept>
#include <utility>


namespace shop {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

void oauth_error(httplib::Response& res, int status, const std::string& error,
                 const std::string& description) {
  // RFC 6749 §5.2.
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json{{"error", error}, {"error_description", description}}.dump(), "application/json");
}

void token_response(httplib::Response& res, const std::string& token, std::chrono::seconds lifetime,
                    const std::vector<std::string>& scopes, const char* issued_type = nullptr) {
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  json body = {{"access_token", token}, {"token_type", "Bearer"}, {"expires_in", lifetime.count()},
               {"scope", scope}};
  if (issued_type != nullptr) body["issued_token_type"] = issued_type;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

tokenpass::Result<tokenpass::HttpHeaders> form_of(const httplib::Request& req) {
  return tokenpass::form_decode(req.body);
}

std::string field(const tokenpass::HttpHeaders& form, const std::string& name) {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return {};
}

// The copy of an upstream answer that a service passes back.
void relay(httplib::Response& res, const tokenpass::Result<tokenpass::HttpResponse>& up) {
  if (!up) {
    res.status = 502;
    res.set_content(json{{"error", "upstream unreachable"}}.dump(), "application/json");
    return;
  }
  res.status = up->status;
  if (const auto h = up->header("WWW-Authenticate")) res.set_header("WWW-Authenticate", *h);
  res.set_content(up->body, "application/json");
}

void reject(httplib::Response& res, const tokenpass::Error& e, const std::string& realm) {
  tokenpass::reject_request(res, e, realm);
}

}  // namespace

// ---- PublishedKeys -------------------------------------------------------------------

// PublishedKeys: a key source that serves what the token service publishes, replaced
// whole when its keys rotate.
class PublishedKeys final : public tokenpass::KeySource {
 public:
  explicit PublishedKeys(tokenpass::KeySet keys) { set(std::move(keys)); }
  void set(tokenpass::KeySet keys) {
    std::atomic_store(&served_, std::make_shared<const tokenpass::ServedKeys>(tokenpass::ServedKeys{
                                    std::make_shared<const tokenpass::KeySet>(std::move(keys)),
                                    tokenpass::KeySource::next_version()}));
  }
  tokenpass::Result<std::shared_ptr<const tokenpass::KeySet>> keys_for(const tokenpass::KeyQuery&) const override {
    return std::atomic_load(&served_)->keys;
  }
  tokenpass::Result<tokenpass::ServedKeys> served_keys(const tokenpass::KeyQuery&) const override {
    return *std::atomic_load(&served_);
  }

 private:
  std::shared_ptr<const tokenpass::ServedKeys> served_;
};

// ---- Server ----------------------------------------------------------------------

Server::Server(const Tls& tls, tokenpass::ClientCertificates callers) : tls_(tls.on()) {
  if (!tls.on()) {
    http_ = std::make_unique<httplib::Server>();
    // Answers go out at once, not after the caller's delayed ACK (make_tls_server does
    // the same for HTTPS).
    http_->set_tcp_nodelay(true);
    return;
  }
  tokenpass::TlsServerOptions o;
  o.cert_file = tls.cert;
  o.key_file = tls.key;
  o.client_ca_file = tls.ca;
  o.client_certificates = callers;
  http_ = tokenpass::make_tls_server(o);
}

Server::~Server() { stop(); }

bool Server::start(int port) {
  // A hostile client must not make a service buffer more than this before a handler
  // (and its token check) runs; the shop's requests are a few hundred bytes.
  http_->set_payload_max_length(64 * 1024);
  http_->set_read_timeout(5, 0);
  http_->set_write_timeout(5, 0);
  if (port == 0) {
    port_ = http_->bind_to_any_port("127.0.0.1");
  } else {
    port_ = http_->bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (port_ <= 0) return false;
  tokenpass::serve_metrics(*http_, metrics_);
  before_listen();
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return true;
}

void Server::stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

// ---- TokenService ------------------------------------------------------------------

namespace {
tokenpass::ClientAuth auth_method(const std::string& name) {
  if (name == "client_secret_basic") return tokenpass::ClientAuth::client_secret_basic;
  if (name == "client_secret_post") return tokenpass::ClientAuth::client_secret_post;
  if (name == "private_key_jwt") return tokenpass::ClientAuth::private_key_jwt;
  throw std::runtime_error("unknown auth method " + name);
}
}  // namespace

TokenServiceConfig TokenServiceConfig::from_json(const json& j) {
  TokenServiceConfig c;
  c.iterations = j.at("iterations").get<int>();
  c.user_audiences = j.at("user_audiences").get<std::vector<std::string>>();
  c.user_token_lifetime = std::chrono::seconds(j.at("user_token_lifetime").get<int>());
  c.service_token_lifetime = std::chrono::seconds(j.at("service_token_lifetime").get<int>());
  c.single_use_token_lifetime =
      std::chrono::seconds(j.value("single_use_token_lifetime", static_cast<int>(c.single_use_token_lifetime.count())));
  for (const auto& u : j.at("users")) {
    TokenServiceConfig::User user{u.at("name").get<std::string>(), u.at("salt").get<std::string>(),
                                  u.at("hash").get<std::string>(),
                                  u.at("scopes").get<std::vector<std::string>>(), std::nullopt};
    if (u.contains("token_lifetime")) {
      user.token_lifetime = std::chrono::seconds(u.at("token_lifetime").get<int>());
    }
    c.users.push_back(std::move(user));
  }
  for (const auto& k : j.at("clients")) {
    TokenServiceConfig::Client client;
    client.id = k.at("id").get<std::string>();
    client.salt = k.value("salt", "");
    client.hash = k.value("hash", "");
    client.scopes = k.at("scopes").get<std::vector<std::string>>();
    client.audiences = k.at("audiences").get<std::vector<std::string>>();
    client.may_exchange = k.value("may_exchange", false);
    client.single_use = k.value("single_use", false);
    for (const auto& m : k.value("auth_methods", std::vector<std::string>{})) {
      client.auth_methods.push_back(auth_method(m));
    }
    if (k.contains("jwks")) {
      auto keys = tokenpass::KeySet::from_public_jwks(k.at("jwks"));
      if (!keys) throw std::runtime_error("client " + client.id + ": jwks: " + keys.error().detail);
      client.jwks = std::move(*keys);
    }
    client.tls_client_auth_san_uri = k.value("tls_client_auth_san_uri", "");
    client.opaque_tokens = k.value("opaque_tokens", false);
    client.may_introspect = k.value("may_introspect", false);
    c.clients.push_back(std::move(client));
  }
  if (j.contains("tls")) {
    const auto& t = j.at("tls");
    c.tls = Tls{t.at("ca").get<std::string>(), t.at("cert").get<std::string>(), t.at("key").get<std::string>()};
  }
  return c;
}

std::shared_ptr<const tokenpass::ClientRegistry> TokenServiceConfig::registry() const {
  std::vector<tokenpass::ClientRecord> records;
  for (const auto& c : clients) {
    tokenpass::ClientRecord r;
    r.id = c.id;
    if (!c.hash.empty()) r.secret = tokenpass::SecretHash{c.salt, c.hash, iterations};
    r.assertion_keys = c.jwks;
    r.auth_methods = c.auth_methods;
    r.tls_client_auth_san_uri = c.tls_client_auth_san_uri;
    r.scopes = c.scopes;
    r.audiences = c.audiences;
    if (c.may_exchange) r.grant_types.emplace_back(tokenpass::kTokenExchangeGrant);
    if (c.single_use) r.token_lifetime = single_use_token_lifetime;
    r.opaque_tokens = c.opaque_tokens;
    r.may_introspect = c.may_introspect;
    records.push_back(std::move(r));
  }
  return std::make_shared<const tokenpass::MemoryClientRegistry>(std::move(records));
}

TokenService::TokenService(TokenServiceConfig config, tokenpass::Key signing_key, tokenpass::Clock clock)
    : Server(config.tls, tokenpass::ClientCertificates::optional),  // users log in without one
      config_(std::move(config)),
      key_(std::move(signing_key)),
      clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

std::uint64_t TokenService::pbkdf2_runs() const {
  return login_pbkdf2_runs_.load() + (endpoint_ ? endpoint_->stats().secret_checks : 0);
}

void TokenService::before_listen() {
  // The issuer name is known only now, and no request is served yet.
  const std::string issuer = url();
  tokenpass::Policy users = tokenpass::Policy::access_token_profile({issuer}, config_.user_audiences);
  users.clock = clock_;
  tokenpass::TokenEndpointOptions o;
  o.issuer = issuer;
  o.observer = metrics_;
  o.token_lifetime = config_.service_token_lifetime;
  o.client_credentials_typ = "svc+jwt";  // a service's own token: never taken for a user's
  published_ = std::make_shared<PublishedKeys>(tokenpass::KeySet({key_.public_key().value()}));
  o.subject_tokens = std::make_shared<const tokenpass::Verifier>(published_, users);
  o.unknown_client_iterations = config_.iterations;
  if (config_.tls.on()) o.auth_methods.push_back(tokenpass::ClientAuth::tls_client_auth);
  o.introspection_endpoint = issuer + "/introspect";  // RFC 7662, for opaque tokens
  auto dpop = std::make_shared<tokenpass::DpopOptions>();   // RFC 9449: DPoP-bound tokens on request
  dpop->clock = clock_;
  o.dpop = dpop;
  o.clock = clock_;
  o.log = [this](const std::string& line) { log("token service: " + line.substr(line.find(':') + 2)); };
  endpoint_ = std::make_shared<tokenpass::TokenEndpoint>(key_, config_.registry(), o);
  user_tokens_ = user_issuer(key_);
  // The metadata at /.well-known/openid-configuration too: scripts outside this
  // repository and older clients look there.
  tokenpass::TokenEndpointMountOptions mount;
  mount.openid_configuration = true;
  tokenpass::mount_token_endpoint(*http_, endpoint_, mount);
  http_->Post("/login", [this](const httplib::Request& req, httplib::Response& res) { login(req, res); });
}

std::shared_ptr<const tokenpass::Issuer> TokenService::user_issuer(tokenpass::Key key) const {
  tokenpass::IssuerOptions io;
  io.typ = "at+jwt";  // RFC 9068
  io.clock = clock_;
  return std::make_shared<const tokenpass::Issuer>(std::move(key), url(), config_.user_token_lifetime, io);
}

void TokenService::rotate_key(tokenpass::Key next) {
  std::lock_guard<std::mutex> g(rotate_mu_);
  endpoint_->rotate_key(next);
  auto published = tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(endpoint_->jwks()));
  if (!published) throw std::runtime_error("rotate_key: " + published.error().detail);
  published_->set(std::move(*published));
  const std::string kid = next.kid();
  std::atomic_store(&user_tokens_, user_issuer(std::move(next)));
  log("token service: signing key rotated to kid " + kid + " (the previous keys stay published)");
}

void TokenService::login(const httplib::Request& req, httplib::Response& res) {
  auto form = form_of(req);
  if (!form) return oauth_error(res, 400, "invalid_request", "bad form");
  const std::string name = field(*form, "username");
  const std::string password = field(*form, "password");
  // Throttled per name and per address; an attempt counts as failed before its
  // password is hashed (concurrent guesses cannot pass the limit meanwhile) and is
  // forgiven when it matched.
  std::string key;
  for (const char c : name.substr(0, 128)) key.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  key = "user:" + key;
  const std::string address = "addr:" + req.remote_addr;
  std::chrono::seconds wait{0};
  const auto now = clock_();
  const bool name_ok = by_name_.attempt(key, now, &wait);
  if (!name_ok || !by_address_.attempt(address, now, &wait)) {
    if (name_ok) by_name_.forgive(key);
    log("token service: throttled " + key + " from " + req.remote_addr);
    res.set_header("Retry-After", std::to_string(wait.count()));
    return oauth_error(res, 429, "invalid_request", "too many failed attempts; retry later");
  }
  const TokenServiceConfig::User* user = nullptr;
  for (const auto& u : config_.users) {
    if (u.name == name) user = &u;
  }
  // An unknown name costs the same PBKDF2 work as a known one, so that the answer's
  // timing does not tell which names exist.
  static const std::string dummy_salt = "ZHVtbXktc2FsdC0xNg";
  static const std::string dummy_hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  ++login_pbkdf2_runs_;
  const bool matched = tokenpass::SecretHash{user ? user->salt : dummy_salt, user ? user->hash : dummy_hash,
                                             config_.iterations}
                           .matches(password) &&
                       user != nullptr;
  if (!matched) {
    by_name_.settle(key);
    by_address_.settle(address);
    return oauth_error(res, 401, "invalid_grant", "unknown user or wrong password");
  }
  by_name_.forgive(key);
  by_address_.forgive(address);
  const auto lifetime = user->token_lifetime.value_or(config_.user_token_lifetime);
  tokenpass::ClaimsBuilder c;
  c.subject(user->name).client_id("shop-web").scopes(user->scopes).audience(config_.user_audiences);
  const auto t = clock_();
  c.issued_at(t).expires_at(t + lifetime);
  auto token = std::atomic_load(&user_tokens_)->issue(c);
  if (!token) return oauth_error(res, 500, "server_error", "could not issue");
  log("token service: " + user->name + " logged in; user token for " + std::to_string(lifetime.count()) + " s");
  token_response(res, *token, lifetime, user->scopes);
}

// ---- Trust -------------------------------------------------------------------------

Trust Trust::connect(const std::string& issuer, const Tls& tls, std::chrono::seconds jwks_max_ttl) {
  Trust t;
  t.issuer = issuer;
  t.tls = tls;
  tokenpass::HttplibClientOptions ho;
  if (tls.on()) {
    ho.ca_cert_file = tls.ca;
    ho.client_cert_file = tls.cert;
    ho.client_key_file = tls.key;
  }
  t.http = std::make_shared<tokenpass::HttplibClient>(ho);
  tokenpass::RemoteJwksOptions o;
  o.allow_http = true;  // loopback demo; real deployments use https
  o.observer = t.metrics;
  if (jwks_max_ttl.count() > 0) {
    o.max_ttl = jwks_max_ttl;
    o.min_ttl = std::min(o.min_ttl, jwks_max_ttl);
  }
  auto keys = tokenpass::RemoteJwks::from_issuer(issuer, o, t.http);
  if (!keys) throw std::runtime_error("discovery failed: " + keys.error().detail);
  t.keys = *keys;
  if (!t.keys->prefetch(5s)) throw std::runtime_error("no JWKS from " + issuer);
  return t;
}

std::shared_ptr<const tokenpass::ClientCredentials> Trust::credentials(const std::string& client_id,
                                                                       const std::string& client_secret,
                                                                       bool fresh_each_call) const {
  tokenpass::ClientCredentialsOptions cc;
  // Where the metadata says (its mTLS alias for a client with a certificate, RFC 8705 §5).
  auto endpoint = tokenpass::discover_token_endpoint(issuer, *http, tls.on(), !tls.on());
  if (!endpoint) throw std::runtime_error("no token endpoint: " + endpoint.error().detail);
  cc.token_endpoint = *endpoint;
  cc.client_id = client_id;
  cc.client_secret = client_secret;
  // With mTLS the certificate is the credential, and the tokens are bound to it.
  if (tls.on()) cc.auth = tokenpass::ClientAuth::tls_client_auth;
  cc.allow_http = !tls.on();
  cc.fresh_each_call = fresh_each_call;
  cc.observer = metrics;
  return std::make_shared<const tokenpass::ClientCredentials>(cc, http);
}

std::shared_ptr<const tokenpass::Verifier> Trust::verifier(const std::string& audience) const {
  tokenpass::Policy p = tokenpass::Policy::access_token_profile({issuer}, {audience});
  p.leeway = 0s;
  p.observer = metrics;
  return std::make_shared<const tokenpass::Verifier>(keys, p);
}

std::shared_ptr<const tokenpass::Verifier> Trust::service_verifier(
    const std::string& audience, const std::string& client_id, const std::string& scope,
    std::shared_ptr<const tokenpass::ReplayStore> replay_store) const {
  tokenpass::Policy p = tokenpass::Policy::access_token_profile({issuer}, {audience});
  p.replay_store = std::move(replay_store);  // set: each service token is accepted once
  p.observer = metrics;
  p.typ = "svc+jwt";  // a service's own token: never a user's (RFC 8725 §3.12)
  // With mTLS, service tokens are bound to their service's certificate (RFC 8705): a
  // stolen one is worthless elsewhere, and an unbound one is not taken.
  p.require_binding = tls.on();
  p.leeway = 0s;
  p.required_scopes = {scope};
  p.custom_checks.push_back([client_id](const tokenpass::Claims& c) -> tokenpass::Result<void> {
    if (c.client_id() != client_id) {
      return tokenpass::make_error(tokenpass::errc::bad_subject, "not the expected calling service");
    }
    return {};
  });
  return std::make_shared<const tokenpass::Verifier>(keys, p);
}

// ---- Gateway -----------------------------------------------------------------------

Gateway::Gateway(const Trust& trust, std::string billing_url, std::string client_id,
                 std::string client_secret)
    : Server(trust.tls, tokenpass::ClientCertificates::optional) {  // users have no certificate
  metrics_ = trust.metrics;
  const auto http = trust.http;
  const std::string token_service = trust.issuer;
  credentials_ = trust.credentials(client_id, client_secret);
  auto users = std::make_shared<const tokenpass::TokenResolver>(trust.verifier("gateway"), nullptr);
  // Billing takes a user only together with the gateway's own token: a client cannot
  // skip the gateway.
  auto outbound = std::make_shared<tokenpass::Outbound>(
      tokenpass::Outbound::forward_and_service_token(credentials_, "X-MS-TOKEN"));
  outbound->allow("billing", {"billing", {"billing:charge"}});

  http_->Post("/login", [http, token_service](const httplib::Request& req, httplib::Response& res) {
    tokenpass::HttpRequest up;
    up.method = "POST";
    up.url = token_service + "/login";
    up.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    up.body = req.body;
    relay(res, http->send(up));
  });
  tokenpass::ProtectOptions po;
  po.realm = "gateway";
  po.scopes = {"orders:write"};
  po.on_reject = [this](const httplib::Request&, const tokenpass::Error& e) {
    log("gateway: rejected: " + std::string(tokenpass::to_string(e.code)) + ": " + e.detail);
  };
  http_->Post("/orders", tokenpass::protect(
                            users,
                            [this, http, outbound, billing_url](const httplib::Request& req, httplib::Response& res,
                                                          const tokenpass::RequestContext& ctx) {
                              log("gateway: user token of " + *ctx.user()->claims().subject() +
                                  " verified (kid " + ctx.user()->kid() + ", scope \"" +
                                  ctx.user()->claims().get("scope")->get<std::string>() +
                                  "\"); forwarding it to billing with the gateway's own token");
                              auto headers = outbound->headers_for("billing", ctx.user());
                              if (!headers) return reject(res, headers.error(), "gateway");
                              tokenpass::HttpRequest up;
                              up.method = "POST";
                              up.url = billing_url + "/charge";
                              up.headers = *headers;
                              up.headers.emplace_back("Content-Type", "application/json");
                              up.body = req.body;
                              relay(res, http->send(up));
                            },
                            po));
}

// ---- Billing -----------------------------------------------------------------------

Billing::Billing(const Trust& trust, std::string product_url, std::string client_id,
                 std::string client_secret, bool fresh_service_tokens, ProductCall product_call)
    : Server(trust.tls) {
  metrics_ = trust.metrics;
  credentials_ = trust.credentials(client_id, client_secret, fresh_service_tokens);
  const auto http = trust.http;
  tokenpass::TokenResolverOptions ro;
  ro.require_user = true;
  ro.require_service = true;
  auto users = std::make_shared<const tokenpass::TokenResolver>(
      trust.verifier("billing"), trust.service_verifier("billing", "gateway", "billing:charge"), ro);
  auto outbound = std::make_shared<tokenpass::Outbound>(
      tokenpass::Outbound::forward_and_service_token(credentials_, "X-MS-TOKEN"));
  outbound->allow("product", {"product", {"product:reserve"}});
  tokenpass::ProtectOptions po;
  po.realm = "billing";
  po.scopes = {"orders:write"};
  // With mTLS, only the gateway may call /charge, whatever tokens another caller has.
  if (trust.tls.on()) po.allowed_peers = {"spiffe://shop/gateway"};
  po.on_reject = [this](const httplib::Request&, const tokenpass::Error& e) {
    log("billing: rejected: " + std::string(tokenpass::to_string(e.code)) + ": " + e.detail);
  };
  http_->Post("/charge", tokenpass::protect(
                            users,
                            [this, http, outbound, product_url, product_call](
                                const httplib::Request& req, httplib::Response& res,
                                const tokenpass::RequestContext& ctx) {
                              const auto before = credentials_->stats().requests;
                              if (product_call) {  // the tokens go in the call's metadata
                                log("billing: user token of " + *ctx.user()->claims().subject() +
                                    " and the gateway's service token verified; calling product over gRPC"
                                    " with the user's and its own token");
                                auto answer = product_call(outbound, ctx, req.body);
                                if (!answer) return reject(res, answer.error(), "billing");
                                (*answer)["charged"] = *ctx.user()->claims().subject();
                                res.set_content(answer->dump(), "application/json");
                                return;
                              }
                              auto headers = outbound->headers_for("product", ctx.user());
                              if (!headers) return reject(res, headers.error(), "billing");
                              log("billing: user token of " + *ctx.user()->claims().subject() +
                                  " and the gateway's service token verified; calling product with the"
                                  " user's and its own token (" +
                                  (credentials_->stats().requests > before ? "obtained now" : "reused from cache") +
                                  ")");
                              tokenpass::HttpRequest up;
                              up.method = "POST";
                              up.url = product_url + "/reserve";
                              up.headers = *headers;
                              up.headers.emplace_back("Content-Type", "application/json");
                              up.body = req.body;
                              auto answer = http->send(up);
                              if (answer && answer->status == 200) {
                                json body = json::parse(answer->body, nullptr, false);
                                body["charged"] = *ctx.user()->claims().subject();
                                res.set_content(body.dump(), "application/json");
                                return;
                              }
                              relay(res, answer);
                            },
                            po));
}

// ---- Product -----------------------------------------------------------------------

Product::Product(const Trust& trust, std::shared_ptr<const tokenpass::ReplayStore> replay_store,
                 const std::string& behind_proxy)
    : Server(behind_proxy.empty() ? trust.tls : Tls{}) {
  metrics_ = trust.metrics;
  // Both tokens are required: the user's (audience product) and billing's own.
  tokenpass::TokenResolverOptions ro;
  ro.require_user = true;
  ro.require_service = true;
  auto service = trust.service_verifier("product", "billing", "product:reserve", std::move(replay_store));
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(trust.verifier("product"), service, ro);
  tokenpass::ProtectOptions po;
  po.realm = "product";
  po.on_reject = [this](const httplib::Request&, const tokenpass::Error& e) {
    log("product: rejected: " + std::string(tokenpass::to_string(e.code)) + ": " + e.detail);
  };
  if (!behind_proxy.empty()) {
    tokenpass::ForwardedCertificateOptions fo;
    fo.proxies = tokenpass::TrustedCallers({behind_proxy}, {});
    fo.format = tokenpass::ForwardedFormat::escaped_pem;
    fo.header = "X-SSL-Client-Cert";
    po.forwarded = std::make_shared<const tokenpass::ForwardedCertificates>(fo);
  }
  http_->Post("/reserve", tokenpass::protect(
                             resolver,
                             [this](const httplib::Request&, httplib::Response& res,
                                    const tokenpass::RequestContext& ctx) {
                               const std::string via =
                                   ctx.peer() && !ctx.peer()->uris.empty()
                                       ? " (caller " + ctx.peer()->uris.front() + ")"
                                       : "";
                               log("product: user token of " + *ctx.user()->claims().subject() +
                                   " and service token of " + *ctx.service()->claims().client_id() +
                                   " both verified" + via + "; reserving");
                               const json body = {{"reserved", true},
                                                  {"for_user", *ctx.user()->claims().subject()},
                                                  {"requested_by", *ctx.service()->claims().client_id()}};
                               res.set_content(body.dump(), "application/json");
                             },
                             po));

  // GET /stock: a DPoP-bound token (RFC 9449) of the reports client in Authorization.
  // Its proof names this request and the token; each proof is taken once.
  tokenpass::Policy stock = tokenpass::Policy::access_token_profile({trust.issuer}, {"product"});
  stock.typ = "svc+jwt";
  stock.leeway = 0s;
  stock.required_scopes = {"product:read"};
  stock.require_binding = true;
  stock.observer = trust.metrics;
  stock.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>();
  tokenpass::TokenResolverOptions so;
  so.dpop = std::make_shared<tokenpass::DpopOptions>();
  auto reports = std::make_shared<const tokenpass::TokenResolver>(
      std::make_shared<const tokenpass::Verifier>(trust.keys, stock), nullptr, so);
  http_->Get("/stock", tokenpass::protect(
                           reports,
                           [this](const httplib::Request&, httplib::Response& res, const tokenpass::RequestContext& ctx) {
                             log("product: DPoP-bound token of " + *ctx.user()->claims().client_id() +
                                 " verified with its proof; answering");
                             res.set_content(json{{"item", 42}, {"in_stock", 7}}.dump(), "application/json");
                           },
                           po));
}

}  // namespace shop

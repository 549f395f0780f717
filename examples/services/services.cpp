#include "services/services.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace shop {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string b64url(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string unb64url(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  const std::size_t pad = (4 - s.size() % 4) % 4;
  s.append(pad, '=');
  std::string out(s.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n) - pad);
  return out;
}

// A password or client secret checked against its PBKDF2-HMAC-SHA256 hash, in
// constant time.
bool secret_matches(const std::string& secret, const std::string& salt_b64,
                    const std::string& hash_b64, int iterations) {
  const std::string salt = unb64url(salt_b64);
  unsigned char out[32];
  if (PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), sizeof out, out) != 1) {
    return false;
  }
  const std::string got = b64url(out, sizeof out);
  return got.size() == hash_b64.size() && CRYPTO_memcmp(got.data(), hash_b64.data(), got.size()) == 0;
}

std::vector<std::string> split_scopes(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

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

// ---- Server ----------------------------------------------------------------------

Server::~Server() { stop(); }

bool Server::start(int port) {
  // A hostile client must not make a service buffer more than this before a handler
  // (and its token check) runs; the shop's requests are a few hundred bytes.
  http_.set_payload_max_length(64 * 1024);
  http_.set_read_timeout(5, 0);
  http_.set_write_timeout(5, 0);
  if (port == 0) {
    port_ = http_.bind_to_any_port("127.0.0.1");
  } else {
    port_ = http_.bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (port_ <= 0) return false;
  thread_ = std::thread([this] { http_.listen_after_bind(); });
  return true;
}

void Server::stop() {
  http_.stop();
  if (thread_.joinable()) thread_.join();
}

// ---- Throttle ----------------------------------------------------------------------

bool Throttle::blocked(const std::string& key, std::chrono::system_clock::time_point now,
                       std::chrono::seconds* retry_after) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = failures_.find(key);
  if (it == failures_.end()) return false;
  auto& times = it->second;
  while (!times.empty() && times.front() + window_ <= now) times.pop_front();
  if (times.size() < limit_) return false;
  if (retry_after != nullptr) {
    *retry_after = std::chrono::duration_cast<std::chrono::seconds>(times.front() + window_ - now) + 1s;
  }
  return true;
}

void Throttle::forgive(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = failures_.find(key);
  if (it != failures_.end() && !it->second.empty()) it->second.pop_back();
}

void Throttle::failed(const std::string& key, std::chrono::system_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() >= max_keys_ && failures_.find(key) == failures_.end()) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = it->second.empty() || it->second.back() + window_ <= now ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= max_keys_) failures_.erase(failures_.begin());
  }
  auto& times = failures_[key];
  times.push_back(now);
  while (times.size() > limit_) times.pop_front();
}

// ---- TokenService ------------------------------------------------------------------

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
    client.salt = k.at("salt").get<std::string>();
    client.hash = k.at("hash").get<std::string>();
    client.scopes = k.at("scopes").get<std::vector<std::string>>();
    client.audiences = k.at("audiences").get<std::vector<std::string>>();
    client.may_exchange = k.value("may_exchange", false);
    client.single_use = k.value("single_use", false);
    c.clients.push_back(std::move(client));
  }
  return c;
}

TokenService::TokenService(TokenServiceConfig config, tokenpass::Key signing_key, tokenpass::Clock clock)
    : config_(std::move(config)), key_(std::move(signing_key)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

bool TokenService::check_secret(const std::string& secret, const std::string* salt,
                                const std::string* hash) {
  ++pbkdf2_runs_;
  if (salt == nullptr) {
    // Security: an unknown name costs the same PBKDF2 work as a known one, so that the
    // answer's timing does not tell which names exist.
    static const std::string dummy_salt = "ZHVtbXktc2FsdC0xNg";
    static const std::string dummy_hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    secret_matches(secret, dummy_salt, dummy_hash, config_.iterations);
    return false;
  }
  return secret_matches(secret, *salt, *hash, config_.iterations);
}

bool TokenService::start(int port) {
  if (!Server::start(port)) return false;
  // The issuer name is known only now; the routes use it.
  tokenpass::Policy own = tokenpass::Policy::access_token_profile({url()}, config_.user_audiences);
  own.clock = clock_;
  own_tokens_ = std::make_unique<tokenpass::Verifier>(tokenpass::KeySet({key_.public_key().value()}), own);
  routes();
  return true;
}

namespace {
// throttle_key: a bounded, printable key for a name a client sent.
std::string throttle_key(const std::string& name) {
  std::string out;
  for (const char c : name.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  return out;
}
}  // namespace

bool TokenService::begin_attempt(httplib::Response& res, const std::string& name,
                                 const std::string& address) {
  std::chrono::seconds wait{0};
  const auto now = clock_();
  const std::string key = throttle_key(name);
  if (by_name_.blocked(key, now, &wait) || by_address_.blocked("addr:" + address, now, &wait)) {
    log("token service: throttled " + key + " from " + address);
    res.set_header("Retry-After", std::to_string(wait.count()));
    oauth_error(res, 429, "invalid_request", "too many failed attempts; retry later");
    return false;
  }
  by_name_.failed(key, now);
  by_address_.failed("addr:" + address, now);
  return true;
}

void TokenService::end_attempt(const std::string& name, const std::string& address, bool matched) {
  if (!matched) return;
  by_name_.forgive(throttle_key(name));
  by_address_.forgive("addr:" + address);
}

void TokenService::routes() {
  const std::string issuer = url();
  const auto issue = [this, issuer](const std::string& sub, const std::string& client_id,
                                    const std::vector<std::string>& audience,
                                    const std::vector<std::string>& scopes, std::chrono::seconds lifetime,
                                    const json& extra, const char* typ = "at+jwt") {
    tokenpass::IssuerOptions io;
    io.typ = typ;  // RFC 9068 for tokens of a user; svc+jwt for a service's own
    io.clock = clock_;
    tokenpass::Issuer issuer_(key_, issuer, lifetime, io);
    tokenpass::ClaimsBuilder c;
    c.subject(sub).client_id(client_id).scopes(scopes);
    if (audience.size() == 1) {
      c.audience(audience.front());
    } else {
      c.audience(audience);
    }
    for (const auto& [k, v] : extra.items()) c.claim(k, v);
    return issuer_.issue(c);
  };

  http_.Get("/.well-known/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(tokenpass::KeySet({key_.public_key().value()}).to_public_jwks().dump(),
                    "application/jwk-set+json");
  });
  http_.Get("/.well-known/openid-configuration", [issuer](const httplib::Request&, httplib::Response& res) {
    const json doc = {{"issuer", issuer},
                      {"jwks_uri", issuer + "/.well-known/jwks.json"},
                      {"token_endpoint", issuer + "/token"},
                      {"grant_types_supported",
                       {"password", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"}},
                      {"token_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post"}}};
    res.set_content(doc.dump(), "application/json");
  });

  http_.Post("/login", [this, issue](const httplib::Request& req, httplib::Response& res) {
    auto form = form_of(req);
    if (!form) return oauth_error(res, 400, "invalid_request", "bad form");
    const std::string name = field(*form, "username");
    const std::string password = field(*form, "password");
    if (!begin_attempt(res, "user:" + name, req.remote_addr)) return;
    const TokenServiceConfig::User* user = nullptr;
    for (const auto& u : config_.users) {
      if (u.name == name) user = &u;
    }
    const bool matched =
        check_secret(password, user ? &user->salt : nullptr, user ? &user->hash : nullptr);
    end_attempt("user:" + name, req.remote_addr, matched);
    if (!matched) return oauth_error(res, 401, "invalid_grant", "unknown user or wrong password");
    const auto lifetime = user->token_lifetime.value_or(config_.user_token_lifetime);
    auto token = issue(user->name, "shop-web", config_.user_audiences, user->scopes, lifetime,
                       json::object());
    if (!token) return oauth_error(res, 500, "server_error", "could not issue");
    log("token service: " + user->name + " logged in; user token for " + std::to_string(lifetime.count()) + " s");
    token_response(res, *token, lifetime, user->scopes);
  });

  http_.Post("/token", [this, issue](const httplib::Request& req, httplib::Response& res) {
    auto form = form_of(req);
    if (!form) return oauth_error(res, 400, "invalid_request", "bad form");
    // Client authentication: client_secret_basic or client_secret_post (RFC 6749 §2.3.1).
    std::string id = field(*form, "client_id");
    std::string secret = field(*form, "client_secret");
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Basic ", 0) == 0) {
      const std::string decoded = unb64url(auth.substr(6));
      const std::size_t colon = decoded.find(':');
      if (colon == std::string::npos) return oauth_error(res, 401, "invalid_client", "bad Basic credentials");
      auto parts = tokenpass::form_decode("i=" + decoded.substr(0, colon) + "&s=" + decoded.substr(colon + 1));
      if (!parts) return oauth_error(res, 401, "invalid_client", "bad Basic credentials");
      id = field(*parts, "i");
      secret = field(*parts, "s");
    }
    if (!begin_attempt(res, "client:" + id, req.remote_addr)) return;
    const TokenServiceConfig::Client* client = nullptr;
    for (const auto& c : config_.clients) {
      if (c.id == id) client = &c;
    }
    const bool matched =
        check_secret(secret, client ? &client->salt : nullptr, client ? &client->hash : nullptr);
    end_attempt("client:" + id, req.remote_addr, matched);
    if (!matched) {
      res.set_header("WWW-Authenticate", "Basic realm=\"token\"");
      return oauth_error(res, 401, "invalid_client", "client authentication failed");
    }
    const std::string grant = field(*form, "grant_type");
    const std::string audience = field(*form, "audience");
    const auto requested = split_scopes(field(*form, "scope"));
    if (audience.empty() || !contains(client->audiences, audience)) {
      return oauth_error(res, 400, "invalid_target", "audience not allowed for this client");
    }
    if (grant == "client_credentials") {
      for (const auto& s : requested) {
        if (!contains(client->scopes, s)) return oauth_error(res, 400, "invalid_scope", "scope not allowed");
      }
      const auto scopes = requested.empty() ? client->scopes : requested;
      const auto lifetime =
          client->single_use ? config_.single_use_token_lifetime : config_.service_token_lifetime;
      auto token = issue(client->id, client->id, {audience}, scopes, lifetime, json::object(), "svc+jwt");
      if (!token) return oauth_error(res, 500, "server_error", "could not issue");
      log("token service: client credentials: " + std::string(client->single_use ? "single-use " : "") +
          "service token for " + client->id + " (aud " + audience + ")");
      return token_response(res, *token, lifetime, scopes);
    }
    if (grant == "urn:ietf:params:oauth:grant-type:token-exchange") {
      if (!client->may_exchange) return oauth_error(res, 400, "unauthorized_client", "no token exchange");
      auto subject = own_tokens_->verify(field(*form, "subject_token"));
      if (!subject) return oauth_error(res, 400, "invalid_grant", "subject_token refused");
      // RFC 8693 §2.1: the new token keeps the subject and cannot grant more scope.
      const auto had = subject->claims().scopes();
      std::vector<std::string> scopes;
      for (const auto& s : requested.empty() ? had : requested) {
        if (!contains(had, s)) return oauth_error(res, 400, "invalid_scope", "scope not held by the subject");
        scopes.push_back(s);
      }
      const auto now = clock_();
      const double exp = subject->expires_at()->time_since_epoch().count();
      const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
      const auto left = std::chrono::seconds(static_cast<long long>(exp - now_s));
      const auto lifetime = std::min(left, config_.service_token_lifetime);
      if (lifetime <= 0s) return oauth_error(res, 400, "invalid_grant", "subject_token expired");
      auto token = issue(*subject->claims().subject(), client->id, {audience}, scopes, lifetime,
                         json{{"act", {{"sub", client->id}}}});
      if (!token) return oauth_error(res, 500, "server_error", "could not issue");
      return token_response(res, *token, lifetime, scopes, "urn:ietf:params:oauth:token-type:access_token");
    }
    oauth_error(res, 400, "unsupported_grant_type", "grant_type not supported");
  });
}

// ---- Trust -------------------------------------------------------------------------

Trust Trust::connect(const std::string& issuer) {
  Trust t;
  t.issuer = issuer;
  t.http = std::make_shared<tokenpass::HttplibClient>();
  tokenpass::RemoteJwksOptions o;
  o.allow_http = true;  // loopback demo; real deployments use https
  auto keys = tokenpass::RemoteJwks::from_issuer(issuer, o, t.http);
  if (!keys) throw std::runtime_error("discovery failed: " + keys.error().detail);
  t.keys = *keys;
  if (!t.keys->prefetch(5s)) throw std::runtime_error("no JWKS from " + issuer);
  return t;
}

std::shared_ptr<const tokenpass::Verifier> Trust::verifier(const std::string& audience) const {
  tokenpass::Policy p = tokenpass::Policy::access_token_profile({issuer}, {audience});
  p.leeway = 0s;
  return std::make_shared<const tokenpass::Verifier>(keys, p);
}

std::shared_ptr<const tokenpass::Verifier> Trust::service_verifier(
    const std::string& audience, const std::string& client_id, const std::string& scope,
    std::shared_ptr<const tokenpass::ReplayStore> replay_store) const {
  tokenpass::Policy p = tokenpass::Policy::access_token_profile({issuer}, {audience});
  p.replay_store = std::move(replay_store);  // set: each service token is accepted once
  p.typ = "svc+jwt";  // a service's own token: never a user's (RFC 8725 §3.12)
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
                 std::string client_secret) {
  const auto http = trust.http;
  const std::string token_service = trust.issuer;
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = trust.issuer + "/token";
  cc.client_id = std::move(client_id);
  cc.client_secret = std::move(client_secret);
  cc.allow_http = true;
  credentials_ = std::make_shared<const tokenpass::ClientCredentials>(cc, trust.http);
  auto users = std::make_shared<const tokenpass::TokenResolver>(trust.verifier("gateway"), nullptr);
  // Billing takes a user only together with the gateway's own token: a client cannot
  // skip the gateway.
  auto outbound = std::make_shared<tokenpass::Outbound>(
      tokenpass::Outbound::forward_and_service_token(credentials_, "X-MS-TOKEN"));
  outbound->allow("billing", {"billing", {"billing:charge"}});

  http_.Post("/login", [http, token_service](const httplib::Request& req, httplib::Response& res) {
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
  http_.Post("/orders", tokenpass::protect(
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
                 std::string client_secret, bool fresh_service_tokens) {
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = trust.issuer + "/token";
  cc.client_id = std::move(client_id);
  cc.client_secret = std::move(client_secret);
  cc.allow_http = true;
  cc.fresh_each_call = fresh_service_tokens;
  credentials_ = std::make_shared<const tokenpass::ClientCredentials>(cc, trust.http);
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
  po.on_reject = [this](const httplib::Request&, const tokenpass::Error& e) {
    log("billing: rejected: " + std::string(tokenpass::to_string(e.code)) + ": " + e.detail);
  };
  http_.Post("/charge", tokenpass::protect(
                            users,
                            [this, http, outbound, product_url](const httplib::Request& req, httplib::Response& res,
                                                          const tokenpass::RequestContext& ctx) {
                              const auto before = credentials_->stats().requests;
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

Product::Product(const Trust& trust, std::shared_ptr<const tokenpass::ReplayStore> replay_store) {
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
  http_.Post("/reserve", tokenpass::protect(
                             resolver,
                             [this](const httplib::Request&, httplib::Response& res,
                                    const tokenpass::RequestContext& ctx) {
                               log("product: user token of " + *ctx.user()->claims().subject() +
                                   " and service token of " + *ctx.service()->claims().client_id() +
                                   " both verified; reserving");
                               const json body = {{"reserved", true},
                                                  {"for_user", *ctx.user()->claims().subject()},
                                                  {"requested_by", *ctx.service()->claims().client_id()}};
                               res.set_content(body.dump(), "application/json");
                             },
                             po));
}

}  // namespace shop

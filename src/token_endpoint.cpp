#include "tokenpass/token_endpoint.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>
#include <variant>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "internal/base64url.h"
#include "internal/json.h"
#include "internal/openssl.h"
#include "tokenpass/issuer.h"
#include "tokenpass/jws.h"

namespace tokenpass {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
constexpr std::string_view kJwtTokenType = "urn:ietf:params:oauth:token-type:jwt";

std::string_view auth_name(ClientAuth a) {
  switch (a) {
    case ClientAuth::client_secret_basic:
      return "client_secret_basic";
    case ClientAuth::client_secret_post:
      return "client_secret_post";
    case ClientAuth::private_key_jwt:
      return "private_key_jwt";
    case ClientAuth::tls_client_auth:
      return "tls_client_auth";
    case ClientAuth::self_signed_tls_client_auth:
      return "self_signed_tls_client_auth";
  }
  return "unknown";
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool has_method(const std::vector<ClientAuth>& v, ClientAuth a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}

// The methods a client may use: its own list, else what its credentials allow.
std::vector<ClientAuth> methods_of(const ClientRecord& c) {
  if (!c.auth_methods.empty()) return c.auth_methods;
  std::vector<ClientAuth> out;
  if (c.secret) out = {ClientAuth::client_secret_basic, ClientAuth::client_secret_post};
  if (c.assertion_keys) out.push_back(ClientAuth::private_key_jwt);
  if (!c.tls_client_auth_san_uri.empty() || !c.tls_client_auth_san_dns.empty() ||
      !c.tls_client_auth_subject_dn.empty()) {
    out.push_back(ClientAuth::tls_client_auth);
  }
  if (!c.self_signed_thumbprints.empty()) out.push_back(ClientAuth::self_signed_tls_client_auth);
  return out;
}

// Base64 with the standard alphabet and padding (RFC 4648 §4), strict: what HTTP Basic
// credentials are (RFC 7617 §2).
bool base64_standard_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string url(text.substr(0, text.size() - pad));
  for (char& c : url) {
    if (c == '-' || c == '_') return false;
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return internal::b64url_decode(url, out);
}

// RFC 6749 Appendix A: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
bool scope_token_ok(std::string_view s) {
  if (s.empty()) return false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E) return false;
  }
  return true;
}

// An RFC 8707 resource: an absolute URI (a scheme, then ':') without a fragment.
bool absolute_uri(std::string_view s) {
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || s.find('#') != std::string_view::npos) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(s[0])) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = s[i];
    if (!(alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return false;
  }
  for (const char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return false;
  }
  return true;
}

// printable: a bounded, printable copy of something a client sent, for logs and
// throttle keys.
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  return out;
}

// Failure: an RFC 6749 §5.2 answer.
struct Failure {
  int status = 400;
  std::string error;
  std::string description;
  HttpHeaders headers;
};

Failure fail(std::string error, std::string description, int status = 400) {
  return Failure{status, std::move(error), std::move(description), {}};
}

// Form: the request's parameters. Empty values count as absent (RFC 6749 §3.1).
struct Form {
  std::vector<std::pair<std::string, std::string>> fields;
  std::string one(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k == name) return v;
    }
    return {};
  }
  std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : fields) {
      if (k == name) out.push_back(v);
    }
    return out;
  }
  bool has(std::string_view name) const {
    return std::any_of(fields.begin(), fields.end(), [&](const auto& f) { return f.first == name; });
  }
};

std::vector<std::string> split_scopes(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

const std::string kDummySalt = "ZHVtbXktc2FsdC0xNg";

// throttle_key: a bounded key for a name or address a client sent (the bytes as they
// are: two names never share a key unless their first 256 bytes agree).
std::string throttle_key(std::string_view prefix, std::string_view name) {
  return std::string(prefix) + std::string(name.substr(0, 256));
}

}  // namespace

// ---- SecretHash ------------------------------------------------------------------

SecretHash SecretHash::make(std::string_view secret, int iterations) {
  if (iterations < 1) throw std::invalid_argument("tokenpass::SecretHash: iterations must be positive");
  SecretHash h;
  h.salt = internal::b64url_encode(internal::random_bytes(16));
  h.iterations = iterations;
  std::string salt;
  internal::b64url_decode(h.salt, salt);
  unsigned char out[32];
  if (PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), sizeof out, out) != 1) {
    throw std::runtime_error("tokenpass::SecretHash: PBKDF2 failed");
  }
  h.hash = internal::b64url_encode(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
  return h;
}

bool SecretHash::matches(std::string_view secret) const {
  std::string raw_salt, want;
  if (iterations < 1 || !internal::b64url_decode(salt, raw_salt) || !internal::b64url_decode(hash, want) ||
      want.size() != 32 || secret.size() > 4096) {
    return false;
  }
  unsigned char out[32];
  if (PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()),
                        reinterpret_cast<const unsigned char*>(raw_salt.data()),
                        static_cast<int>(raw_salt.size()), iterations, EVP_sha256(), sizeof out, out) != 1) {
    internal::clear_openssl_errors();
    return false;
  }
  return CRYPTO_memcmp(out, want.data(), sizeof out) == 0;
}

// ---- ClientRegistry --------------------------------------------------------------

ClientRegistry::~ClientRegistry() = default;

MemoryClientRegistry::MemoryClientRegistry(std::vector<ClientRecord> clients) {
  for (auto& c : clients) {
    const auto bad = [&](const std::string& why) {
      throw std::invalid_argument("tokenpass::MemoryClientRegistry: client \"" + printable(c.id) + "\": " + why);
    };
    if (c.id.empty()) bad("empty id");
    const auto methods = methods_of(c);
    if (methods.empty()) bad("no way to authenticate (no secret, no keys)");
    const int tls_ids = int(!c.tls_client_auth_san_uri.empty()) + int(!c.tls_client_auth_san_dns.empty()) +
                        int(!c.tls_client_auth_subject_dn.empty());
    if (tls_ids > 1) bad("more than one tls_client_auth identity (RFC 8705 §2.1.2: one)");
    for (const auto m : methods) {
      const bool secret_method = m == ClientAuth::client_secret_basic || m == ClientAuth::client_secret_post;
      if (secret_method && !c.secret) bad(std::string(auth_name(m)) + " without a secret");
      if (m == ClientAuth::tls_client_auth && tls_ids == 0) bad("tls_client_auth without an identity");
      if (m == ClientAuth::self_signed_tls_client_auth && c.self_signed_thumbprints.empty()) {
        bad("self_signed_tls_client_auth without thumbprints");
      }
      if (m == ClientAuth::private_key_jwt && (!c.assertion_keys || c.assertion_keys->empty())) {
        bad("private_key_jwt without keys");
      }
    }
    if (c.assertion_keys) {
      for (const auto& k : c.assertion_keys->keys()) {
        if (k.is_private()) bad("a private key among the assertion keys");
      }
    }
    if (c.audiences.empty()) bad("no audiences");
    for (const auto& a : c.default_audiences) {
      if (!contains(c.audiences, a)) bad("default audience \"" + printable(a) + "\" is not among its audiences");
    }
    for (const auto& g : c.grant_types) {
      if (g != kClientCredentialsGrant && g != kTokenExchangeGrant) bad("unknown grant type \"" + printable(g) + "\"");
    }
    if (c.token_lifetime && *c.token_lifetime <= 0s) bad("token_lifetime must be positive");
    std::string id = c.id;
    if (!clients_.emplace(std::move(id), std::move(c)).second) bad("repeated id");
  }
}

std::optional<ClientRecord> MemoryClientRegistry::find(std::string_view client_id) const {
  const auto it = clients_.find(client_id);
  if (it == clients_.end()) return std::nullopt;
  return it->second;
}

// ---- FailureThrottle ---------------------------------------------------------------

FailureThrottle::FailureThrottle(std::size_t limit, std::chrono::seconds window, std::size_t max_keys)
    : limit_(limit), window_(window), max_keys_(max_keys) {
  if (max_keys_ == 0) throw std::invalid_argument("tokenpass::FailureThrottle: max_keys must be positive");
}

bool FailureThrottle::attempt(const std::string& key, std::chrono::system_clock::time_point now,
                              std::chrono::seconds* retry_after) {
  if (limit_ == 0) return true;
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + max_wait_;
  while (blocked_locked(key, now, retry_after)) {
    // Blocked by failures, or only by attempts still under way (which may succeed):
    // those are waited for, not refused.
    const auto p = pending_.find(key);
    const std::size_t pending = p == pending_.end() ? 0 : p->second;
    const std::size_t counted = failures_[key].size();
    if (pending == 0 || counted - std::min(pending, counted) >= limit_) return false;
    if (ended_.wait_until(lock, deadline) == std::cv_status::timeout) {
      if (!blocked_locked(key, now, retry_after)) break;
      return false;
    }
  }
  failed_locked(key, now);
  ++pending_[key];
  return true;
}

void FailureThrottle::settle(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = pending_.find(key);
    if (it != pending_.end() && --it->second == 0) pending_.erase(it);
  }
  ended_.notify_all();
}

bool FailureThrottle::blocked(const std::string& key, std::chrono::system_clock::time_point now,
                              std::chrono::seconds* retry_after) {
  if (limit_ == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return blocked_locked(key, now, retry_after);
}

bool FailureThrottle::blocked_locked(const std::string& key, std::chrono::system_clock::time_point now,
                                     std::chrono::seconds* retry_after) {
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

void FailureThrottle::forgive(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = failures_.find(key);
    if (it != failures_.end() && !it->second.empty()) it->second.pop_back();
  }
  settle(key);
}

void FailureThrottle::failed(const std::string& key, std::chrono::system_clock::time_point now) {
  if (limit_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  failed_locked(key, now);
}

void FailureThrottle::failed_locked(const std::string& key, std::chrono::system_clock::time_point now) {
  if (failures_.size() >= max_keys_ && failures_.find(key) == failures_.end()) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = it->second.empty() || it->second.back() + window_ <= now ? failures_.erase(it) : std::next(it);
    }
    if (!failures_.empty() && failures_.size() >= max_keys_) {
      // Still full: forget the key whose latest failure is the oldest.
      auto oldest = failures_.begin();
      for (auto it = failures_.begin(); it != failures_.end(); ++it) {
        if (it->second.back() < oldest->second.back()) oldest = it;
      }
      failures_.erase(oldest);
    }
  }
  auto& times = failures_[key];
  times.push_back(now);
  while (times.size() > limit_) times.pop_front();
}

// ---- TokenEndpoint -----------------------------------------------------------------

struct TokenEndpoint::State {
  // Signing: the signing key, its issuers and what is published; replaced whole when
  // keys rotate (std::atomic_load / atomic_store), read by requests without a lock.
  struct Signing {
    Key key;
    Issuer cc_issuer;
    Issuer exchange_issuer;
    KeySet published;  // public halves, the signing key's first
    std::string jwks;
  };
  std::shared_ptr<const Signing> signing;
  std::mutex rotate_mu;  // one rotation at a time

  std::shared_ptr<const Signing> current() const { return std::atomic_load(&signing); }
  // make_signing: the Signing for `key` publishing `published` (the key's public half first).
  std::shared_ptr<const Signing> make_signing(const Key& key, std::vector<Key> published) const {
    IssuerOptions io;
    io.clock = opt.clock;
    io.typ = opt.client_credentials_typ;
    Issuer cc(key, opt.issuer, opt.token_lifetime, io);
    io.typ = opt.token_exchange_typ;
    Issuer ex(key, opt.issuer, opt.token_lifetime, io);
    KeySet set(std::move(published));
    std::string jwks = set.to_public_jwks().dump();
    return std::make_shared<const Signing>(Signing{key, std::move(cc), std::move(ex), std::move(set), std::move(jwks)});
  }

  std::shared_ptr<const ClientRegistry> clients;
  TokenEndpointOptions opt;
  std::string metadata;
  std::shared_ptr<const ReplayStore> assertion_replay;
  mutable FailureThrottle by_client;
  mutable FailureThrottle by_address;
  mutable std::atomic<std::uint64_t> issued{0}, refused{0}, secret_checks{0};
  // own_tokens: this endpoint's JWTs' claim rules, for introspection (the signature is
  // checked against the published keys).
  std::optional<Verifier> own_tokens;
  // opaque: the claims of each live opaque token, by the SHA-256 of the token.
  struct Opaque {
    json claims;
    std::chrono::system_clock::time_point exp;
  };
  mutable std::mutex opaque_mu;
  mutable std::map<std::string, Opaque> opaque;

  State(std::shared_ptr<const ClientRegistry> c, TokenEndpointOptions o)
      : clients(std::move(c)),
        opt(std::move(o)),
        by_client(opt.throttle_per_client, opt.throttle_window),
        by_address(opt.throttle_per_address, opt.throttle_window) {}

  template <typename F>
  TokenEndpointResponse respond(F&& f) const;

  void log(const std::string& line) const {
    if (!opt.log) return;
    try {
      opt.log(line);
    } catch (...) {  // a logger's failure is not the client's
    }
  }

  // Client authentication ---------------------------------------------------------

  // check_secret: PBKDF2 work for a known client's secret, or the same work for an
  // unknown one (then false).
  bool check_secret(const ClientRecord* client, std::string_view secret) const {
    ++secret_checks;
    if (client == nullptr || !client->secret) {
      SecretHash dummy{kDummySalt, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", opt.unknown_client_iterations};
      (void)dummy.matches(secret);
      return false;
    }
    return client->secret->matches(secret);
  }

  std::optional<ClientRecord> find_client(std::string_view id) const {
    try {
      return clients->find(id);
    } catch (...) {
      return std::nullopt;
    }
  }

  // invalid_client: RFC 6749 §5.2. A client that tried the Authorization header gets
  // 401 with a challenge of the scheme it used; otherwise 401 with the Basic challenge
  // when Basic is offered, and 400 when there is no scheme to name.
  Failure invalid_client(const std::string& description, std::string_view scheme = {}) const {
    const bool basic = has_method(opt.auth_methods, ClientAuth::client_secret_basic);
    if (scheme.empty() && !basic) return fail("invalid_client", description);
    const auto token_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    };
    std::string name = "Basic";
    if (!scheme.empty() && scheme.size() <= 32 && std::all_of(scheme.begin(), scheme.end(), token_char)) {
      name = std::string(scheme);
    }
    Failure f = fail("invalid_client", description, 401);
    f.headers.emplace_back("WWW-Authenticate", name + " realm=\"" + printable(opt.issuer) + "\"");
    return f;
  }

  Failure throttled(const std::string& id, const TokenEndpointRequest& req, std::chrono::seconds wait) const {
    log("token endpoint: throttled client " + printable(id) + " from " + printable(req.remote_address));
    Failure f = fail("invalid_request", "too many failed attempts; retry later", 429);
    f.headers.emplace_back("Retry-After", std::to_string(wait.count()));
    return f;
  }

  // authenticate: the client, by exactly one method (RFC 6749 §2.3).
  std::variant<ClientRecord, Failure> authenticate(const TokenEndpointRequest& req, const Form& form) const {
    std::vector<std::string> authorization;
    for (const auto& [k, v] : req.headers) {
      if (header_name_equals(k, "Authorization")) authorization.push_back(v);
    }
    if (authorization.size() > 1) return fail("invalid_request", "more than one Authorization header");
    const bool basic = !authorization.empty();
    const bool post = form.has("client_secret");
    const bool assertion = form.has("client_assertion") || form.has("client_assertion_type");
    if (int(basic) + int(post) + int(assertion) > 1) {
      return fail("invalid_request", "more than one client authentication method");
    }
    if (!basic && !post && !assertion) {
      // RFC 8705 §2: the connection's certificate, for the client the form names.
      if (req.client_certificate && form.has("client_id")) return authenticate_certificate(req, form);
      return invalid_client("client authentication required");
    }
    const auto method = basic  ? ClientAuth::client_secret_basic
                        : post ? ClientAuth::client_secret_post
                               : ClientAuth::private_key_jwt;
    // The scheme the client used in its Authorization header, if it used one.
    const std::string_view scheme =
        basic ? std::string_view(authorization.front()).substr(0, authorization.front().find(' ')) : std::string_view();
    if (!has_method(opt.auth_methods, method)) {
      return invalid_client(std::string(auth_name(method)) + " is not offered", scheme);
    }
    if (method == ClientAuth::private_key_jwt) return authenticate_assertion(req, form);

    std::string id = form.one("client_id");
    std::string secret = form.one("client_secret");
    if (basic) {
      const std::string& h = authorization.front();
      const std::size_t sp = h.find(' ');
      // RFC 9110 §11.1: the scheme name is case-insensitive.
      if (sp == std::string::npos || !header_name_equals(std::string_view(h).substr(0, sp), "Basic")) {
        return invalid_client("the Authorization scheme is not Basic", scheme);
      }
      std::size_t start = sp;
      while (start < h.size() && h[start] == ' ') ++start;
      std::string decoded;
      if (!base64_standard_decode(std::string_view(h).substr(start), decoded)) {
        return invalid_client("Basic credentials are not Base64", scheme);
      }
      const std::size_t colon = decoded.find(':');
      if (colon == std::string::npos) return invalid_client("Basic credentials without a colon", scheme);
      // RFC 6749 §2.3.1: both parts are form-encoded before the Base64.
      auto parts = form_decode("i=" + decoded.substr(0, colon) + "&s=" + decoded.substr(colon + 1));
      if (!parts || parts->size() != 2 || (*parts)[0].first != "i" || (*parts)[1].first != "s") {
        return invalid_client("Basic credentials are not form-encoded", scheme);
      }
      if (!id.empty() && id != (*parts)[0].second) {
        return invalid_client("client_id differs from the Basic credentials", scheme);
      }
      id = (*parts)[0].second;
      secret = (*parts)[1].second;
    }
    if (id.empty()) return invalid_client("no client_id", scheme);

    const auto now = opt.clock();
    // The per-client count guards secrets only: a client that authenticates by
    // certificate or assertion has nothing to guess, and must not be locked out by
    // someone guessing a secret for its name. Counted as failed before the secret is
    // hashed, in one step with the check, so that concurrent guesses cannot pass the
    // limit meanwhile; taken back when it matches.
    const std::string name_key = throttle_key("secret:", id);
    const std::string addr_key = throttle_key("addr:", req.remote_address);
    std::chrono::seconds wait{0};
    if (!by_client.attempt(name_key, now, &wait)) return throttled(id, req, wait);
    if (!by_address.attempt(addr_key, now, &wait)) {
      by_client.forgive(name_key);
      return throttled(id, req, wait);
    }
    auto client = find_client(id);
    const bool usable = client && has_method(methods_of(*client), method);
    const bool matched = check_secret(usable ? &*client : nullptr, secret);
    if (!matched) {
      by_client.settle(name_key);
      by_address.settle(addr_key);
      return invalid_client("client authentication failed", scheme);
    }
    by_client.forgive(name_key);
    by_address.forgive(addr_key);
    return std::move(*client);
  }

  // authenticate_certificate: tls_client_auth (a verified certificate with the client's
  // registered identity) or self_signed_tls_client_auth (a registered thumbprint).
  std::variant<ClientRecord, Failure> authenticate_certificate(const TokenEndpointRequest& req,
                                                               const Form& form) const {
    const PeerCertificate& cert = *req.client_certificate;
    const std::string id = form.one("client_id");
    // Per address only, as for assertions: a certificate cannot be guessed.
    const auto now = opt.clock();
    const std::string addr_key = throttle_key("addr:", req.remote_address);
    std::chrono::seconds wait{0};
    if (by_address.blocked(addr_key, now, &wait)) return throttled(id, req, wait);
    auto client = find_client(id);
    bool ok = false;
    if (client) {
      const auto methods = methods_of(*client);
      if (has_method(opt.auth_methods, ClientAuth::tls_client_auth) &&
          has_method(methods, ClientAuth::tls_client_auth) && cert.verified) {
        ok = (!client->tls_client_auth_san_uri.empty() &&
              contains(cert.uris, client->tls_client_auth_san_uri)) ||
             (!client->tls_client_auth_san_dns.empty() &&
              contains(cert.dns_names, client->tls_client_auth_san_dns)) ||
             (!client->tls_client_auth_subject_dn.empty() && cert.subject == client->tls_client_auth_subject_dn);
      }
      if (!ok && has_method(opt.auth_methods, ClientAuth::self_signed_tls_client_auth) &&
          has_method(methods, ClientAuth::self_signed_tls_client_auth)) {
        ok = contains(client->self_signed_thumbprints, cert.thumbprint);
      }
    }
    if (!ok) {
      by_address.failed(addr_key, now);
      log("token endpoint: client " + printable(id) + ": its certificate (" + printable(cert.subject) +
          ") does not authenticate it");
      return invalid_client("the client certificate does not authenticate this client");
    }
    return std::move(*client);
  }

  std::variant<ClientRecord, Failure> authenticate_assertion(const TokenEndpointRequest& req,
                                                             const Form& form) const {
    if (form.one("client_assertion_type") != kJwtBearer) {
      return invalid_client("client_assertion_type must be " + std::string(kJwtBearer));
    }
    const std::string assertion = form.one("client_assertion");
    if (assertion.empty()) return invalid_client("no client_assertion");
    // The client is named by the assertion's sub (RFC 7523 §3), read before the
    // signature is checked only to find its keys.
    auto unverified = decode_unverified(assertion, 16 * 1024);
    std::string id;
    if (unverified && unverified->payload_json() && unverified->payload_json()->is_object()) {
      const auto& p = *unverified->payload_json();
      const auto it = p.find("sub");
      if (it != p.end() && it->is_string()) id = it->get<std::string>();
    }
    if (id.empty()) return invalid_client("client_assertion is not a JWT with a sub");
    if (form.has("client_id") && form.one("client_id") != id) {
      return invalid_client("client_id differs from the assertion's sub");
    }
    // Throttled per address only: there is no secret to guess, and a per-client count
    // would let anyone lock the client out with forged assertions.
    const auto now = opt.clock();
    const std::string addr_key = throttle_key("addr:", req.remote_address);
    std::chrono::seconds wait{0};
    if (by_address.blocked(addr_key, now, &wait)) return throttled(id, req, wait);
    const auto refused = [&] { by_address.failed(addr_key, now); };
    auto client = find_client(id);
    if (!client || !has_method(methods_of(*client), ClientAuth::private_key_jwt) || !client->assertion_keys) {
      refused();
      return invalid_client("client authentication failed");
    }
    Policy p;
    p.issuers = {client->id};
    p.subject = client->id;
    p.audiences = {opt.token_endpoint, opt.issuer};
    if (!opt.introspection_endpoint.empty()) p.audiences.push_back(opt.introspection_endpoint);
    p.required_claims = {"jti"};
    p.replay_store = assertion_replay;
    p.single_use_max_lifetime = opt.max_assertion_lifetime;
    p.clock = opt.clock;
    p.leeway = 30s;
    try {
      const Verifier v(*client->assertion_keys, p);
      auto checked = v.verify(assertion);
      if (!checked && (checked.error().code == errc::replay_store_unavailable ||
                       checked.error().code == errc::internal_error)) {
        // Our trouble, not the client's: nothing is counted against it.
        log("token endpoint: client " + printable(id) + ": assertion not checked: " +
            std::string(to_string(checked.error().code)));
        return checked.error().code == errc::replay_store_unavailable
                   ? fail("temporarily_unavailable", "the assertion's jti cannot be recorded now; retry", 503)
                   : fail("server_error", "the assertion could not be checked", 500);
      }
      if (!checked) {
        refused();
        log("token endpoint: client " + printable(id) + ": assertion refused: " +
            std::string(to_string(checked.error().code)));
        return invalid_client("client_assertion refused: " + std::string(to_string(checked.error().code)));
      }
    } catch (const std::invalid_argument&) {
      return invalid_client("client authentication failed");
    }
    return std::move(*client);
  }

  // Grants --------------------------------------------------------------------------

  // targets: the requested audiences and resources, each allowed for the client; the
  // client's defaults when none are named.
  std::variant<std::vector<std::string>, Failure> targets(const ClientRecord& client, const Form& form) const {
    std::vector<std::string> out;
    for (const auto& r : form.all("resource")) {
      if (!absolute_uri(r)) return fail("invalid_target", "resource must be an absolute URI without a fragment");
      out.push_back(r);
    }
    for (const auto& a : form.all("audience")) out.push_back(a);
    for (const auto& t : out) {
      if (!contains(client.audiences, t)) {
        return fail("invalid_target", "target \"" + printable(t) + "\" is not allowed for this client");
      }
    }
    if (out.empty()) out = client.default_audiences.empty() ? client.audiences : client.default_audiences;
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // requested_scopes: the `scope` parameter's tokens; nullopt when it names none.
  std::variant<std::vector<std::string>, Failure> requested_scopes(const Form& form) const {
    const std::string scope = form.one("scope");
    if (scope.empty()) return std::vector<std::string>{};
    auto scopes = split_scopes(scope);
    for (const auto& s : scopes) {
      if (!scope_token_ok(s)) return fail("invalid_scope", "scope is not a space-separated list of scope tokens");
    }
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    return scopes;
  }

  std::variant<std::string, Failure> issue(const Issuer& issuer, ClaimsBuilder& claims,
                                           const std::vector<std::string>& audience,
                                           std::chrono::system_clock::time_point now,
                                           std::chrono::seconds lifetime, const ClientRecord& client,
                                           const TokenEndpointRequest& req, const std::string& jkt) const {
    // RFC 8705 §3: a token obtained over a connection with a client certificate is bound
    // to that certificate.
    if (req.client_certificate && client.certificate_bound_tokens) {
      bind_to_certificate(claims, req.client_certificate->thumbprint);
    }
    if (!jkt.empty()) bind_to_dpop_key(claims, jkt);  // RFC 9449 §6.1
    if (audience.size() == 1) {
      claims.audience(audience.front());
    } else {
      claims.audience(audience);
    }
    claims.issued_at(now).expires_at(now + lifetime);
    if (client.opaque_tokens) return remember_opaque(claims, now + lifetime);
    auto token = issuer.issue(claims);
    if (!token) return fail("server_error", "the token could not be issued", 500);
    return std::move(*token);
  }

  // remember_opaque: a random token standing for `claims` until `exp`.
  std::string remember_opaque(ClaimsBuilder& claims, std::chrono::system_clock::time_point exp) const {
    claims.issuer(opt.issuer).jwt_id(internal::b64url_encode(internal::random_bytes(16)));
    std::string token = internal::b64url_encode(internal::random_bytes(32));
    const auto now = opt.clock();
    const std::lock_guard<std::mutex> lock(opaque_mu);
    if (opaque.size() >= opt.max_opaque_tokens) {
      for (auto it = opaque.begin(); it != opaque.end();) it = it->second.exp <= now ? opaque.erase(it) : std::next(it);
      // Still full: the oldest to expire goes (its holder must ask again).
      if (opaque.size() >= opt.max_opaque_tokens && !opaque.empty()) {
        opaque.erase(std::min_element(opaque.begin(), opaque.end(),
                                      [](const auto& a, const auto& b) { return a.second.exp < b.second.exp; }));
      }
    }
    opaque[internal::sha256(token)] = Opaque{claims.json(), exp};
    return token;
  }

  // introspect: RFC 7662 §2.2's answer about `token`.
  json introspect(const std::string& token) const {
    const json inactive = {{"active", false}};
    const auto now = opt.clock();
    json claims;
    if (token.find('.') == std::string::npos) {
      const std::lock_guard<std::mutex> lock(opaque_mu);
      const auto it = opaque.find(internal::sha256(token));
      if (it == opaque.end()) return inactive;
      if (it->second.exp <= now) {
        opaque.erase(it);
        return inactive;
      }
      claims = it->second.claims;
    } else {
      // Ours: our signature, our issuer, not expired (own_tokens' rules, no leeway). A
      // bound token is answered too (with its cnf): the resource checks its holder.
      auto jws = verify_jws(token, current()->published);
      if (!jws) return inactive;
      auto parsed = internal::parse_json(jws->payload(), JsonLimits{});
      if (!parsed || !parsed->is_object()) return inactive;
      auto view = Claims::from_json(*parsed);
      if (!view || !own_tokens->check_claims(*view)) return inactive;
      claims = std::move(*parsed);
    }
    claims["active"] = true;
    const auto cnf = claims.find("cnf");
    claims["token_type"] = cnf != claims.end() && cnf->is_object() && cnf->contains("jkt") ? "DPoP" : "Bearer";
    return claims;
  }




  TokenEndpointResponse answer(const std::string& token, std::chrono::seconds lifetime,
                               const std::vector<std::string>& scopes, std::string_view issued_type,
                               bool dpop_bound) const {
    json body = {{"access_token", token},
                 {"token_type", dpop_bound ? "DPoP" : "Bearer"},
                 {"expires_in", lifetime.count()}};
    if (!scopes.empty()) body["scope"] = join(scopes);
    if (!issued_type.empty()) body["issued_token_type"] = issued_type;
    ++issued;
    return TokenEndpointResponse{200, common_headers(), body.dump()};
  }

  static HttpHeaders common_headers() {
    // RFC 6749 §5.1: tokens and errors are never cached.
    return {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
  }

  std::variant<TokenEndpointResponse, Failure> client_credentials(const ClientRecord& client, const Form& form,
                                                                  const TokenEndpointRequest& req,
                                                                  const std::string& jkt) const {
    if (form.has("subject_token") || form.has("actor_token")) {
      return fail("invalid_request", "subject_token and actor_token belong to token exchange");
    }
    auto scopes = requested_scopes(form);
    if (auto* f = std::get_if<Failure>(&scopes)) return std::move(*f);
    auto& want = std::get<std::vector<std::string>>(scopes);
    for (const auto& s : want) {
      if (!contains(client.scopes, s)) return fail("invalid_scope", "scope \"" + s + "\" is not allowed for this client");
    }
    if (want.empty()) want = client.scopes;
    auto aud = targets(client, form);
    if (auto* f = std::get_if<Failure>(&aud)) return std::move(*f);
    const auto& audience = std::get<std::vector<std::string>>(aud);
    const auto lifetime = client.token_lifetime.value_or(opt.token_lifetime);
    ClaimsBuilder c;
    c.subject(client.id).client_id(client.id);
    if (!want.empty()) c.scopes(want);
    const auto sign = current();
    auto token = issue(sign->cc_issuer, c, audience, opt.clock(), lifetime, client, req, jkt);
    if (auto* f = std::get_if<Failure>(&token)) return std::move(*f);
    const bool bound = req.client_certificate && client.certificate_bound_tokens;
    log("token endpoint: client credentials: token for " + client.id + " (aud " + join(audience) + ", " +
        std::to_string(lifetime.count()) + " s" + (bound ? ", bound to its certificate" : "") +
        (jkt.empty() ? "" : ", bound to its DPoP key") + ")");
    return answer(std::get<std::string>(token), lifetime, want, {}, !jkt.empty());
  }

  std::variant<TokenEndpointResponse, Failure> token_exchange(const ClientRecord& client, const Form& form,
                                                              const TokenEndpointRequest& req,
                                                              const std::string& jkt) const {
    // RFC 8693 §2.1: subject_token and subject_token_type are required; actor_token_type
    // goes with actor_token and only with it.
    const std::string subject_token = form.one("subject_token");
    const std::string subject_type = form.one("subject_token_type");
    const std::string actor_token = form.one("actor_token");
    const std::string actor_type = form.one("actor_token_type");
    const std::string requested_type = form.one("requested_token_type");
    if (subject_token.empty()) return fail("invalid_request", "subject_token is required");
    if (subject_type.empty()) return fail("invalid_request", "subject_token_type is required");
    const auto jwt_type = [](const std::string& t) { return t == kAccessTokenType || t == kJwtTokenType; };
    if (!jwt_type(subject_type)) return fail("invalid_request", "subject_token_type is not supported");
    if (actor_token.empty() != actor_type.empty()) {
      return fail("invalid_request", "actor_token and actor_token_type go together");
    }
    if (!actor_type.empty() && !jwt_type(actor_type)) return fail("invalid_request", "actor_token_type is not supported");
    if (!requested_type.empty() && !jwt_type(requested_type)) {
      return fail("invalid_request", "requested_token_type is not supported");
    }
    // §2.2.2: an invalid or unacceptable subject or actor token is invalid_request.
    // A bound subject token counts only from the holder of its certificate.
    Presented presented;
    if (req.client_certificate) presented.certificate_thumbprint = req.client_certificate->thumbprint;
    auto subject = opt.subject_tokens->verify(subject_token, presented);
    if (!subject) {
      return fail("invalid_request", "subject_token refused: " + std::string(to_string(subject.error().code)));
    }
    json act = {{"sub", client.id}};
    if (!actor_token.empty()) {
      if (!opt.actor_tokens) return fail("invalid_request", "actor tokens are not accepted");
      auto actor = opt.actor_tokens->verify(actor_token, presented);
      if (!actor) return fail("invalid_request", "actor_token refused: " + std::string(to_string(actor.error().code)));
      const auto sub = actor->claims().subject();
      if (!sub) return fail("invalid_request", "actor_token has no sub");
      act = {{"sub", *sub}};
    }
    // RFC 8693 §4.1: earlier actors nest inside the new one.
    if (auto prior = subject->claims().get("act"); prior && prior->is_object()) act["act"] = *prior;

    auto scopes = requested_scopes(form);
    if (auto* f = std::get_if<Failure>(&scopes)) return std::move(*f);
    auto& want = std::get<std::vector<std::string>>(scopes);
    const auto held = subject->claims().scopes();
    for (const auto& s : want) {
      if (!contains(held, s)) return fail("invalid_scope", "scope \"" + s + "\" is not held by the subject");
    }
    if (want.empty()) want = held;
    auto aud = targets(client, form);
    if (auto* f = std::get_if<Failure>(&aud)) return std::move(*f);
    const auto& audience = std::get<std::vector<std::string>>(aud);

    // The new token never outlives the subject token.
    const auto now = opt.clock();
    auto lifetime = client.token_lifetime.value_or(opt.token_lifetime);
    if (const auto exp = subject->expires_at()) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(*exp - NumericDate(now));
      lifetime = std::min(lifetime, left);
    }
    if (lifetime <= 0s) return fail("invalid_request", "subject_token expires now");
    const auto sub = subject->claims().subject();
    if (!sub) return fail("invalid_request", "subject_token has no sub");
    ClaimsBuilder c;
    c.subject(*sub).client_id(client.id).claim("act", act);
    if (!want.empty()) c.scopes(want);
    const auto sign = current();
    auto token = issue(sign->exchange_issuer, c, audience, now, lifetime, client, req, jkt);
    if (auto* f = std::get_if<Failure>(&token)) return std::move(*f);
    log("token endpoint: token exchange: " + client.id + " for subject " + printable(*sub) + " (aud " +
        join(audience) + ")");
    return answer(std::get<std::string>(token), lifetime, want,
                  requested_type.empty() ? kAccessTokenType : std::string_view(requested_type), !jkt.empty());
  }

  // The request --------------------------------------------------------------------

  // read_form: the request as RFC 6749 §3.2 wants it: POST, a form, each parameter once
  // (but audience and resource), within the size limit.
  std::variant<Form, Failure> read_form(const TokenEndpointRequest& req) const {
    if (req.method != "POST") {
      Failure f = fail("invalid_request", "the endpoint takes POST", 405);
      f.headers.emplace_back("Allow", "POST");
      return f;
    }
    // RFC 6749 §3.2: a form. Anything else (text/plain is what a browser sends across
    // origins without asking first) is refused before it is read.
    std::vector<std::string> types;
    for (const auto& [k, v] : req.headers) {
      if (header_name_equals(k, "Content-Type")) types.push_back(v);
    }
    std::string media = types.size() == 1 ? types.front().substr(0, types.front().find(';')) : std::string();
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
    if (!header_name_equals(media, "application/x-www-form-urlencoded")) {
      return fail("invalid_request", "the body must be application/x-www-form-urlencoded");
    }
    if (req.body.size() > opt.max_body_bytes) return fail("invalid_request", "the request is too large");
    auto decoded = form_decode(req.body);
    if (!decoded) return fail("invalid_request", "the body is not form-encoded");
    Form form;
    for (auto& [k, v] : *decoded) {
      if (v.empty()) continue;  // RFC 6749 §3.1: sent without a value = omitted
      // §3.2: parameters must not repeat; RFC 8693 and RFC 8707 let audience and
      // resource name several targets.
      if (k != "audience" && k != "resource" && form.has(k)) {
        return fail("invalid_request", "parameter " + printable(k) + " is repeated");
      }
      form.fields.emplace_back(std::move(k), std::move(v));
    }
    return form;
  }

  // authenticated: the client the request authenticates as (logged when it fails).
  std::variant<ClientRecord, Failure> authenticated(const TokenEndpointRequest& req, const Form& form) const {
    auto client = authenticate(req, form);
    if (auto* f = std::get_if<Failure>(&client)) {
      if (f->error == "invalid_client") {
        log("token endpoint: client authentication failed from " + printable(req.remote_address) + ": " +
            f->description);
      }
    }
    return client;
  }

  std::variant<TokenEndpointResponse, Failure> handle_introspection(const TokenEndpointRequest& req) const {
    if (opt.introspection_endpoint.empty()) return fail("invalid_request", "there is no introspection endpoint", 404);
    auto read = read_form(req);
    if (auto* f = std::get_if<Failure>(&read)) return std::move(*f);
    const Form& form = std::get<Form>(read);
    auto client = authenticated(req, form);
    if (auto* f = std::get_if<Failure>(&client)) return std::move(*f);
    if (!std::get<ClientRecord>(client).may_introspect) {
      return fail("unauthorized_client", "this client may not introspect tokens", 403);
    }
    const std::string token = form.one("token");
    if (token.empty()) return fail("invalid_request", "token is required");
    json out = introspect(token);
    return TokenEndpointResponse{200, common_headers(), out.dump(-1, ' ', false, json::error_handler_t::replace)};
  }

  std::variant<TokenEndpointResponse, Failure> handle(const TokenEndpointRequest& req) const {
    auto read = read_form(req);
    if (auto* f = std::get_if<Failure>(&read)) return std::move(*f);
    const Form& form = std::get<Form>(read);
    auto who = authenticated(req, form);
    if (auto* f = std::get_if<Failure>(&who)) return std::move(*f);
    const ClientRecord& client = std::get<ClientRecord>(who);
    const std::string grant = form.one("grant_type");
    if (grant.empty()) return fail("invalid_request", "grant_type is required");
    const bool exchange_offered = opt.subject_tokens != nullptr;
    if (grant != kClientCredentialsGrant && !(grant == kTokenExchangeGrant && exchange_offered)) {
      return fail("unsupported_grant_type", "grant_type " + printable(grant) + " is not supported");
    }
    if (!contains(client.grant_types, grant)) {
      return fail("unauthorized_client", "this client may not use " + printable(grant));
    }
    auto jkt = dpop_key(req);
    if (auto* f = std::get_if<Failure>(&jkt)) return std::move(*f);
    const std::string& bound_to = std::get<std::string>(jkt);
    if (grant == kClientCredentialsGrant) return client_credentials(client, form, req, bound_to);
    return token_exchange(client, form, req, bound_to);
  }

  // dpop_key: the thumbprint of the key of the request's DPoP proof (RFC 9449 §5), ""
  // when DPoP is off or the request has no proof.
  std::variant<std::string, Failure> dpop_key(const TokenEndpointRequest& req) const {
    if (!opt.dpop) return std::string();
    std::vector<std::string_view> proofs;
    for (const auto& [k, v] : req.headers) {
      if (header_name_equals(k, "DPoP")) proofs.emplace_back(v);
    }
    if (proofs.empty()) return std::string();
    if (proofs.size() > 1) return fail("invalid_dpop_proof", "more than one DPoP proof");
    auto proof = check_dpop_proof(proofs.front(), "POST", opt.token_endpoint, {}, *opt.dpop);
    if (!proof && proof.error().code == errc::bad_proof && !opt.mtls_token_endpoint.empty()) {
      proof = check_dpop_proof(proofs.front(), "POST", opt.mtls_token_endpoint, {}, *opt.dpop);
    }
    if (!proof) {
      if (proof.error().code == errc::use_dpop_nonce && opt.dpop->nonce) {
        Failure f = fail("use_dpop_nonce", "the DPoP proof must carry the server's nonce");
        f.headers.emplace_back("DPoP-Nonce", *opt.dpop->nonce);
        return f;
      }
      return fail("invalid_dpop_proof", "the DPoP proof is not acceptable: " + proof.error().detail);
    }
    auto first = assertion_replay->first_use("dpop", proof->jti, proof->replay_until);
    if (!first) {
      if (first.error().code == errc::replayed) return fail("invalid_dpop_proof", "the DPoP proof was used before");
      return fail("temporarily_unavailable", "the replay store is unavailable", 503);
    }
    return std::move(proof->jkt);
  }
};

TokenEndpoint::TokenEndpoint(Key signing_key, std::shared_ptr<const ClientRegistry> clients,
                             TokenEndpointOptions options) {
  const auto bad = [](const std::string& why) { throw std::invalid_argument("tokenpass::TokenEndpoint: " + why); };
  if (!signing_key.can_sign()) bad("the key cannot sign");
  if (!clients) bad("no client registry");
  if (options.issuer.empty()) bad("empty issuer");
  if (options.token_lifetime <= 0s) bad("token_lifetime must be positive");
  if (options.auth_methods.empty()) bad("no client authentication method");
  if (options.max_assertion_lifetime <= 0s) bad("max_assertion_lifetime must be positive");
  if (options.unknown_client_iterations < 1) bad("unknown_client_iterations must be positive");
  if (options.token_endpoint.empty()) options.token_endpoint = options.issuer + "/token";
  if (options.jwks_uri.empty()) options.jwks_uri = options.issuer + "/.well-known/jwks.json";
  for (const auto* url : {&options.issuer, &options.token_endpoint, &options.jwks_uri}) {
    if (!parse_url(*url)) bad("not an http(s) URL: " + *url);
  }
  for (const auto* url : {&options.mtls_token_endpoint, &options.introspection_endpoint}) {
    if (!url->empty() && !parse_url(*url)) bad("not an http(s) URL: " + *url);
  }
  if (!options.clock) options.clock = [] { return std::chrono::system_clock::now(); };
  state_ = std::make_unique<State>(std::move(clients), std::move(options));
  State& s = *state_;
  s.assertion_replay = s.opt.assertion_replay;
  if (!s.assertion_replay) {
    MemoryReplayStoreOptions ro;
    ro.clock = s.opt.clock;
    s.assertion_replay = std::make_shared<MemoryReplayStore>(ro);
  }
  if (s.opt.max_published_keys < 1) bad("max_published_keys must be at least 1");
  auto pub = signing_key.public_key();
  if (!pub) bad("the key has no public half to publish");
  s.signing = s.make_signing(signing_key, {*pub});
  Policy own;
  own.issuers = {s.opt.issuer};
  own.any_audience();
  own.leeway = 0s;
  own.clock = s.opt.clock;
  s.own_tokens.emplace(KeySet({*pub}), own);

  // RFC 8414 §2: only what works here.
  json grants = {kClientCredentialsGrant};
  if (s.opt.subject_tokens) grants.push_back(kTokenExchangeGrant);
  json methods = json::array();
  for (const auto m : s.opt.auth_methods) methods.push_back(auth_name(m));
  json doc = {{"issuer", s.opt.issuer},
              {"token_endpoint", s.opt.token_endpoint},
              {"jwks_uri", s.opt.jwks_uri},
              {"grant_types_supported", grants},
              {"token_endpoint_auth_methods_supported", methods},
              // Required by §2; there is no authorization endpoint, so none.
              {"response_types_supported", json::array()}};
  if (has_method(s.opt.auth_methods, ClientAuth::private_key_jwt)) {
    json algs = json::array();
    for (const char* a : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}) {
      algs.push_back(a);
    }
    doc["token_endpoint_auth_signing_alg_values_supported"] = algs;
  }
  // RFC 8705 §3.3, §5: where clients come with certificates, their tokens are bound.
  if (has_method(s.opt.auth_methods, ClientAuth::tls_client_auth) ||
      has_method(s.opt.auth_methods, ClientAuth::self_signed_tls_client_auth) || !s.opt.mtls_token_endpoint.empty()) {
    doc["tls_client_certificate_bound_access_tokens"] = true;
  }
  if (!s.opt.mtls_token_endpoint.empty()) {
    doc["mtls_endpoint_aliases"] = {{"token_endpoint", s.opt.mtls_token_endpoint}};
  }
  if (!s.opt.introspection_endpoint.empty()) {
    doc["introspection_endpoint"] = s.opt.introspection_endpoint;
    doc["introspection_endpoint_auth_methods_supported"] = methods;
    // §2: required beside private_key_jwt; the introspection endpoint authenticates
    // clients as the token endpoint does.
    if (doc.contains("token_endpoint_auth_signing_alg_values_supported")) {
      doc["introspection_endpoint_auth_signing_alg_values_supported"] =
          doc["token_endpoint_auth_signing_alg_values_supported"];
    }
  }
  if (s.opt.dpop) {  // RFC 9449 §5.1
    json algs = json::array();
    for (const Alg a : s.opt.dpop->algorithms.empty() ? all_algs() : s.opt.dpop->algorithms) {
      if (a != Alg::HS256 && a != Alg::HS384 && a != Alg::HS512) algs.push_back(to_string(a));
    }
    doc["dpop_signing_alg_values_supported"] = algs;
  }
  s.metadata = doc.dump();
}

TokenEndpoint::~TokenEndpoint() = default;

namespace {

// observe tells the observer how a request was answered: the grant from the form (a
// fixed set of labels), the outcome from the answer (issued, active, inactive, or the
// OAuth error code, which comes from our own fixed set).
void observe(Observer& observer, std::string_view endpoint, const TokenEndpointRequest& request,
             const TokenEndpointResponse& response) noexcept {
  try {
    std::string_view grant = "introspection";
    if (endpoint == "token") {
      grant = "other";
      if (auto form = form_decode(request.body)) {
        for (const auto& [name, value] : *form) {
          if (name != "grant_type") continue;
          if (value == "client_credentials") grant = "client_credentials";
          if (value == "urn:ietf:params:oauth:grant-type:token-exchange") grant = "token_exchange";
          break;
        }
      }
    }
    std::string outcome = "server_error";
    const json body = json::parse(response.body, nullptr, false);
    if (response.status == 200) {
      outcome = endpoint == "token" ? "issued"
                : body.is_object() && body.value("active", false) ? "active"
                                                                  : "inactive";
    } else if (body.is_object() && body.contains("error") && body["error"].is_string()) {
      outcome = body["error"].get<std::string>();
    }
    observer.token_endpoint(endpoint, grant, outcome);
  } catch (...) {
    // Only a sample is lost.
  }
}

}  // namespace

TokenEndpointResponse TokenEndpoint::handle(const TokenEndpointRequest& request) const {
  TokenEndpointResponse r = state_->respond([&] { return state_->handle(request); });
  if (state_->opt.observer) observe(*state_->opt.observer, "token", request, r);
  return r;
}

template <typename F>
TokenEndpointResponse TokenEndpoint::State::respond(F&& f) const {
  const State& s = *this;
  try {
    auto out = f();
    if (auto* r = std::get_if<TokenEndpointResponse>(&out)) return std::move(*r);
    Failure& f = std::get<Failure>(out);
    ++s.refused;
    TokenEndpointResponse r{f.status, State::common_headers(), {}};
    for (auto& h : f.headers) r.headers.push_back(std::move(h));
    r.body = json{{"error", f.error}, {"error_description", f.description}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    return r;
  } catch (...) {
    ++s.refused;
    TokenEndpointResponse r{500, State::common_headers(), {}};
    r.body = R"({"error":"server_error","error_description":"the request failed inside the token endpoint"})";
    return r;
  }
}

TokenEndpointResponse TokenEndpoint::handle_introspection(const TokenEndpointRequest& request) const {
  TokenEndpointResponse r = state_->respond([&] { return state_->handle_introspection(request); });
  if (state_->opt.observer) observe(*state_->opt.observer, "introspection", request, r);
  return r;
}

const std::string& TokenEndpoint::introspection_endpoint() const noexcept { return state_->opt.introspection_endpoint; }

const std::string& TokenEndpoint::metadata() const noexcept { return state_->metadata; }
std::string TokenEndpoint::jwks() const { return state_->current()->jwks; }

std::string TokenEndpoint::signing_kid() const { return state_->current()->key.kid(); }

namespace {

// published_with: `published` with `add` first (`signing`: it signs; else after the
// signing key), trimmed to `max` by dropping the oldest keys that do not sign.
std::vector<Key> published_with(const std::vector<Key>& published, const Key& add, bool signing, std::size_t max) {
  const auto bad = [](const std::string& why) { throw std::invalid_argument("tokenpass::TokenEndpoint: " + why); };
  if (add.kid().empty()) bad("a rotated or published key needs a kid");
  if (!signing && !published.empty() && published.front().kid() == add.kid()) {
    // The signing key itself: published already.
    if (published.front().thumbprint() != add.thumbprint()) bad("the kid " + add.kid() + " is the signing key's");
    return published;
  }
  std::vector<Key> out;
  for (const Key& k : published) {
    if (k.kid() != add.kid()) continue;
    if (k.thumbprint() != add.thumbprint()) bad("the kid " + add.kid() + " is published with another key");
  }
  if (signing) out.push_back(add);
  for (const Key& k : published) {
    if (k.kid() != add.kid()) out.push_back(k);
  }
  if (!signing) out.insert(out.begin() + 1, add);
  // The oldest keys are last (besides a key just published, which is second).
  while (out.size() > max) out.pop_back();
  return out;
}

}  // namespace

void TokenEndpoint::publish_key(const Key& next) {
  State& s = *state_;
  auto pub = next.public_key();
  if (!pub) throw std::invalid_argument("tokenpass::TokenEndpoint: the key has no public half to publish");
  std::lock_guard<std::mutex> g(s.rotate_mu);
  const auto now = s.current();
  auto published = published_with(now->published.keys(), *pub, false, s.opt.max_published_keys);
  std::atomic_store(&s.signing, s.make_signing(now->key, std::move(published)));
}

void TokenEndpoint::rotate_key(Key next) {
  State& s = *state_;
  if (!next.can_sign()) throw std::invalid_argument("tokenpass::TokenEndpoint: the key cannot sign");
  auto pub = next.public_key();
  if (!pub) throw std::invalid_argument("tokenpass::TokenEndpoint: the key has no public half to publish");
  std::lock_guard<std::mutex> g(s.rotate_mu);
  const auto now = s.current();
  auto published = published_with(now->published.keys(), *pub, true, s.opt.max_published_keys);
  std::atomic_store(&s.signing, s.make_signing(next, std::move(published)));
}

bool TokenEndpoint::retire_key(std::string_view kid) {
  State& s = *state_;
  std::lock_guard<std::mutex> g(s.rotate_mu);
  const auto now = s.current();
  if (now->key.kid() == kid) return false;
  std::vector<Key> published;
  for (const Key& k : now->published.keys()) {
    if (k.kid() != kid) published.push_back(k);
  }
  if (published.size() == now->published.size()) return false;
  std::atomic_store(&s.signing, s.make_signing(now->key, std::move(published)));
  return true;
}
const std::string& TokenEndpoint::issuer() const noexcept { return state_->opt.issuer; }
const std::string& TokenEndpoint::token_endpoint() const noexcept { return state_->opt.token_endpoint; }
const std::string& TokenEndpoint::jwks_uri() const noexcept { return state_->opt.jwks_uri; }
const std::string& TokenEndpoint::mtls_token_endpoint() const noexcept { return state_->opt.mtls_token_endpoint; }
std::size_t TokenEndpoint::max_body_bytes() const noexcept { return state_->opt.max_body_bytes; }

TokenEndpointStats TokenEndpoint::stats() const {
  return TokenEndpointStats{state_->issued.load(), state_->refused.load(), state_->secret_checks.load()};
}

}  // namespace tokenpass

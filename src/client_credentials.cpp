#include "tokenpass/client_credentials.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>

#include "internal/base64url.h"
#include "internal/basic_auth.h"
#include "internal/metadata.h"
#include "internal/rules.h"
#include "internal/json.h"
#include "internal/openssl.h"
#include "tokenpass/jws.h"
#include "tokenpass/propagation.h"

namespace tokenpass {

using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;

namespace {

std::string base64_standard(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '*') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

using internal::hex_value;

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return make_error(errc::malformed, "truncated percent-escape");
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return make_error(errc::malformed, "bad percent-escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// printable: a short, safe rendering of text a token endpoint sent (for `detail`).
std::string printable(std::string_view s, std::size_t max = 120) {
  std::string out;
  for (const char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  return out;
}

// is_refusal: an RFC 6749 §5.2 (or RFC 8693 §2.2.2 / RFC 8707 §2) error code, which
// says that this request will not be granted however often it is sent.
bool is_refusal(std::string_view error) {
  for (const std::string_view code :
       {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
        "unsupported_grant_type", "invalid_scope", "invalid_target"}) {
    if (error == code) return true;
  }
  return false;
}

std::string join_scopes(std::vector<std::string> scopes) {
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

}  // namespace

Result<std::string> discover_token_endpoint(std::string_view issuer, HttpClient& http, bool mtls,
                                            bool allow_http) {
  try {
    auto doc = internal::fetch_metadata(issuer, allow_http, std::chrono::milliseconds(5000), 512 * 1024, http);
    if (!doc) return doc.error();
    const nlohmann::json* url = nullptr;
    if (mtls) {
      const auto aliases = doc->find("mtls_endpoint_aliases");
      if (aliases != doc->end() && aliases->is_object()) {
        const auto alias = aliases->find("token_endpoint");
        if (alias != aliases->end()) url = &*alias;
      }
    }
    if (url == nullptr) {
      const auto plain = doc->find("token_endpoint");
      if (plain == doc->end()) return make_error(errc::malformed, "metadata has no \"token_endpoint\"");
      url = &*plain;
    }
    if (!url->is_string()) return make_error(errc::malformed, "the metadata's token endpoint is not a string");
    std::string why;
    if (!internal::scheme_allowed(url->get_ref<const std::string&>(), allow_http, &why)) {
      return make_error(errc::invalid_request, "token_endpoint: " + why);
    }
    return url->get<std::string>();
  } catch (...) {
    return make_error(errc::internal_error, "discovery failed inside the library");
  }
}

std::string internal::basic_authorization(std::string_view client_id, std::string_view client_secret) {
  return "Basic " + base64_standard(percent_encode(client_id) + ":" + percent_encode(client_secret));
}

std::string form_encode(const HttpHeaders& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(name);
    out.push_back('=');
    out += percent_encode(value);
  }
  return out;
}

Result<HttpHeaders> form_decode(std::string_view body) {
  HttpHeaders out;
  std::size_t i = 0;
  while (i < body.size()) {
    std::size_t end = body.find('&', i);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view pair = body.substr(i, end - i);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      auto name = percent_decode(pair.substr(0, eq));
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (!name || !value) return make_error(errc::malformed, "bad form encoding");
      out.emplace_back(std::move(*name), std::move(*value));
    }
    i = end + 1;
  }
  return out;
}

namespace internal {

// TokenClient: the shared machinery of ClientCredentials and TokenExchange: client
// authentication, the POST, RFC 6749 §5.1/§5.2 parsing, and a single-flight cache.
class TokenClient {
 public:
  TokenClient(ClientCredentialsOptions options, std::shared_ptr<HttpClient> http)
      : opt_(std::move(options)), http_(std::move(http)) {
    const auto fail = [](const std::string& why) {
      throw std::invalid_argument("tokenpass token client: " + why);
    };
    if (!http_) fail("no HttpClient");
    if (opt_.client_id.empty()) fail("no client_id");
    auto url = parse_url(opt_.token_endpoint);
    if (!url) fail("token_endpoint: " + url.error().detail);
    if (url->scheme == "http" && !opt_.allow_http) fail("token_endpoint must be https");
    const bool secret_method =
        opt_.auth == ClientAuth::client_secret_basic || opt_.auth == ClientAuth::client_secret_post;
    if (secret_method && opt_.client_secret.empty()) {
      fail("client_secret_basic/post need a client_secret");
    }
    if (opt_.auth == ClientAuth::private_key_jwt &&
        (!opt_.assertion_key || !opt_.assertion_key->can_sign())) {
      fail("private_key_jwt needs a private assertion_key that can sign");
    }
    if (!(opt_.refresh_at > 0.0 && opt_.refresh_at <= 1.0)) fail("refresh_at must be in (0, 1]");
    if (opt_.min_retry.count() <= 0 || opt_.max_retry < opt_.min_retry) fail("bad retry bounds");
    if (!opt_.clock) opt_.clock = [] { return SysClock::now(); };
  }

  TimePoint now() const { return opt_.clock(); }

  // get: the cached token for `key`, or a fresh one from `params` (single flight).
  // `not_after` caps the cached lifetime (an exchanged token never outlives its subject).
  Result<AccessToken> get(const std::string& key, const HttpHeaders& params, std::string_view audience,
                          std::optional<TimePoint> not_after = std::nullopt) {
    if (!opt_.observer) return get_unobserved(key, params, not_after, nullptr);
    bool cached = false;
    Result<AccessToken> got = get_unobserved(key, params, not_after, &cached);
    ClientTokenEvent event;
    event.client = opt_.client_id;
    event.audience = audience;
    event.outcome = !got ? ClientTokenOutcome::failure : cached ? ClientTokenOutcome::cache_hit : ClientTokenOutcome::success;
    if (got) event.expires_at = got->expires_at;
    opt_.observer->client_token(event);
    return got;
  }

  Result<AccessToken> get_unobserved(const std::string& key, const HttpHeaders& params,
                                     std::optional<TimePoint> not_after, bool* cached) {
    if (opt_.fresh_each_call) {
      // A new token for each call: nothing cached, no single flight.
      Result<AccessToken> got = request(params);
      std::lock_guard<std::mutex> g(mu_);
      if (!got) ++stats_.failures;
      if (got && not_after && *not_after < got->expires_at) got->expires_at = *not_after;
      return got;
    }
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      Entry& e = cache_[key];
      const TimePoint t = now();
      const bool valid = e.token && t < e.usable_until;
      if (valid && (t < e.refresh_at || e.in_flight || t < e.next_retry)) {
        ++stats_.cache_hits;
        if (cached != nullptr) *cached = true;
        return *e.token;
      }
      if (!valid && e.in_flight) {
        // Single flight: wait for the request already out (bounded), then look again.
        // Any completed request wakes the waiters: the entry may have been trimmed
        // meanwhile, and then this caller asks anew.
        const std::uint64_t seen = completions_;
        if (!done_.wait_for(lock, opt_.timeout + std::chrono::milliseconds(100),
                            [&] { return completions_ != seen; })) {
          return make_error(errc::http_error, "token endpoint: request still pending");
        }
        continue;
      }
      if (!valid && t < e.next_retry) {
        return e.last_error ? *e.last_error : make_error(errc::http_error, "token endpoint: backing off");
      }
      // This caller makes the request; others keep the valid token or wait.
      e.in_flight = true;
      lock.unlock();
      Result<AccessToken> got = request(params);
      lock.lock();
      Entry& done = cache_[key];
      done.in_flight = false;
      ++completions_;
      const TimePoint after = now();
      if (got) {
        auto lifetime = got->expires_at - after;
        TimePoint expires = got->expires_at;
        if (not_after && *not_after < expires) expires = *not_after;
        // Never hand out a token in its last moments: a margin of a tenth of its life,
        // at most 10 s, covers the time it takes to reach the downstream service.
        const auto margin = std::min<SysClock::duration>(lifetime / 10, std::chrono::seconds(10));
        done.token = *got;
        done.usable_until = expires - margin;
        done.refresh_at = after + std::chrono::duration_cast<SysClock::duration>(lifetime * opt_.refresh_at);
        done.backoff = std::chrono::seconds(0);
        done.next_retry = TimePoint::min();
        done.last_error.reset();
      } else {
        ++stats_.failures;
        done.backoff = done.backoff.count() == 0 ? opt_.min_retry
                                                 : std::min(done.backoff * 2, opt_.max_retry);
        done.next_retry = after + done.backoff;
        done.last_error = got.error();
      }
      // Failed entries count too: endpoint failures for ever new keys (an exchange per
      // subject token) must not grow the cache past its bound.
      trim_locked(key);
      done_.notify_all();
      if (got) return got;
      // The request failed: a still-valid cached token keeps being served.
      if (done.token && after < done.usable_until) {
        ++stats_.cache_hits;
        if (cached != nullptr) *cached = true;
        return *done.token;
      }
      return got;
    }
  }

  TokenClientStats stats() const {
    std::lock_guard<std::mutex> g(mu_);
    return stats_;
  }

  const ClientCredentialsOptions& options() const { return opt_; }

 private:
  struct Entry {
    std::optional<AccessToken> token;
    TimePoint usable_until{};
    TimePoint refresh_at{};
    bool in_flight = false;
    TimePoint next_retry = TimePoint::min();
    std::chrono::seconds backoff{0};
    std::optional<Error> last_error;
  };

  // trim_locked never drops `keep`: the entry just filled (its waiters look it up).
  void trim_locked(const std::string& keep) {
    if (cache_.size() <= opt_.max_cache_entries) return;
    // Drop entries that are idle and no longer usable first, then any idle one.
    const TimePoint t = now();
    for (auto it = cache_.begin(); it != cache_.end() && cache_.size() > opt_.max_cache_entries;) {
      if (it->first != keep && !it->second.in_flight &&
          (!it->second.token || t >= it->second.usable_until)) {
        it = cache_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = cache_.begin(); it != cache_.end() && cache_.size() > opt_.max_cache_entries;) {
      it = it->second.in_flight || it->first == keep ? std::next(it) : cache_.erase(it);
    }
  }

  Result<std::string> assertion() const {
    // RFC 7523 §3: iss = sub = client_id, aud = the token endpoint, exp, jti.
    const TimePoint t = now();
    const auto secs = [](TimePoint p) {
      return std::chrono::duration_cast<std::chrono::seconds>(p.time_since_epoch()).count();
    };
    const nlohmann::json claims = {{"iss", opt_.client_id},
                                   {"sub", opt_.client_id},
                                   {"aud", opt_.token_endpoint},
                                   {"iat", secs(t)},
                                   {"exp", secs(t + opt_.assertion_lifetime)},
                                   {"jti", internal::b64url_encode(internal::random_bytes(16))}};
    return sign_jws(*opt_.assertion_key, claims.dump());
  }

  Result<AccessToken> request(const HttpHeaders& params) {
    // RFC 9449 §8: a server that wants a nonce says so once (400 use_dpop_nonce with a
    // DPoP-Nonce header); the request is made again with it, and a fresh assertion.
    Result<HttpResponse> res = make_error(errc::http_error, "not sent");
    for (int attempt = 0; attempt < 2; ++attempt) {
      res = send_once(params);
      if (!res) return make_error(errc::http_error, "token endpoint: " + res.error().detail);
      if (!opt_.dpop) break;
      const auto nonce = res->header("DPoP-Nonce");
      if (nonce) opt_.dpop->remember_nonce(opt_.token_endpoint, *nonce);
      if (!nonce || res->status != 400 || res->body.find("use_dpop_nonce") == std::string::npos) break;
    }
    return parse(*res);
  }

  Result<HttpResponse> send_once(HttpHeaders params) {
    HttpRequest req;
    req.method = "POST";
    req.url = opt_.token_endpoint;
    req.timeout = opt_.timeout;
    req.max_response_bytes = opt_.max_response_bytes;
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.headers.emplace_back("Accept", "application/json");
    switch (opt_.auth) {
      case ClientAuth::client_secret_basic:
        // RFC 6749 §2.3.1: both parts form-encoded before Basic encoding.
        req.headers.emplace_back("Authorization", internal::basic_authorization(opt_.client_id, opt_.client_secret));
        break;
      case ClientAuth::client_secret_post:
        params.emplace_back("client_id", opt_.client_id);
        params.emplace_back("client_secret", opt_.client_secret);
        break;
      case ClientAuth::tls_client_auth:
      case ClientAuth::self_signed_tls_client_auth:
        // RFC 8705 §2: the client certificate of the connection (the HttpClient's)
        // authenticates; the form names the client.
        params.emplace_back("client_id", opt_.client_id);
        break;
      case ClientAuth::private_key_jwt: {
        auto jwt = assertion();
        if (!jwt) return make_error(errc::http_error, "client assertion could not be signed");
        params.emplace_back("client_id", opt_.client_id);
        params.emplace_back("client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        params.emplace_back("client_assertion", *jwt);
        break;
      }
      default:
        break;
    }
    if (opt_.dpop) {
      // RFC 9449 §5: a proof for the token request binds the token to the signer's key.
      auto proof = opt_.dpop->proof("POST", opt_.token_endpoint);
      if (!proof) return make_error(errc::http_error, "DPoP proof: " + proof.error().detail);
      req.headers.emplace_back("DPoP", std::move(*proof));
    }
    req.body = form_encode(params);
    {
      std::lock_guard<std::mutex> g(mu_);
      ++stats_.requests;
    }
    try {
      return http_->send(req);
    } catch (...) {
      return make_error(errc::http_error, "the HTTP client threw");
    }
  }

  Result<AccessToken> parse(const HttpResponse& res) const {
    // Security: the limit holds even when the HttpClient ignored max_response_bytes.
    if (res.body.size() > opt_.max_response_bytes) {
      return make_error(errc::http_error, "token endpoint: the response is over max_response_bytes");
    }
    JsonLimits limits;
    limits.max_string = opt_.max_response_bytes;
    auto body = internal::parse_json(res.body, limits);
    if (res.status != 200) {
      // RFC 6749 §5.2: {"error": "...", "error_description": "..."}.
      std::string detail = "token endpoint: HTTP " + std::to_string(res.status);
      bool refused = false;
      if (body && body->is_object()) {
        const auto err = body->find("error");
        if (err != body->end() && err->is_string()) {
          detail += ": " + printable(err->get<std::string>(), 40);
          refused = (res.status == 400 || res.status == 401) &&
                    is_refusal(err->get_ref<const std::string&>());
        }
        const auto desc = body->find("error_description");
        if (desc != body->end() && desc->is_string()) {
          detail += " (" + printable(desc->get<std::string>()) + ")";
        }
      }
      // A refusal is for good (our credentials or request are wrong); anything else may
      // pass, and is told apart so that nobody waits for an outage to end.
      return make_error(refused ? errc::token_request_refused : errc::http_error, detail);
    }
    if (!body || !body->is_object()) {
      return make_error(errc::http_error, "token endpoint: the response is not a JSON object");
    }
    const auto str = [&](const char* name) -> std::optional<std::string> {
      const auto it = body->find(name);
      if (it == body->end() || !it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    AccessToken out;
    auto access = str("access_token");
    auto type = str("token_type");
    // RFC 6749 §5.1: access_token and token_type are REQUIRED.
    if (!access || access->empty() || !type) {
      return make_error(errc::http_error, "token endpoint: no access_token or token_type");
    }
    // Security: the token goes into Authorization headers (RFC 6749 §A.12, RFC 6750
    // §2.1: token68); anything else, CR or LF above all, would write headers of its own.
    if (!is_b64token(*access)) {
      return make_error(errc::http_error, "token endpoint: access_token is not token68");
    }
    out.access_token = std::move(*access);
    out.token_type = std::move(*type);
    out.issued_token_type = str("issued_token_type").value_or("");
    out.scope = str("scope").value_or("");
    auto lifetime = opt_.default_lifetime;
    if (const auto it = body->find("expires_in"); it != body->end()) {
      // Whole seconds (RFC 6749 §5.1); under one second no request could use the token
      // (and it would be fetched again on every call).
      if (!it->is_number() || !(it->get<double>() >= 1) || it->get<double>() > 1e9) {
        return make_error(errc::http_error, "token endpoint: bad expires_in");
      }
      lifetime = std::chrono::seconds(static_cast<long long>(it->get<double>()));
    }
    out.expires_at = now() + lifetime;
    return out;
  }

  ClientCredentialsOptions opt_;
  std::shared_ptr<HttpClient> http_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::map<std::string, Entry> cache_;
  std::uint64_t completions_ = 0;  // requests completed, for the waiters
  TokenClientStats stats_;
};

}  // namespace internal

ClientCredentials::ClientCredentials(ClientCredentialsOptions options,
                                     std::shared_ptr<HttpClient> http)
    : client_(std::make_unique<internal::TokenClient>(std::move(options), std::move(http))) {}
ClientCredentials::~ClientCredentials() = default;

Result<AccessToken> ClientCredentials::token(std::string_view audience,
                                             const std::vector<std::string>& scopes) const {
  try {
    const std::string scope = join_scopes(scopes);
    HttpHeaders params = {{"grant_type", "client_credentials"}};
    if (!scope.empty()) params.emplace_back("scope", scope);
    if (!audience.empty()) {
      // RFC 8707 `resource` or the widely used `audience` parameter.
      params.emplace_back(client_->options().resource_parameter ? "resource" : "audience",
                          std::string(audience));
    }
    return client_->get(std::string(audience) + "\n" + scope, params, audience);
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "token request failed");
  }
}

TokenClientStats ClientCredentials::stats() const { return client_->stats(); }
const DpopSigner* ClientCredentials::dpop_signer() const noexcept { return client_->options().dpop.get(); }

TokenExchange::TokenExchange(ClientCredentialsOptions options, std::shared_ptr<HttpClient> http)
    : client_(std::make_unique<internal::TokenClient>(std::move(options), std::move(http))) {}
TokenExchange::~TokenExchange() = default;

Result<AccessToken> TokenExchange::exchange(const VerifiedToken& subject, std::string_view audience,
                                            const std::vector<std::string>& scopes) const {
  try {
    std::optional<TimePoint> subject_exp;
    if (const auto exp = subject.expires_at()) {
      if (!(NumericDate(client_->now()) < *exp)) {
        return make_error(errc::expired, "the subject token has expired");
      }
      subject_exp = std::chrono::time_point_cast<SysClock::duration>(
          std::min(*exp, NumericDate(TimePoint::max())));
    }
    const std::string scope = join_scopes(scopes);
    // RFC 8693 §2.1.
    HttpHeaders params = {
        {"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"},
        {"subject_token", subject.compact()},
        {"subject_token_type", "urn:ietf:params:oauth:token-type:access_token"},
        {"requested_token_type", "urn:ietf:params:oauth:token-type:access_token"}};
    if (!audience.empty()) {
      params.emplace_back(client_->options().resource_parameter ? "resource" : "audience",
                          std::string(audience));
    }
    if (!scope.empty()) params.emplace_back("scope", scope);
    // The cache key holds a digest of the subject token, not the token itself.
    const std::string key = internal::b64url_encode(internal::sha256(subject.compact())) + "\n" +
                            std::string(audience) + "\n" + scope;
    return client_->get(key, params, audience, subject_exp);
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "token exchange failed");
  }
}

TokenClientStats TokenExchange::stats() const { return client_->stats(); }
const DpopSigner* TokenExchange::dpop_signer() const noexcept { return client_->options().dpop.get(); }

}  // namespace tokenpass

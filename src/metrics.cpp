#include "tokenpass/metrics.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace tokenpass {

Observer::~Observer() = default;
void Observer::verified(const VerifyEvent&) noexcept {}
void Observer::token_cache(CacheOutcome, std::uint64_t) noexcept {}
void Observer::jwks_fetch(std::string_view, FetchOutcome) noexcept {}
void Observer::jwks_keys(std::string_view, std::size_t, std::chrono::system_clock::time_point) noexcept {}
void Observer::jwks_kid_miss(std::string_view, KidMissOutcome) noexcept {}
void Observer::jwks_stale_serve(std::string_view, std::chrono::seconds) noexcept {}
void Observer::client_token(const ClientTokenEvent&) noexcept {}
void Observer::token_endpoint(std::string_view, std::string_view, std::string_view) noexcept {}
void Observer::replay_check(std::string_view, ReplayOutcome) noexcept {}
void Observer::dpop_failure(errc) noexcept {}

std::string_view to_string(CacheOutcome outcome) noexcept {
  switch (outcome) {
    case CacheOutcome::hit: return "hit";
    case CacheOutcome::miss: return "miss";
    case CacheOutcome::eviction: return "eviction";
  }
  return "unknown";
}

std::string_view to_string(FetchOutcome outcome) noexcept {
  switch (outcome) {
    case FetchOutcome::success: return "success";
    case FetchOutcome::not_modified: return "not_modified";
    case FetchOutcome::failure: return "failure";
  }
  return "unknown";
}

std::string_view to_string(ReplayOutcome outcome) noexcept {
  switch (outcome) {
    case ReplayOutcome::fresh: return "fresh";
    case ReplayOutcome::replayed: return "replayed";
    case ReplayOutcome::unavailable: return "unavailable";
  }
  return "unknown";
}

std::string_view to_string(ClientTokenOutcome outcome) noexcept {
  switch (outcome) {
    case ClientTokenOutcome::success: return "success";
    case ClientTokenOutcome::failure: return "failure";
    case ClientTokenOutcome::cache_hit: return "cache_hit";
  }
  return "unknown";
}

namespace {

using SysClock = std::chrono::system_clock;

// The families, in the order they are rendered.
enum Family : int {
  kVerify,
  kVerifyDuration,
  kTokenCache,
  kJwksFetch,
  kJwksKidMiss,
  kJwksRateLimited,
  kJwksKidFetches,
  kJwksStale,
  kJwksAge,
  kJwksKeys,
  kClientToken,
  kClientRemaining,
  kEndpoint,
  kReplay,
  kDpop,
  kFamilies
};

struct FamilyInfo {
  const char* name;
  const char* type;
  const char* help;
};

constexpr FamilyInfo kInfo[kFamilies] = {
    {"tokenpass_verify_total", "counter", "Tokens verified, by configured issuer, result and error code."},
    {"tokenpass_verify_duration_seconds", "histogram", "Time spent in Verifier::verify."},
    {"tokenpass_token_cache_total", "counter", "Verified-token cache hits, misses and evictions."},
    {"tokenpass_jwks_fetch_total", "counter", "JWK set fetches, by outcome."},
    {"tokenpass_jwks_kid_miss_total", "counter", "Tokens naming a kid the JWK set does not hold."},
    {"tokenpass_jwks_rate_limited_total", "counter",
     "Unknown-kid refreshes refused by the rate limit."},
    {"tokenpass_jwks_kid_fetches_total", "counter",
     "JWK set fetches made for a token's unknown kid (at most one per interval)."},
    {"tokenpass_jwks_stale_serves_total", "counter",
     "Key lookups served from a JWK set past its TTL."},
    {"tokenpass_jwks_age_seconds", "gauge",
     "Seconds since the held JWK set was fetched or confirmed."},
    {"tokenpass_jwks_keys", "gauge", "Keys in the held JWK set."},
    {"tokenpass_client_token_requests_total", "counter",
     "Service tokens asked for: fetched, failed, or served from the cache."},
    {"tokenpass_client_token_remaining_seconds", "gauge",
     "Seconds until the service token last handed out expires."},
    {"tokenpass_token_endpoint_requests_total", "counter",
     "Token and introspection endpoint requests answered, by grant and outcome."},
    {"tokenpass_replay_checks_total", "counter", "Single-use checks, by store and outcome."},
    {"tokenpass_dpop_failures_total", "counter", "DPoP proofs or bindings refused, by reason."},
};

// escape: a label value per the exposition format (backslash, double quote, newline).
void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// Labels: `name="value",...` built once per observation; the map key.
class Labels {
 public:
  Labels& add(std::string_view name, std::string_view value) {
    if (!text_.empty()) text_ += ',';
    text_.append(name.data(), name.size());
    text_ += "=\"";
    append_escaped(text_, value);
    text_ += '"';
    return *this;
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

void append_number(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

struct Histogram {
  std::vector<std::uint64_t> buckets;  // not cumulative; one per bound, then +Inf
  double sum = 0;
  std::uint64_t count = 0;
};

}  // namespace

struct PrometheusMetrics::State {
  PrometheusOptions opt;
  mutable std::mutex mu;
  std::map<std::string, std::uint64_t> counters[kFamilies];
  std::map<std::string, Histogram> histograms;
  struct JwksGauge {
    std::size_t keys = 0;
    SysClock::time_point confirmed_at{};
  };
  std::map<std::string, JwksGauge> jwks;                     // by issuer label
  std::map<std::string, SysClock::time_point> client_expiry;  // by client+audience labels

  void add(Family f, std::string labels, std::uint64_t n = 1) {
    std::lock_guard<std::mutex> g(mu);
    counters[f][std::move(labels)] += n;
  }
};

PrometheusMetrics::PrometheusMetrics(PrometheusOptions options) : state_(std::make_unique<State>()) {
  if (options.duration_buckets.empty()) {
    throw std::invalid_argument("tokenpass::PrometheusMetrics: no duration buckets");
  }
  for (std::size_t i = 0; i < options.duration_buckets.size(); ++i) {
    const double b = options.duration_buckets[i];
    if (!std::isfinite(b) || (i > 0 && !(options.duration_buckets[i - 1] < b))) {
      throw std::invalid_argument("tokenpass::PrometheusMetrics: buckets must be finite and ascending");
    }
  }
  if (!options.clock) options.clock = [] { return SysClock::now(); };
  state_->opt = std::move(options);
}

PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::verified(const VerifyEvent& event) noexcept {
  try {
    const std::string_view issuer = event.issuer.empty() ? std::string_view("other") : event.issuer;
    std::string counter = Labels()
                              .add("issuer", issuer)
                              .add("result", event.error ? "denied" : "allowed")
                              .add("reason", event.error ? to_string(*event.error) : "ok")
                              .take();
    std::string hist = Labels().add("issuer", issuer).add("cache", event.cache_hit ? "hit" : "miss").take();
    const double seconds = std::chrono::duration<double>(event.duration).count();
    const std::vector<double>& bounds = state_->opt.duration_buckets;
    std::size_t bucket = 0;
    while (bucket < bounds.size() && seconds > bounds[bucket]) ++bucket;
    std::lock_guard<std::mutex> g(state_->mu);
    ++state_->counters[kVerify][std::move(counter)];
    Histogram& h = state_->histograms[std::move(hist)];
    if (h.buckets.empty()) h.buckets.assign(bounds.size() + 1, 0);
    ++h.buckets[bucket];
    h.sum += seconds;
    ++h.count;
  } catch (...) {
    // Metrics must never break a verify; a lost sample under memory pressure is all.
  }
}

void PrometheusMetrics::token_cache(CacheOutcome outcome, std::uint64_t count) noexcept {
  try {
    state_->add(kTokenCache, Labels().add("outcome", to_string(outcome)).take(), count);
  } catch (...) {
  }
}

void PrometheusMetrics::jwks_fetch(std::string_view issuer, FetchOutcome outcome) noexcept {
  try {
    state_->add(kJwksFetch, Labels().add("issuer", issuer).add("outcome", to_string(outcome)).take());
  } catch (...) {
  }
}

void PrometheusMetrics::jwks_keys(std::string_view issuer, std::size_t keys,
                                  SysClock::time_point confirmed_at) noexcept {
  try {
    std::string label = Labels().add("issuer", issuer).take();
    std::lock_guard<std::mutex> g(state_->mu);
    state_->jwks[std::move(label)] = State::JwksGauge{keys, confirmed_at};
  } catch (...) {
  }
}

void PrometheusMetrics::jwks_kid_miss(std::string_view issuer, KidMissOutcome outcome) noexcept {
  try {
    std::string label = Labels().add("issuer", issuer).take();
    std::lock_guard<std::mutex> g(state_->mu);
    if (outcome == KidMissOutcome::rate_limited) ++state_->counters[kJwksRateLimited][label];
    if (outcome == KidMissOutcome::fetch) ++state_->counters[kJwksKidFetches][label];
    ++state_->counters[kJwksKidMiss][std::move(label)];
  } catch (...) {
  }
}

void PrometheusMetrics::jwks_stale_serve(std::string_view issuer, std::chrono::seconds) noexcept {
  try {
    state_->add(kJwksStale, Labels().add("issuer", issuer).take());
  } catch (...) {
  }
}

void PrometheusMetrics::client_token(const ClientTokenEvent& event) noexcept {
  try {
    std::string counter = Labels().add("client", event.client).add("outcome", to_string(event.outcome)).take();
    std::string gauge = Labels().add("client", event.client).add("audience", event.audience).take();
    std::lock_guard<std::mutex> g(state_->mu);
    ++state_->counters[kClientToken][std::move(counter)];
    if (event.expires_at) state_->client_expiry[std::move(gauge)] = *event.expires_at;
  } catch (...) {
  }
}

void PrometheusMetrics::token_endpoint(std::string_view endpoint, std::string_view grant,
                                       std::string_view outcome) noexcept {
  try {
    state_->add(kEndpoint,
                Labels().add("endpoint", endpoint).add("grant", grant).add("outcome", outcome).take());
  } catch (...) {
  }
}

void PrometheusMetrics::replay_check(std::string_view store, ReplayOutcome outcome) noexcept {
  try {
    state_->add(kReplay, Labels().add("store", store).add("outcome", to_string(outcome)).take());
  } catch (...) {
  }
}

void PrometheusMetrics::dpop_failure(errc reason) noexcept {
  try {
    state_->add(kDpop, Labels().add("reason", to_string(reason)).take());
  } catch (...) {
  }
}

std::string PrometheusMetrics::render() const {
  const State& s = *state_;
  const SysClock::time_point now = s.opt.clock();
  std::string out;
  out.reserve(4096);
  const auto header = [&](Family f) {
    out += "# HELP ";
    out += kInfo[f].name;
    out += ' ';
    out += kInfo[f].help;
    out += "\n# TYPE ";
    out += kInfo[f].name;
    out += ' ';
    out += kInfo[f].type;
    out += '\n';
  };
  const auto sample = [&](std::string_view name, std::string_view suffix, const std::string& labels,
                          double value) {
    out.append(name.data(), name.size());
    out.append(suffix.data(), suffix.size());
    if (!labels.empty()) {
      out += '{';
      out += labels;
      out += '}';
    }
    out += ' ';
    append_number(out, value);
    out += '\n';
  };
  const auto seconds = [](SysClock::duration d) { return std::chrono::duration<double>(d).count(); };

  std::lock_guard<std::mutex> g(s.mu);
  for (int f = 0; f < kFamilies; ++f) {
    const auto family = static_cast<Family>(f);
    const std::string_view name = kInfo[f].name;
    if (family == kVerifyDuration) {
      if (s.histograms.empty()) continue;
      header(family);
      for (const auto& [labels, h] : s.histograms) {
        std::uint64_t cumulative = 0;
        const std::string sep = labels.empty() ? "" : ",";
        for (std::size_t i = 0; i < h.buckets.size(); ++i) {
          cumulative += h.buckets[i];
          std::string le = labels + sep + "le=\"";
          if (i < s.opt.duration_buckets.size()) {
            append_number(le, s.opt.duration_buckets[i]);
          } else {
            le += "+Inf";
          }
          le += '"';
          sample(name, "_bucket", le, static_cast<double>(cumulative));
        }
        sample(name, "_sum", labels, h.sum);
        sample(name, "_count", labels, static_cast<double>(h.count));
      }
    } else if (family == kJwksAge || family == kJwksKeys) {
      if (s.jwks.empty()) continue;
      header(family);
      for (const auto& [labels, gauge] : s.jwks) {
        sample(name, "", labels,
               family == kJwksKeys ? static_cast<double>(gauge.keys) : seconds(now - gauge.confirmed_at));
      }
    } else if (family == kClientRemaining) {
      if (s.client_expiry.empty()) continue;
      header(family);
      for (const auto& [labels, expires_at] : s.client_expiry) {
        const double left = seconds(expires_at - now);
        sample(name, "", labels, left > 0 ? left : 0);
      }
    } else {
      if (s.counters[f].empty()) continue;
      header(family);
      for (const auto& [labels, n] : s.counters[f]) sample(name, "", labels, static_cast<double>(n));
    }
  }
  return out;
}

}  // namespace tokenpass

// tokenpass/metrics.h: what the library does, told to an Observer. Set one where the
// work happens (Policy::observer, RemoteJwksOptions::observer,
// ClientCredentialsOptions::observer, TokenEndpointOptions::observer); without one
// nothing is measured and nothing is called. PrometheusMetrics is an Observer that
// counts what it hears and renders it in the Prometheus text exposition format, with
// the names, labels and units of docs/OPERATIONS (tokenpass_verify_total, ...).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/algorithm.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"

namespace tokenpass {

// VerifyEvent: one Verifier::verify (or verify_introspected) call, as it ended.
struct VerifyEvent {
  // issuer: one of the policy's issuers when the token names it (read before the
  // signature holds for a refused token: a label, never a trust decision), else "other".
  std::string_view issuer;
  // error: the refusal's code; empty when the token was accepted.
  std::optional<errc> error;
  // alg: the header's algorithm, when the header was read that far.
  std::optional<Alg> alg;
  // cache: the policy has a token cache; cache_hit: the token was answered from it.
  bool cache = false;
  bool cache_hit = false;  // see `cache`
  // duration: the whole call, measured with std::chrono::steady_clock.
  std::chrono::nanoseconds duration{0};
};

// CacheOutcome: what the verified-token cache did (Observer::token_cache).
enum class CacheOutcome { hit, miss, eviction };
// FetchOutcome: how a key set fetch ended (Observer::jwks_fetch); not_modified is a 304.
enum class FetchOutcome { success, not_modified, failure };
// ReplayOutcome: what a replay store answered (Observer::replay_check): a first use
// (fresh), a replay, or no answer (replay_store_unavailable).
enum class ReplayOutcome { fresh, replayed, unavailable };
// ClientTokenOutcome: how a request for a service token ended (Observer::client_token):
// fetched, failed, or answered from the cache.
enum class ClientTokenOutcome { success, failure, cache_hit };
// KidMissOutcome: what a token with an unknown kid led to (Observer::jwks_kid_miss).
enum class KidMissOutcome { fetch, joined, rate_limited };

// ClientTokenEvent: one ClientCredentials::token / TokenExchange::exchange answer.
struct ClientTokenEvent {
  std::string_view client;    // the configured client_id
  std::string_view audience;  // the audience (or resource) asked for; "" for none
  // outcome: fetched from the endpoint (success), failed, or served from the cache.
  ClientTokenOutcome outcome = ClientTokenOutcome::success;
  // expires_at: of the token handed out (success and cache_hit).
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

// Observer: called on the thread that does the work (a request thread, a RemoteJwks
// worker), possibly from many at once: an implementation is thread-safe, short, and
// does not call back into the object that called it. Every method has an empty default;
// override what you need. The library never passes a token, a jti, a subject or a kid
// from a token: labels come from configuration and error codes only.
class TOKENPASS_EXPORT Observer {
 public:
  virtual ~Observer();
  // verified: a verify call ended (accepted or refused).
  virtual void verified(const VerifyEvent& event) noexcept;
  // token_cache: the verified-token cache answered (hit), did not (miss), or dropped
  // `count` entries (eviction: for room, at exp, or for a changed key set).
  virtual void token_cache(CacheOutcome outcome, std::uint64_t count) noexcept;
  // jwks_fetch: a key set fetch ended; `issuer` is RemoteJwksOptions::metrics_issuer.
  virtual void jwks_fetch(std::string_view issuer, FetchOutcome outcome) noexcept;
  // jwks_keys: the set held now has `keys` keys, fetched or confirmed (304) at
  // `confirmed_at` (the source's clock).
  virtual void jwks_keys(std::string_view issuer, std::size_t keys,
                         std::chrono::system_clock::time_point confirmed_at) noexcept;
  // jwks_kid_miss: a token named a kid the set does not hold: `fetch` it caused a fetch
  // (at most one per RemoteJwksOptions::unknown_kid_interval), `joined` it waited for
  // a fetch already under way, `rate_limited` it was answered without one.
  virtual void jwks_kid_miss(std::string_view issuer, KidMissOutcome outcome) noexcept;
  // jwks_stale_serve: a lookup was served from a set `stale_for` past its TTL (fetches
  // are failing; RemoteJwksOptions::max_stale bounds it).
  virtual void jwks_stale_serve(std::string_view issuer, std::chrono::seconds stale_for) noexcept;
  // client_token: a service token was asked for (ClientCredentials, TokenExchange).
  virtual void client_token(const ClientTokenEvent& event) noexcept;
  // token_endpoint: a TokenEndpoint answered: `endpoint` "token" or "introspection",
  // `grant` the grant type ("client_credentials", "token_exchange", "introspection",
  // "other"), `outcome` "issued", "active", "inactive" or the OAuth error code.
  virtual void token_endpoint(std::string_view endpoint, std::string_view grant,
                              std::string_view outcome) noexcept;
  // replay_check: a ReplayStore was asked about a jti; `store` is ReplayStore::kind().
  virtual void replay_check(std::string_view store, ReplayOutcome outcome) noexcept;
  // dpop_failure: a DPoP proof or DPoP binding was refused with `reason`.
  virtual void dpop_failure(errc reason) noexcept;
};

// PrometheusOptions: how PrometheusMetrics renders.
struct PrometheusOptions {
  // duration_buckets: upper bounds (seconds, ascending) of
  // tokenpass_verify_duration_seconds; +Inf is added.
  std::vector<double> duration_buckets{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                       0.001,   0.0025,   0.005,   0.01,   0.05,    0.25};
  // clock: for the age and remaining-time gauges; defaults to system_clock::now (use
  // the clock you gave the key sources and clients).
  std::function<std::chrono::system_clock::time_point()> clock;
};

// PrometheusMetrics: counts what it observes and renders it (text format 0.0.4): every
// family with # HELP and # TYPE, counters ending in _total, cumulative histogram
// buckets with +Inf, label values escaped. Families appear once they have a sample.
// Thread-safe: every observation takes one short lock.
class TOKENPASS_EXPORT PrometheusMetrics final : public Observer {
 public:
  // Throws std::invalid_argument when the buckets are empty, not ascending or not finite.
  explicit PrometheusMetrics(PrometheusOptions options = {});
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  // render: the exposition text, for GET /metrics with
  // `Content-Type: text/plain; version=0.0.4`.
  std::string render() const;
  // content_type: the `Content-Type` to serve `render()` with.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  void verified(const VerifyEvent& event) noexcept override;
  void token_cache(CacheOutcome outcome, std::uint64_t count) noexcept override;
  void jwks_fetch(std::string_view issuer, FetchOutcome outcome) noexcept override;
  void jwks_keys(std::string_view issuer, std::size_t keys,
                 std::chrono::system_clock::time_point confirmed_at) noexcept override;
  void jwks_kid_miss(std::string_view issuer, KidMissOutcome outcome) noexcept override;
  void jwks_stale_serve(std::string_view issuer, std::chrono::seconds stale_for) noexcept override;
  void client_token(const ClientTokenEvent& event) noexcept override;
  void token_endpoint(std::string_view endpoint, std::string_view grant,
                      std::string_view outcome) noexcept override;
  void replay_check(std::string_view store, ReplayOutcome outcome) noexcept override;
  void dpop_failure(errc reason) noexcept override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// to_string: the label spellings ("hit", "not_modified", "unavailable", "cache_hit").
TOKENPASS_EXPORT std::string_view to_string(CacheOutcome outcome) noexcept;
TOKENPASS_EXPORT std::string_view to_string(FetchOutcome outcome) noexcept;
TOKENPASS_EXPORT std::string_view to_string(ReplayOutcome outcome) noexcept;
TOKENPASS_EXPORT std::string_view to_string(ClientTokenOutcome outcome) noexcept;

}  // namespace tokenpass

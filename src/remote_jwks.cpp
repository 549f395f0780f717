// RemoteJwks: the worker thread and the locking around three parts: the fetch
// (internal/jwks_fetch.h), the freshness and rate-limit rules (internal/refresh_policy.h)
// and the per-thread snapshots that let verifies read without the lock
// (internal/key_snapshots.h).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "internal/jwks_fetch.h"
#include "internal/key_snapshots.h"
#include "internal/refresh_policy.h"
#include "internal/rules.h"
#include "tokenpass/key_source.h"

namespace tokenpass {

namespace {
using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;
}  // namespace

struct RemoteJwks::State {
  const std::uint64_t id = internal::next_source_id();
  // version: changes (under `mu`) whenever keys, fetched_at or ttl do; read without it
  // by the snapshots.
  std::atomic<std::uint64_t> version{1};

  RemoteJwksOptions opt;
  std::shared_ptr<HttpClient> http;

  mutable std::mutex mu;
  // Everything below is guarded by `mu`.
  std::shared_ptr<const KeySet> keys;
  std::uint64_t set_version = 0;  // KeySource::next_version() of `keys`
  std::string etag;
  std::optional<std::uint64_t> sequence;  // spiffe_sequence of `keys` (SPIFFE bundles)
  internal::RefreshPolicy policy{opt};
  bool refresh_requested = false;
  bool fetching = false;
  bool in_send = false;  // the worker waits for the peer (HttpClient::send)
  std::uint64_t generation = 0;  // completed fetch attempts
  RemoteJwksStats stats;
  bool stop = false;
  mutable std::condition_variable worker_cv;
  mutable std::condition_variable done_cv;
  std::thread worker;

  TimePoint now() const { return opt.clock(); }

  void changed_locked() { version.fetch_add(1, std::memory_order_release); }

  // snapshot_locked: this thread's snapshot of the current set, taken or renewed.
  ServedKeys snapshot_locked() const {
    return internal::renew_snapshot(id, version.load(std::memory_order_relaxed),
                                    policy.fresh_until(), keys, set_version);
  }

  // request_locked asks the worker for a fetch unless one is queued, running, or the
  // back-off after a failure has not passed. Returns whether a fetch will happen.
  bool request_locked(TimePoint t) {
    if (fetching || refresh_requested) return true;
    if (!policy.may_fetch(t)) return false;
    refresh_requested = true;
    worker_cv.notify_one();
    return true;
  }

  // wait_locked waits (real time, at most opt.timeout) for a fetch to complete.
  void wait_locked(std::unique_lock<std::mutex>& lock) const {
    const std::uint64_t gen = generation;
    done_cv.wait_for(lock, opt.timeout + std::chrono::milliseconds(100),
                     [&] { return generation != gen || stop; });
  }

  void emit(RemoteJwksEvent::Kind kind, std::string detail) const {
    if (!opt.on_event) return;
    try {
      opt.on_event(RemoteJwksEvent{kind, opt.url + ": " + detail});
    } catch (...) {
      // A logging callback must not break key refresh.
    }
  }

  // observe: the fetch's outcome and the set held, for the observer (no lock held).
  void observe(RemoteJwksEvent::Kind kind, std::size_t held, TimePoint confirmed) const {
    if (!opt.observer) return;
    const FetchOutcome outcome = kind == RemoteJwksEvent::Kind::fetched        ? FetchOutcome::success
                                 : kind == RemoteJwksEvent::Kind::not_modified ? FetchOutcome::not_modified
                                                                               : FetchOutcome::failure;
    opt.observer->jwks_fetch(opt.metrics_issuer, outcome);
    if (held != 0) opt.observer->jwks_keys(opt.metrics_issuer, held, confirmed);
  }

  void run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      worker_cv.wait(lock, [&] { return stop || refresh_requested; });
      if (stop) return;
      refresh_requested = false;
      fetching = true;
      const std::string etag_now = keys ? etag : std::string();
      lock.unlock();
      const RemoteJwksEvent event = fetch(etag_now);
      lock.lock();
      const std::size_t held = keys ? keys->size() : 0;
      const TimePoint confirmed = policy.confirmed_at();
      if (stop) return;
      fetching = false;
      ++generation;
      done_cv.notify_all();
      // Reported only now that the verifies waiting for this fetch are released: a
      // slow callback must not hold them up. The observer first, then the event: whoever
      // has seen the event knows the observer has been told (the CLI's --metrics waits so).
      lock.unlock();
      observe(event.kind, held, confirmed);
      emit(event.kind, event.detail);
      lock.lock();
    }
  }

  // fetch runs on the worker thread, without the lock while the request is out, and
  // returns the event to report.
  RemoteJwksEvent fetch(const std::string& if_none_match) {
    const HttpRequest req = internal::jwks_request(opt, if_none_match);
    {
      std::lock_guard<std::mutex> g(mu);
      if (stop) return {RemoteJwksEvent::Kind::fetch_failed, "stopped"};
      ++stats.fetches;
      in_send = true;
    }
    const Result<HttpResponse> res = internal::send_guarded(*http, req);
    {
      // The RemoteJwks may have been destroyed meanwhile, without waiting for this
      // exchange: then nothing of the caller's (clock, callback) is touched again.
      std::lock_guard<std::mutex> g(mu);
      in_send = false;
      if (stop) return {RemoteJwksEvent::Kind::fetch_failed, "stopped"};
    }
    const TimePoint t = now();
    internal::JwksAnswer answer = internal::read_jwks_answer(res, opt, !if_none_match.empty());
    std::lock_guard<std::mutex> g(mu);
    switch (answer.kind) {
      case internal::JwksAnswer::Kind::fetched:
        if (answer.sequence && sequence && *answer.sequence < *sequence) {
          // An older SPIFFE bundle than the one held: a rollback, never taken.
          ++stats.failures;
          policy.failed(t);
          return {RemoteJwksEvent::Kind::fetch_failed,
                  "spiffe_sequence " + std::to_string(*answer.sequence) + " is older than " +
                      std::to_string(*sequence) + " (newer keys kept)"};
        }
        if (answer.sequence) sequence = answer.sequence;
        keys = std::move(answer.keys);
        set_version = KeySource::next_version();
        etag = std::move(answer.etag);
        policy.fetched(t, answer.ttl);
        changed_locked();
        return {RemoteJwksEvent::Kind::fetched, answer.detail};
      case internal::JwksAnswer::Kind::not_modified:
        policy.not_modified(t, answer.ttl);
        changed_locked();
        ++stats.not_modified;
        return {RemoteJwksEvent::Kind::not_modified, answer.detail};
      default:
        ++stats.failures;
        policy.failed(t);
        return {RemoteJwksEvent::Kind::fetch_failed,
                answer.detail + (keys ? " (last good keys kept)" : " (no keys yet)")};
    }
  }
};

RemoteJwks::RemoteJwks(RemoteJwksOptions options, std::shared_ptr<HttpClient> http)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.opt = std::move(options);
  s.http = std::move(http);
  std::string why;
  if (s.opt.url.empty()) throw std::invalid_argument("tokenpass::RemoteJwks: empty URL");
  if (!internal::scheme_allowed(s.opt.url, s.opt.allow_http, &why)) {
    throw std::invalid_argument("tokenpass::RemoteJwks: " + why);
  }
  if (!s.http) throw std::invalid_argument("tokenpass::RemoteJwks: no HttpClient");
  if (s.opt.min_ttl > s.opt.max_ttl || s.opt.min_ttl.count() < 0 ||
      s.opt.default_ttl.count() < 0 || s.opt.max_stale.count() < 0 ||
      s.opt.refresh_ahead.count() < 0 || s.opt.timeout.count() <= 0) {
    throw std::invalid_argument("tokenpass::RemoteJwks: contradictory TTL or timeout options");
  }
  if (!s.opt.clock) s.opt.clock = [] { return SysClock::now(); };
  if (s.opt.metrics_issuer.empty()) s.opt.metrics_issuer = s.opt.url;
  s.worker = std::thread([state = state_] { state->run(); });
}

RemoteJwks::~RemoteJwks() {
  bool abandon = false;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    state_->stop = true;
    // A worker waiting for the peer is left to its exchange's deadline; it holds the
    // state and touches nothing of ours when it returns. Otherwise it ends at once.
    abandon = state_->in_send;
  }
  state_->worker_cv.notify_all();
  state_->done_cv.notify_all();
  if (!state_->worker.joinable()) return;
  // A callback of the worker's (clock, on_event) that dropped the last reference to
  // this object: the worker cannot join itself; it ends by itself once the callback
  // returns (it sees `stop`), and the state goes with its last reference.
  if (state_->worker.get_id() == std::this_thread::get_id()) {
    state_->worker.detach();
    return;
  }
  if (!abandon) {
    state_->worker.join();
    return;
  }
  // The worker outlives this object: what the caller gave us (the clock, the event
  // callback and what they captured) and the keys are released here and now, not on
  // the worker thread whenever its exchange ends. It checks `stop` before any use.
  std::function<std::chrono::system_clock::time_point()> clock;
  std::function<void(const RemoteJwksEvent&)> on_event;
  std::shared_ptr<const KeySet> keys;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    clock.swap(state_->opt.clock);
    on_event.swap(state_->opt.on_event);
    keys.swap(state_->keys);
  }
  state_->worker.detach();
}

const std::string& RemoteJwks::url() const noexcept { return state_->opt.url; }

RemoteJwksStats RemoteJwks::stats() const {
  std::lock_guard<std::mutex> g(state_->mu);
  return state_->stats;
}

Result<void> RemoteJwks::prefetch(std::chrono::milliseconds max_wait) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.policy.usable(s.now())) return {};
  const std::uint64_t gen = s.generation;
  // During the back-off after a failure no fetch will happen: answer at once.
  if (!s.request_locked(s.now())) {
    return make_error(errc::key_source_unavailable, "fetches from " + s.opt.url + " are backing off");
  }
  s.done_cv.wait_for(lock, max_wait, [&] { return s.generation != gen || s.stop; });
  if (s.policy.usable(s.now())) return {};
  return make_error(errc::key_source_unavailable, "no JWK set could be fetched from " + s.opt.url);
}

Result<std::shared_ptr<const KeySet>> RemoteJwks::keys_for(const KeyQuery& query) const {
  auto served = served_keys(query);
  if (!served) return served.error();
  return std::move(served->keys);
}

namespace {
// LookupReport: what a lookup saw, told to the observer once the lock is released (it
// is declared before the lock, so destroyed after it).
struct LookupReport {
  const RemoteJwksOptions& opt;
  bool stale = false;
  std::chrono::seconds stale_for{0};
  bool kid_miss = false;
  KidMissOutcome outcome = KidMissOutcome::rate_limited;
  ~LookupReport() {
    if (!opt.observer) return;
    if (stale) opt.observer->jwks_stale_serve(opt.metrics_issuer, stale_for);
    if (kid_miss) opt.observer->jwks_kid_miss(opt.metrics_issuer, outcome);
  }
};
}  // namespace

Result<ServedKeys> RemoteJwks::served_keys(const KeyQuery& query) const {
  State& s = *state_;
  try {
    const TimePoint t = s.now();
    const internal::Snapshot* fresh =
        internal::read_snapshot(s.id, s.version.load(std::memory_order_acquire), t, query);
    if (fresh != nullptr) return ServedKeys{fresh->keys, fresh->set_version};
    LookupReport report{s.opt};
    std::unique_lock<std::mutex> lock(s.mu);
    if (!s.policy.usable(t)) {
      // Nothing to serve: this verify has to wait for a fetch (bounded).
      if (s.request_locked(t)) s.wait_locked(lock);
      if (!s.policy.usable(s.now())) {
        return make_error(errc::key_source_unavailable, "no JWK set from " + s.opt.url);
      }
      return s.snapshot_locked();
    }
    if (t >= s.policy.fresh_until()) s.request_locked(t);  // in the background
    if (s.policy.stale(t)) {
      ++s.stats.stale_serves;
      report.stale = true;
      report.stale_for = std::chrono::duration_cast<std::chrono::seconds>(t - s.policy.expires_at());
    }

    if (query.has_kid && s.keys->find(query.kid) == nullptr) {
      ++s.stats.kid_misses;
      report.kid_miss = true;
      if (s.policy.unknown_kid(query.kid, t) == internal::RefreshPolicy::UnknownKid::refresh &&
          s.request_locked(t)) {
        s.policy.refreshing_for_kid(t);
        ++s.stats.kid_fetches;
        report.outcome = KidMissOutcome::fetch;
        s.wait_locked(lock);
        if (s.keys->find(query.kid) == nullptr) s.policy.still_unknown(std::string(query.kid), t);
      } else if (s.fetching || s.refresh_requested) {
        // A fetch is under way (another token's unknown kid, or a refresh): it may
        // bring this kid too. Wait for it rather than refuse a key that is being fetched
        // (found by scripts/load.sh: after a rotation, the tokens arriving at once with
        // the new kid all failed but the first). No fetch is added.
        ++s.stats.kid_joins;
        report.outcome = KidMissOutcome::joined;
        s.wait_locked(lock);
      } else {
        ++s.stats.rate_limited;
      }
    }
    return s.snapshot_locked();
  } catch (const std::exception&) {
    return make_error(errc::key_source_unavailable, "key lookup failed");
  }
}

}  // namespace tokenpass

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "internal/json.h"
#include "internal/rules.h"
#include "tokenpass/key_source.h"

namespace tokenpass {

namespace {

using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;

// Kids remembered as "not in the set" at most; a flood of random kids cannot grow it
// past this (it is cleared when full, and whenever the keys change).
constexpr std::size_t kMaxUnknownKids = 4096;
// Back-off after a failed fetch: doubles from the first value up to the last.
constexpr std::chrono::seconds kFirstBackoff{1};
constexpr std::chrono::seconds kMaxBackoff{60};

bool scheme_allowed(std::string_view url, bool allow_http, std::string* why) {
  auto parsed = parse_url(url);
  if (!parsed) {
    *why = parsed.error().detail;
    return false;
  }
  if (parsed->scheme == "http" && !allow_http) {
    *why = "plain http:// is refused unless allow_http is set";
    return false;
  }
  return true;
}

// is_entity_tag: RFC 9110 §8.8.3: [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 /
// %x23-7E / obs-text.
bool is_entity_tag(std::string_view s) {
  if (s.size() >= 2 && s[0] == 'W' && s[1] == '/') s.remove_prefix(2);
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (const char c : s.substr(1, s.size() - 2)) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u == 0x21 || (u >= 0x23 && u <= 0x7E) || u >= 0x80)) return false;
  }
  return true;
}

// public_jwks reads a fetched JWK set for verifying only (KeySet::from_public_jwks:
// private members dropped unread, oct keys never loaded).
Result<KeySet> public_jwks(std::string_view body, std::size_t max_keys) {
  JsonLimits limits;
  limits.max_members = std::max(limits.max_members, max_keys + 1);
  auto doc = internal::parse_json(body, limits);
  if (!doc) return doc.error();
  return KeySet::from_public_jwks(*doc, max_keys);
}

// A verify reads the current set without taking the source's mutex: each thread keeps
// snapshots of the sets it used last (per source: the set, the version of the source's
// state it was taken at, and until when it needs no refresh). A snapshot answers while
// the source's version is unchanged, it is fresh and it has the kid asked for;
// anything else (a refresh due, an unknown kid, no set yet) goes the locked way, which
// also renews the snapshot. The snapshot's shared_ptr has a control block of its own,
// owned by the thread, that holds the source's: a verify's copy writes only that
// thread's reference count, never one that every thread shares. A thread holds at most
// kSnapshots sets this way (kept alive until it replaces them or exits).
constexpr std::size_t kSnapshots = 8;

struct Snapshot {
  std::uint64_t source = 0;   // State::id; 0: empty
  std::uint64_t version = 0;  // State::version when it was taken
  TimePoint fresh_until{};
  std::shared_ptr<const KeySet> keys;  // the thread's own control block
  std::uint64_t set_version = 0;       // the set's KeySource version
};

// Set once this thread's snapshots are destroyed (trivially destructible, so it can
// still be read): a verify from a later thread_local or static destructor goes the
// locked way without them.
thread_local bool t_snapshots_gone = false;

struct Snapshots {
  std::array<Snapshot, kSnapshots> slots;
  std::size_t next = 0;  // round-robin replacement
  Snapshots() = default;
  Snapshots(const Snapshots&) = delete;
  Snapshots& operator=(const Snapshots&) = delete;
  ~Snapshots() { t_snapshots_gone = true; }
};

// thread_snapshots: this thread's snapshots, or null once they are destroyed.
Snapshots* thread_snapshots() {
  if (t_snapshots_gone) return nullptr;
  thread_local Snapshots snapshots;
  return &snapshots;
}

std::atomic<std::uint64_t> g_next_source_id{1};

}  // namespace

struct RemoteJwks::State {
  const std::uint64_t id = g_next_source_id.fetch_add(1, std::memory_order_relaxed);
  // version: changes (under `mu`) whenever keys, fetched_at or ttl do; read without it.
  std::atomic<std::uint64_t> version{1};

  RemoteJwksOptions opt;
  std::shared_ptr<HttpClient> http;

  mutable std::mutex mu;
  // Everything below is guarded by `mu`.
  std::shared_ptr<const KeySet> keys;
  std::uint64_t set_version = 0;  // KeySource::next_version() of `keys`
  TimePoint fetched_at{};
  std::chrono::seconds ttl{0};
  std::string etag;
  bool refresh_requested = false;
  bool fetching = false;
  bool in_send = false;  // the worker waits for the peer (HttpClient::send)
  std::uint64_t generation = 0;  // completed fetch attempts
  TimePoint last_kid_refresh = TimePoint::min();
  TimePoint next_attempt = TimePoint::min();  // back-off after failures
  std::chrono::seconds backoff{0};
  std::unordered_map<std::string, TimePoint> unknown_kids;  // kid -> when it was looked for
  RemoteJwksStats stats;
  bool stop = false;
  mutable std::condition_variable worker_cv;
  mutable std::condition_variable done_cv;
  std::thread worker;

  TimePoint now() const { return opt.clock(); }

  bool usable_locked(TimePoint t) const {
    return keys != nullptr && t < fetched_at + ttl + opt.max_stale;
  }

  // fresh_until_locked: until when the set is served without asking for a refresh.
  TimePoint fresh_until_locked() const {
    return fetched_at + ttl - std::min(opt.refresh_ahead, ttl / 2);
  }

  void changed_locked() { version.fetch_add(1, std::memory_order_release); }

  // snapshot_locked: this thread's snapshot of the current set, taken or renewed.
  ServedKeys snapshot_locked() const {
    Snapshots* mine = thread_snapshots();
    if (mine == nullptr) return ServedKeys{keys, set_version};
    Snapshot* slot = nullptr;
    for (auto& candidate : mine->slots) {
      if (candidate.source == id) slot = &candidate;
    }
    if (slot == nullptr) {
      slot = &mine->slots[mine->next];
      mine->next = (mine->next + 1) % kSnapshots;
    }
    if (slot->source != id || slot->keys.get() != keys.get()) {
      const std::shared_ptr<const KeySet> held = keys;
      slot->keys = std::shared_ptr<const KeySet>(held.get(), [held](const KeySet*) {});
    }
    slot->source = id;
    slot->version = version.load(std::memory_order_relaxed);
    slot->fresh_until = fresh_until_locked();
    slot->set_version = set_version;
    return ServedKeys{slot->keys, slot->set_version};
  }

  // snapshot_read: the answer from this thread's snapshot, without the lock, or null.
  const Snapshot* snapshot_read(const KeyQuery& query, TimePoint t) const {
    const Snapshots* mine = thread_snapshots();
    if (mine == nullptr) return nullptr;
    const std::uint64_t v = version.load(std::memory_order_acquire);
    for (const auto& slot : mine->slots) {
      if (slot.source != id) continue;
      if (slot.version != v || !(t < slot.fresh_until)) return nullptr;
      if (query.has_kid && slot.keys->find(query.kid) == nullptr) return nullptr;
      return &slot;
    }
    return nullptr;
  }

  // request_locked asks the worker for a fetch unless one is queued, running, or the
  // back-off after a failure has not passed. Returns whether a fetch will happen.
  bool request_locked(TimePoint t) {
    if (fetching || refresh_requested) return true;
    if (t < next_attempt) return false;
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

  std::chrono::seconds ttl_from(const HttpResponse& res) const {
    auto ttl_value = opt.default_ttl;
    if (const auto cc = res.header("Cache-Control")) {
      if (const auto age = internal::cache_max_age(*cc)) ttl_value = *age;
    }
    return std::clamp(ttl_value, opt.min_ttl, opt.max_ttl);
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
      if (stop) return;
      fetching = false;
      ++generation;
      done_cv.notify_all();
      // Reported only now that the verifies waiting for this fetch are released: a
      // slow callback must not hold them up.
      lock.unlock();
      emit(event.kind, event.detail);
      lock.lock();
    }
  }

  // fetch runs on the worker thread, without the lock while the request is out, and
  // returns the event to report.
  RemoteJwksEvent fetch(const std::string& if_none_match) {
    HttpRequest req;
    req.url = opt.url;
    req.headers.emplace_back("Accept", "application/jwk-set+json, application/json");
    if (!if_none_match.empty()) req.headers.emplace_back("If-None-Match", if_none_match);
    req.timeout = opt.timeout;
    req.max_response_bytes = opt.max_body_bytes;
    {
      std::lock_guard<std::mutex> g(mu);
      ++stats.fetches;
    }
    {
      std::lock_guard<std::mutex> g(mu);
      if (stop) return {RemoteJwksEvent::Kind::fetch_failed, "stopped"};
      in_send = true;
    }
    Result<HttpResponse> res = make_error(errc::http_error, "not sent");
    try {
      res = http->send(req);
    } catch (const std::exception& e) {
      res = make_error(errc::http_error, std::string("HTTP client threw: ") + e.what());
    } catch (...) {
      res = make_error(errc::http_error, "HTTP client threw");
    }
    {
      // The RemoteJwks may have been destroyed meanwhile, without waiting for this
      // exchange: then nothing of the caller's (clock, callback) is touched again.
      std::lock_guard<std::mutex> g(mu);
      in_send = false;
      if (stop) return {RemoteJwksEvent::Kind::fetch_failed, "stopped"};
    }
    const TimePoint t = now();
    if (!res) return failed(t, res.error().detail);
    if (res->status == 304 && !if_none_match.empty()) {
      {
        std::lock_guard<std::mutex> g(mu);
        fetched_at = t;
        ttl = ttl_from(*res);
        changed_locked();
        ++stats.not_modified;
        backoff = std::chrono::seconds(0);
        next_attempt = TimePoint::min();
      }
      return {RemoteJwksEvent::Kind::not_modified, "304, keys kept"};
    }
    if (res->status != 200) return failed(t, "HTTP status " + std::to_string(res->status));
    // Security: the client was asked to refuse a larger body; one that does not must not
    // make us parse it.
    if (res->body.size() > opt.max_body_bytes) return failed(t, "body over max_body_bytes");
    auto set = public_jwks(res->body, opt.max_keys);
    if (!set) return failed(t, "not a JWK set: " + set.error().detail);
    if (set->empty()) return failed(t, "the JWK set has no usable key");
    const std::size_t count = set->size();
    const std::size_t skipped = set->skipped().size();
    {
      std::lock_guard<std::mutex> g(mu);
      keys = std::make_shared<const KeySet>(std::move(*set));
      set_version = KeySource::next_version();
      fetched_at = t;
      ttl = ttl_from(*res);
      changed_locked();
      // Security: echoed in If-None-Match later, so only an RFC 9110 entity-tag is kept.
      etag = res->header("ETag").value_or("");
      if (!is_entity_tag(etag)) etag.clear();
      unknown_kids.clear();
      backoff = std::chrono::seconds(0);
      next_attempt = TimePoint::min();
    }
    return {RemoteJwksEvent::Kind::fetched,
            "fetched " + std::to_string(count) + (count == 1 ? " key" : " keys") +
                (skipped ? ", skipped " + std::to_string(skipped) + " unusable" : "")};
  }

  RemoteJwksEvent failed(TimePoint t, const std::string& why) {
    {
      std::lock_guard<std::mutex> g(mu);
      ++stats.failures;
      backoff = backoff.count() == 0 ? kFirstBackoff : std::min(backoff * 2, kMaxBackoff);
      next_attempt = t + backoff;
    }
    return {RemoteJwksEvent::Kind::fetch_failed, why + " (last good keys kept)"};
  }
};

RemoteJwks::RemoteJwks(RemoteJwksOptions options, std::shared_ptr<HttpClient> http)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.opt = std::move(options);
  s.http = std::move(http);
  std::string why;
  if (s.opt.url.empty()) throw std::invalid_argument("tokenpass::RemoteJwks: empty URL");
  if (!scheme_allowed(s.opt.url, s.opt.allow_http, &why)) {
    throw std::invalid_argument("tokenpass::RemoteJwks: " + why);
  }
  if (!s.http) throw std::invalid_argument("tokenpass::RemoteJwks: no HttpClient");
  if (s.opt.min_ttl > s.opt.max_ttl || s.opt.min_ttl.count() < 0 ||
      s.opt.default_ttl.count() < 0 || s.opt.max_stale.count() < 0 ||
      s.opt.refresh_ahead.count() < 0 || s.opt.timeout.count() <= 0) {
    throw std::invalid_argument("tokenpass::RemoteJwks: contradictory TTL or timeout options");
  }
  if (!s.opt.clock) s.opt.clock = [] { return SysClock::now(); };
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
  if (s.usable_locked(s.now())) return {};
  const std::uint64_t gen = s.generation;
  // During the back-off after a failure no fetch will happen: answer at once.
  if (!s.request_locked(s.now())) {
    return make_error(errc::key_source_unavailable, "fetches from " + s.opt.url + " are backing off");
  }
  s.done_cv.wait_for(lock, max_wait, [&] { return s.generation != gen || s.stop; });
  if (s.usable_locked(s.now())) return {};
  return make_error(errc::key_source_unavailable, "no JWK set could be fetched from " + s.opt.url);
}

Result<std::shared_ptr<const KeySet>> RemoteJwks::keys_for(const KeyQuery& query) const {
  auto served = served_keys(query);
  if (!served) return served.error();
  return std::move(served->keys);
}

Result<ServedKeys> RemoteJwks::served_keys(const KeyQuery& query) const {
  State& s = *state_;
  try {
    const TimePoint t = s.now();
    if (const Snapshot* fresh = s.snapshot_read(query, t)) {
      return ServedKeys{fresh->keys, fresh->set_version};
    }
    std::unique_lock<std::mutex> lock(s.mu);
    if (!s.usable_locked(t)) {
      // Nothing to serve: this verify has to wait for a fetch (bounded).
      if (s.request_locked(t)) s.wait_locked(lock);
      if (!s.usable_locked(s.now())) {
        return make_error(errc::key_source_unavailable, "no JWK set from " + s.opt.url);
      }
      return s.snapshot_locked();
    }
    if (t >= s.fresh_until_locked()) s.request_locked(t);  // in the background
    if (t >= s.fetched_at + s.ttl) ++s.stats.stale_serves;

    if (query.has_kid && s.keys->find(query.kid) == nullptr) {
      ++s.stats.kid_misses;
      const std::string kid(query.kid);
      // Looked for within the interval already: answer without waiting. After the
      // interval the kid may ask again (it may have been published meanwhile).
      const auto known = s.unknown_kids.find(kid);
      if (known != s.unknown_kids.end() && t - known->second < s.opt.unknown_kid_interval) {
        ++s.stats.rate_limited;
        return s.snapshot_locked();
      }
      // A rotation shows up as an unknown kid: one refresh per interval, so that a
      // flood of random kids costs at most one fetch per interval.
      const bool interval_passed = s.last_kid_refresh == TimePoint::min() ||
                                   t - s.last_kid_refresh >= s.opt.unknown_kid_interval;
      if (interval_passed && s.request_locked(t)) {
        s.last_kid_refresh = t;
        s.wait_locked(lock);
        if (s.keys->find(query.kid) == nullptr) {
          if (s.unknown_kids.size() >= kMaxUnknownKids) s.unknown_kids.clear();
          s.unknown_kids[kid] = t;
        }
      } else {
        ++s.stats.rate_limited;
      }
    }
    return s.snapshot_locked();
  } catch (const std::exception&) {
    return make_error(errc::key_source_unavailable, "key lookup failed");
  }
}

namespace {

Result<std::shared_ptr<RemoteJwks>> discover(std::string_view issuer, RemoteJwksOptions options,
                                             std::shared_ptr<HttpClient> http) {
  if (!http) return make_error(errc::invalid_request, "no HttpClient");
  std::string why;
  if (!scheme_allowed(issuer, options.allow_http, &why)) {
    return make_error(errc::invalid_request, why);
  }
  auto url = parse_url(issuer);
  if (!url) return url.error();
  std::string base(issuer);
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string path = url->target == "/" ? std::string() : url->target;
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string origin = base.substr(0, base.size() - path.size());
  // OpenID Connect Discovery §4 appends to the issuer; RFC 8414 §3 inserts the
  // well-known segment between the host and the issuer's path.
  const std::string candidates[] = {base + "/.well-known/openid-configuration",
                                    origin + "/.well-known/oauth-authorization-server" + path};
  Error last = make_error(errc::http_error, "no metadata");
  for (const auto& candidate : candidates) {
    HttpRequest req;
    req.url = candidate;
    req.headers.emplace_back("Accept", "application/json");
    req.timeout = options.timeout;
    req.max_response_bytes = options.max_body_bytes;
    Result<HttpResponse> res = make_error(errc::http_error, "not sent");
    try {
      res = http->send(req);
    } catch (...) {
      res = make_error(errc::http_error, candidate + ": the HTTP client threw");
    }
    if (!res) {
      last = res.error();
      continue;
    }
    if (res->status != 200) {
      last = make_error(errc::http_error, candidate + ": HTTP status " + std::to_string(res->status));
      continue;
    }
    // Security: as for a JWK set, the limit holds even when the client ignored it.
    if (res->body.size() > options.max_body_bytes) {
      return make_error(errc::http_error, candidate + ": body over max_body_bytes");
    }
    auto doc = internal::parse_json(res->body, JsonLimits{});
    if (!doc || !doc->is_object()) return make_error(errc::malformed, "metadata is not a JSON object");
    const auto iss = doc->find("issuer");
    if (iss == doc->end() || !iss->is_string()) {
      return make_error(errc::malformed, "metadata has no \"issuer\"");
    }
    // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: must be identical, or the
    // metadata may be an attacker's.
    if (iss->get_ref<const std::string&>() != issuer) {
      return make_error(errc::bad_issuer, "metadata \"issuer\" differs from the configured issuer");
    }
    const auto jwks = doc->find("jwks_uri");
    if (jwks == doc->end() || !jwks->is_string()) {
      return make_error(errc::malformed, "metadata has no \"jwks_uri\"");
    }
    options.url = jwks->get<std::string>();
    if (!scheme_allowed(options.url, options.allow_http, &why)) {
      return make_error(errc::invalid_request, "jwks_uri: " + why);
    }
    try {
      return std::make_shared<RemoteJwks>(std::move(options), std::move(http));
    } catch (const std::invalid_argument& e) {
      return make_error(errc::invalid_request, e.what());
    }
  }
  return last;
}

}  // namespace

Result<std::shared_ptr<RemoteJwks>> RemoteJwks::from_issuer(std::string_view issuer,
                                                            RemoteJwksOptions options,
                                                            std::shared_ptr<HttpClient> http) {
  try {
    return discover(issuer, std::move(options), std::move(http));
  } catch (...) {
    return make_error(errc::internal_error, "discovery failed inside the library");
  }
}

IssuerKeySources::IssuerKeySources(
    std::map<std::string, std::shared_ptr<const KeySource>> sources) {
  if (sources.empty()) throw std::invalid_argument("tokenpass::IssuerKeySources: no issuers");
  for (auto& [iss, src] : sources) {
    if (!src) throw std::invalid_argument("tokenpass::IssuerKeySources: null source for " + iss);
    sources_.emplace(iss, std::move(src));
  }
}

Result<std::shared_ptr<const KeySet>> IssuerKeySources::keys_for(const KeyQuery& query) const {
  const auto it = sources_.find(query.issuer);
  if (it == sources_.end()) {
    return make_error(errc::bad_issuer, "the token's issuer is not configured");
  }
  return it->second->keys_for(query);
}

Result<ServedKeys> IssuerKeySources::served_keys(const KeyQuery& query) const {
  const auto it = sources_.find(query.issuer);
  if (it == sources_.end()) {
    return make_error(errc::bad_issuer, "the token's issuer is not configured");
  }
  return it->second->served_keys(query);
}

}  // namespace tokenpass

// tokenpass/key_source.h: where a Verifier gets its keys. A `KeySource` hands out
// immutable `KeySet` snapshots: a static source always the same one; `RemoteJwks`
// fetches an issuer's JWK set over HTTP, caches it and refreshes it without blocking
// verifies the cached set can serve; `IssuerKeySources` picks among several issuers'
// sources by the token's `iss`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/http.h"
#include "tokenpass/jwk.h"
#include "tokenpass/metrics.h"

namespace tokenpass {

// KeyQuery: what a Verifier knows about a token when it asks for keys. Nothing in it
// is verified yet: it only chooses among keys the service configured.
struct KeyQuery {
  std::string_view kid;  // the header's kid
  bool has_kid = false;  // the header has a kid (it may be "")
  // issuer: the token's unverified `iss`, filled in only for sources whose
  // `wants_issuer()` is true. The Verifier checks afterwards that the verified `iss`
  // is this same value.
  std::string_view issuer;
};

// ServedKeys: a key set and the version under which a source served it. A version is a
// number that no other set, from any source of this process, has had: the same set
// served again keeps it, a new set gets a new one. 0 means the source does not say.
struct ServedKeys {
  std::shared_ptr<const KeySet> keys;  // the set
  std::uint64_t version = 0;           // its version; 0 when the source does not say
};

// KeySource: the interface a Verifier takes keys from; implement it for a source of
// your own. Implementations are shared across request threads.
class TOKENPASS_EXPORT KeySource {
 public:
  virtual ~KeySource();

  // keys_for returns the key set to check a token with. A remote source may refresh
  // (rate-limited) when no key has the token's kid. Errors: key_source_unavailable
  // when no usable key set exists. Must be safe to call concurrently; must not throw.
  virtual Result<std::shared_ptr<const KeySet>> keys_for(const KeyQuery& query) const = 0;

  // served_keys: as keys_for, with the set's version. The verified-token cache
  // (Policy::cache) answers a token again only while the version that verified it is
  // served. The default gives version 0, and the cache keeps nothing for such a source:
  // a source of its own overrides this and takes versions from next_version().
  virtual Result<ServedKeys> served_keys(const KeyQuery& query) const;

  // wants_issuer: the source chooses keys by issuer, so the Verifier reads the
  // token's `iss` before the signature check (bounded JSON parse, used only as above).
  virtual bool wants_issuer() const noexcept { return false; }

  // fixed: the source serves one set for good; a Verifier then asks for it once.
  virtual bool fixed() const noexcept { return false; }

  // next_version: a version no set has had yet (never 0). Thread-safe.
  static std::uint64_t next_version() noexcept;
};

// StaticKeySource: a fixed key set, for keys from files or configuration.
class TOKENPASS_EXPORT StaticKeySource final : public KeySource {
 public:
  // StaticKeySource serves `keys`, under one version, for good.
  explicit StaticKeySource(KeySet keys);
  Result<std::shared_ptr<const KeySet>> keys_for(const KeyQuery& query) const override;
  Result<ServedKeys> served_keys(const KeyQuery& query) const override;
  bool fixed() const noexcept override { return true; }

 private:
  std::shared_ptr<const KeySet> keys_;
  std::uint64_t version_;
};

// RemoteJwksEvent: what `RemoteJwksOptions::on_event` hears about, for logging.
struct RemoteJwksEvent {
  // Kind: a set fetched, a 304 (the set kept), or a failed or refused fetch.
  enum class Kind { fetched, not_modified, fetch_failed };
  Kind kind;           // what happened
  std::string detail;  // the URL and, for failures, why; never key material
};

// RemoteJwksStats: counters since construction.
struct RemoteJwksStats {
  std::uint64_t fetches = 0;       // HTTP requests made
  std::uint64_t not_modified = 0;  // 304 answers (keys kept)
  std::uint64_t failures = 0;      // failed or refused fetches (old keys kept)
  std::uint64_t kid_misses = 0;    // tokens whose kid was not in the set
  std::uint64_t rate_limited = 0;  // kid misses that were not allowed a fetch
  std::uint64_t kid_fetches = 0;   // kid misses that caused a fetch
  std::uint64_t kid_joins = 0;     // kid misses that waited for a fetch under way
  std::uint64_t stale_serves = 0;  // lookups served from a set past its TTL
};

// RemoteJwksOptions: where a RemoteJwks fetches, how long it keeps a set, and its limits.
struct RemoteJwksOptions {
  std::string url;  // the JWK set's URL: https:// (http:// only with allow_http)
  // allow_http: accept a plain http:// URL. Only for tests and loopback set-ups.
  bool allow_http = false;

  // TTL: Cache-Control max-age when the server sends one, kept within
  // [min_ttl, max_ttl]; default_ttl otherwise.
  std::chrono::seconds default_ttl{300};
  std::chrono::seconds min_ttl{30};
  std::chrono::seconds max_ttl{86400};

  // refresh_ahead: start a background refresh this long before the TTL ends (at most
  // half the TTL).
  std::chrono::seconds refresh_ahead{30};
  // unknown_kid_interval: at most one refresh per this interval for unknown kids.
  std::chrono::seconds unknown_kid_interval{30};
  // max_stale: after the TTL, keep serving the last good set this long while fetches
  // fail; then key_source_unavailable.
  std::chrono::seconds max_stale{6 * 3600};
  // timeout: for one fetch; also the longest a verify waits for a fetch it needs (the
  // first one, or one for an unknown kid).
  std::chrono::milliseconds timeout{5000};
  std::size_t max_body_bytes = 512 * 1024;  // a larger body is a failed fetch
  std::size_t max_keys = 100;               // a set with more keys is a failed fetch
  // clock: defaults to std::chrono::system_clock::now.
  std::function<std::chrono::system_clock::time_point()> clock;
  // on_event: called from the fetching thread, after the verifies waiting for the fetch
  // are released and after `observer` has been told of it; keep it short and non-throwing.
  std::function<void(const RemoteJwksEvent&)> on_event;
  // spiffe_bundle: the URL serves a SPIFFE bundle (spiffe.h): only its `"use":
  // "jwt-svid"` keys are kept (x509-svid entries are not JWT keys), its
  // `spiffe_refresh_hint` (seconds) is the TTL instead of Cache-Control (still within
  // [min_ttl, max_ttl]), and a bundle whose `spiffe_sequence` is lower than the one held
  // is refused as a rollback (the newer keys are kept).
  bool spiffe_bundle = false;
  // observer: told about fetches, the set held (keys, when confirmed), unknown kids,
  // rate-limited refreshes and stale serving (metrics.h), as `metrics_issuer` (default:
  // the issuer for from_issuer, else the URL). Called without the source's lock held.
  std::shared_ptr<Observer> observer;
  std::string metrics_issuer;  // the issuer label for `observer`
};

// RemoteJwks: an issuer's JWK set fetched over HTTP. One background thread does every
// fetch (single flight); verifies read the current set and never wait for a fetch
// unless they cannot be served without one. ETag / If-None-Match and Cache-Control
// are honoured; a failed, oversized or invalid fetch keeps the last good set.
class TOKENPASS_EXPORT RemoteJwks final : public KeySource {
 public:
  // RemoteJwks throws std::invalid_argument for an empty or non-https URL (http only
  // with allow_http), a null client, or TTL bounds that contradict each other. It does
  // not fetch; call `prefetch` at start-up or let the first verify do it.
  RemoteJwks(RemoteJwksOptions options, std::shared_ptr<HttpClient> http);
  ~RemoteJwks() override;
  RemoteJwks(const RemoteJwks&) = delete;
  RemoteJwks& operator=(const RemoteJwks&) = delete;

  // from_issuer finds the JWK set of `issuer` through OpenID Connect discovery
  // (`/.well-known/openid-configuration`) or, failing that, RFC 8414 metadata
  // (`/.well-known/oauth-authorization-server`). The document's `issuer` must equal
  // `issuer` exactly and its `jwks_uri` must be https (unless allow_http).
  // `options.url` is ignored. Errors: http_error, malformed (bad metadata),
  // bad_issuer (the metadata names another issuer), invalid_request (bad URL).
  static Result<std::shared_ptr<RemoteJwks>> from_issuer(std::string_view issuer,
                                                         RemoteJwksOptions options,
                                                         std::shared_ptr<HttpClient> http);

  // prefetch fetches now (if no set is held yet) and waits at most `max_wait`.
  // Errors: key_source_unavailable when no usable set arrived in time.
  Result<void> prefetch(std::chrono::milliseconds max_wait = std::chrono::seconds(5));

  Result<std::shared_ptr<const KeySet>> keys_for(const KeyQuery& query) const override;
  Result<ServedKeys> served_keys(const KeyQuery& query) const override;

  // stats: the counters now. Thread-safe.
  RemoteJwksStats stats() const;
  // url: the JWK set's URL (for from_issuer, the one discovery found).
  const std::string& url() const noexcept;

 private:
  struct State;
  // Shared with the worker thread, which may outlive this object: a destructor never
  // waits for a peer, and a fetch under way is abandoned, not awaited.
  std::shared_ptr<State> state_;
};

// IssuerKeySources: one key source per configured issuer, chosen by the token's `iss`.
// Keys are never looked up for an issuer that is not configured, and no URL is ever
// taken from a token.
class TOKENPASS_EXPORT IssuerKeySources final : public KeySource {
 public:
  // Throws std::invalid_argument for an empty map or a null source.
  explicit IssuerKeySources(std::map<std::string, std::shared_ptr<const KeySource>> sources);
  // keys_for: bad_issuer for a token whose `iss` is missing or not configured.
  Result<std::shared_ptr<const KeySet>> keys_for(const KeyQuery& query) const override;
  Result<ServedKeys> served_keys(const KeyQuery& query) const override;
  bool wants_issuer() const noexcept override { return true; }

 private:
  std::map<std::string, std::shared_ptr<const KeySource>, std::less<>> sources_;
};

}  // namespace tokenpass

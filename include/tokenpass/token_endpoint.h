// tokenpass/token_endpoint.h: the token endpoint of a token service, for services that
// issue their own tokens to each other. Framework-free like the Verifier: a request's
// method, headers, form body and peer address go in; status, headers and a JSON body
// come out. `mount_token_endpoint` in <tokenpass/adapters/httplib.h> serves it on
// cpp-httplib.
//
// What it does, and the RFCs it follows:
//  - client authentication (RFC 6749 §2.3): `client_secret_basic` (the credentials
//    form-encoded, then Base64; scheme name case-insensitive), `client_secret_post`,
//    `private_key_jwt` (RFC 7523 §2.2: an assertion signed by one of the client's
//    registered keys, iss = sub = client_id, aud = the endpoint or the issuer, each jti
//    once), `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2: the
//    connection's client certificate); exactly one method per request. Secrets are stored as PBKDF2 hashes; an
//    unknown client costs the same work as a known one; failed attempts are throttled
//    per client (secrets only: a certificate or assertion cannot be guessed, and its
//    client must not be locked out by guesses at a secret) and per peer address (429 with Retry-After and `invalid_request`, as
//    RFC 6749 has no code of its own for it).
//  - the client credentials grant (RFC 6749 §4.4) and token exchange (RFC 8693 §2),
//  - targets named with `audience` (RFC 8693) or `resource` (RFC 8707), each checked
//    against the client's registration; scopes narrowed to what the client may have,
//  - every error of RFC 6749 §5.2 and RFC 8693 §2.2.2 with its status, a JSON body and
//    `WWW-Authenticate` for invalid_client; `Cache-Control: no-store` and `Pragma:
//    no-cache` on every answer,
//  - certificate-bound tokens (RFC 8705 §3) for clients that connect with a certificate,
//    DPoP-bound tokens (RFC 9449 §5) for clients that send a proof,
//  - RFC 8414 metadata listing only what is configured.
// Issued tokens are JWT access tokens (RFC 9068): iss, sub, aud, client_id, scope, iat,
// exp, jti, signed with the endpoint's key; their header typ is configurable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/binding.h"
#include "tokenpass/client_credentials.h"
#include "tokenpass/dpop.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/http.h"
#include "tokenpass/jwk.h"
#include "tokenpass/metrics.h"
#include "tokenpass/replay.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

// Grant type names (RFC 6749 §4.4.2, RFC 8693 §2.1).
inline constexpr std::string_view kClientCredentialsGrant = "client_credentials";
inline constexpr std::string_view kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";

// SecretHash: a client secret (or password) stored as PBKDF2-HMAC-SHA256.
struct TOKENPASS_EXPORT SecretHash {
  std::string salt;         // base64url
  std::string hash;         // base64url of the 32-byte derived key
  int iterations = 100000;  // PBKDF2 iterations

  // make hashes `secret` with a fresh random 16-byte salt.
  static SecretHash make(std::string_view secret, int iterations = 100000);
  // matches: `secret` against this hash, the comparison in constant time. False also
  // for a salt or hash that is not base64url, or iterations below 1.
  bool matches(std::string_view secret) const;
};

// ClientRecord: what the token endpoint knows about one client.
struct ClientRecord {
  std::string id;  // its client_id
  // secret: for client_secret_basic and client_secret_post.
  std::optional<SecretHash> secret;
  // assertion_keys: the client's public keys, for private_key_jwt.
  std::optional<KeySet> assertion_keys;

  // tls_client_auth (RFC 8705 §2.1.2): the one identity its CA-issued certificate must
  // carry: a URI SAN (e.g. a SPIFFE ID), a DNS SAN, or the subject (RFC 2253 form).
  std::string tls_client_auth_san_uri;
  std::string tls_client_auth_san_dns;
  std::string tls_client_auth_subject_dn;

  // self_signed_thumbprints (RFC 8705 §2.2): the `x5t#S256` of each certificate it may
  // present for self_signed_tls_client_auth.
  std::vector<std::string> self_signed_thumbprints;
  // certificate_bound_tokens (RFC 8705 §3): a token issued over a connection with a
  // client certificate is bound to it (`cnf.x5t#S256`).
  bool certificate_bound_tokens = true;
  // auth_methods: how it may authenticate; empty: the secret methods when it has a
  // secret, private_key_jwt when it has keys, tls_client_auth when it names an
  // identity, self_signed_tls_client_auth when it has thumbprints.
  std::vector<ClientAuth> auth_methods;
  // grant_types: kClientCredentialsGrant and/or kTokenExchangeGrant.
  std::vector<std::string> grant_types{std::string(kClientCredentialsGrant)};
  // scopes: the most its client-credentials tokens may grant; asking for none gives all.
  // (An exchanged token's scopes are bounded by the subject token's, not by these.)
  std::vector<std::string> scopes;
  // audiences: the targets it may ask for, as `audience` or as `resource` (an absolute
  // URI); they become the token's `aud`.
  std::vector<std::string> audiences;
  // default_audiences: `aud` when the request names no target (a plain RFC 6749
  // client); empty: all of `audiences`.
  std::vector<std::string> default_audiences;
  // token_lifetime: overrides the endpoint's for this client's tokens.
  std::optional<std::chrono::seconds> token_lifetime;
  // opaque_tokens: its tokens are random strings that only the endpoint can explain
  // (through its introspection endpoint, RFC 7662), not JWTs. Needs
  // TokenEndpointOptions::introspection_endpoint.
  bool opaque_tokens = false;
  // may_introspect: it may ask the introspection endpoint about tokens (RFC 7662 §2.1:
  // the protected resource authenticates as a client).
  bool may_introspect = false;
};

// ClientRegistry: where the endpoint finds clients. Implementations must be safe to
// call from several threads at once; an exception counts as "not found".
class TOKENPASS_EXPORT ClientRegistry {
 public:
  virtual ~ClientRegistry();
  // find: the client with this id; nullopt when there is none.
  virtual std::optional<ClientRecord> find(std::string_view client_id) const = 0;
};

// MemoryClientRegistry: a fixed list. Throws std::invalid_argument for an empty or
// repeated id, a client with no way to authenticate (no secret, no keys, or a method
// whose secret or keys it lacks), no audiences, a default audience not among them, an
// unknown grant type, or a private key among its assertion keys.
class TOKENPASS_EXPORT MemoryClientRegistry final : public ClientRegistry {
 public:
  // MemoryClientRegistry holds `clients`; throws for the mistakes the class comment lists.
  explicit MemoryClientRegistry(std::vector<ClientRecord> clients);
  std::optional<ClientRecord> find(std::string_view client_id) const override;

 private:
  std::map<std::string, ClientRecord, std::less<>> clients_;
};

// FailureThrottle: failed attempts per key (a client or user name, a peer address)
// within a sliding window; a key with `limit` failures in the window is refused until
// the oldest leaves it. Thread-safe; at most `max_keys` keys are remembered (the ones
// whose failures are all outside the window are dropped first).
class TOKENPASS_EXPORT FailureThrottle {
 public:
  // Throws std::invalid_argument for max_keys 0; limit 0 never blocks.
  FailureThrottle(std::size_t limit, std::chrono::seconds window, std::size_t max_keys = 10000);
  // attempt: in one step, false (and `retry_after`) when `key` is blocked, else its
  // failure counted ahead, so that concurrent attempts cannot pass the limit between
  // the check and the count. The attempt is pending until the caller says how it ended:
  // forgive (it succeeded) or settle (it failed; the failure stays counted). When only
  // pending attempts make the key look blocked (a client making more concurrent
  // requests than `limit`), attempt waits for them to end, at most `max_wait`, instead
  // of refusing a client that has not failed.
  bool attempt(const std::string& key, std::chrono::system_clock::time_point now,
               std::chrono::seconds* retry_after = nullptr);
  // blocked: `key` is refused at `now`; `retry_after` then says for how long.
  bool blocked(const std::string& key, std::chrono::system_clock::time_point now,
               std::chrono::seconds* retry_after = nullptr);
  // failed counts a failure of `key` at `now`.
  void failed(const std::string& key, std::chrono::system_clock::time_point now);
  // forgive takes back the latest failure of `key`: for an attempt counted as failed
  // before its secret was checked (so that concurrent guesses cannot pass the limit
  // while their secrets are hashed), which then matched.
  void forgive(const std::string& key);
  // settle: a pending attempt of `key` failed (its failure stays counted).
  void settle(const std::string& key);
  // max_wait: how long attempt waits for pending attempts of the same key (default 2 s).
  void set_max_wait(std::chrono::milliseconds max_wait) { max_wait_ = max_wait; }

 private:
  bool blocked_locked(const std::string& key, std::chrono::system_clock::time_point now,
                      std::chrono::seconds* retry_after);
  void failed_locked(const std::string& key, std::chrono::system_clock::time_point now);
  std::size_t limit_;
  std::chrono::seconds window_;
  std::size_t max_keys_;
  std::chrono::milliseconds max_wait_{2000};
  std::mutex mu_;
  std::condition_variable ended_;  // a pending attempt ended
  std::map<std::string, std::deque<std::chrono::system_clock::time_point>> failures_;
  std::map<std::string, std::size_t> pending_;  // attempts counted ahead, not yet ended
};

// TokenEndpointOptions: what a TokenEndpoint issues, offers and publishes, and its limits.
struct TokenEndpointOptions {
  // issuer: `iss` of every token and the metadata's `issuer` (required).
  std::string issuer;

  // token_endpoint / jwks_uri: the URLs the metadata names; default issuer + "/token"
  // and issuer + "/.well-known/jwks.json". A private_key_jwt assertion's `aud` must
  // name the token endpoint or the issuer.
  std::string token_endpoint;
  std::string jwks_uri;

  // token_lifetime: of issued tokens, unless the client's record says otherwise.
  std::chrono::seconds token_lifetime{300};

  // typ of the tokens of each grant (header `typ`): RFC 9068 "at+jwt" by default; a
  // shop may give services' own tokens a type of their own (the demo: "svc+jwt").
  std::string client_credentials_typ = "at+jwt";
  std::string token_exchange_typ = "at+jwt";

  // subject_tokens: verifies RFC 8693 subject tokens. Null: token exchange is not
  // offered (nor listed in the metadata).
  std::shared_ptr<const Verifier> subject_tokens;
  // actor_tokens: verifies RFC 8693 actor tokens. Null: a request with one is refused.
  // Without an actor token the authenticated client is the actor (`act.sub`).
  std::shared_ptr<const Verifier> actor_tokens;
  // auth_methods: the client authentication methods offered (and listed).
  // The mTLS methods (tls_client_auth, self_signed_tls_client_auth) need a server that
  // asks for client certificates (make_tls_server): add them when yours does.
  std::vector<ClientAuth> auth_methods{ClientAuth::client_secret_basic, ClientAuth::client_secret_post,
                                       ClientAuth::private_key_jwt};
  // mtls_endpoint_aliases (RFC 8705 §5): the token endpoint's URL on an mTLS listener,
  // when it differs from `token_endpoint`; listed in the metadata.
  std::string mtls_token_endpoint;
  // assertion_replay: where private_key_jwt assertions' jti are recorded; null: a
  // MemoryReplayStore of the endpoint's own (use a shared store with several replicas).
  std::shared_ptr<const ReplayStore> assertion_replay;
  // dpop: DPoP at the token endpoint (RFC 9449 §5): a token request with a `DPoP` proof
  // (method POST, htu this endpoint or its mTLS alias, no `ath`, checked with these
  // options; its jti recorded in `assertion_replay`) gets a token bound to the proof's
  // key (`cnf.jkt`) with token_type "DPoP"; a bad proof is 400 invalid_dpop_proof, a
  // missing nonce 400 use_dpop_nonce with a `DPoP-Nonce` header. Listed in the metadata
  // (`dpop_signing_alg_values_supported`). Null: DPoP is not offered, and the header is
  // ignored (§5: such a server issues a Bearer token).
  std::shared_ptr<const DpopOptions> dpop;
  // introspection_endpoint: the URL of an RFC 7662 introspection endpoint (listed in
  // the metadata): clients with `may_introspect` authenticate as at the token endpoint
  // and learn whether a token this endpoint issued is active, and its claims: opaque
  // tokens (ClientRecord::opaque_tokens) and its own JWTs (signature, issuer and expiry
  // checked). Empty: none. Opaque tokens live in this endpoint's memory (at most
  // max_opaque_tokens; expired ones are dropped first): with several replicas, route
  // introspection to the replica that issued, or keep to JWTs.
  std::string introspection_endpoint;
  // max_opaque_tokens: opaque tokens held at most (see introspection_endpoint).
  std::size_t max_opaque_tokens = 100000;
  // max_assertion_lifetime: an assertion whose exp is further away is refused.
  std::chrono::seconds max_assertion_lifetime{300};
  // max_body_bytes: a larger request body is refused (invalid_request).
  std::size_t max_body_bytes = 64 * 1024;
  // max_published_keys: keys in the JWKS at most (the signing key included), see
  // TokenEndpoint::rotate_key.
  std::size_t max_published_keys = 3;

  // Failed client authentications allowed per client id and per peer address in
  // `throttle_window` before further attempts get 429 (0: no limit).
  std::size_t throttle_per_client = 5;
  std::size_t throttle_per_address = 20;
  std::chrono::seconds throttle_window{60};

  // unknown_client_iterations: the PBKDF2 work spent on a secret for a client that does
  // not exist, so that timing does not tell which clients do: set it to what the
  // registry's secrets use.
  int unknown_client_iterations = 100000;
  Clock clock;  // default std::chrono::system_clock::now
  // log: one line per decision (issued, refused and why), for the service's log; never
  // a secret or a token.
  std::function<void(const std::string&)> log;
  // observer: told about every request answered (endpoint, grant, outcome; metrics.h).
  std::shared_ptr<Observer> observer;
};

// TokenEndpointRequest: one HTTP request to the token or introspection endpoint, as
// the server received it.
struct TokenEndpointRequest {
  std::string method = "POST";  // the request's method
  HttpHeaders headers;          // every header, as received
  std::string body;             // the form body, not decoded
  // remote_address: the peer, for throttling.
  std::string remote_address;
  // client_certificate: the TLS connection's client certificate (mTLS), for the
  // tls_client_auth methods and certificate-bound tokens.
  std::shared_ptr<const PeerCertificate> client_certificate;
};

// TokenEndpointResponse: the answer to send back as it is.
struct TokenEndpointResponse {
  int status = 200;     // the HTTP status
  HttpHeaders headers;  // Content-Type, Cache-Control, Pragma, WWW-Authenticate, Allow, Retry-After
  std::string body;     // JSON
};

// TokenEndpointStats: a TokenEndpoint's counters since construction.
struct TokenEndpointStats {
  std::uint64_t issued = 0;         // tokens issued
  std::uint64_t refused = 0;        // requests answered with an error
  std::uint64_t secret_checks = 0;  // PBKDF2 runs (known and unknown clients alike)
};

// TokenEndpoint: a token service's endpoints (token, introspection, metadata, JWKS),
// framework-free: an adapter passes each request in and sends the response out.
// Thread-safe.
class TOKENPASS_EXPORT TokenEndpoint {
 public:
  // TokenEndpoint throws std::invalid_argument for a key that cannot sign, a null
  // registry, an empty issuer, URLs that are not http(s), a lifetime that is not
  // positive, or no auth method.
  TokenEndpoint(Key signing_key, std::shared_ptr<const ClientRegistry> clients,
                TokenEndpointOptions options);
  ~TokenEndpoint();
  TokenEndpoint(const TokenEndpoint&) = delete;
  TokenEndpoint& operator=(const TokenEndpoint&) = delete;

  // handle answers one request to the token endpoint. Never throws: our own failures
  // are 500 server_error. Thread-safe.
  TokenEndpointResponse handle(const TokenEndpointRequest& request) const;

  // handle_introspection answers one request to the introspection endpoint (RFC 7662
  // §2): a POSTed form with `token` (and an optional `token_type_hint`) from an
  // authenticated client with `may_introspect`; 200 with `{"active": false}` for any
  // token that is not an unexpired one of ours, else `active: true` and its claims
  // (`token_type` "Bearer" or "DPoP"). Errors as handle's (invalid_client 401,
  // unauthorized_client 403 for a client that may not introspect, invalid_request).
  // Never throws. Thread-safe.
  TokenEndpointResponse handle_introspection(const TokenEndpointRequest& request) const;

  // metadata: the RFC 8414 document (JSON), from what is configured.
  const std::string& metadata() const noexcept;
  // jwks: the public JWK set (JSON): the signing key first, then the keys published
  // beside it (publish_key) and the previous signing keys (rotate_key). A copy: the set
  // changes with rotation.
  std::string jwks() const;

  // publish_key: publishes `next`'s public half in the JWKS without signing with it
  // yet, so that receivers hold it before the first token it signs (no unknown-kid
  // fetch at rotation). rotate_key: `next` signs every token from now on; it stays first
  // in the JWKS, and the keys that signed before stay published, so the tokens they
  // signed keep verifying: retire them (retire_key) once those tokens have expired and
  // receivers have refetched, i.e. after the longest token lifetime plus their JWKS TTL.
  // At most TokenEndpointOptions::max_published_keys are published: publishing or
  // rotating beyond that drops the oldest one that does not sign. Introspection accepts
  // this endpoint's JWTs signed by any published key. Throw std::invalid_argument for a
  // key that cannot sign (publish_key: with no public half), without a kid, or whose kid
  // is already published with other key material. Thread-safe.
  void publish_key(const Key& next);
  void rotate_key(Key next);

  // retire_key: stops publishing the key with `kid` (never the signing key). Returns
  // whether one was published. Thread-safe.
  bool retire_key(std::string_view kid);
  // signing_kid: the kid of the key that signs now.
  std::string signing_kid() const;

  // issuer, token_endpoint, jwks_uri, mtls_token_endpoint, introspection_endpoint,
  // max_body_bytes: as TokenEndpointOptions set them, defaults filled in.
  const std::string& issuer() const noexcept;
  const std::string& token_endpoint() const noexcept;
  const std::string& jwks_uri() const noexcept;
  const std::string& mtls_token_endpoint() const noexcept;     // "" when none
  const std::string& introspection_endpoint() const noexcept;  // "" when none
  std::size_t max_body_bytes() const noexcept;

  // stats: the counters now. Thread-safe.
  TokenEndpointStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tokenpass

// tokenpass/client_credentials.h: obtaining tokens from a token service. A
// `ClientCredentials` gets this service's own tokens with the OAuth 2.0 client
// credentials grant (RFC 6749 §4.4); a `TokenExchange` trades a user's token for one
// meant for another audience (RFC 8693). Both cache what they get, refresh ahead of
// expiry, let one request out at a time per cache entry (single flight), back off after
// failures while a still-valid token keeps being served, and never log a secret.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenpass/dpop.h"
#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/http.h"
#include "tokenpass/jwk.h"
#include "tokenpass/verifier.h"

namespace tokenpass {

// ClientAuth: how the client authenticates at the token endpoint.
enum class ClientAuth {
  client_secret_basic,  // RFC 6749 §2.3.1: HTTP Basic (the default)
  client_secret_post,   // RFC 6749 §2.3.1: client_id and client_secret in the form
  private_key_jwt,      // RFC 7523 §2.2 / OIDC: a signed client assertion
  // RFC 8705 §2: the client certificate of the TLS connection, which the HttpClient
  // presents (HttplibClientOptions::client_cert_file); the form carries client_id.
  tls_client_auth,              // a certificate from a CA the server trusts (§2.1)
  self_signed_tls_client_auth,  // a self-signed certificate registered with the server (§2.2)
};

// ClientCredentialsOptions: the token endpoint, how the client authenticates there,
// and how tokens are cached and refreshed.
struct ClientCredentialsOptions {
  std::string token_endpoint;                         // https:// (http:// only with allow_http)
  std::string client_id;                              // the client's id at the endpoint
  std::string client_secret;                          // for the client_secret_* methods
  ClientAuth auth = ClientAuth::client_secret_basic;  // how the client authenticates
  // assertion_key: the private key for private_key_jwt; the assertion has iss = sub =
  // client_id, aud = token_endpoint, a jti and exp = now + assertion_lifetime.
  std::optional<Key> assertion_key;
  std::chrono::seconds assertion_lifetime{60};  // see assertion_key
  // dpop: ask for DPoP-bound tokens (RFC 9449 §5): each token request carries a proof
  // signed by this signer (a nonce the endpoint asks for is remembered and the request
  // made once more); the endpoint answers token_type "DPoP", and every request that
  // carries such a token needs a proof of its own (Outbound does that). Null: Bearer.
  std::shared_ptr<const DpopSigner> dpop;
  // resource_parameter: send the audience as RFC 8707 `resource` instead of `audience`.
  bool resource_parameter = false;
  // refresh_at: fraction of a token's lifetime after which it is refreshed (0 < x <= 1).
  double refresh_at = 0.8;
  // default_lifetime: assumed when the response has no expires_in.
  std::chrono::seconds default_lifetime{300};

  // Back-off after a failed request: doubles from min_retry up to max_retry.
  std::chrono::seconds min_retry{1};
  std::chrono::seconds max_retry{30};

  std::chrono::milliseconds timeout{5000};     // for one request, the whole exchange
  std::size_t max_response_bytes = 64 * 1024;  // a larger answer is http_error
  bool allow_http = false;                     // accept http://: tests and loopback only
  // max_cache_entries: distinct (audience, scopes) or exchange entries kept.
  std::size_t max_cache_entries = 1024;
  Clock clock;  // default std::chrono::system_clock::now
  // fresh_each_call: every token() asks the endpoint for a new token and nothing is
  // cached: for single-use service tokens, which a receiver accepts once (a token used
  // twice would be refused as replayed). A failure is not retried during a back-off.
  bool fresh_each_call = false;
  // observer: told about every token asked for (fetched, failed, from the cache) with
  // this client_id and the audience as labels, and when the token handed out expires
  // (metrics.h). Called without the client's lock held.
  std::shared_ptr<Observer> observer;
};

// AccessToken: what a token endpoint issued (RFC 6749 §5.1, RFC 8693 §2.2.1).
struct AccessToken {
  std::string access_token;       // the token itself; never log it
  std::string token_type;         // "Bearer" (or "N_A" for some exchanged tokens)
  std::string issued_token_type;  // RFC 8693 only
  std::string scope;              // as granted, when the endpoint says
  // expires_at: when it was received plus `expires_in` (default_lifetime without one).
  std::chrono::system_clock::time_point expires_at;
};

// TokenClientStats: the counters of a ClientCredentials or TokenExchange.
struct TokenClientStats {
  std::uint64_t requests = 0;    // token endpoint requests made
  std::uint64_t failures = 0;    // failed requests (transport, HTTP status, bad body)
  std::uint64_t cache_hits = 0;  // answers served from the cache
};

namespace internal {
class TokenClient;
}

// ClientCredentials: this service's own tokens (client credentials grant), cached per
// (audience, scopes) and refreshed ahead of expiry. Thread-safe.
class TOKENPASS_EXPORT ClientCredentials {
 public:
  // ClientCredentials throws std::invalid_argument for a missing endpoint or client_id,
  // a non-https endpoint (unless allow_http), a client_secret_* method without a
  // secret, private_key_jwt without a private signing key, a refresh_at outside
  // (0, 1], or a null HttpClient.
  ClientCredentials(ClientCredentialsOptions options, std::shared_ptr<HttpClient> http);
  ~ClientCredentials();
  ClientCredentials(const ClientCredentials&) = delete;
  ClientCredentials& operator=(const ClientCredentials&) = delete;

  // token returns a valid access token for `audience` (may be empty) and `scopes`,
  // from the cache when it has one that is not due for refresh. Errors, while no valid
  // cached token exists: token_request_refused (a 400 or 401 with an RFC 6749 §5.2
  // error such as invalid_client, unauthorized_client or invalid_scope: wrong
  // credentials or configuration); http_error (the endpoint failed or is unreachable,
  // or sent no usable token: it may work later). Thread-safe; concurrent callers for the same
  // entry share one request.
  Result<AccessToken> token(std::string_view audience = {},
                            const std::vector<std::string>& scopes = {}) const;

  // stats: the counters now. Thread-safe.
  TokenClientStats stats() const;
  // dpop_signer: ClientCredentialsOptions::dpop (null when none).
  const DpopSigner* dpop_signer() const noexcept;

 private:
  std::unique_ptr<internal::TokenClient> client_;
};

// TokenExchange: trades verified user tokens for tokens meant for another audience
// (RFC 8693), cached per (subject token, audience, scopes). Thread-safe.
class TOKENPASS_EXPORT TokenExchange {
 public:
  // TokenExchange authenticates like ClientCredentials (same options; throws alike).
  TokenExchange(ClientCredentialsOptions options, std::shared_ptr<HttpClient> http);
  ~TokenExchange();
  TokenExchange(const TokenExchange&) = delete;
  TokenExchange& operator=(const TokenExchange&) = delete;

  // exchange trades `subject` (a verified access token) for a token meant for
  // `audience` with `scopes`; cached per (subject token, audience, scopes) until it is
  // due for refresh, never past the subject token's own expiry. Errors as for
  // ClientCredentials::token (token_request_refused, http_error); expired when the
  // subject token has expired. Thread-safe.
  Result<AccessToken> exchange(const VerifiedToken& subject, std::string_view audience,
                               const std::vector<std::string>& scopes = {}) const;

  // stats: the counters now. Thread-safe.
  TokenClientStats stats() const;
  // dpop_signer: ClientCredentialsOptions::dpop (null when none).
  const DpopSigner* dpop_signer() const noexcept;

 private:
  std::unique_ptr<internal::TokenClient> client_;
};

// discover_token_endpoint: the token endpoint named by `issuer`'s metadata (OpenID
// Connect discovery, else RFC 8414), whose `issuer` must equal `issuer`; with `mtls`,
// `mtls_endpoint_aliases.token_endpoint` when the metadata has one (RFC 8705 §5: where
// a client authenticating with its certificate goes). For ClientCredentialsOptions::
// token_endpoint. Errors: invalid_request (a non-https URL unless allow_http),
// http_error, malformed (no usable token_endpoint), bad_issuer. Never throws.
TOKENPASS_EXPORT Result<std::string> discover_token_endpoint(std::string_view issuer, HttpClient& http,
                                                             bool mtls = false, bool allow_http = false);

// form_encode: application/x-www-form-urlencoded (WHATWG URL §5.2) of name/value pairs.
TOKENPASS_EXPORT std::string form_encode(const HttpHeaders& fields);
// form_decode: the reverse; malformed for bad percent-escapes.
TOKENPASS_EXPORT Result<HttpHeaders> form_decode(std::string_view body);

}  // namespace tokenpass

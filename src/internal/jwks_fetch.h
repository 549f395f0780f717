// One JWK set fetch for RemoteJwks, apart from any state: the request it sends, and
// what an answer means (new keys, 304, or a failure and why). The worker thread, its
// locking and the freshness rules are remote_jwks.cpp's and refresh_policy.h's.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include "tokenpass/http.h"
#include "tokenpass/key_source.h"

namespace tokenpass::internal {

struct JwksAnswer {
  enum class Kind { fetched, not_modified, failed };
  Kind kind = Kind::failed;
  std::shared_ptr<const KeySet> keys;  // fetched
  std::chrono::seconds ttl{0};         // fetched, not_modified: Cache-Control, clamped
  std::string etag;                    // fetched: an RFC 9110 entity-tag, else empty
  std::string detail;                  // what happened, for the event log
  std::optional<std::uint64_t> sequence;  // fetched SPIFFE bundle: spiffe_sequence
};

// jwks_request: the GET for `opt.url`, with If-None-Match when `if_none_match` is set.
HttpRequest jwks_request(const RemoteJwksOptions& opt, const std::string& if_none_match);

// send_guarded: `http.send(req)`; anything it throws is an http_error.
Result<HttpResponse> send_guarded(HttpClient& http, const HttpRequest& req);

// read_jwks_answer: what the answer to jwks_request means. Only 200 with a JWK set of
// at least one usable key (read by KeySet::from_public_jwks, the body within
// max_body_bytes even if the client ignored it) gives keys; 304 only when
// If-None-Match was sent.
JwksAnswer read_jwks_answer(const Result<HttpResponse>& res, const RemoteJwksOptions& opt,
                            bool asked_if_none_match);

// jwks_ttl: Cache-Control max-age (no-cache, no-store: 0) or default_ttl, within
// [min_ttl, max_ttl].
std::chrono::seconds jwks_ttl(const HttpResponse& res, const RemoteJwksOptions& opt);

// is_entity_tag: RFC 9110 §8.8.3: [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 /
// %x23-7E / obs-text. Only such a value is ever echoed in If-None-Match.
bool is_entity_tag(std::string_view s);

}  // namespace tokenpass::internal

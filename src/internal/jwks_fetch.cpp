#include "internal/jwks_fetch.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "internal/json.h"
#include "internal/rules.h"

namespace tokenpass::internal {

HttpRequest jwks_request(const RemoteJwksOptions& opt, const std::string& if_none_match) {
  HttpRequest req;
  req.url = opt.url;
  req.headers.emplace_back("Accept", "application/jwk-set+json, application/json");
  if (!if_none_match.empty()) req.headers.emplace_back("If-None-Match", if_none_match);
  req.timeout = opt.timeout;
  req.max_response_bytes = opt.max_body_bytes;
  return req;
}

Result<HttpResponse> send_guarded(HttpClient& http, const HttpRequest& req) {
  try {
    return http.send(req);
  } catch (const std::exception& e) {
    return make_error(errc::http_error, std::string("HTTP client threw: ") + e.what());
  } catch (...) {
    return make_error(errc::http_error, "HTTP client threw");
  }
}

std::chrono::seconds jwks_ttl(const HttpResponse& res, const RemoteJwksOptions& opt) {
  auto ttl = opt.default_ttl;
  if (const auto cc = res.header("Cache-Control")) {
    if (const auto age = cache_max_age(*cc)) ttl = *age;
  }
  return std::clamp(ttl, opt.min_ttl, opt.max_ttl);
}

bool is_entity_tag(std::string_view s) {
  if (s.size() >= 2 && s[0] == 'W' && s[1] == '/') s.remove_prefix(2);
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (const char c : s.substr(1, s.size() - 2)) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u == 0x21 || (u >= 0x23 && u <= 0x7E) || u >= 0x80)) return false;
  }
  return true;
}

JwksAnswer read_jwks_answer(const Result<HttpResponse>& res, const RemoteJwksOptions& opt,
                            bool asked_if_none_match) {
  JwksAnswer out;
  const auto failed = [&](std::string why) {
    out.kind = JwksAnswer::Kind::failed;
    out.detail = std::move(why);
    return out;
  };
  if (!res) return failed(res.error().detail);
  if (res->status == 304 && asked_if_none_match) {
    out.kind = JwksAnswer::Kind::not_modified;
    out.ttl = jwks_ttl(*res, opt);
    out.detail = "304, keys kept";
    return out;
  }
  if (res->status != 200) return failed("HTTP status " + std::to_string(res->status));
  // Security: the client was asked to refuse a larger body; one that does not must not
  // make us parse it.
  if (res->body.size() > opt.max_body_bytes) return failed("body over max_body_bytes");
  JsonLimits limits;
  limits.max_members = std::max(limits.max_members, opt.max_keys + 1);
  auto doc = parse_json(res->body, limits);
  if (!doc) return failed("not a JWK set: " + doc.error().detail);
  // KeySet::from_public_jwks: private members dropped unread, oct keys never loaded.
  auto set = KeySet::from_public_jwks(*doc, opt.max_keys);
  if (!set) return failed("not a JWK set: " + set.error().detail);
  std::optional<std::chrono::seconds> hint;
  if (opt.spiffe_bundle) {
    std::vector<Key> jwt_keys;
    for (const auto& k : set->keys()) {
      if (k.use() == "jwt-svid") jwt_keys.push_back(k);
    }
    *set = KeySet(std::move(jwt_keys));
    const auto seq = doc->find("spiffe_sequence");
    if (seq != doc->end()) {
      if (!seq->is_number_unsigned()) return failed("spiffe_sequence is not an unsigned integer");
      out.sequence = seq->get<std::uint64_t>();
    }
    const auto refresh = doc->find("spiffe_refresh_hint");
    if (refresh != doc->end()) {
      if (!refresh->is_number_unsigned()) return failed("spiffe_refresh_hint is not an unsigned integer");
      hint = std::chrono::seconds(static_cast<std::int64_t>(
          std::min<std::uint64_t>(refresh->get<std::uint64_t>(), std::uint64_t(opt.max_ttl.count()))));
    }
  }
  if (set->empty()) return failed(opt.spiffe_bundle ? "the bundle has no usable jwt-svid key" : "the JWK set has no usable key");
  const std::size_t count = set->size();
  const std::size_t skipped = set->skipped().size();
  out.kind = JwksAnswer::Kind::fetched;
  out.keys = std::make_shared<const KeySet>(std::move(*set));
  out.ttl = hint ? std::clamp(*hint, opt.min_ttl, opt.max_ttl) : jwks_ttl(*res, opt);
  // Security: echoed in If-None-Match later, so only an RFC 9110 entity-tag is kept.
  out.etag = res->header("ETag").value_or("");
  if (!is_entity_tag(out.etag)) out.etag.clear();
  out.detail = "fetched " + std::to_string(count) + (count == 1 ? " key" : " keys") +
               (skipped ? ", skipped " + std::to_string(skipped) + " unusable" : "");
  return out;
}

}  // namespace tokenpass::internal

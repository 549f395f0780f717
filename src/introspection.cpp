#include "tokenpass/introspection.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "internal/basic_auth.h"
#include "internal/base64url.h"
#include "internal/json.h"
#include "internal/openssl.h"
#include "internal/rules.h"
#include "tokenpass/client_credentials.h"

namespace tokenpass {

// Cache: answers by the SHA-256 of their token (the tokens themselves are not kept),
// and the requests under way.
struct Introspector::Cache {
  struct Entry {
    Result<nlohmann::json> answer = make_error(errc::inactive);
    std::chrono::system_clock::time_point until;
  };
  struct Flight {
    bool done = false;
    Result<nlohmann::json> answer = make_error(errc::http_error, "introspection: no answer");
  };
  std::mutex mu;
  std::condition_variable landed;
  std::map<std::string, Entry> entries;
  std::map<std::string, std::shared_ptr<Flight>> flights;
  IntrospectionStats stats;
};

Introspector::Introspector(IntrospectionOptions options, std::shared_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)), cache_(std::make_shared<Cache>()) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
  if (options_.cache_ttl.count() < 0 || options_.negative_ttl.count() < 0) {
    throw std::invalid_argument("tokenpass::Introspector: a negative cache TTL");
  }
  std::string why;
  if (!http_) throw std::invalid_argument("tokenpass::Introspector: no HttpClient");
  if (!internal::scheme_allowed(options_.endpoint, options_.allow_http, &why)) {
    throw std::invalid_argument("tokenpass::Introspector: endpoint: " + why);
  }
  if (options_.client_id.empty() && !options_.client_secret.empty()) {
    throw std::invalid_argument("tokenpass::Introspector: a client_secret without a client_id");
  }
}

IntrospectionStats Introspector::stats() const {
  const std::lock_guard<std::mutex> lock(cache_->mu);
  return cache_->stats;
}

Result<nlohmann::json> Introspector::introspect(std::string_view token) const {
  try {
    Cache& c = *cache_;
    const std::string key = internal::sha256(token);
    std::shared_ptr<Cache::Flight> flight;
    bool leader = false;
    {
      std::unique_lock<std::mutex> lock(c.mu);
      const auto now = options_.clock();
      if (const auto it = c.entries.find(key); it != c.entries.end()) {
        if (now < it->second.until) {
          ++c.stats.cache_hits;
          return it->second.answer;
        }
        c.entries.erase(it);
      }
      auto& slot = c.flights[key];
      if (!slot) {
        slot = std::make_shared<Cache::Flight>();
        leader = true;
      } else {
        ++c.stats.shared;
      }
      flight = slot;
      if (!leader) {
        c.landed.wait(lock, [&] { return flight->done; });
        return flight->answer;
      }
      ++c.stats.requests;
    }
    Result<nlohmann::json> answer = make_error(errc::internal_error, "introspection failed inside the library");
    try {
      answer = ask(token);
    } catch (...) {
      // answered below as internal_error; the waiters must still be woken
    }
    {
      const std::lock_guard<std::mutex> lock(c.mu);
      // The waiters first: nothing below may keep them waiting.
      flight->done = true;
      c.flights.erase(key);
      try {
        flight->answer = answer;
      } catch (...) {
        flight->answer = make_error(errc::internal_error, "introspection failed inside the library");
      }
      c.landed.notify_all();
      const auto now = options_.clock();
      std::chrono::system_clock::time_point until = now;
      if (answer) {
        until = now + options_.cache_ttl;
        const auto exp = answer->find("exp");
        if (exp != answer->end() && exp->is_number()) {
          const auto at = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::duration<double>(exp->get<double>())));
          until = std::min(until, at);
        }
      } else if (answer.error().code == errc::inactive) {
        until = now + options_.negative_ttl;
      } else {
        ++c.stats.failures;
      }
      if (until > now && options_.max_cache_entries > 0) {
        if (c.entries.size() >= options_.max_cache_entries) {
          // Full: drop what has run out, else the first entry (the order of hashes is random).
          for (auto it = c.entries.begin(); it != c.entries.end();) {
            it = it->second.until <= now ? c.entries.erase(it) : std::next(it);
          }
          if (c.entries.size() >= options_.max_cache_entries) c.entries.erase(c.entries.begin());
        }
        c.entries[key] = Cache::Entry{answer, until};
      }
    }
    return answer;
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "introspection failed inside the library");
  }
}

Result<nlohmann::json> Introspector::ask(std::string_view token) const {
  try {
    HttpRequest req;
    req.method = "POST";
    req.url = options_.endpoint;
    req.timeout = options_.timeout;
    req.max_response_bytes = options_.max_response_bytes;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    if (!options_.client_id.empty()) {
      req.headers.emplace_back("Authorization", internal::basic_authorization(options_.client_id, options_.client_secret));
    }
    req.body = form_encode({{"token", std::string(token)}, {"token_type_hint", "access_token"}});
    auto res = http_->send(req);
    if (!res) return make_error(errc::http_error, "introspection: " + res.error().detail);
    if (res->status != 200) {
      return make_error(errc::http_error, "introspection: HTTP status " + std::to_string(res->status));
    }
    // The limit holds even when the client ignored it.
    if (res->body.size() > options_.max_response_bytes) {
      return make_error(errc::http_error, "introspection: the answer is over max_response_bytes");
    }
    auto doc = internal::parse_json(res->body, JsonLimits{});
    if (!doc || !doc->is_object()) return make_error(errc::http_error, "introspection: the answer is not a JSON object");
    const auto active = doc->find("active");
    if (active == doc->end() || !active->is_boolean()) {
      return make_error(errc::inactive, "the introspection answer has no boolean \"active\"");
    }
    if (!active->get<bool>()) return make_error(errc::inactive, "the token is not active");
    return std::move(*doc);
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "introspection failed inside the library");
  }
}

}  // namespace tokenpass

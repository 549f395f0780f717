#include "tokenpass/adapters/redis.h"

#include <sys/time.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "internal/base64url.h"

namespace tokenpass {

namespace {

using SteadyClock = std::chrono::steady_clock;

Error unavailable(std::string_view why) { return make_error(errc::replay_store_unavailable, why); }

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ContextDeleter {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

// reply_text: what an error or status reply says, printable and short (for details).
std::string reply_text(const redisReply* r) {
  if (r == nullptr || r->str == nullptr) return {};
  std::string out(r->str, std::min<std::size_t>(r->len, 120));
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7E) ch = '?';
  }
  return out;
}

std::string b64url(const unsigned char* data, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (n - i == 1) {
    const unsigned v = data[i] << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    for (int s = 18; s >= 6; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  return out;
}

using internal::hex_value;

// percent_decode: RFC 3986 §2.1; false for a bad escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

}  // namespace

Result<RedisReplayStoreOptions> RedisReplayStoreOptions::from_url(std::string_view url) {
  const auto bad = [](std::string_view why) { return make_error(errc::invalid_request, why); };
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return bad("a replay store URL starts with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisReplayStoreOptions o;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) return bad("user info without a ':' (redis://[USER]:PASSWORD@HOST)");
    if (!percent_decode(userinfo.substr(0, colon), o.username) ||
        !percent_decode(userinfo.substr(colon + 1), o.password)) {
      return bad("a bad percent-escape in the user info");
    }
  }
  std::string_view db;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("the URL needs HOST:PORT");
  o.host = std::string(rest.substr(0, colon));
  const std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad("a bad port");
  }
  o.port = std::stoi(std::string(port));
  if (o.port < 1 || o.port > 65535) return bad("a bad port");
  if (!db.empty()) {
    if (db.size() > 5 || db.find_first_not_of("0123456789") != std::string_view::npos) {
      return bad("a bad database index");
    }
    o.database = std::stoi(std::string(db));
  }
  return o;
}

struct RedisReplayStore::State {
  RedisReplayStoreOptions opt;
  mutable std::mutex mu;
  mutable std::condition_variable freed;
  // Guarded by mu.
  mutable std::vector<Context> idle;
  mutable std::size_t open = 0;  // connections in use or idle
  mutable SteadyClock::time_point retry_at{};
  mutable std::chrono::milliseconds backoff{0};
  mutable RedisReplayStoreStats stats;

  // open_connection: a new connection, authenticated and on the right database.
  Result<Context> open_connection() const {
    Context c(redisConnectWithTimeout(opt.host.c_str(), opt.port, to_timeval(opt.connect_timeout)));
    const std::string where = opt.host + ":" + std::to_string(opt.port);
    if (!c) return unavailable("cannot connect to Redis at " + where);
    if (c->err != 0) return unavailable("cannot connect to Redis at " + where + ": " + c->errstr);
    if (redisSetTimeout(c.get(), to_timeval(opt.command_timeout)) != REDIS_OK) {
      return unavailable("cannot set the Redis command timeout");
    }
    if (!opt.password.empty()) {
      std::vector<std::string> auth = {"AUTH"};
      if (!opt.username.empty()) auth.push_back(opt.username);
      auth.push_back(opt.password);
      Reply r = command(c.get(), auth);
      if (!r) return unavailable("no answer to AUTH from Redis at " + where);
      if (r->type == REDIS_REPLY_ERROR) {
        return unavailable("Redis at " + where + " refused the credentials: " + reply_text(r.get()));
      }
    }
    if (opt.database != 0) {
      Reply r = command(c.get(), {"SELECT", std::to_string(opt.database)});
      if (!r || r->type == REDIS_REPLY_ERROR) {
        return unavailable("Redis at " + where + " refused SELECT " + std::to_string(opt.database) +
                           (r ? ": " + reply_text(r.get()) : std::string()));
      }
    }
    Reply pong = command(c.get(), {"PING"});
    if (!pong || pong->type == REDIS_REPLY_ERROR) {
      return unavailable("Redis at " + where + " did not answer PING" +
                         (pong ? ": " + reply_text(pong.get()) : std::string()));
    }
    return c;
  }

  // acquire: an idle connection, a new one (within pool_size and the back-off), or, when
  // the pool is busy, one that another thread frees within command_timeout.
  Result<Context> acquire() const {
    std::unique_lock<std::mutex> lock(mu);
    const auto deadline = SteadyClock::now() + opt.command_timeout;
    while (true) {
      if (!idle.empty()) {
        Context c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
      if (open < opt.pool_size) {
        if (SteadyClock::now() < retry_at) return unavailable("Redis is unreachable; retrying later");
        ++open;
        lock.unlock();
        auto c = open_connection();
        lock.lock();
        if (!c) {
          --open;
          backoff = backoff.count() == 0 ? opt.min_retry : std::min(backoff * 2, opt.max_retry);
          retry_at = SteadyClock::now() + backoff;
          return c.error();
        }
        backoff = std::chrono::milliseconds(0);
        ++stats.connections;
        return c;
      }
      if (freed.wait_until(lock, deadline) == std::cv_status::timeout) {
        return unavailable("no free Redis connection within the command timeout");
      }
    }
  }

  // release: a connection back to the pool, or closed when it failed (`broken`).
  void release(Context c, bool broken) const {
    std::lock_guard<std::mutex> lock(mu);
    if (broken || c->err != 0) {
      --open;
    } else {
      idle.push_back(std::move(c));
    }
    freed.notify_one();
  }
};

RedisReplayStore::RedisReplayStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
RedisReplayStore::~RedisReplayStore() = default;

Result<std::shared_ptr<RedisReplayStore>> RedisReplayStore::connect(RedisReplayStoreOptions options) {
  try {
    if (options.host.empty() || options.port < 1 || options.port > 65535 || options.pool_size == 0 ||
        options.connect_timeout.count() <= 0 || options.command_timeout.count() <= 0 ||
        options.database < 0 || options.min_retry.count() <= 0 || options.max_retry < options.min_retry) {
      return make_error(errc::invalid_request, "unusable Redis replay store options");
    }
    auto state = std::make_unique<State>();
    state->opt = std::move(options);
    auto first = state->open_connection();
    if (!first) return first.error();
    state->open = 1;
    state->stats.connections = 1;
    state->idle.push_back(std::move(*first));
    return std::shared_ptr<RedisReplayStore>(new RedisReplayStore(std::move(state)));
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "the Redis replay store could not be made");
  }
}

std::string RedisReplayStore::key_for(std::string_view issuer, std::string_view jti) const {
  // The length of the issuer first: no two (issuer, jti) pairs share a digest input.
  const std::string input = std::to_string(issuer.size()) + ":" + std::string(issuer) + std::string(jti);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  return state_->opt.key_prefix + b64url(digest, len);
}

Result<void> RedisReplayStore::first_use(std::string_view issuer, std::string_view jti,
                                         std::chrono::system_clock::time_point expires) const {
  try {
    const State& s = *state_;
    // EXAT: whole seconds, rounded up, so that the key outlives the token.
    const double exp_s = std::chrono::duration<double>(expires.time_since_epoch()).count();
    const long long exat = static_cast<long long>(std::ceil(exp_s));
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    if (exat <= now_s) {
      // Already expired by the server's clock: nothing to remember (the verifier has
      // refused an expired token before it gets here).
      std::lock_guard<std::mutex> lock(s.mu);
      ++s.stats.accepted;
      return {};
    }
    auto c = s.acquire();
    if (!c) {
      std::lock_guard<std::mutex> lock(s.mu);
      ++s.stats.unavailable;
      return c.error();
    }
    Reply r = command(c->get(), {"SET", key_for(issuer, jti), "1", "NX", "EXAT", std::to_string(exat)});
    const bool broken = !r || (*c)->err != 0;
    Result<void> out;
    if (broken) {
      out = unavailable(std::string("Redis did not answer: ") +
                        ((*c)->errstr[0] != '\0' ? (*c)->errstr : "no reply"));
    } else if (r->type == REDIS_REPLY_STATUS) {
      out = {};  // "OK": the first use
    } else if (r->type == REDIS_REPLY_NIL) {
      out = make_error(errc::replayed, "the token's jti was used before");
    } else {
      out = unavailable("Redis refused SET: " + reply_text(r.get()));
    }
    s.release(std::move(*c), broken);
    std::lock_guard<std::mutex> lock(s.mu);
    if (out) {
      ++s.stats.accepted;
    } else if (out.error().code == errc::replayed) {
      ++s.stats.replays;
    } else {
      ++s.stats.unavailable;
    }
    return out;
  } catch (const std::exception&) {
    return unavailable("the Redis replay store failed");
  }
}

RedisReplayStoreStats RedisReplayStore::stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->stats;
}

}  // namespace tokenpass

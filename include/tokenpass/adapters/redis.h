// tokenpass/adapters/redis.h: single-use tokens shared by every replica of a service, in
// Redis (optional target tokenpass::redis, on hiredis). One atomic command per check,
// `SET <prefix><digest> 1 NX EXAT <exp>`: of any number of replicas racing on one jti,
// exactly one gets "OK"; the key lives exactly as long as the token. Keys are a digest
// of (issuer, jti), one per command, so it works against a Redis Cluster too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tokenpass/error.h"
#include "tokenpass/export.h"
#include "tokenpass/replay.h"

namespace tokenpass {

// RedisReplayStoreOptions: which Redis server, and how the store talks to it.
struct RedisReplayStoreOptions {
  std::string host = "127.0.0.1";  // the server's host name or IP address
  int port = 6379;                 // its TCP port

  // username / password: AUTH (Redis 6 ACL user, or the password alone).
  std::string username;
  std::string password;

  int database = 0;                           // SELECTed on each connection when not 0
  std::string key_prefix = "tokenpass:jti:";  // the start of every key (key_for)

  // connect_timeout bounds a connection (and its AUTH, SELECT); command_timeout one
  // command. Past either, the check is replay_store_unavailable, never a hang.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{500};

  // pool_size: connections shared by the calling threads; a thread waits for a free
  // one at most command_timeout.
  std::size_t pool_size = 8;

  // After a failed connection, new ones are tried no sooner than this back-off, which
  // doubles from min_retry to max_retry (checks meanwhile fail at once).
  std::chrono::milliseconds min_retry{100};
  std::chrono::milliseconds max_retry{5000};

  // from_url reads `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]` (user and password
  // percent-decoded, RFC 3986 §3.2.1). Errors: invalid_request.
  static Result<RedisReplayStoreOptions> from_url(std::string_view url);
};

// RedisReplayStoreStats: a RedisReplayStore's counters since it connected.
struct RedisReplayStoreStats {
  std::uint64_t accepted = 0;     // first uses recorded (or already expired)
  std::uint64_t replays = 0;      // uses refused as replayed
  std::uint64_t unavailable = 0;  // checks that got no answer
  std::uint64_t connections = 0;  // connections made (reconnections included)
};

// RedisReplayStore: a ReplayStore in Redis, shared by every replica of a service, one
// atomic command per check. Thread-safe: concurrent checks share a pool of connections.
class TOKENPASS_EXPORT RedisReplayStore final : public ReplayStore {
 public:
  // connect makes the first connection now, with AUTH, SELECT and a PING, so that a
  // wrong address or password is reported at start-up. Errors:
  // replay_store_unavailable, with a detail that says which (never the password);
  // invalid_request for unusable options.
  static Result<std::shared_ptr<RedisReplayStore>> connect(RedisReplayStoreOptions options);
  ~RedisReplayStore() override;
  RedisReplayStore(const RedisReplayStore&) = delete;
  RedisReplayStore& operator=(const RedisReplayStore&) = delete;

  // first_use: SET NX EXAT. Errors: replayed; replay_store_unavailable (no connection,
  // a timeout, an error reply), in which case nothing is known to be recorded.
  Result<void> first_use(std::string_view issuer, std::string_view jti,
                         std::chrono::system_clock::time_point expires) const override;
  // kind: "redis".
  std::string_view kind() const noexcept override { return "redis"; }

  // stats: the counters now. Thread-safe.
  RedisReplayStoreStats stats() const;

  // key_for: the Redis key of (issuer, jti): the prefix and the base64url SHA-256 of both.
  std::string key_for(std::string_view issuer, std::string_view jti) const;

 private:
  struct State;
  explicit RedisReplayStore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace tokenpass

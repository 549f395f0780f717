// guide: compile only
// Guide: single-use tokens across replicas (docs/guide/single-use-tokens.md): every
// replica of a service verifies with a RedisReplayStore on one Redis, so a token is
// accepted once by any of them. Needs a redis-server (REDIS_URL, default
// redis://127.0.0.1:6379/0), which the test run does not start: compiled, not run.
#include <tokenpass/adapters/redis.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

using namespace std::chrono_literals;

int main() {
  const char* env = std::getenv("REDIS_URL");
  const std::string url = env ? env : "redis://127.0.0.1:6379/0";
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);

  // [snippet:connect]
  // redis://[[USER]:PASSWORD@]HOST:PORT[/DB]; a bad URL is invalid_request.
  auto options = tokenpass::RedisReplayStoreOptions::from_url(url);
  if (!options) {
    std::fprintf(stderr, "REDIS_URL: %s\n", options.error().detail.c_str());
    return 2;
  }
  options->key_prefix = "product:jti:";  // one namespace per service
  options->connect_timeout = 1000ms;     // past either timeout a check is
  options->command_timeout = 200ms;      // replay_store_unavailable, never a hang
  options->pool_size = 8;                // connections shared by the request threads
  // Connects, authenticates, selects the database and pings now: a wrong address or
  // password is reported here, at start-up (the detail never holds the password).
  auto store = tokenpass::RedisReplayStore::connect(*options);
  if (!store) {
    std::fprintf(stderr, "redis: %s\n", store.error().detail.c_str());
    return 2;
  }
  tokenpass::Policy policy;
  policy.issuers = {"https://tokens.example"};
  policy.audiences = {"product"};
  policy.replay_store = *store;  // shared by every replica that uses this Redis
  policy.single_use_max_lifetime = 10min;
  const tokenpass::Verifier verifier(tokenpass::KeySet({signing.public_key().value()}), policy);
  // [/snippet]

  tokenpass::IssuerOptions io;
  io.audience = {"product"};
  const tokenpass::Issuer issuer(signing, "https://tokens.example", 1min, io);
  const std::string token = issuer.issue(tokenpass::ClaimsBuilder().subject("billing")).value();
  // [snippet:replicas]
  // A second replica: its own store object, the same Redis.
  tokenpass::Policy replica = policy;
  replica.replay_store = tokenpass::RedisReplayStore::connect(*options).value();
  const tokenpass::Verifier other_replica(tokenpass::KeySet({signing.public_key().value()}),
                                          replica);
  auto first = verifier.verify(token);        // SET <prefix><digest> 1 NX EXAT <exp>: "OK"
  auto second = other_replica.verify(token);  // the key exists: replayed
  const bool ok = first && !second && second.error().code == tokenpass::errc::replayed;
  // [/snippet]
  std::printf("first use %s, second use %s\n", first ? "accepted" : "refused",
              second ? "accepted" : std::string(tokenpass::to_string(second.error().code)).c_str());
  const auto stats = (*store)->stats();
  std::printf("accepted %llu, replays %llu, unavailable %llu\n",
              static_cast<unsigned long long>(stats.accepted),
              static_cast<unsigned long long>(stats.replays),
              static_cast<unsigned long long>(stats.unavailable));
  return ok ? 0 : 1;
}

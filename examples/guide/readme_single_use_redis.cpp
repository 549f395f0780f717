// guide: compile only
// README "Single-use tokens across replicas": a Verifier whose tokens are single use
// across every replica sharing one Redis: `readme_single_use_redis JWKS_FILE TOKEN`
// accepts TOKEN once. It needs that Redis (10.0.0.5), so the tests only compile it.
#include <tokenpass/tokenpass.h>
// [snippet:include]
#include <tokenpass/adapters/redis.h>  // target tokenpass::redis (-DTOKENPASS_WITH_REDIS=ON)
// [/snippet]

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "fatal: %s\n", message.c_str());
  std::exit(1);
}

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die(std::string("cannot read ") + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: readme_single_use_redis JWKS_FILE TOKEN");
  tokenpass::Policy policy;
  policy.issuers = {"https://tokens.internal"};
  policy.audiences = {"product"};

  // [snippet:code]
  auto store = tokenpass::RedisReplayStore::connect(
      tokenpass::RedisReplayStoreOptions::from_url("redis://:secret@10.0.0.5:6379/0").value());
  if (!store) die(store.error().detail);  // a wrong address or password says so here
  policy.replay_store = *store;           // each (iss, jti) accepted once, by any replica
  // [/snippet]

  const tokenpass::Verifier verifier(tokenpass::KeySet::from_jwks(read_file(argv[1])).value(), policy);
  const auto token = verifier.verify(argv[2]);
  if (!token) die(std::string(tokenpass::to_string(token.error().code)));  // a second use: replayed
  std::printf("accepted once: %s\n", token->claims().jwt_id().value_or("").c_str());
  return 0;
}

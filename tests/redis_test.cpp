// RedisReplayStore against a real redis-server that each test starts on a free loopback
// port (no persistence): replay across processes, a race of 16 threads, Redis killed and
// back, a paused Redis, key TTLs, and wrong credentials. Nothing here asserts how long
// anything took.
#include "tokenpass/adapters/redis.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.h"
#include "tokenpass/tokenpass.h"

using namespace std::chrono_literals;
using tokenpass::errc;
using tokenpass::RedisReplayStore;
using tokenpass::RedisReplayStoreOptions;

namespace {

template <class T>
errc error_of(const tokenpass::Result<T>& r) {
  return r ? errc{} : r.error().code;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// RedisServer: redis-server on 127.0.0.1, in its own process, stopped with the object.
class RedisServer {
 public:
  explicit RedisServer(std::string password = {}) : password_(std::move(password)), port_(free_port()) {
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void start() {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      std::vector<std::string> args = {"redis-server", "--port", port, "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--loglevel", "warning"};
      if (!password_.empty()) {
        args.push_back("--requirepass");
        args.push_back(password_);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      freopen("/dev/null", "w", stdout);
      execv("/usr/bin/redis-server", argv.data());
      _exit(127);
    }
    // Ready when it answers (a connection is accepted and PING answered).
    for (int i = 0; i < 500; ++i) {
      if (cli({"PING"}).find("PONG") != std::string::npos) return;
      std::this_thread::sleep_for(10ms);
    }
    throw std::runtime_error("redis-server did not start");
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int port() const { return port_; }

  // cli: redis-cli's answer to `args` (its stdout).
  std::string cli(const std::vector<std::string>& args) const {
    std::string cmd = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_);
    if (!password_.empty()) cmd += " --no-auth-warning -a '" + password_ + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " 2>/dev/null";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[256];
      while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
      pclose(p);
    }
    return out;
  }

 private:
  std::string password_;
  int port_;
  pid_t pid_ = -1;
};

RedisReplayStoreOptions options_for(const RedisServer& server) {
  RedisReplayStoreOptions o;
  o.port = server.port();
  o.command_timeout = 300ms;
  o.connect_timeout = 500ms;
  o.min_retry = 50ms;
  o.max_retry = 200ms;
  return o;
}

std::chrono::system_clock::time_point in(std::chrono::seconds s) {
  return std::chrono::system_clock::now() + s;
}

}  // namespace

TEST_CASE("Redis: first use accepted, second replayed, the key lives as long as the token",
          "[redis]") {
  RedisServer server;
  auto store = RedisReplayStore::connect(options_for(server));
  REQUIRE(store);
  const auto exp = in(120s);
  CHECK(error_of((*store)->first_use("https://issuer", "j1", exp)) == errc{});
  CHECK(error_of((*store)->first_use("https://issuer", "j1", exp)) == errc::replayed);
  CHECK(error_of((*store)->first_use("https://other", "j1", exp)) == errc{});
  const std::string key = (*store)->key_for("https://issuer", "j1");
  CHECK(key.rfind("tokenpass:jti:", 0) == 0);
  const long long ttl = std::stoll(server.cli({"TTL", key}));
  CHECK(ttl > 100);   // about 120 s: the token's expiry, not a default
  CHECK(ttl <= 121);
  const auto stats = (*store)->stats();
  CHECK(stats.accepted == 2);
  CHECK(stats.replays == 1);
}

TEST_CASE("Redis: a replay is refused across two verifiers in two processes", "[redis]") {
  RedisServer server;
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::ClaimsBuilder c;
  c.subject("svc").audience("api");
  const std::string token =
      tokenpass::Issuer(key, "https://issuer", std::chrono::minutes(5)).issue(c).value();
  // A Verifier of a service replica on its own Redis connection.
  const auto replica = [&]() -> errc {
    auto store = RedisReplayStore::connect(options_for(server));
    if (!store) return store.error().code;
    tokenpass::Policy p;
    p.issuers = {"https://issuer"};
    p.audiences = {"api"};
    p.replay_store = *store;
    const tokenpass::Verifier v(tokenpass::KeySet({key.public_key().value()}), p);
    return error_of(v.verify(token));
  };
  // The first use in a child process; then here.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(replica() == errc{} ? 0 : 1);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(replica() == errc::replayed);
}

TEST_CASE("Redis: 16 threads racing one jti, exactly one is accepted", "[redis][concurrency]") {
  RedisServer server;
  auto store = RedisReplayStore::connect(options_for(server));
  REQUIRE(store);
  for (int round = 0; round < 10; ++round) {
    std::atomic<int> accepted{0};
    std::atomic<int> replayed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    const std::string jti = "race-" + std::to_string(round);
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        const auto r = (*store)->first_use("iss", jti, in(60s));
        if (r) ++accepted;
        if (!r && r.error().code == errc::replayed) ++replayed;
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    CHECK(accepted.load() == 1);
    CHECK(replayed.load() == 15);  // a pool of 8: every thread got an answer
  }
}

TEST_CASE("Redis killed: unavailable and nothing accepted twice, back: recovery", "[redis][outage]") {
  RedisServer server;
  auto store = RedisReplayStore::connect(options_for(server));
  REQUIRE(store);
  CHECK(error_of((*store)->first_use("iss", "before", in(60s))) == errc{});
  server.stop();
  for (const char* jti : {"before", "during-1", "during-2"}) {
    CHECK(error_of((*store)->first_use("iss", jti, in(60s))) == errc::replay_store_unavailable);
  }
  server.start();  // a fresh Redis: what the old one held is gone (no persistence here)
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    recovered = static_cast<bool>((*store)->first_use("iss", "after", in(60s)));
    if (!recovered) std::this_thread::sleep_for(50ms);
  }
  CHECK(recovered);  // reconnected without a restart of the store
  CHECK(error_of((*store)->first_use("iss", "after", in(60s))) == errc::replayed);
  CHECK((*store)->stats().connections >= 2);
}

TEST_CASE("Redis paused: the command timeout answers, not a hang", "[redis][outage]") {
  RedisServer server;
  auto store = RedisReplayStore::connect(options_for(server));
  REQUIRE(store);
  server.cli({"CLIENT", "PAUSE", "3000", "ALL"});
  CHECK(error_of((*store)->first_use("iss", "paused", in(60s))) == errc::replay_store_unavailable);
}

TEST_CASE("Redis: a wrong address or password is a clear start-up error", "[redis][config]") {
  RedisServer server("s3cret");
  RedisReplayStoreOptions o = options_for(server);
  o.password = "wrong";
  auto refused = RedisReplayStore::connect(o);
  REQUIRE(error_of(refused) == errc::replay_store_unavailable);
  CHECK(refused.error().detail.find("refused the credentials") != std::string::npos);
  CHECK(refused.error().detail.find("wrong") == std::string::npos);  // never the password
  o.password = "s3cret";
  auto ok = RedisReplayStore::connect(o);
  REQUIRE(ok);
  CHECK(error_of((*ok)->first_use("iss", "auth", in(60s))) == errc{});

  RedisReplayStoreOptions nowhere = options_for(server);
  nowhere.port = free_port();
  auto unreachable = RedisReplayStore::connect(nowhere);
  REQUIRE(error_of(unreachable) == errc::replay_store_unavailable);
  CHECK(unreachable.error().detail.find("cannot connect") != std::string::npos);
}

TEST_CASE("RedisReplayStoreOptions::from_url", "[redis][config]") {
  auto o = RedisReplayStoreOptions::from_url("redis://user%40x:p%3Ass@127.0.0.1:6380/2");
  REQUIRE(o);
  CHECK(o->username == "user@x");
  CHECK(o->password == "p:ss");
  CHECK(o->host == "127.0.0.1");
  CHECK(o->port == 6380);
  CHECK(o->database == 2);
  auto bare = RedisReplayStoreOptions::from_url("redis://localhost:6379");
  REQUIRE(bare);
  CHECK(bare->password.empty());
  CHECK(bare->database == 0);
  for (const char* bad : {"http://h:1", "redis://h", "redis://h:0", "redis://h:99999",
                          "redis://:p%zz@h:1", "redis://h:1/x", "redis://u@h:1"}) {
    CAPTURE(bad);
    CHECK(error_of(RedisReplayStoreOptions::from_url(bad)) == errc::invalid_request);
  }
}

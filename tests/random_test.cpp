#include "internal/random.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"
#include "tokenpass/issuer.h"

using namespace std::chrono_literals;
using tokenpass::internal::kRandomBlock;
using tokenpass::internal::RandomBlock;

namespace {

std::string take(RandomBlock& block, std::size_t n) {
  std::string out(n, '\0');
  if (!block.take(reinterpret_cast<unsigned char*>(out.data()), n)) return {};
  return out;
}

std::string jti_of(const std::string& token) {
  return tokenpass::decode_unverified(token).value().payload_json()->at("jti").get<std::string>();
}

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string read_all(int fd) {
  std::string out;
  char buf[512];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

// InChild: what a forked child made with `make` (the child writes it to a pipe and
// exits at once, never returning into the test runner), and how it exited.
struct InChild {
  std::string made;
  int status = -1;
};

template <class Make>
InChild run_child(Make make) {
  InChild r;
  int fds[2];
  if (::pipe(fds) != 0) return r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const bool ok = write_all(fds[1], make());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  if (pid > 0) {
    r.made = read_all(fds[0]);
    ::waitpid(pid, &r.status, 0);
  }
  ::close(fds[0]);
  return r;
}

std::vector<std::string> chunks(const std::string& s, std::size_t size) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i + size <= s.size(); i += size) out.push_back(s.substr(i, size));
  return out;
}

}  // namespace

TEST_CASE("a random block hands out each byte once and draws anew when used up", "[random]") {
  RandomBlock block;
  CHECK(block.left() == 0);
  std::set<std::string> seen;
  const std::size_t takes = 3 * kRandomBlock / 16 + 5;  // across three redraws
  for (std::size_t i = 0; i < takes; ++i) {
    const std::string bytes = take(block, 16);
    REQUIRE(bytes.size() == 16);
    seen.insert(bytes);
    CHECK(block.left() == (kRandomBlock - 16 * ((i + 1) % (kRandomBlock / 16))) % kRandomBlock);
  }
  CHECK(seen.size() == takes);
  // A take that does not fit in what is left draws a new block; the rest is dropped.
  RandomBlock other;
  REQUIRE(take(other, kRandomBlock - 10).size() == kRandomBlock - 10);
  REQUIRE(take(other, 16).size() == 16);
  CHECK(other.left() == kRandomBlock - 16);
  CHECK(take(other, kRandomBlock).size() == kRandomBlock);
  CHECK(take(other, kRandomBlock + 1).empty());
}

namespace {

// check_distinct: `threads` threads each call `draw` `each` times; every draw succeeds
// and no value comes twice.
void check_distinct(int threads, int each, const std::function<std::optional<std::string>()>& draw) {
  std::vector<std::vector<std::string>> got(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) {
        if (auto v = draw()) got[static_cast<std::size_t>(t)].push_back(std::move(*v));
      }
    });
  }
  for (auto& th : pool) th.join();
  std::set<std::string> all;
  for (const auto& g : got) {
    CHECK(g.size() == static_cast<std::size_t>(each));
    all.insert(g.begin(), g.end());
  }
  CHECK(all.size() == static_cast<std::size_t>(threads * each));
}

}  // namespace

TEST_CASE("buffered random bytes on many threads are all distinct", "[random]") {
  // About four blocks per thread.
  check_distinct(4, 1000, []() -> std::optional<std::string> {
    std::string b(16, '\0');
    if (!tokenpass::internal::buffered_random_bytes(reinterpret_cast<unsigned char*>(b.data()), b.size())) {
      return std::nullopt;
    }
    return b;
  });
}

TEST_CASE("jtis issued on many threads at once are all distinct", "[issuer][random]") {
  const tokenpass::Issuer issuer(tp_test::key_for(tokenpass::Alg::HS256), "i", 60s);
  // More than two blocks per thread.
  check_distinct(4, 600, [&issuer]() -> std::optional<std::string> {
    auto token = issuer.issue(tokenpass::ClaimsBuilder());
    if (!token) return std::nullopt;
    return jti_of(*token);
  });
}

TEST_CASE("after fork the child never hands out the bytes its parent's block held",
          "[random][fork]") {
  // 300 takes on each side: the parent's next 255 from the block drawn before the fork,
  // then a block of its own drawn after it, as the child's are (OpenSSL reseeds in the
  // child, so those differ too).
  constexpr int kTakes = 300;
  RandomBlock block;
  REQUIRE(take(block, 16).size() == 16);  // drawn before the fork; 4080 bytes left
  const InChild child = run_child([&block] {
    std::string made = block.left() == 0 ? "stale" : "fresh";
    for (int i = 0; i < kTakes; ++i) made += take(block, 16);
    return made;
  });
  CHECK(block.left() == kRandomBlock - 16);  // the parent's block is still good
  std::string parent;
  for (int i = 0; i < kTakes; ++i) parent += take(block, 16);
  REQUIRE(WIFEXITED(child.status));
  CHECK(WEXITSTATUS(child.status) == 0);
  REQUIRE(child.made.size() == 5 + kTakes * 16);
  CHECK(child.made.substr(0, 5) == "stale");  // the block drawn before the fork
  const auto mine = chunks(parent, 16);
  const std::set<std::string> all_mine(mine.begin(), mine.end());
  std::size_t shared = 0;
  for (const auto& theirs : chunks(child.made.substr(5), 16)) shared += all_mine.count(theirs);
  CHECK(shared == 0);
}

TEST_CASE("after fork a child issues jtis its parent does not", "[issuer][random][fork]") {
  const tokenpass::Issuer issuer(tp_test::key_for(tokenpass::Alg::HS256), "i", 60s);
  const auto next_jtis = [&issuer] {
    std::string out;
    for (int i = 0; i < 8; ++i) {
      auto token = issuer.issue(tokenpass::ClaimsBuilder());
      out += token ? jti_of(*token) : std::string(22, '?');
    }
    return out;
  };
  // On a thread of its own, so that its block is new: the first jti draws it, and the
  // next ones, in the parent and in the child, would come from the same bytes.
  std::string first;
  std::string parent;
  InChild child;
  std::thread([&] {
    auto token = issuer.issue(tokenpass::ClaimsBuilder());
    if (token) first = jti_of(*token);
    child = run_child(next_jtis);
    parent = next_jtis();
  }).join();
  REQUIRE(first.size() == 22);
  REQUIRE(WIFEXITED(child.status));
  CHECK(WEXITSTATUS(child.status) == 0);
  REQUIRE(child.made.size() == 8 * 22);
  REQUIRE(parent.size() == 8 * 22);
  std::set<std::string> all{first};
  for (const auto& j : chunks(parent, 22)) all.insert(j);
  for (const auto& j : chunks(child.made, 22)) all.insert(j);
  CHECK(all.size() == 17);
}

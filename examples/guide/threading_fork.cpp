// threading_fork: a pre-forking server's start-up (docs/guide/threading-and-lifetimes.md).
// The parent builds what owns no thread (a key, an Issuer, a Verifier over a fixed key
// set) and issues a token, then forks three workers. Each worker builds what owns a thread
// (here a RemoteJwks) after the fork, verifies the parent's token, and issues tokens of
// its own; the program checks that no jti is handed out twice across the processes,
// although they all started from the parent's memory.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

// jti_of: the token's jti, read through a Verifier (the way a receiver would).
std::string jti_of(const tokenpass::Verifier& verifier, const std::string& token) {
  auto v = verifier.verify(token);
  return v ? v->claims().jwt_id().value_or("") : std::string();
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  constexpr int kWorkers = 3;
  constexpr int kTokensEach = 20;
  // [snippet:before]
  // Before fork(): only what owns no thread, no connection and no lock in use: keys,
  // key sets, policies, Verifiers over fixed keys, Issuers. Nothing has started a thread.
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5}, io);
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), policy);
  // [/snippet]
  const std::string parents = issuer.issue(tokenpass::ClaimsBuilder().subject("parent")).value();

  int pipes[2];
  if (::pipe(pipes) != 0) return 1;
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    const pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      ::close(pipes[0]);
      // [snippet:after]
      // In each worker, after fork(): whatever owns a thread (RemoteJwks' worker, a
      // server's thread pool) or a connection (HttplibClient's are per request; a
      // RedisReplayStore's pool is not) is made here, never inherited.
      tokenpass::RemoteJwksOptions jo;
      jo.url = "http://127.0.0.1:1/jwks.json";  // the issuer's JWKS; nobody listens here
      jo.allow_http = true;
      auto http = std::make_shared<tokenpass::HttplibClient>();
      auto keys = std::make_shared<tokenpass::RemoteJwks>(jo, http);  // its worker starts here
      // ... a Verifier over `keys`, the server and its routes, then serve.
      // [/snippet]
      int status = keys->url().empty() ? 1 : 0;
      if (jti_of(verifier, parents).empty()) status = 1;  // the parent's objects work here
      std::string out;
      for (int i = 0; i < kTokensEach; ++i) {
        out += jti_of(verifier, issuer.issue(tokenpass::ClaimsBuilder().subject("worker")).value()) + "\n";
      }
      if (::write(pipes[1], out.data(), out.size()) != static_cast<ssize_t>(out.size())) status = 1;
      ::close(pipes[1]);
      std::fflush(nullptr);
      ::_exit(status);
    }
    children.push_back(pid);
  }
  ::close(pipes[1]);

  int failures = 0;
  std::set<std::string> seen;
  std::size_t count = 0;
  for (int i = 0; i < kTokensEach; ++i) {  // the parent goes on issuing too
    seen.insert(jti_of(verifier, issuer.issue(tokenpass::ClaimsBuilder().subject("parent")).value()));
    ++count;
  }
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipes[0], buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
  ::close(pipes[0]);
  for (std::size_t at = 0, nl; (nl = all.find('\n', at)) != std::string::npos; at = nl + 1) {
    seen.insert(all.substr(at, nl - at));
    ++count;
  }
  for (const pid_t pid : children) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  const bool distinct = count == static_cast<std::size_t>((kWorkers + 1) * kTokensEach) &&
                        seen.size() == count && seen.count("") == 0;
  std::printf("%s %zu jtis from %d processes, %zu distinct\n", distinct ? "ok  " : "FAIL", count,
              kWorkers + 1, seen.size());
  if (!distinct) ++failures;
  std::printf("%s every worker verified the parent's token and exited 0\n", failures == 0 ? "ok  " : "FAIL");
  return failures == 0 ? 0 : 1;
}

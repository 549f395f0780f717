// operate_limits: the input limits a service sets, and what passing them costs the caller
// (docs/guide/operate.md). A token over the size limit and one whose claims nest too
// deep are refused as too_large before any signature work; the server settings that
// bound what a hostile client can make a cpp-httplib server hold are shown on a server
// that is started and asked once.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);

  // [snippet:policy]
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  policy.max_token_size = 8 * 1024;        // bytes, before any decoding (default 64 KiB)
  policy.json_limits.max_depth = 8;        // nesting in header and claims (default 32)
  policy.json_limits.max_members = 200;    // members of an object, elements of an array (1000)
  policy.leeway = std::chrono::seconds{30};  // clock skew for exp, nbf, iat: 0 to 10 min (60 s)
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), policy);
  // [/snippet]

  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", 5min, io);
  check(verifier.verify(issuer.issue(tokenpass::ClaimsBuilder().subject("u")).value()).has_value(),
        "a normal token verifies");
  const std::string big =
      issuer.issue(tokenpass::ClaimsBuilder().subject("u").claim("pad", std::string(9000, 'x'))).value();
  auto over = verifier.verify(big);
  check(!over && over.error().code == tokenpass::errc::too_large, "a 12 KB token is too_large");
  nlohmann::json deep = "bottom";
  for (int i = 0; i < 10; ++i) deep = nlohmann::json{{"d", deep}};
  auto nested = verifier.verify(issuer.issue(tokenpass::ClaimsBuilder().subject("u").claim("n", deep)).value());
  check(!nested && nested.error().code == tokenpass::errc::too_large, "claims nested 11 deep are too_large");

  // [snippet:server]
  httplib::Server server;
  server.set_payload_max_length(64 * 1024);  // bodies are buffered before a protect handler runs
  server.set_read_timeout(5, 0);              // seconds, microseconds: a client trickling bytes
  server.set_write_timeout(5, 0);
  server.set_keep_alive_max_count(100);
  server.set_tcp_nodelay(true);               // else each answer's body waits ~40 ms for an ACK
  // [/snippet]
  server.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(std::to_string(req.body.size()), "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);
  tokenpass::HttpRequest post;
  post.method = "POST";
  post.url = "http://127.0.0.1:" + std::to_string(port) + "/echo";
  post.headers = {{"Content-Type", "application/octet-stream"}};
  post.body = std::string(100 * 1024, 'x');
  auto res = tokenpass::HttplibClient().send(post);
  check(res && res->status == 413, "a 100 KiB body is refused (413) before any handler runs");
  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

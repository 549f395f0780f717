// Guide: protect an endpoint on cpp-httplib (docs/guide/protect-an-endpoint.md).
// A Verifier and a TokenResolver made once; `protect` on each route with the scopes or
// roles it needs; `protect_with_reader` for an upload whose body is read only after the
// tokens were checked; and what a refused caller gets. The program plays the issuer too
// (a key made here) and calls its own server on 127.0.0.1.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main() {
  // The issuer's key pair. A service takes the public half from the issuer's JWKS
  // (keys-from-an-issuer.md); here the program makes both, so it can issue tokens.
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::KeySet issuer_keys({signing.public_key().value()});

  // [snippet:setup]
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  // Throws std::invalid_argument here, once, if the policy is unusable.
  auto users = std::make_shared<const tokenpass::Verifier>(issuer_keys, policy);
  // A user token in `Authorization: Bearer`, required; no service tokens on this API.
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(users, nullptr);

  httplib::Server server;
  server.set_payload_max_length(64 * 1024);  // httplib reads a body before `protect` runs
  server.set_read_timeout(5s);
  server.set_write_timeout(5s);
  server.set_tcp_nodelay(true);
  // [/snippet]

  // [snippet:routes]
  // A handler runs only for a request whose tokens verified and passed the route's rules.
  auto list_orders = [](const httplib::Request&, httplib::Response& res,
                        const tokenpass::RequestContext& ctx) {
    // ctx.user() is never null here: the resolver requires a user token.
    res.set_content("orders of " + ctx.user()->claims().subject().value_or("?"), "text/plain");
  };
  tokenpass::ProtectOptions read;
  read.realm = "orders";
  read.scopes = {"orders:read"};  // 403 insufficient_scope without it
  read.on_reject = [](const httplib::Request& req, const tokenpass::Error& e) {
    std::fprintf(stderr, "refused %s %s: %s: %s\n", req.method.c_str(), req.path.c_str(),
                 std::string(tokenpass::to_string(e.code)).c_str(), e.detail.c_str());
  };
  server.Get("/orders", tokenpass::protect(resolver, list_orders, read));

  auto delete_order = [](const httplib::Request& req, httplib::Response& res,
                         const tokenpass::RequestContext&) {
    res.set_content("deleted order " + req.matches[1].str(), "text/plain");
  };
  tokenpass::ProtectOptions admin;
  admin.realm = "orders";
  admin.roles = {"orders:admin"};  // looked up at /realm_access/roles, /roles, /groups
  server.Delete(R"(/orders/(\d+))", tokenpass::protect(resolver, delete_order, admin));
  // [/snippet]

  // [snippet:reader]
  auto import_orders = [](const httplib::Request&, httplib::Response& res,
                          const httplib::ContentReader& reader, const tokenpass::RequestContext&) {
    // Runs only for a caller whose token verified; the body is still unread.
    std::size_t bytes = 0;
    reader([&](const char*, std::size_t n) {
      bytes += n;  // parse or store the upload here
      return true;
    });
    res.set_content(std::to_string(bytes) + " bytes imported", "text/plain");
  };
  // cpp-httplib's payload limit is per server and holds for reader routes too (413 past
  // it): large uploads get a server of their own, where every route that takes a body
  // reads it through protect_with_reader.
  httplib::Server uploads;
  uploads.set_payload_max_length(256 * 1024 * 1024);
  uploads.set_read_timeout(30s);
  tokenpass::ProtectOptions import;
  import.realm = "orders";
  import.scopes = {"orders:import"};
  uploads.Post("/orders/import", tokenpass::protect_with_reader(resolver, import_orders, import));
  // [/snippet]

  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const int upload_port = uploads.bind_to_any_port("127.0.0.1");
  if (upload_port <= 0) return 1;
  std::thread listener([&] { server.listen_after_bind(); });
  std::thread upload_listener([&] { uploads.listen_after_bind(); });
  while (!server.is_running() || !uploads.is_running()) std::this_thread::sleep_for(1ms);

  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  const auto token = [&](const std::vector<std::string>& scopes,
                         const std::vector<std::string>& roles = {}) {
    tokenpass::ClaimsBuilder c;
    c.subject("alice").scopes(scopes);
    if (!roles.empty()) c.claim("roles", roles);
    return issuer.issue(c).value();
  };
  const auto now = std::chrono::system_clock::now();
  tokenpass::ClaimsBuilder old;
  old.subject("alice").scopes({"orders:read"}).issued_at(now - 10min).expires_at(now - 5min);
  const std::string expired = issuer.issue(old).value();

  httplib::Client client("127.0.0.1", port);
  const auto bearer = [](const std::string& t) {
    return httplib::Headers{{"Authorization", "Bearer " + t}};
  };
  const auto challenge = [](const httplib::Result& r) {
    return r->get_header_value("WWW-Authenticate");
  };

  // [snippet:answers]
  // A valid token with the route's scope: the handler runs.
  auto r = client.Get("/orders", bearer(token({"orders:read"})));
  check(r && r->status == 200 && r->body == "orders of alice", "200 with the scope");

  // No token: 401 and a bare challenge (RFC 6750 §3.1: no error code).
  r = client.Get("/orders");
  check(r && r->status == 401 && challenge(r) == R"(Bearer realm="orders")", "401 without a token");

  // An expired (or forged, or wrong-audience) token: 401 invalid_token.
  r = client.Get("/orders", bearer(expired));
  check(r && r->status == 401 && challenge(r) == R"(Bearer realm="orders", error="invalid_token")",
        "401 invalid_token for an expired token");
  check(r && r->body == R"({"error":"expired"})", "the body names the tokenpass code");

  // A valid token without the scope: 403, and the challenge names what is missing.
  r = client.Get("/orders", bearer(token({"profile"})));
  check(r && r->status == 403 &&
            challenge(r) ==
                R"(Bearer realm="orders", error="insufficient_scope", scope="orders:read")",
        "403 insufficient_scope naming the scope");

  // Two Authorization headers: 400 invalid_request.
  r = client.Get("/orders",
                 httplib::Headers{{"Authorization", "Bearer " + token({"orders:read"})},
                                  {"Authorization", "Bearer " + token({"orders:read"})}});
  check(r && r->status == 400 &&
            challenge(r) == R"(Bearer realm="orders", error="invalid_request")",
        "400 for two tokens");

  // A route that needs a role: 403 insufficient_role without it.
  r = client.Delete("/orders/7", bearer(token({"orders:read"})));
  check(r && r->status == 403 && r->body == R"({"error":"insufficient_role"})" &&
            challenge(r) == R"(Bearer realm="orders", error="insufficient_scope")",
        "403 insufficient_role without the role");
  r = client.Delete("/orders/7", bearer(token({}, {"orders:admin"})));
  check(r && r->status == 200 && r->body == "deleted order 7", "200 with the role");
  // [/snippet]

  // protect_with_reader: a refused upload is answered before its body is read.
  httplib::Client upload_client("127.0.0.1", upload_port);
  const std::string body(200 * 1024, 'x');
  r = upload_client.Post("/orders/import", bearer(token({"orders:import"})), body,
                         "application/octet-stream");
  check(r && r->status == 200 && r->body == "204800 bytes imported",
        "an upload with the scope is read");
  r = upload_client.Post("/orders/import", bearer(token({"orders:read"})), body,
                         "application/octet-stream");
  check(r && r->status == 403 && r->get_header_value("Connection") == "close",
        "an upload without the scope is refused, its body unread");

  server.stop();
  uploads.stop();
  listener.join();
  upload_listener.join();
  return failures == 0 ? 0 : 1;
}

// issue_token_service: a token service for services that issue their own tokens to each
// other (docs/guide/issue-tokens.md): TokenEndpoint with a MemoryClientRegistry, served
// on 127.0.0.1 by mount_token_endpoint. Two clients get tokens (one with a secret, one
// with a signed assertion), a resource verifies them with keys found through the
// service's RFC 8414 metadata, refused requests get their OAuth errors, and the signing
// key rotates while tokens signed before keep verifying.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  server.set_tcp_nodelay(true);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  // The reports service's own key pair; the token service holds only its public half.
  const tokenpass::Key reports_key = tokenpass::Key::generate(tokenpass::Alg::ES256);

  // [snippet:registry]
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");  // PBKDF2-SHA256, 100,000 rounds
  billing.scopes = {"orders:read", "orders:refund"};                // the most it may ask for
  billing.audiences = {"orders-api", "payments-api"};              // the targets it may name
  billing.default_audiences = {"orders-api"};                      // when it names none

  tokenpass::ClientRecord reports;
  reports.id = "reports";
  reports.assertion_keys = tokenpass::KeySet({reports_key.public_key().value()});  // for assertions
  reports.scopes = {"orders:read"};
  reports.audiences = {"orders-api"};
  reports.token_lifetime = std::chrono::seconds{60};

  // Throws std::invalid_argument for a client that cannot authenticate, has no audiences, ...
  auto clients =
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing, reports});
  // [/snippet]

  // [snippet:endpoint]
  tokenpass::TokenEndpointOptions options;
  options.issuer = base;  // "https://tokens.example.com": iss, and where the metadata is
  options.token_lifetime = std::chrono::seconds{300};
  options.client_credentials_typ = "at+jwt";  // RFC 9068 (the default)
  options.log = [](const std::string& line) { std::printf("  [tokens] %s\n", line.c_str()); };
  tokenpass::GenerateOptions first;
  first.kid = "2024-06";
  auto endpoint = std::make_shared<tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256, first), clients, options);
  // POST /token, GET /.well-known/oauth-authorization-server, GET /.well-known/jwks.json
  tokenpass::mount_token_endpoint(server, endpoint);
  // [/snippet]

  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);
  auto http = std::make_shared<tokenpass::HttplibClient>();

  // [snippet:clients]
  tokenpass::ClientCredentialsOptions with_secret;
  with_secret.token_endpoint = endpoint->token_endpoint();
  with_secret.client_id = "billing";
  with_secret.client_secret = "billing-secret";  // client_secret_basic
  with_secret.allow_http = true;                 // 127.0.0.1 only
  tokenpass::ClientCredentials billing_tokens(with_secret, http);

  tokenpass::ClientCredentialsOptions with_key;
  with_key.token_endpoint = endpoint->token_endpoint();
  with_key.client_id = "reports";
  with_key.auth = tokenpass::ClientAuth::private_key_jwt;  // RFC 7523: a signed assertion
  with_key.assertion_key = reports_key;
  with_key.allow_http = true;
  tokenpass::ClientCredentials reports_tokens(with_key, http);

  auto refund = billing_tokens.token("orders-api", {"orders:refund"});
  auto read = reports_tokens.token("orders-api", {"orders:read"});
  // [/snippet]
  check(refund && read, "both clients got a token");

  // [snippet:resource]
  tokenpass::RemoteJwksOptions jo;
  jo.allow_http = true;  // 127.0.0.1 only
  auto keys = tokenpass::RemoteJwks::from_issuer(base, jo, http).value();  // RFC 8414 metadata
  const tokenpass::Verifier verifier(keys,
                                     tokenpass::Policy::access_token_profile({base}, {"orders-api"}));
  auto who = verifier.verify(refund->access_token);
  // who->claims(): iss, sub = client_id = "billing", aud "orders-api", scope "orders:refund"
  // [/snippet]
  check(who && who->claims().client_id() == "billing" &&
            who->claims().scopes() == std::vector<std::string>{"orders:refund"},
        "the resource verifies billing's token");
  check(verifier.verify(read->access_token).has_value(), "and reports's");

  // [snippet:refusals]
  auto wrong_target = billing_tokens.token("shipping-api", {"orders:read"});  // not registered
  auto too_much = billing_tokens.token("orders-api", {"orders:delete"});     // not its scope
  with_secret.client_secret = "guess";
  auto guessed = tokenpass::ClientCredentials(with_secret, http).token("orders-api");
  // Each: errc::token_request_refused (the endpoint's invalid_target, invalid_scope,
  // invalid_client): asking again will not help.
  // [/snippet]
  for (const auto* r : {&wrong_target, &too_much, &guessed}) {
    check(!*r && r->error().code == tokenpass::errc::token_request_refused,
          "refused: " + (*r ? std::string("?") : r->error().detail));
  }

  // [snippet:handle]
  // Framework-free: a request in, a response out (what mount_token_endpoint does).
  tokenpass::TokenEndpointRequest req;
  req.method = "POST";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = tokenpass::form_encode({{"grant_type", "client_credentials"},
                                     {"client_id", "billing"},
                                     {"client_secret", "billing-secret"},  // client_secret_post
                                     {"audience", "payments-api"}});
  req.remote_address = "10.1.2.3";  // for the per-address throttle
  tokenpass::TokenEndpointResponse res = endpoint->handle(req);
  // 200, {"access_token": "...", "token_type": "Bearer", "expires_in": 300, "scope": ...},
  // Cache-Control: no-store. Errors: 400 / 401 with {"error": "invalid_client", ...}.
  // [/snippet]
  const auto body = nlohmann::json::parse(res.body, nullptr, false);
  check(res.status == 200 && body.is_object() && body.value("token_type", "") == "Bearer" &&
            body.value("expires_in", 0) == 300,
        "handle() answers a client_secret_post request: " + res.body.substr(0, 40) + "...");

  // [snippet:rotate]
  tokenpass::GenerateOptions second;
  second.kid = "2024-07";
  const tokenpass::Key next = tokenpass::Key::generate(tokenpass::Alg::ES256, second);
  endpoint->publish_key(next);  // in the JWKS now, not signing yet
  // ... wait until the receivers have refetched (their JWKS TTL), then:
  endpoint->rotate_key(next);   // signs from now on; "2024-06" stays published
  auto after = billing_tokens.token("payments-api", {"orders:read"});  // a new entry: a new token
  // ... after the longest token lifetime plus the receivers' TTL:
  // endpoint->retire_key("2024-06");
  // [/snippet]
  check(after && endpoint->signing_kid() == "2024-07", "the next key signs");
  const tokenpass::Verifier payments(
      keys, tokenpass::Policy::access_token_profile({base}, {"payments-api"}));
  auto new_token = payments.verify(after->access_token);
  check(new_token && new_token->kid() == "2024-07",
        "a token of the new key verifies (unknown kid: one fetch)");
  check(verifier.verify(refund->access_token).has_value(), "a token of the old key still verifies");
  const auto published = [&](const char* kid) {
    return endpoint->jwks().find(std::string("\"") + kid + "\"") != std::string::npos;
  };
  check(published("2024-06"), "the old key is still published");
  check(endpoint->retire_key("2024-06") && !published("2024-06"), "retire_key drops it from the JWKS");
  check(!endpoint->retire_key("2024-07"), "the signing key cannot be retired");

  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

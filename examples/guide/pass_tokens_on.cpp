// Guide: pass tokens on (docs/guide/pass-tokens-on.md). Billing, having verified its
// caller's token, calls payments four ways, each an Outbound policy: the caller's token
// forwarded, billing's own service token (client credentials), both, or the caller's
// token exchanged for one meant for payments (RFC 8693); and a verified claim passed as
// a header. A token service (TokenEndpoint) and payments run on 127.0.0.1; payments
// answers with what it verified.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

const std::string kLogin = "https://login.example";  // the users' issuer

// Listening: an httplib server bound to a port on 127.0.0.1; after start(), served on
// its own thread until destroyed.
struct Listening {
  explicit Listening(httplib::Server& s) : server(s), port(s.bind_to_any_port("127.0.0.1")) {}
  void start() {
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~Listening() {
    if (!thread.joinable()) return;
    server.stop();
    thread.join();
  }
  Listening(const Listening&) = delete;
  Listening& operator=(const Listening&) = delete;
  httplib::Server& server;
  int port;
  std::thread thread;
};

// Seen: what payments verified, or why billing did not call it.
struct Seen {
  std::string refused;  // the tokenpass code when billing sent nothing
  int status = 0;
  json body;
};

// [snippet:call]
// In billing's handler, for its verified caller (ctx.user()): the headers the policy
// says for "payments", put on the request with add_headers.
Seen call_payments(const tokenpass::Outbound& out, const tokenpass::VerifiedToken* caller,
                   int payments_port) {
  auto headers = out.headers_for("payments", caller);
  if (!headers) {  // nothing is sent: answer the caller, e.g. with http_status(error)
    return {std::string(tokenpass::to_string(headers.error().code)), 0, nullptr};
  }
  httplib::Headers request_headers;
  if (!tokenpass::add_headers(request_headers, *headers)) return {"bad header", 0, nullptr};
  httplib::Client payments("127.0.0.1", payments_port);
  auto r = payments.Post("/charge", request_headers, R"({"cents":1299})", "application/json");
  if (!r) return {"unreachable", 0, nullptr};
  return {"", r->status, json::parse(r->body, nullptr, false)};
}
// [/snippet]

}  // namespace

int main() {
  // ---- the token service ----
  httplib::Server token_server;
  Listening tokens_at(token_server);
  const std::string tokens = "http://127.0.0.1:" + std::to_string(tokens_at.port);
  const tokenpass::Key login_key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::KeySet login_keys({login_key.public_key().value()});

  // [snippet:token_service]
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");
  billing.grant_types = {std::string(tokenpass::kClientCredentialsGrant),
                         std::string(tokenpass::kTokenExchangeGrant)};
  billing.scopes = {"payments:charge"};
  billing.audiences = {"payments"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = tokens;
  // Token exchange: the subject tokens it takes are users' tokens meant for billing.
  tokenpass::Policy subjects;
  subjects.issuers = {kLogin};
  subjects.audiences = {"billing"};
  eo.subject_tokens = std::make_shared<const tokenpass::Verifier>(login_keys, subjects);
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256),
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), eo);
  tokenpass::mount_token_endpoint(token_server, endpoint);
  // [/snippet]
  tokens_at.start();

  auto http = std::make_shared<tokenpass::HttplibClient>();

  // ---- payments: takes users' tokens and the token service's ----
  httplib::Server payments_server;
  tokenpass::RemoteJwksOptions jo;
  jo.url = endpoint->jwks_uri();
  jo.allow_http = true;
  auto token_service_keys = std::make_shared<tokenpass::RemoteJwks>(jo, http);
  // [snippet:payments]
  // Authorization carries a user's token (from login or exchanged at the token
  // service) or a service token; X-MS-TOKEN, when sent, the calling service's token.
  tokenpass::Policy for_payments;
  for_payments.issuers = {kLogin, tokens};
  for_payments.audiences = {"payments"};
  auto by_issuer = std::make_shared<const tokenpass::IssuerKeySources>(
      std::map<std::string, std::shared_ptr<const tokenpass::KeySource>>{
          {kLogin, std::make_shared<const tokenpass::StaticKeySource>(login_keys)},
          {tokens, token_service_keys}});
  tokenpass::Policy services = for_payments;
  services.issuers = {tokens};
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(
      std::make_shared<const tokenpass::Verifier>(by_issuer, for_payments),
      std::make_shared<const tokenpass::Verifier>(token_service_keys, services));
  tokenpass::ProtectOptions po;
  po.realm = "payments";
  po.scopes = {"payments:charge"};
  po.claim_headers = {"X-Tenant"};         // set by a caller only if it is trusted to:
  po.claim_header_services = {"billing"};  // its verified service token's client_id
  // [/snippet]
  payments_server.set_payload_max_length(64 * 1024);
  auto charge = [](const httplib::Request& req, httplib::Response& res,
                   const tokenpass::RequestContext& ctx) {
    const auto& claims = ctx.user()->claims();
    const tokenpass::VerifiedToken* service = ctx.service();
    json seen = {{"sub", claims.subject().value_or("")},
                 {"client_id", claims.client_id().value_or("")},
                 {"act", claims.get("act").value_or(nullptr)},
                 {"service", service ? service->claims().client_id().value_or("") : ""},
                 {"tenant", req.get_header_value("X-Tenant")}};
    res.set_content(seen.dump(), "application/json");
  };
  payments_server.Post("/charge", tokenpass::protect(resolver, charge, po));
  Listening payments_at(payments_server);
  payments_at.start();
  const int payments = payments_at.port;

  // ---- billing's caller: a user's token, verified by billing ----
  const tokenpass::Issuer login(login_key, kLogin, 5min);
  const auto user_token = [&](const std::vector<std::string>& aud) {
    return login
        .issue(tokenpass::ClaimsBuilder()
                   .subject("alice")
                   .audience(aud)
                   .scopes({"orders:write", "payments:charge"})
                   .claim("tenant", "acme"))
        .value();
  };
  tokenpass::Policy for_billing;
  for_billing.issuers = {kLogin};
  for_billing.audiences = {"billing"};
  const tokenpass::Verifier billing_users(login_keys, for_billing);
  // As protect would hand them to billing's handler: one meant for billing and payments,
  // one meant for billing alone.
  const tokenpass::VerifiedToken caller =
      billing_users.verify(user_token({"billing", "payments"})).value();
  const tokenpass::VerifiedToken billing_only =
      billing_users.verify(user_token({"billing"})).value();

  // [snippet:forward]
  tokenpass::Outbound forward = tokenpass::Outbound::forward();
  forward.allow("payments", {"payments", {}});  // name -> the audience its tokens carry
  // [/snippet]
  // [snippet:forward_answers]
  Seen seen = call_payments(forward, &caller, payments);
  check(seen.status == 200 && seen.body["sub"] == "alice", "forward: payments sees alice's token");
  // A token whose aud does not name payments is not sent there.
  check(call_payments(forward, &billing_only, payments).refused == "bad_audience",
        "forward: a token not meant for payments stays here (bad_audience)");
  // A destination not on the list gets nothing.
  check(forward.headers_for("audit", caller).error().code == tokenpass::errc::invalid_request,
        "forward: an unlisted destination (invalid_request)");
  // [/snippet]

  // [snippet:service_token]
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = endpoint->token_endpoint();  // or discover_token_endpoint(issuer, ...)
  cc.client_id = "billing";
  cc.client_secret = "billing-secret";  // from the service's secret store
  cc.allow_http = true;                 // loopback only: token endpoints are https
  auto credentials = std::make_shared<const tokenpass::ClientCredentials>(cc, http);

  tokenpass::Outbound service = tokenpass::Outbound::service_token(credentials);
  service.allow("payments", {"payments", {"payments:charge"}});  // audience, scopes asked for
  // [/snippet]
  // [snippet:service_answers]
  seen = call_payments(service, nullptr, payments);  // no user needed
  check(seen.status == 200 && seen.body["sub"] == "billing" && seen.body["client_id"] == "billing",
        "service_token: payments sees billing's own token");
  seen = call_payments(service, nullptr, payments);
  check(seen.status == 200 && credentials->stats().requests == 1 &&
            credentials->stats().cache_hits >= 1,
        "service_token: the token is cached, one request to the token service");
  // [/snippet]

  // [snippet:both]
  tokenpass::Outbound both =
      tokenpass::Outbound::forward_and_service_token(credentials, "X-MS-TOKEN");
  both.allow("payments", {"payments", {"payments:charge"}});
  both.claim_to_header("X-Tenant", "/tenant");  // from the caller's verified token
  // [/snippet]
  // [snippet:both_answers]
  seen = call_payments(both, &caller, payments);
  check(seen.status == 200 && seen.body["sub"] == "alice" && seen.body["service"] == "billing" &&
            seen.body["tenant"] == "acme",
        "both: alice's token, billing's in X-MS-TOKEN, and the tenant header kept");
  // Anyone else's X-Tenant is removed before the handler runs.
  httplib::Client direct("127.0.0.1", payments);
  auto r = direct.Post("/charge",
                       {{"Authorization", "Bearer " + caller.compact()}, {"X-Tenant", "globex"}},
                       "{}", "application/json");
  check(r && r->status == 200 && json::parse(r->body)["tenant"] == "",
        "a tenant header from a caller not trusted to set it is dropped");
  // [/snippet]

  // [snippet:exchange]
  auto exchanger = std::make_shared<const tokenpass::TokenExchange>(cc, http);  // same client
  tokenpass::Outbound exchange = tokenpass::Outbound::exchange(exchanger);
  exchange.allow("payments", {"payments", {"payments:charge"}});
  // [/snippet]
  // [snippet:exchange_answers]
  seen = call_payments(exchange, &billing_only, payments);  // a token meant for billing alone
  check(seen.status == 200 && seen.body["sub"] == "alice" && seen.body["client_id"] == "billing" &&
            seen.body["act"] == json{{"sub", "billing"}},
        "exchange: a token for payments, alice's, with billing as the actor");
  // [/snippet]

  return failures == 0 ? 0 : 1;
}

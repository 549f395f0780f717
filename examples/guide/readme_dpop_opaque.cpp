// guide: compile only
// README "Tokens bound to a client's key (DPoP) and opaque tokens": the orders resource
// taking DPoP-bound and opaque tokens, and a client calling it with DPoP-bound service
// tokens. It needs the issuer (its JWK set, introspection and token endpoints), so the
// tests only compile it.
#include <tokenpass/tokenpass.h>
#include <tokenpass/adapters/httplib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

int main() {
  const std::string issuer = "https://auth.example.com";
  const char* from_env = std::getenv("ORDERS_INTROSPECTION_SECRET");
  const std::string secret = from_env != nullptr ? from_env : "";
  const std::string url = "https://orders.example.com/orders";
  const auto http = std::make_shared<tokenpass::HttplibClient>();
  const auto keys = tokenpass::RemoteJwks::from_issuer(issuer, {}, http).value();
  httplib::Server server;
  const tokenpass::ProtectedHandler handler = [](const httplib::Request&, httplib::Response& res,
                                                 const tokenpass::RequestContext& ctx) {
    res.set_content("orders of " + ctx.user()->claims().subject().value_or("?"), "text/plain");
  };

  // [snippet:code]
  // The resource: `Authorization: DPoP <token>` with a proof, beside Bearer; opaque tokens
  // are asked about at the issuer's introspection endpoint.
  tokenpass::Policy policy = tokenpass::Policy::access_token_profile({issuer}, {"orders-api"});
  policy.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>();  // each proof once
  tokenpass::IntrospectionOptions io;
  io.endpoint = issuer + "/introspect";
  io.client_id = "orders-api";
  io.client_secret = secret;
  tokenpass::TokenResolverOptions ro;
  ro.dpop = std::make_shared<tokenpass::DpopOptions>();
  ro.introspector = std::make_shared<tokenpass::Introspector>(io, http);
  auto resolver = std::make_shared<tokenpass::TokenResolver>(
      std::make_shared<tokenpass::Verifier>(keys, policy), nullptr, ro);
  server.Get("/orders", tokenpass::protect(resolver, handler));  // refusals carry both challenges

  // The client: tokens bound to its key, and a proof for each call.
  auto signer = std::make_shared<tokenpass::DpopSigner>(tokenpass::Key::generate(tokenpass::Alg::ES256));
  tokenpass::ClientCredentialsOptions cc;  // token_endpoint, client_id, client_secret as usual
  cc.dpop = signer;                        // token_type "DPoP", cnf.jkt = signer->jkt()
  auto outbound = tokenpass::Outbound::service_token(std::make_shared<tokenpass::ClientCredentials>(cc, http));
  outbound.allow("orders", {"orders-api", {"orders:read"}});
  auto headers = outbound.headers_for("orders", nullptr, tokenpass::RequestTarget{"GET", url});
  // [/snippet]

  // The client's call, with the headers for exactly that request.
  std::thread serving([&] { server.listen("0.0.0.0", 8080); });
  if (headers) {
    httplib::Client client("https://orders.example.com");
    httplib::Headers h;
    if (tokenpass::add_headers(h, *headers)) {
      auto res = client.Get("/orders", h);
      std::printf("orders: %d\n", res ? res->status : 0);
    }
  }
  server.stop();
  serving.join();
  return headers ? 0 : 1;
}

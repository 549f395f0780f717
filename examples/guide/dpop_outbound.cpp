// dpop_outbound: a service that calls another with DPoP-bound service tokens (RFC 9449)
// (docs/guide/dpop.md). One cpp-httplib server on 127.0.0.1 carries a token endpoint
// that binds tokens to the proof's key (TokenEndpointOptions::dpop) and a resource,
// GET /orders, that takes DPoP and wants a server nonce. The calling side gets its token
// with ClientCredentials and a DpopSigner, makes each call's headers with Outbound, and
// answers the resource's nonce challenge by calling once more.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

// [snippet:call]
// get calls `url` at the destination "orders" with a DPoP-bound service token and a proof
// for exactly this call; when the server answers 401 with a DPoP-Nonce, the signer
// remembers it and the call is made once more with a new proof that carries it.
tokenpass::Result<tokenpass::HttpResponse> get(const tokenpass::Outbound& outbound,
                                               const tokenpass::DpopSigner& signer,
                                               tokenpass::HttpClient& http,
                                               const std::string& url) {
  for (int attempt = 0;; ++attempt) {
    auto headers = outbound.headers_for("orders", nullptr, tokenpass::RequestTarget{"GET", url});
    if (!headers) return headers.error();  // invalid_request, http_error, token_request_refused
    tokenpass::HttpRequest req;
    req.url = url;
    req.headers = *headers;
    auto res = http.send(req);
    if (!res) return res;
    const auto nonce = res->header("DPoP-Nonce");
    if (res->status != 401 || !nonce || attempt == 1) return res;
    signer.remember_nonce(url, *nonce);
  }
}
// [/snippet]

}  // namespace

int main() {
  using namespace std::chrono_literals;
  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  // [snippet:token-endpoint]
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");
  billing.scopes = {"orders:read"};
  billing.audiences = {"orders-api"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = base;  // "https://tokens.example.com" in production
  eo.dpop = std::make_shared<tokenpass::DpopOptions>();  // a proof makes a DPoP-bound token
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256),
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), eo);
  tokenpass::mount_token_endpoint(server, endpoint);
  // [/snippet]

  // The resource: DPoP-bound tokens from this endpoint, proofs with a server nonce.
  tokenpass::Policy policy = tokenpass::Policy::access_token_profile({base}, {"orders-api"});
  policy.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>();
  auto verifier = std::make_shared<const tokenpass::Verifier>(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(endpoint->jwks())).value(), policy);
  auto dpop = std::make_shared<tokenpass::DpopOptions>();
  dpop->nonce = "n-20240611";
  tokenpass::TokenResolverOptions ro;
  ro.dpop = dpop;
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr, ro);
  server.Get("/orders", tokenpass::protect(resolver, [](const httplib::Request&, httplib::Response& res,
                                                        const tokenpass::RequestContext& ctx) {
    res.set_content(ctx.user()->claims().client_id().value_or("?"), "text/plain");
  }));
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  int failures = 0;
  auto http = std::make_shared<tokenpass::HttplibClient>();
  // [snippet:client]
  // One key for as long as the tokens bound to it live: here, the process.
  const tokenpass::Key client_key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  auto signer = std::make_shared<const tokenpass::DpopSigner>(client_key);
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = endpoint->token_endpoint();
  cc.client_id = "billing";
  cc.client_secret = "billing-secret";
  cc.allow_http = true;  // 127.0.0.1 only; real token endpoints are https
  cc.dpop = signer;      // each token request carries a proof: token_type "DPoP", cnf.jkt
  auto credentials = std::make_shared<const tokenpass::ClientCredentials>(cc, http);

  auto outbound = tokenpass::Outbound::service_token(credentials);
  outbound.allow("orders", {"orders-api", {"orders:read"}});
  // [/snippet]

  // [snippet:no-target]
  // Without the call's method and URL there is no proof to make: invalid_request.
  auto refused = outbound.headers_for("orders", nullptr);
  // [/snippet]
  if (refused || refused.error().code != tokenpass::errc::invalid_request) {
    std::printf("UNEXPECTED: headers without a target\n");
    ++failures;
  }

  const std::string url = base + "/orders";
  auto res = get(outbound, *signer, *http, url);
  if (!res || res->status != 200 || res->body != "billing") {
    const std::string why = res ? std::to_string(res->status) : res.error().detail;
    std::printf("UNEXPECTED: %s\n", why.c_str());
    ++failures;
  } else {
    std::printf("GET %s -> 200 %s (after the nonce challenge)\n", url.c_str(), res->body.c_str());
  }
  // The token itself: DPoP-bound, cached, made once.
  auto token = credentials->token("orders-api", {"orders:read"});
  if (!token || token->token_type != "DPoP" || credentials->stats().requests != 1) {
    std::printf("UNEXPECTED: token type or requests\n");
    ++failures;
  }
  // The nonce is remembered now: the next call needs no second try.
  auto next = get(outbound, *signer, *http, url);
  if (!next || next->status != 200) ++failures;

  server.stop();
  listener.join();
  std::printf("%s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

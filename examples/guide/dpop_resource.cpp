// dpop_resource: a resource server that takes DPoP-bound tokens (RFC 9449) beside Bearer
// ones (docs/guide/dpop.md). It serves GET /orders on 127.0.0.1, plays the issuer (a
// signing key and an Issuer) and the client (a DpopSigner), and checks what each request
// gets: the right proof is served, a replayed proof, the bound token as Bearer, a proof
// of another key, a proof for another method and no token at all are refused with their
// codes and challenges, and a route that wants a server nonce gets one on the second try.
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

// Answer: what a GET came back with.
struct Answer {
  int status = 0;
  std::string error;                    // the JSON body's "error" (protect's refusals)
  std::vector<std::string> challenges;  // every WWW-Authenticate value
  std::string nonce;                    // DPoP-Nonce, if any
};

Answer get(const std::string& url, const tokenpass::HttpHeaders& headers) {
  tokenpass::HttpRequest req;
  req.url = url;
  req.headers = headers;
  Answer out;
  auto res = tokenpass::HttplibClient().send(req);
  if (!res) return out;
  out.status = res->status;
  const auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (body.is_object() && body.contains("error")) out.error = body["error"].get<std::string>();
  for (const auto& [k, v] : res->headers) {
    if (tokenpass::header_name_equals(k, "WWW-Authenticate")) out.challenges.push_back(v);
  }
  out.nonce = res->header("DPoP-Nonce").value_or("");
  return out;
}

void expect(const char* what, const Answer& a, int status, const std::string& error) {
  std::printf("%-44s -> %d %s\n", what, a.status, a.error.empty() ? "" : a.error.c_str());
  for (const auto& c : a.challenges) std::printf("      WWW-Authenticate: %s\n", c.c_str());
  if (a.status != status || a.error != error) {
    std::printf("      UNEXPECTED: wanted %d %s\n", status, error.c_str());
    ++failures;
  }
}

bool has_prefix(const std::vector<std::string>& values, const std::string& prefix) {
  for (const auto& v : values) {
    if (v.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);

  // The issuer's signing key; the resource holds its public half.
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::KeySet keys({signing.public_key().value()});

  // [snippet:policy]
  tokenpass::Policy policy =
      tokenpass::Policy::access_token_profile({"https://auth.example.com"}, {"orders-api"});
  policy.required_scopes = {"orders:read"};
  // Each proof is taken once (RFC 9449 §11.1). Without a store a copied proof works
  // again for as long as its iat is in the window.
  policy.proof_replay_store = std::make_shared<tokenpass::MemoryReplayStore>();
  auto verifier = std::make_shared<const tokenpass::Verifier>(keys, policy);
  // [/snippet]

  const auto handler = [](const httplib::Request&, httplib::Response& res,
                          const tokenpass::RequestContext& ctx) {
    res.set_content("orders of " + ctx.user()->claims().subject().value_or("?"), "text/plain");
  };

  // [snippet:resolver]
  auto dpop = std::make_shared<tokenpass::DpopOptions>();
  dpop->algorithms = {tokenpass::Alg::ES256, tokenpass::Alg::EdDSA};  // empty: any asymmetric
  dpop->max_age = std::chrono::seconds{60};       // how old a proof's iat may be
  dpop->future_leeway = std::chrono::seconds{5};  // and how far ahead (clock skew)
  tokenpass::TokenResolverOptions options;
  options.dpop = dpop;  // `Authorization: DPoP <token>` and one `DPoP` proof header
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr, options);

  tokenpass::ProtectOptions route;
  route.realm = "orders";
  route.public_origin = origin;  // behind a proxy: what clients address, "https://api.example.com"
  server.Get("/orders", tokenpass::protect(resolver, handler, route));
  // [/snippet]

  // [snippet:nonce]
  auto with_nonce = std::make_shared<tokenpass::DpopOptions>(*dpop);
  with_nonce->nonce = "n-7f3a9c";  // proofs must carry it, else 401 use_dpop_nonce
  tokenpass::TokenResolverOptions nonce_options;
  nonce_options.dpop = with_nonce;
  server.Get("/nonce/orders",
             tokenpass::protect(std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr,
                                                                                 nonce_options),
                                handler, route));
  // [/snippet]

  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  // [snippet:bound-token]
  // The client's key: its thumbprint goes into the token as cnf.jkt (RFC 9449 §6.1).
  const tokenpass::DpopSigner signer(tokenpass::Key::generate(tokenpass::Alg::ES256));
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  io.typ = "at+jwt";
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  tokenpass::ClaimsBuilder claims;
  claims.subject("user-4711").client_id("mobile-app").scopes({"orders:read"});
  tokenpass::bind_to_dpop_key(claims, signer.jkt());
  const std::string token = issuer.issue(claims).value();
  // [/snippet]

  const std::string url = origin + "/orders?page=2";
  // [snippet:request]
  // One proof per request: this method, this URI (the query does not count), this token.
  const std::string proof = signer.proof("GET", url, token).value();
  const tokenpass::HttpHeaders headers = {{"Authorization", "DPoP " + token}, {"DPoP", proof}};
  // [/snippet]
  expect("DPoP token with a proof for this request", get(url, headers), 200, "");

  // [snippet:refusals]
  // The same proof again: a copied request is worth nothing.
  Answer again = get(url, headers);
  // The bound token without its proof, as Bearer (RFC 9449 §7.2).
  Answer bearer = get(url, {{"Authorization", "Bearer " + token}});
  // A fresh proof, signed by a key that is not the one in cnf.jkt.
  const tokenpass::DpopSigner thief(tokenpass::Key::generate(tokenpass::Alg::ES256));
  Answer stolen = get(url, {{"Authorization", "DPoP " + token},
                            {"DPoP", thief.proof("GET", url, token).value()}});
  // A proof made for another request (POST).
  Answer other = get(url, {{"Authorization", "DPoP " + token},
                           {"DPoP", signer.proof("POST", url, token).value()}});
  // No token: both schemes offered.
  Answer none = get(url, {});
  // An unbound token as Bearer is still an ordinary bearer token.
  claims.remove("cnf");
  Answer plain = get(url, {{"Authorization", "Bearer " + issuer.issue(claims).value()}});
  // [/snippet]
  expect("the same request again (proof replayed)", again, 401, "replayed");
  expect("the bound token as a Bearer token", bearer, 401, "bad_binding");
  expect("a proof signed by another key", stolen, 401, "bad_binding");
  expect("a proof for POST on a GET", other, 401, "bad_proof");
  expect("no token", none, 401, "no_token");
  expect("an unbound token as Bearer", plain, 200, "");
  if (!has_prefix(other.challenges, "DPoP realm=\"orders\", error=\"invalid_dpop_proof\"") ||
      !has_prefix(bearer.challenges, "Bearer realm=\"orders\", error=\"invalid_token\"") ||
      !has_prefix(none.challenges, "Bearer realm=\"orders\"") ||
      !has_prefix(none.challenges, "DPoP realm=\"orders\", algs=\"ES256 EdDSA\"")) {
    std::printf("UNEXPECTED challenges\n");
    ++failures;
  }

  // [snippet:nonce-retry]
  const std::string nonce_url = origin + "/nonce/orders";
  Answer first = get(nonce_url, {{"Authorization", "DPoP " + token},
                                 {"DPoP", signer.proof("GET", nonce_url, token).value()}});
  if (first.status == 401 && !first.nonce.empty()) {
    signer.remember_nonce(nonce_url, first.nonce);  // later proofs for this origin carry it
  }
  Answer second = get(nonce_url, {{"Authorization", "DPoP " + token},
                                  {"DPoP", signer.proof("GET", nonce_url, token).value()}});
  // [/snippet]
  expect("nonce route, first proof", first, 401, "use_dpop_nonce");
  expect("nonce route, proof with the nonce", second, 200, "");
  if (first.nonce != "n-7f3a9c") {
    std::printf("UNEXPECTED DPoP-Nonce %s\n", first.nonce.c_str());
    ++failures;
  }

  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

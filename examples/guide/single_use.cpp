// Guide: single-use tokens (docs/guide/single-use-tokens.md). A Verifier with a replay
// store accepts each token once; what counts as a replay and what does not burn a token;
// a store that cannot answer fails closed; and the sending side asks for a new service
// token per call (ClientCredentialsOptions::fresh_each_call) from a token service on
// 127.0.0.1.
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

std::string code_of(const tokenpass::Result<tokenpass::VerifiedToken>& r) {
  return r ? "ok" : std::string(tokenpass::to_string(r.error().code));
}

}  // namespace

int main() {
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  const tokenpass::KeySet keys({signing.public_key().value()});
  tokenpass::IssuerOptions io;
  io.audience = {"product"};  // and a 128-bit jti in every token (generate_jti)
  const tokenpass::Issuer issuer(signing, "https://tokens.example", 2min, io);

  // [snippet:policy]
  auto store = std::make_shared<tokenpass::MemoryReplayStore>();  // this process only
  tokenpass::Policy policy;
  policy.issuers = {"https://tokens.example"};
  policy.audiences = {"product"};
  policy.replay_store = store;             // each (iss, jti) accepted once, until exp + leeway
  policy.single_use_max_lifetime = 10min;  // a token valid for longer is bad_claim
  const tokenpass::Verifier verifier(keys, policy);
  // [/snippet]

  const auto now = std::chrono::system_clock::now();
  const std::string token = issuer.issue(tokenpass::ClaimsBuilder().subject("billing")).value();
  std::string forged = token;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  tokenpass::ClaimsBuilder old;
  old.subject("billing").issued_at(now - 10min).expires_at(now - 5min);
  const std::string expired = issuer.issue(old).value();
  const tokenpass::Issuer no_jti_issuer(signing, "https://tokens.example", 2min, [&] {
    tokenpass::IssuerOptions o = io;
    o.generate_jti = false;
    return o;
  }());
  const std::string no_jti =
      no_jti_issuer.issue(tokenpass::ClaimsBuilder().subject("billing")).value();
  const std::string long_lived =
      issuer.issue(tokenpass::ClaimsBuilder().subject("billing").expires_at(now + 1h)).value();

  // [snippet:answers]
  // A forged or expired token is refused before the store is asked: it burns nothing.
  check(code_of(verifier.verify(forged)) == "bad_signature", "a forged copy: bad_signature");
  check(code_of(verifier.verify(expired)) == "expired", "an expired token: expired");
  // The first use is accepted; any later one, by anyone, is replayed (401 invalid_token).
  check(code_of(verifier.verify(token)) == "ok", "first use: accepted");
  const auto again = verifier.verify(token);
  check(code_of(again) == "replayed" && tokenpass::http_status(again.error()) == 401,
        "second use: replayed, 401");
  // Single use needs jti and exp, and a bounded lifetime when single_use_max_lifetime says.
  check(code_of(verifier.verify(no_jti)) == "missing_claim", "no jti: missing_claim");
  check(code_of(verifier.verify(long_lived)) == "bad_claim", "exp an hour away: bad_claim");
  check(store->stats().accepted == 1 && store->stats().replays == 1, "the store saw one of each");
  // [/snippet]

  // [snippet:fail_closed]
  // A store that cannot answer (here: full; for Redis: unreachable or slow) fails closed.
  tokenpass::MemoryReplayStoreOptions tiny;
  tiny.max_entries = 1;  // pairs are never dropped before their exp to make room
  tokenpass::Policy closed = policy;
  closed.replay_store = std::make_shared<tokenpass::MemoryReplayStore>(tiny);
  const tokenpass::Verifier fail_closed(keys, closed);
  check(code_of(fail_closed.verify(issuer.issue(tokenpass::ClaimsBuilder()).value())) == "ok",
        "the first token fills the store");
  const auto refused = fail_closed.verify(issuer.issue(tokenpass::ClaimsBuilder()).value());
  check(code_of(refused) == "replay_store_unavailable" &&
            tokenpass::http_status(refused.error()) == 503 &&
            !tokenpass::www_authenticate(refused.error(), "product"),
        "the next: replay_store_unavailable, 503, no challenge");

  tokenpass::Policy open = closed;
  open.replay_fail_open = true;  // replays pass while the store cannot answer: a choice
  const tokenpass::Verifier fail_open(keys, open);
  check(code_of(fail_open.verify(issuer.issue(tokenpass::ClaimsBuilder()).value())) == "ok",
        "replay_fail_open: accepted, unrecorded");
  // [/snippet]

  // ---- the sending side: a new service token per call ----
  httplib::Server server;
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string tokens = "http://127.0.0.1:" + std::to_string(port);
  tokenpass::ClientRecord billing;
  billing.id = "billing";
  billing.secret = tokenpass::SecretHash::make("billing-secret");
  billing.audiences = {"product"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = tokens;
  eo.token_lifetime = 1min;  // short-lived: the receiver keeps each jti until exp
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      tokenpass::Key::generate(tokenpass::Alg::ES256),
      std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{billing}), eo);
  tokenpass::mount_token_endpoint(server, endpoint);
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  // [snippet:fresh_each_call]
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = endpoint->token_endpoint();
  cc.client_id = "billing";
  cc.client_secret = "billing-secret";
  cc.allow_http = true;       // loopback only
  cc.fresh_each_call = true;  // every token() asks the endpoint; nothing is cached
  auto credentials = std::make_shared<const tokenpass::ClientCredentials>(
      cc, std::make_shared<tokenpass::HttplibClient>());
  auto outbound = tokenpass::Outbound::service_token(credentials);
  outbound.allow("product", {"product", {}});
  // [/snippet]

  tokenpass::Policy services;
  services.issuers = {tokens};
  services.audiences = {"product"};
  services.replay_store = std::make_shared<tokenpass::MemoryReplayStore>();
  const tokenpass::Verifier product(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(endpoint->jwks())).value(),
      services);
  const auto bearer_of = [](const tokenpass::HttpHeaders& headers) {
    return headers.at(0).second.substr(std::string("Bearer ").size());
  };
  // [snippet:fresh_answers]
  const std::string first = bearer_of(outbound.headers_for("product", nullptr).value());
  const std::string second = bearer_of(outbound.headers_for("product", nullptr).value());
  check(first != second && credentials->stats().requests == 2, "a new token for each call");
  check(code_of(product.verify(first)) == "ok" && code_of(product.verify(second)) == "ok",
        "each accepted once");
  check(code_of(product.verify(first)) == "replayed", "a captured one, replayed: refused");
  // [/snippet]

  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

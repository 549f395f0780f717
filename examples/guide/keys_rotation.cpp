// Guide: rotating an issuer's key without downtime (docs/guide/keys-from-an-issuer.md).
// A TokenEndpoint on 127.0.0.1 publishes its next key ahead of use, rotates to it and
// retires the old one; two receivers (RemoteJwks) show what they see: one that fetched
// before the new key was published (it fetches again on the first unknown kid), one
// after (it already holds it), and tokens of the old key that keep verifying until the
// key is retired.
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
  httplib::Server server;
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string issuer = "http://127.0.0.1:" + std::to_string(port);

  // [snippet:endpoint]
  const tokenpass::Key first = tokenpass::Key::generate(tokenpass::Alg::ES256);  // kid: thumbprint
  tokenpass::ClientRecord reports;
  reports.id = "reports";
  reports.secret = tokenpass::SecretHash::make("reports-secret");
  reports.audiences = {"orders-api"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = issuer;
  eo.token_lifetime = 5min;
  auto endpoint = std::make_shared<tokenpass::TokenEndpoint>(
      first, std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{reports}), eo);
  tokenpass::mount_token_endpoint(server, endpoint);  // POST /token, metadata, JWKS
  // [/snippet]
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  auto http = std::make_shared<tokenpass::HttplibClient>();
  // A client of the endpoint. fresh_each_call: a new token per call, so that each one
  // shows which key signs now (a service would let its tokens be cached).
  tokenpass::ClientCredentialsOptions cc;
  cc.token_endpoint = endpoint->token_endpoint();
  cc.client_id = "reports";
  cc.client_secret = "reports-secret";
  cc.allow_http = true;
  cc.fresh_each_call = true;
  const tokenpass::ClientCredentials client(cc, http);
  const auto issue = [&] { return client.token("orders-api").value().access_token; };

  tokenpass::Policy policy;
  policy.issuers = {issuer};
  policy.audiences = {"orders-api"};
  tokenpass::RemoteJwksOptions jo;
  jo.url = endpoint->jwks_uri();
  jo.allow_http = true;
  const auto receiver = [&] {
    auto keys = std::make_shared<tokenpass::RemoteJwks>(jo, http);
    if (!keys->prefetch(2s)) std::fprintf(stderr, "no JWKS\n");
    return keys;
  };

  const std::string old_token = issue();
  auto early_keys = receiver();  // fetched before the next key is published
  const tokenpass::Verifier early(early_keys, policy);
  check(early.verify(old_token).has_value(), "the first key's token verifies");

  // [snippet:rotate]
  const tokenpass::Key next = tokenpass::Key::generate(tokenpass::Alg::ES256);
  // 1. Publish: the JWKS lists `next` beside the signing key; nothing signs with it yet.
  endpoint->publish_key(next);
  // ... wait at least the receivers' JWKS TTL (the endpoint serves max-age=300), so that
  // every receiver holds `next` before the first token it signs ...
  // 2. Rotate: `next` signs from now on; `first` stays published, and its tokens verify.
  endpoint->rotate_key(next);
  // [/snippet]
  auto late_keys = receiver();  // as one that refetched after step 1
  const tokenpass::Verifier late(late_keys, policy);
  const std::string new_token = issue();
  check(endpoint->signing_kid() == next.kid(), "the endpoint signs with the next key");

  // [snippet:receivers]
  // A receiver that fetched after the key was published holds it: no fetch at all.
  check(late.verify(new_token).has_value() && late_keys->stats().kid_misses == 0,
        "published ahead: verified with the keys held");
  // One that fetched before (the waits skipped): the unknown kid makes it refetch the
  // JWKS once, while the verify waits (at most RemoteJwksOptions::timeout), then verify.
  check(early.verify(new_token).has_value() && early_keys->stats().kid_fetches == 1,
        "not published ahead: one refetch for the unknown kid");
  // Tokens the old key signed keep verifying everywhere: the key is still published.
  check(early.verify(old_token).has_value() && late.verify(old_token).has_value(),
        "the old key's tokens still verify");
  // [/snippet]

  // [snippet:retire]
  // 3. Retire, once the longest token lifetime plus the receivers' TTL has passed since
  // step 2: `first` leaves the JWKS. Never the signing key; false for a kid not published.
  const bool retired = endpoint->retire_key(first.kid());
  // [/snippet]
  check(retired, "the old key is retired");
  check(endpoint->jwks().find(first.kid()) == std::string::npos, "and gone from the JWKS");
  auto fresh_keys = receiver();
  const tokenpass::Verifier fresh(fresh_keys, policy);
  const auto after = fresh.verify(old_token);
  check(!after && after.error().code == tokenpass::errc::key_not_found,
        "a receiver that fetched after retirement: key_not_found for an old token");

  server.stop();
  listener.join();
  return failures == 0 ? 0 : 1;
}

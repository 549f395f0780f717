// Guide: keys from an issuer (docs/guide/keys-from-an-issuer.md). A Verifier over an
// issuer's JWKS, found by URL and by discovery; several issuers, each with its own keys;
// and what happens while the issuer is down. The issuer is a TokenEndpoint served on
// 127.0.0.1 (its RFC 8414 metadata, OpenID discovery document and JWKS), over plain
// HTTP to stay self-contained: real issuers are https, and `allow_http` stays off.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
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
  // ---- the issuer: a token service of our own on 127.0.0.1 ----
  httplib::Server server;
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string issuer = "http://127.0.0.1:" + std::to_string(port);
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::ClientRecord nobody;  // the endpoint needs a registry; no one asks it here
  nobody.id = "nobody";
  nobody.secret = tokenpass::SecretHash::make("unused");
  nobody.audiences = {"orders-api"};
  tokenpass::TokenEndpointOptions eo;
  eo.issuer = issuer;
  auto endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
      signing, std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{nobody}), eo);
  tokenpass::TokenEndpointMountOptions mount;
  mount.openid_configuration = true;
  tokenpass::mount_token_endpoint(server, endpoint, mount);
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer tokens(signing, issuer, 5min, io);  // signs as the endpoint would
  const std::string token = tokens.issue(tokenpass::ClaimsBuilder().subject("alice")).value();

  tokenpass::Policy policy;
  policy.issuers = {issuer};
  policy.audiences = {"orders-api"};

  // [snippet:jwks_url]
  auto http = std::make_shared<tokenpass::HttplibClient>();  // one for the whole service
  tokenpass::RemoteJwksOptions options;
  options.url = issuer + "/.well-known/jwks.json";  // must be https:// ...
  options.allow_http = true;                        // ... unless this is on (tests, loopback)
  options.on_event = [](const tokenpass::RemoteJwksEvent& e) {
    std::fprintf(stderr, "jwks: %s\n", e.detail.c_str());  // fetched, 304, failed: never keys
  };
  auto keys = std::make_shared<tokenpass::RemoteJwks>(options, http);  // does not fetch yet
  // Fetch at start-up, so that the first request does not wait for it. Not fatal: if the
  // issuer is down now, verifies fetch it when they need it.
  if (auto ready = keys->prefetch(2s); !ready) {
    std::fprintf(stderr, "JWKS not reachable yet: %s\n", ready.error().detail.c_str());
  }
  const tokenpass::Verifier verifier(keys, policy);
  // [/snippet]
  check(verifier.verify(token).has_value(), "a token verifies against the JWKS by URL");

  // [snippet:discovery]
  // The issuer's /.well-known/openid-configuration, else its RFC 8414 metadata: the
  // document's `issuer` must be exactly this string, and its `jwks_uri` https.
  tokenpass::RemoteJwksOptions discovered;
  discovered.allow_http = true;
  auto found = tokenpass::RemoteJwks::from_issuer(issuer, discovered, http);
  if (!found) {  // http_error, malformed, bad_issuer or invalid_request
    std::fprintf(stderr, "discovery failed: %s: %s\n",
                 std::string(tokenpass::to_string(found.error().code)).c_str(),
                 found.error().detail.c_str());
    return 1;
  }
  const tokenpass::Verifier by_discovery(*found, policy);
  // [/snippet]
  check(by_discovery.verify(token).has_value(), "a token verifies against the discovered JWKS");
  check((*found)->url() == endpoint->jwks_uri(), "discovery found the jwks_uri");
  auto wrong = tokenpass::RemoteJwks::from_issuer(issuer + "/", discovered, http);
  check(!wrong && wrong.error().code == tokenpass::errc::bad_issuer,
        "discovery refuses an issuer string that differs from the document's (bad_issuer)");

  // A partner that publishes no JWKS gave us its public keys (a file, read here).
  const tokenpass::Key partner_key = tokenpass::Key::generate(tokenpass::Alg::EdDSA);
  const std::string partner_jwks =
      tokenpass::KeySet({partner_key.public_key().value()}).to_public_jwks().dump();

  // [snippet:several]
  // Ours from our JWKS (`keys` above), the partner's from its file. from_public_jwks, as
  // for a fetched set: private members are dropped, secret (oct) keys refused.
  auto partner_keys = std::make_shared<const tokenpass::StaticKeySource>(
      tokenpass::KeySet::from_public_jwks(nlohmann::json::parse(partner_jwks)).value());

  auto sources = std::make_shared<const tokenpass::IssuerKeySources>(
      std::map<std::string, std::shared_ptr<const tokenpass::KeySource>>{
          {issuer, keys}, {"https://partner.example", partner_keys}});
  tokenpass::Policy both = policy;
  both.issuers = {issuer, "https://partner.example"};  // still checked after the signature
  const tokenpass::Verifier either(sources, both);
  // [/snippet]

  const tokenpass::Issuer partner(partner_key, "https://partner.example", 5min, io);
  const tokenpass::Issuer impostor(partner_key, issuer, 5min, io);  // partner's key, our name
  const tokenpass::Issuer stranger(partner_key, "https://stranger.example", 5min, io);
  const auto claims = tokenpass::ClaimsBuilder().subject("bob");
  // [snippet:several_answers]
  check(code_of(either.verify(token)) == "ok", "our token: keys from our JWKS");
  check(code_of(either.verify(partner.issue(claims).value())) == "ok",
        "the partner's token: keys from its set");
  // The partner's key signing in our name: our JWKS has no such kid (after one
  // rate-limited refetch of it).
  check(code_of(either.verify(impostor.issue(claims).value())) == "key_not_found",
        "our issuer name with another issuer's key: key_not_found");
  // An issuer that is not configured: no keys are looked up at all.
  check(code_of(either.verify(stranger.issue(claims).value())) == "bad_issuer",
        "an issuer that is not configured: bad_issuer");
  // [/snippet]

  // ---- while the issuer is down ----
  // A clock for the key source that we move forward, to see hours pass in a moment.
  std::atomic<long> hours_later{0};
  tokenpass::RemoteJwksOptions timed = options;
  timed.clock = [&] {
    return std::chrono::system_clock::now() + std::chrono::hours(hours_later.load());
  };
  auto timed_keys = std::make_shared<tokenpass::RemoteJwks>(timed, http);
  check(timed_keys->prefetch(2s).has_value(), "fetched while the issuer is up");
  const tokenpass::Verifier during_outage(timed_keys, policy);
  server.stop();
  listener.join();
  // [snippet:stale]
  // The issuer goes down. An hour later the set's TTL (Cache-Control max-age=300 here)
  // has passed: the refresh fails, and the last good set is still served, up to
  // max_stale (6 h by default) after the TTL.
  hours_later = 1;
  check(code_of(during_outage.verify(token)) == "ok", "served stale while the issuer is down");
  check(timed_keys->stats().stale_serves == 1, "counted in stats().stale_serves");
  // Past max_stale the set is dropped: key_source_unavailable, 503.
  hours_later = 7;
  check(code_of(during_outage.verify(token)) == "key_source_unavailable",
        "past max_stale: key_source_unavailable");
  // [/snippet]
  return failures == 0 ? 0 : 1;
}

// Guide: protect an endpoint in any framework (docs/guide/protect-an-endpoint.md). The
// core needs no framework: a HeaderLookup over the request for TokenResolver::resolve,
// check_access for the route's scopes, and http_status / www_authenticate for a refusal.
// `Request` and `Response` stand for whatever your framework hands a handler.
#include <tokenpass/adapters/httplib.h>  // HttplibClient: an HttpClient for RemoteJwks
#include <tokenpass/tokenpass.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// [snippet:lookup]
// What a framework hands a handler (yours has its own types).
struct Request {
  std::multimap<std::string, std::string> headers;  // every header as received
};
struct Response {
  int status = 200;
  std::multimap<std::string, std::string> headers;
  std::string body;
};

// headers_of: every value of one header, the name compared case-insensitively. A
// repeated Authorization header must come back as two values: that is invalid_request.
tokenpass::HeaderLookup headers_of(const Request& req) {
  return [&req](std::string_view name) {
    std::vector<std::string> values;
    for (const auto& [k, v] : req.headers) {
      if (tokenpass::header_name_equals(k, name)) values.push_back(v);
    }
    return values;
  };
}
// [/snippet]

// [snippet:handler]
Response refuse(const tokenpass::Error& e, const std::vector<std::string>& scopes) {
  Response res;
  res.status = tokenpass::http_status(e);  // 400, 401, 403, 500 or 503
  // RFC 6750 challenge; none for the server's own trouble (503, 500).
  if (auto challenge = tokenpass::www_authenticate(e, "orders", scopes)) {
    res.headers.emplace("WWW-Authenticate", *challenge);
  }
  // Log the code and the detail, never the token.
  std::fprintf(stderr, "refused: %s: %s\n", std::string(tokenpass::to_string(e.code)).c_str(),
               e.detail.c_str());
  return res;
}

Response get_orders(const tokenpass::TokenResolver& resolver, const Request& req) {
  static const std::vector<std::string> kNeeded = {"orders:read"};
  // Pass the connection's client certificate as the second argument when there is one
  // (certificate-bound tokens); a DPoP resolver also needs the RequestTarget (dpop.md).
  auto ctx = resolver.resolve(headers_of(req));
  if (!ctx) return refuse(ctx.error(), kNeeded);
  if (auto granted = tokenpass::check_access(*ctx, kNeeded); !granted) {
    return refuse(granted.error(), kNeeded);
  }
  Response res;
  res.body = "orders of " + ctx->user()->claims().subject().value_or("?");
  return res;
}
// [/snippet]

std::string header(const Response& res, const std::string& name) {
  const auto found = res.headers.find(name);
  return found == res.headers.end() ? std::string("<none>") : found->second;
}

}  // namespace

int main() {
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  const auto token = [&](const std::vector<std::string>& scopes) {
    return issuer.issue(tokenpass::ClaimsBuilder().subject("alice").scopes(scopes)).value();
  };

  // [snippet:resolver]
  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  auto users = std::make_shared<const tokenpass::Verifier>(
      tokenpass::KeySet({signing.public_key().value()}), policy);
  const tokenpass::TokenResolver resolver(users, nullptr);  // once; share it across threads
  // [/snippet]

  // [snippet:answers]
  Response res =
      get_orders(resolver, Request{{{"authorization", "Bearer " + token({"orders:read"})}}});
  check(res.status == 200 && res.body == "orders of alice", "200 (header names in any case)");

  res = get_orders(resolver, Request{});
  check(res.status == 401 && header(res, "WWW-Authenticate") == R"(Bearer realm="orders")",
        "401 without a token");

  res = get_orders(resolver, Request{{{"Authorization", "Bearer " + token({"profile"})}}});
  check(res.status == 403 &&
            header(res, "WWW-Authenticate") ==
                R"(Bearer realm="orders", error="insufficient_scope", scope="orders:read")",
        "403 without the scope");

  res = get_orders(resolver, Request{{{"Authorization", "Bearer " + token({"orders:read"})},
                                      {"Authorization", "Bearer " + token({"orders:read"})}}});
  check(res.status == 400 &&
            header(res, "WWW-Authenticate") == R"(Bearer realm="orders", error="invalid_request")",
        "400 for two Authorization headers");
  // [/snippet]

  // [snippet:unavailable]
  // The issuer's keys cannot be fetched (nothing listens on port 1): 503 and no challenge,
  // since the token may well be good.
  tokenpass::RemoteJwksOptions unreachable;
  unreachable.url = "http://127.0.0.1:1/jwks.json";
  unreachable.allow_http = true;
  unreachable.timeout = 1s;
  auto offline_keys = std::make_shared<tokenpass::RemoteJwks>(
      unreachable, std::make_shared<tokenpass::HttplibClient>());
  const tokenpass::TokenResolver offline(
      std::make_shared<const tokenpass::Verifier>(offline_keys, policy), nullptr);
  res = get_orders(offline, Request{{{"Authorization", "Bearer " + token({"orders:read"})}}});
  check(res.status == 503 && header(res, "WWW-Authenticate") == "<none>",
        "503 without a challenge when the keys cannot be had");
  // [/snippet]

  return failures == 0 ? 0 : 1;
}

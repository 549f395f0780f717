// Fuzz target: requests to a token endpoint (`TokenEndpoint::handle`), as a hostile
// client writes them.
// Input: one flag byte, then the Authorization header value up to the first NUL (no
// header when there is no NUL), then the form body.
//   bits 0-1  method: POST, POST, GET, PUT
//   bits 2-3  Content-Type: form, form with charset, text/plain, none
//   bit 4     a second Authorization header (the same value)
// The endpoint has a secret client ("svc", secret "s3cret", 1 PBKDF2 iteration), a
// private_key_jwt client ("jwt-client", the ES256 test key), token exchange of the
// issuer's own tokens, and no throttle, so that every path stays reachable.
// Properties checked besides "no crash, no leak, no exception": the status is one the
// endpoint documents (200, 400, 401, 405), never 500; every answer has Cache-Control:
// no-store, Pragma: no-cache and a JSON object body; an error body has a string
// `error` of RFC 6749 §5.2 / RFC 8693; a 200 body has a token that verifies under the
// endpoint's published key with the endpoint's issuer; 401 comes with WWW-Authenticate.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;

struct Fixture {
  std::shared_ptr<const tokenpass::TokenEndpoint> endpoint;
  std::unique_ptr<tokenpass::Verifier> issued;

  Fixture() {
    tokenpass::ClientRecord svc;
    svc.id = "svc";
    svc.secret = tokenpass::SecretHash::make("s3cret", 1);
    svc.scopes = {"a", "b"};
    svc.audiences = {"orders-api", "https://api.example/"};
    svc.grant_types = {std::string(tokenpass::kClientCredentialsGrant), std::string(tokenpass::kTokenExchangeGrant)};
    tokenpass::ClientRecord jwt_client;
    jwt_client.id = "jwt-client";
    jwt_client.assertion_keys = tokenpass::KeySet({private_key("fz-es256").public_key().value()});
    jwt_client.audiences = {"orders-api"};
    tokenpass::TokenEndpointOptions o;
    o.issuer = kIssuer;
    o.clock = fixed_clock();
    o.throttle_per_client = 0;
    o.throttle_per_address = 0;
    o.unknown_client_iterations = 1;
    tokenpass::Policy subjects = tokenpass::Policy::access_token_profile({kIssuer}, {kAudience});
    subjects.clock = fixed_clock();
    const tokenpass::Key& signing = private_key("fz-es256");
    o.subject_tokens = std::make_shared<const tokenpass::Verifier>(
        tokenpass::KeySet({signing.public_key().value()}), subjects);
    endpoint = std::make_shared<const tokenpass::TokenEndpoint>(
        signing, std::make_shared<const tokenpass::MemoryClientRegistry>(std::vector{svc, jwt_client}), o);
    tokenpass::Policy p;
    p.issuers = {kIssuer};
    p.any_audience();
    p.clock = fixed_clock();
    auto published = tokenpass::KeySet::from_public_jwks(json::parse(endpoint->jwks()));
    check(published.has_value());
    issued = std::make_unique<tokenpass::Verifier>(std::move(*published), p);
  }
};

bool has_header(const tokenpass::TokenEndpointResponse& r, std::string_view name, std::string_view value) {
  for (const auto& [k, v] : r.headers) {
    if (tokenpass::header_name_equals(k, name) && (value.empty() || v == value)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture fixture;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string_view rest = as_view(data + 1, size - 1);
  tokenpass::TokenEndpointRequest req;
  static const char* const kMethods[] = {"POST", "POST", "GET", "PUT"};
  req.method = kMethods[flags & 3];
  static const char* const kTypes[] = {"application/x-www-form-urlencoded",
                                       "application/x-www-form-urlencoded; charset=UTF-8", "text/plain", nullptr};
  if (const char* type = kTypes[(flags >> 2) & 3]) req.headers.emplace_back("Content-Type", type);
  if (const std::size_t nul = rest.find('\0'); nul != std::string_view::npos) {
    req.headers.emplace_back("Authorization", std::string(rest.substr(0, nul)));
    if (flags & 16) req.headers.emplace_back("authorization", std::string(rest.substr(0, nul)));
    rest.remove_prefix(nul + 1);
  }
  req.body = std::string(rest);
  req.remote_address = "127.0.0.1";

  const tokenpass::TokenEndpointResponse res = fixture.endpoint->handle(req);
  check(res.status == 200 || res.status == 400 || res.status == 401 || res.status == 405);
  check(has_header(res, "Cache-Control", "no-store") && has_header(res, "Pragma", "no-cache"));
  const json body = json::parse(res.body, nullptr, false);
  check(body.is_object());
  if (res.status == 200) {
    check(body.contains("access_token") && body["access_token"].is_string());
    check(fixture.issued->verify(body["access_token"].get<std::string>()).has_value());
  } else {
    check(body.contains("error") && body["error"].is_string());
    const std::string error = body["error"].get<std::string>();
    check(error == "invalid_request" || error == "invalid_client" || error == "invalid_grant" ||
          error == "unauthorized_client" || error == "unsupported_grant_type" || error == "invalid_scope" ||
          error == "invalid_target");
    if (res.status == 401) check(has_header(res, "WWW-Authenticate", ""));
  }
  return 0;
}

// Fuzz target: token endpoint responses (RFC 6749 §5.1/§5.2, RFC 8693 §2.2) as
// `ClientCredentials::token` and `TokenExchange::exchange` read them, through an
// in-process HttpClient that answers with the fuzz input, and `form_decode`.
// Input: one flag byte, then the response body.
//   bits 0-1  HTTP status: 200, 400, 401, 503
//   bit 2     TokenExchange instead of ClientCredentials
//   bit 3     client_secret_post and RFC 8707 `resource` instead of Basic and `audience`
//   bit 4     the client does not enforce max_response_bytes (the library's own limit)
// Properties checked besides "no crash, no leak, no exception": an accepted token has
// an access_token, a token_type and an expiry within the bounds the library sets; an
// accepted token that is still valid is served again from the cache without a second
// request; a failure backs off (no second request); form_decode's result survives
// form_encode and form_decode unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;

class CountingClient final : public tokenpass::HttpClient {
 public:
  CountingClient(int status, std::string body, bool honour_limit)
      : inner_(status, std::move(body), {}, honour_limit) {}
  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest& req) override {
    ++requests;
    check(req.method == "POST");
    return inner_.send(req);
  }
  int requests = 0;

 private:
  FixedClient inner_;
};

// subject: a verified token for TokenExchange, expiring 600 s after kNow.
const tokenpass::VerifiedToken& subject() {
  static const tokenpass::VerifiedToken token = [] {
    tokenpass::Policy p;
    p.issuers = {kIssuer};
    p.audiences = {kAudience};
    p.clock = fixed_clock();
    const tokenpass::Verifier v(tokenpass::KeySet(std::vector<tokenpass::Key>{private_key("fz-hs256")}), p);
    const json claims = {{"iss", kIssuer}, {"aud", kAudience}, {"sub", "user-1"}, {"exp", kNow + 600}};
    return v.verify(tokenpass::sign_jws(private_key("fz-hs256"), claims.dump()).value()).value();
  }();
  return token;
}

void check_form(std::string_view body) {
  const auto fields = tokenpass::form_decode(body);
  if (!fields) {
    check(fields.error().code == tokenpass::errc::malformed);
    return;
  }
  const auto again = tokenpass::form_decode(tokenpass::form_encode(*fields));
  check(again.has_value() && *again == *fields);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const std::string body(as_view(data + 1, size - 1));
  static constexpr int kStatus[] = {200, 400, 401, 503};
  auto http = std::make_shared<CountingClient>(kStatus[flags & 3], body, (flags & 16) == 0);

  tokenpass::ClientCredentialsOptions opt;
  opt.token_endpoint = std::string(kIssuer) + "/token";
  opt.client_id = "billing";
  opt.client_secret = "billing-secret";
  opt.clock = fixed_clock();
  opt.max_response_bytes = 4096;
  if ((flags & 8) != 0) {
    opt.auth = tokenpass::ClientAuth::client_secret_post;
    opt.resource_parameter = true;
  }
  const bool exchange = (flags & 4) != 0;
  const auto now = fixed_clock()();

  tokenpass::Result<tokenpass::AccessToken> first = tokenpass::make_error(tokenpass::errc::http_error, "not asked");
  tokenpass::Result<tokenpass::AccessToken> second = first;
  if (exchange) {
    tokenpass::TokenExchange client(opt, http);
    first = client.exchange(subject(), kAudience, {"orders:read"});
    second = client.exchange(subject(), kAudience, {"orders:read"});
  } else {
    tokenpass::ClientCredentials client(opt, http);
    first = client.token(kAudience, {"orders:read"});
    second = client.token(kAudience, {"orders:read"});
  }
  check(http->requests == 1);
  if (body.size() > opt.max_response_bytes) check(!first.has_value());
  if (first) {
    check(kStatus[flags & 3] == 200);
    check(!first->access_token.empty());
    check(first->expires_at >= now && first->expires_at <= now + std::chrono::seconds(1000000000));
    // Served again from the cache while valid; otherwise the same request is not
    // repeated (the second caller sees the back-off or the cached token).
    if (first->expires_at > now) {
      check(second.has_value() && second->access_token == first->access_token);
    }
  } else {
    // A refusal (RFC 6749 §5.2 error code) only comes with a 400 or 401.
    const int status = kStatus[flags & 3];
    check(first.error().code == tokenpass::errc::http_error ||
          (first.error().code == tokenpass::errc::token_request_refused &&
           (status == 400 || status == 401)));
    check(!second.has_value());
  }
  check_form(body);
  return 0;
}

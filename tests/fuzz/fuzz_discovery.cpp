// Fuzz target: OpenID Connect discovery / RFC 8414 metadata as `RemoteJwks::from_issuer`
// reads it, through an in-process HttpClient that answers with the fuzz input. Input:
// one flag byte (bit 0: allow_http; bit 1: the OpenID Connect document is missing, so
// the RFC 8414 one is read; bit 2: the issuer has a path), then the response body.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fuzz_support.h"

namespace {

using namespace tokenpass_fuzz;

// First request: 404 when asked to; every other: 200 with the body.
class MetadataClient final : public tokenpass::HttpClient {
 public:
  MetadataClient(std::string body, bool first_missing)
      : body_(std::move(body)), first_missing_(first_missing) {}
  tokenpass::Result<tokenpass::HttpResponse> send(const tokenpass::HttpRequest& req) override {
    check(tokenpass::parse_url(req.url).has_value());
    tokenpass::HttpResponse res;
    res.status = (first_missing_ && calls_++ == 0) ? 404 : 200;
    if (res.status == 200) {
      if (body_.size() > req.max_response_bytes) {
        return tokenpass::make_error(tokenpass::errc::http_error, "body over the limit");
      }
      res.body = body_;
    }
    return res;
  }

 private:
  std::string body_;
  bool first_missing_;
  int calls_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  auto http = std::make_shared<MetadataClient>(std::string(as_view(data + 1, size - 1)),
                                               (flags & 2) != 0);
  tokenpass::RemoteJwksOptions opt;
  opt.allow_http = (flags & 1) != 0;
  const std::string issuer = (flags & 4) != 0 ? std::string(kIssuer) + "/tenant/a" : kIssuer;
  const auto jwks = tokenpass::RemoteJwks::from_issuer(issuer, opt, http);
  if (jwks) {
    // The document was accepted: its jwks_uri is an absolute http(s) URL, https unless
    // allowed. No fetch is made (no prefetch).
    const auto url = tokenpass::parse_url((*jwks)->url());
    check(url.has_value() && (url->scheme == "https" || opt.allow_http));
  }
  return 0;
}

// dpop_client: a client with a DPoP key (RFC 9449), against the demo shop.
//
//   dpop_client ISSUER RESOURCE_URL CLIENT_ID CLIENT_SECRET [--tls CA CERT KEY]
//
// Gets a DPoP-bound token from ISSUER's token endpoint (client credentials, audience
// product, scope product:read; the proof binds the token to this program's key) and
// calls RESOURCE_URL with it (`Authorization: DPoP <token>` and a proof for exactly that
// request). Then shows what someone who copied the request gets: the same proof again,
// the token as a Bearer token, the token with a proof of another key. With --tls, the
// shop's CA is trusted and CERT/KEY is presented to servers that ask (mTLS). Exit 0 when
// every answer is the expected one; each line says what came back.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

int failures = 0;

// call GETs `url` with `headers` and prints the answer; `expect` is the status it should be.
void call(tokenpass::HttpClient& http, const std::string& what, const std::string& url,
          const tokenpass::HttpHeaders& headers, int expect) {
  tokenpass::HttpRequest req;
  req.method = "GET";
  req.url = url;
  req.headers = headers;
  auto res = http.send(req);
  std::printf("-- %s\n", what.c_str());
  if (!res) {
    std::printf("   UNEXPECTED: no answer: %s\n", res.error().detail.c_str());
    ++failures;
    return;
  }
  std::printf("   HTTP %d %s\n", res->status, res->body.c_str());
  for (const auto& [k, v] : res->headers) {
    if (tokenpass::header_name_equals(k, "WWW-Authenticate")) std::printf("   WWW-Authenticate: %s\n", v.c_str());
  }
  if (res->status != expect) {
    std::printf("   UNEXPECTED: wanted HTTP %d\n", expect);
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 9) {
    std::fprintf(stderr, "usage: dpop_client ISSUER RESOURCE_URL CLIENT_ID CLIENT_SECRET [--tls CA CERT KEY]\n");
    return 2;
  }
  const std::string issuer = argv[1];
  const std::string url = argv[2];
  try {
    tokenpass::HttplibClientOptions plain;  // to the token service: no certificate
    tokenpass::HttplibClientOptions mtls;   // to the resource: ours, if it asks
    if (argc == 9) {
      plain.ca_cert_file = mtls.ca_cert_file = argv[6];
      mtls.client_cert_file = argv[7];
      mtls.client_key_file = argv[8];
    }
    auto to_issuer = std::make_shared<tokenpass::HttplibClient>(plain);
    tokenpass::HttplibClient to_resource(mtls);
    const bool allow_http = issuer.rfind("http://", 0) == 0;

    auto endpoint = tokenpass::discover_token_endpoint(issuer, *to_issuer, false, allow_http);
    if (!endpoint) {
      std::printf("UNEXPECTED: no token endpoint: %s\n", endpoint.error().detail.c_str());
      return 1;
    }
    // The DPoP key lives as long as the tokens it holds: here, the program.
    auto signer = std::make_shared<tokenpass::DpopSigner>(tokenpass::Key::generate(tokenpass::Alg::ES256));
    tokenpass::ClientCredentialsOptions o;
    o.token_endpoint = *endpoint;
    o.client_id = argv[3];
    o.client_secret = argv[4];
    o.allow_http = allow_http;
    o.dpop = signer;
    auto credentials = std::make_shared<tokenpass::ClientCredentials>(o, to_issuer);
    auto token = credentials->token("product", {"product:read"});
    if (!token) {
      std::printf("UNEXPECTED: no token: %s: %s\n", std::string(tokenpass::to_string(token.error().code)).c_str(),
                  token.error().detail.c_str());
      return 1;
    }
    // Only to show it: what the token says (decoded without verifying; the resource verifies).
    const auto decoded = tokenpass::decode_unverified(token->access_token);
    const nlohmann::json payload =
        decoded && decoded->payload_json() ? *decoded->payload_json() : nlohmann::json::object();
    const std::string cnf = payload.contains("cnf") ? payload["cnf"].dump() : "none";
    std::printf("-- token_type %s, cnf %s (this program's key: jkt %s)\n", token->token_type.c_str(), cnf.c_str(),
                signer->jkt().c_str());

    // Outbound makes the headers: the token in the DPoP scheme and a proof for this call.
    auto outbound = tokenpass::Outbound::service_token(credentials);
    outbound.allow("product", {"product", {"product:read"}});
    auto headers = outbound.headers_for("product", nullptr, tokenpass::RequestTarget{"GET", url});
    if (!headers) {
      std::printf("UNEXPECTED: no headers: %s\n", headers.error().detail.c_str());
      return 1;
    }
    call(to_resource, "GET " + url + " with the token and a proof for this request", url, *headers, 200);
    call(to_resource, "the same request again, proof and all (a replay)", url, *headers, 401);
    call(to_resource, "the token alone, as a Bearer token", url, {{"Authorization", "Bearer " + token->access_token}},
         401);
    tokenpass::DpopSigner thief(tokenpass::Key::generate(tokenpass::Alg::ES256));
    call(to_resource, "the token with a fresh proof signed by another key", url,
         {{"Authorization", "DPoP " + token->access_token},
          {"DPoP", thief.proof("GET", url, token->access_token).value()}},
         401);
  } catch (const std::exception& e) {
    std::printf("UNEXPECTED: %s\n", e.what());
    return 1;
  }
  return failures == 0 ? 0 : 1;
}

// Issues a token and verifies it through the installed package only.
#include <tokenpass/tokenpass.h>
#ifdef CONSUMER_WITH_GRPC
#include <tokenpass/adapters/grpc.h>
#endif

#include <cstdio>
#include <string>

int main() {
  const tokenpass::Key key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(key, "https://auth.example.com", std::chrono::minutes{5}, io);
  auto token = issuer.issue(tokenpass::ClaimsBuilder().subject("user-1"));
  if (!token) return 1;

  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), policy);
  auto verified = verifier.verify(*token);
  if (!verified || verified->claims().subject() != "user-1") return 2;
  auto tampered = verifier.verify(*token + "A");  // one more signature character
  if (tampered) return 3;
  const char* with = "";
#ifdef CONSUMER_WITH_GRPC
  // tokenpass::grpc links and maps a refusal as documented.
  if (tokenpass::grpc_status(tampered.error()).error_code() != grpc::StatusCode::UNAUTHENTICATED) return 4;
  with = ", with tokenpass::grpc";
#endif
  std::printf("consumer: ok (tokenpass %s, %s%s)\n", TOKENPASS_VERSION_STRING,
              std::string(tokenpass::to_string(verified->alg())).c_str(), with);
  return 0;
}

// token_service: the demo's token service: the library's token endpoint
// (tokenpass::TokenEndpoint) configured from a file, plus the shop's own login. Users log
// in with a password (POST /login), services get their own tokens with the client
// credentials grant and trade users' tokens with RFC 8693 token exchange (POST /token);
// the public keys are at /.well-known/jwks.json and the RFC 8414 metadata at
// /.well-known/oauth-authorization-server (and /.well-known/openid-configuration).
//   token_service [CONFIG.json] [PORT]     (defaults: examples/token_service.json, a free port)
// Prints "listening URL" and serves until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "services/services.h"

#ifndef TOKENPASS_EXAMPLES_DIR
#define TOKENPASS_EXAMPLES_DIR "examples"
#endif

int main(int argc, char** argv) {
  const std::string config_path = argc > 1 ? argv[1] : TOKENPASS_EXAMPLES_DIR "/token_service.json";
  const int port = argc > 2 ? std::stoi(argv[2]) : 0;
  std::ifstream in(config_path);
  if (!in) {
    std::fprintf(stderr, "token_service: cannot read %s\n", config_path.c_str());
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  auto config = shop::TokenServiceConfig::from_json(nlohmann::json::parse(in));
  // A fresh signing key per run; a real service loads its key (Key::from_jwk / from_pem).
  shop::TokenService service(std::move(config), tokenpass::Key::generate(tokenpass::Alg::ES256));
  service.set_log([](const std::string& line) { std::cout << line << std::endl; });
  if (!service.start(port)) {
    std::fprintf(stderr, "token_service: cannot listen on port %d\n", port);
    return 2;
  }
  std::cout << "listening " << service.url() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  service.stop();
  return 0;
}

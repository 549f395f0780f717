// token_service: the demo's token service: the library's token endpoint
// (tokenpass::TokenEndpoint) configured from a file, plus the shop's own login. Users log
// in with a password (POST /login), services get their own tokens with the client
// credentials grant and trade users' tokens with RFC 8693 token exchange (POST /token);
// the public keys are at /.well-known/jwks.json and the RFC 8414 metadata at
// /.well-known/oauth-authorization-server (and /.well-known/openid-configuration).
//   token_service [CONFIG.json] [PORT] [--key FILE]
//                              (defaults: examples/token_service.json, a free port)
// Prints "listening URL" and serves until SIGINT or SIGTERM; /metrics has its counters.
// With --key FILE, the signing key is read from FILE (a private JWK), or made and
// written there when FILE does not exist, so that a restarted service signs with the
// key it had (tokens issued before still verify). On SIGHUP it rotates: a new key signs
// from then on, the previous one stays in the JWKS, and FILE gets the new key.
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "services/services.h"

#ifndef TOKENPASS_EXAMPLES_DIR
#define TOKENPASS_EXAMPLES_DIR "examples"
#endif

namespace {

// save_key writes `key` as a private JWK to `path`, readable by its owner only.
void save_key(const std::string& path, const tokenpass::Key& key) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << key.to_private_jwk().dump() << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
}

tokenpass::Key load_or_make_key(const std::string& path) {
  if (!path.empty()) {
    std::ifstream in(path);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      auto key = tokenpass::Key::from_jwk(text.str());
      if (!key) throw std::runtime_error(path + ": " + key.error().detail);
      return *key;
    }
  }
  // A fresh signing key; kept in `path` when one is given.
  auto key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  if (!path.empty()) save_key(path, key);
  return key;
}

}  // namespace

int main(int argc_in, char** argv_in) {
  std::vector<std::string> positional;
  std::string key_path;
  for (int i = 1; i < argc_in; ++i) {
    const std::string a = argv_in[i];
    if (a == "--key" && i + 1 < argc_in) {
      key_path = argv_in[++i];
    } else {
      positional.push_back(a);
    }
  }
  const std::string config_path = !positional.empty() ? positional[0] : TOKENPASS_EXAMPLES_DIR "/token_service.json";
  const int port = positional.size() > 1 ? std::stoi(positional[1]) : 0;
  std::ifstream in(config_path);
  if (!in) {
    std::fprintf(stderr, "token_service: cannot read %s\n", config_path.c_str());
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  auto config = shop::TokenServiceConfig::from_json(nlohmann::json::parse(in));
  std::unique_ptr<shop::TokenService> service;
  try {
    service = std::make_unique<shop::TokenService>(std::move(config), load_or_make_key(key_path));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "token_service: %s\n", e.what());
    return 2;
  }
  service->set_log([](const std::string& line) { std::cout << line << std::endl; });
  if (!service->start(port)) {
    std::fprintf(stderr, "token_service: cannot listen on port %d\n", port);
    return 2;
  }
  std::cout << "listening " << service->url() << std::endl;
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    try {
      auto next = tokenpass::Key::generate(tokenpass::Alg::ES256);
      if (!key_path.empty()) save_key(key_path, next);
      service->rotate_key(std::move(next));
    } catch (const std::exception& e) {
      std::cerr << "token_service: rotation failed: " << e.what() << std::endl;
    }
  }
  service->stop();
  return 0;
}

// shop_service: one of the demo's resource services, all trusting the token service.
//   shop_service gateway ISSUER_URL BILLING_URL [PORT]
//   shop_service billing ISSUER_URL PRODUCT_URL [PORT]   (client id/secret: billing/billing-secret)
//   shop_service product ISSUER_URL [PORT]
// Prints "listening URL" and serves until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "services/services.h"

int main(int argc, char** argv) {
  const std::string role = argc > 1 ? argv[1] : "";
  const int needed = role == "product" ? 3 : 4;
  if ((role != "gateway" && role != "billing" && role != "product") || argc < needed) {
    std::fprintf(stderr,
                 "usage: shop_service gateway ISSUER BILLING_URL [PORT]\n"
                 "       shop_service billing ISSUER PRODUCT_URL [PORT]\n"
                 "       shop_service product ISSUER [PORT]\n");
    return 2;
  }
  const int port = argc > needed ? std::stoi(argv[needed]) : 0;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<shop::Server> server;
  try {
    const shop::Trust trust = shop::Trust::connect(argv[2]);
    if (role == "gateway") server = std::make_unique<shop::Gateway>(trust, argv[3]);
    if (role == "billing") server = std::make_unique<shop::Billing>(trust, argv[3], "billing", "billing-secret");
    if (role == "product") server = std::make_unique<shop::Product>(trust);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shop_service %s: %s\n", role.c_str(), e.what());
    return 2;
  }
  server->set_log([](const std::string& line) { std::cout << line << std::endl; });
  if (!server->start(port)) {
    std::fprintf(stderr, "shop_service %s: cannot listen on port %d\n", role.c_str(), port);
    return 2;
  }
  std::cout << "listening " << server->url() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server->stop();
  return 0;
}

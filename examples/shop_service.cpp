// shop_service: one of the demo's resource services, all trusting the token service.
//   shop_service gateway ISSUER_URL BILLING_URL [PORT]
//   shop_service billing ISSUER_URL PRODUCT_URL [PORT] [--fresh-service-tokens]
//                                       (client id/secret: billing/billing-secret)
//   shop_service product ISSUER_URL [PORT] [--replay-store redis://HOST:PORT]
//                                       [--behind-proxy RANGE]
//   shop_service product ... [--grpc-port PORT]   (also serves shop.v1.Products over gRPC)
//   shop_service billing ... [--product-grpc HOST:PORT]  (reserves at product over gRPC)
//   any of them [--tls DIR] [--jwks-max-ttl SECONDS]
// Prints "listening URL" and serves until SIGINT or SIGTERM. With --replay-store, every
// product replica given the same Redis accepts each service token once; billing then
// needs --fresh-service-tokens (a new token for every call). With --tls DIR, the service
// runs on mTLS with DIR/ca.pem, DIR/ROLE.pem and DIR/ROLE.key (scripts/demo.sh makes
// them): HTTPS, callers' certificates from that CA (the gateway's users need none), its
// own calls with its certificate, and service tokens bound to it (RFC 8705).
// With --behind-proxy RANGE (product), it serves plain HTTP behind a TLS-terminating
// proxy that connects from RANGE and forwards the client certificate (nginx's
// $ssl_client_escaped_cert in X-SSL-Client-Cert); its own calls still use --tls.
// With --jwks-max-ttl, the token service's keys count as fresh for at most that long
// (scripts/load.sh: refreshed every few seconds, served stale while it is down).
// Every service serves its counters at GET /metrics (Prometheus text format).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "services/services.h"
#ifdef TOKENPASS_SHOP_HAS_GRPC
#include "services/grpc_hop.h"
#endif
#ifdef TOKENPASS_SHOP_HAS_REDIS
#include "tokenpass/adapters/redis.h"
#endif

int main(int argc_in, char** argv_in) {
  // Options first out of the way; the rest are positional.
  std::vector<char*> positional;
  bool fresh = false;
  std::string replay_store;
  std::string tls_dir;
  std::string behind_proxy;
  std::chrono::seconds jwks_max_ttl{0};
  int grpc_port = -1;
  std::string product_grpc;
  for (int i = 0; i < argc_in; ++i) {
    const std::string a = argv_in[i];
    if (a == "--fresh-service-tokens") {
      fresh = true;
    } else if (a == "--tls" && i + 1 < argc_in) {
      tls_dir = argv_in[++i];
    } else if (a == "--behind-proxy" && i + 1 < argc_in) {
      behind_proxy = argv_in[++i];
    } else if (a == "--replay-store" && i + 1 < argc_in) {
      replay_store = argv_in[++i];
    } else if (a == "--grpc-port" && i + 1 < argc_in) {
      grpc_port = std::stoi(argv_in[++i]);
    } else if (a == "--product-grpc" && i + 1 < argc_in) {
      product_grpc = argv_in[++i];
    } else if (a == "--jwks-max-ttl" && i + 1 < argc_in) {
      jwks_max_ttl = std::chrono::seconds(std::stoi(argv_in[++i]));
    } else {
      positional.push_back(argv_in[i]);
    }
  }
  const int argc = static_cast<int>(positional.size());
  char** argv = positional.data();
  const std::string role = argc > 1 ? argv[1] : "";
  const int needed = role == "product" ? 3 : 4;
  if ((role != "gateway" && role != "billing" && role != "product") || argc < needed) {
    std::fprintf(stderr,
                 "usage: shop_service gateway ISSUER BILLING_URL [PORT]\n"
                 "       shop_service billing ISSUER PRODUCT_URL [PORT]\n"
                 "       shop_service product ISSUER [PORT]\n"
                 "  options: --tls DIR, --fresh-service-tokens (billing), --replay-store URL and\n"
                 "           --behind-proxy RANGE (product), --jwks-max-ttl SECONDS,\n"
                 "           --grpc-port PORT (product), --product-grpc HOST:PORT (billing)\n");
    return 2;
  }
  const int port = argc > needed ? std::stoi(argv[needed]) : 0;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<shop::Server> server;
  const auto print = [](const std::string& line) { std::cout << line << std::endl; };
#ifdef TOKENPASS_SHOP_HAS_GRPC
  std::unique_ptr<shop::ProductGrpc> grpc_server;
#endif
  try {
    const shop::Trust trust =
        shop::Trust::connect(argv[2], tls_dir.empty() ? shop::Tls{} : shop::Tls::in(tls_dir, role), jwks_max_ttl);
    if (role == "gateway") server = std::make_unique<shop::Gateway>(trust, argv[3]);
    if (role == "billing") {
      shop::ProductCall over_grpc;
      if (!product_grpc.empty()) {
#ifdef TOKENPASS_SHOP_HAS_GRPC
        over_grpc = shop::grpc_reserve(trust, product_grpc);
#else
        throw std::runtime_error("--product-grpc: built without tokenpass::grpc");
#endif
      }
      server = std::make_unique<shop::Billing>(trust, argv[3], "billing", "billing-secret", fresh, over_grpc);
    }
    if (role == "product") {
      std::shared_ptr<const tokenpass::ReplayStore> store;
      if (!replay_store.empty()) {
#ifdef TOKENPASS_SHOP_HAS_REDIS
        auto options = tokenpass::RedisReplayStoreOptions::from_url(replay_store);
        if (!options) throw std::runtime_error("--replay-store: " + options.error().detail);
        auto redis = tokenpass::RedisReplayStore::connect(*options);
        if (!redis) throw std::runtime_error("--replay-store: " + redis.error().detail);
        store = *redis;
#else
        throw std::runtime_error("--replay-store: built without tokenpass::redis");
#endif
      }
      server = std::make_unique<shop::Product>(trust, store, behind_proxy);
      if (grpc_port >= 0) {
#ifdef TOKENPASS_SHOP_HAS_GRPC
        grpc_server = std::make_unique<shop::ProductGrpc>(trust, store, grpc_port, print);
        std::cout << "grpc listening " << grpc_server->address() << std::endl;
#else
        throw std::runtime_error("--grpc-port: built without tokenpass::grpc");
#endif
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shop_service %s: %s\n", role.c_str(), e.what());
    return 2;
  }
  server->set_log(print);
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

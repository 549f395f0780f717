// The demo shop's gRPC hop (examples/proto/shop.proto): product serves
// shop.v1.Products/Reserve beside its HTTP API, with the same two tokens as
// POST /reserve, and billing can reserve through it (tokenpass::grpc on both ends).
//
//   billing --shop.v1.Products/Reserve (authorization: Bearer <user>, x-ms-token: <billing's>)--> product
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "services/services.h"

namespace shop {

// ProductGrpc: product's gRPC server on 127.0.0.1:`port` (0: a free one). With
// `trust.tls`, TLS with client certificates from the shop's CA required and verified
// (service tokens bound to billing's certificate are checked against it); else
// plaintext. Reserve needs the user's token (audience product) and billing's service
// token (x-ms-token, scope product:reserve), each service token once with a replay
// store. Throws std::runtime_error when it cannot listen.
class ProductGrpc {
 public:
  ProductGrpc(const Trust& trust, std::shared_ptr<const tokenpass::ReplayStore> replay_store, int port,
              std::function<void(const std::string&)> log);
  ~ProductGrpc();
  ProductGrpc(const ProductGrpc&) = delete;
  ProductGrpc& operator=(const ProductGrpc&) = delete;
  // address: "127.0.0.1:PORT".
  std::string address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// grpc_reserve: a ProductCall for Billing that calls Reserve at `address` with the
// caller's token and billing's own (tokenpass::call_credentials): over TLS with this
// service's certificate when `trust.tls` is on, else over plaintext (allowed
// explicitly: the demo's loopback).
ProductCall grpc_reserve(const Trust& trust, const std::string& address);

}  // namespace shop

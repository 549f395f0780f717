// Certificate-bound tokens (RFC 8705) measured beside plain verify, in one run: ES256
// verify of an unbound token, of a bound token with its certificate presented
// (Verifier::verify(token, presented): the `cnf` read and the thumbprint compared), and
// the raw OpenSSL floor (the ECDSA verify alone, floor.h). Rounds alternate so that
// machine noise hits all alike; the medians are printed with the ratios and the binding
// check's own cost (bound minus unbound, per verify). Also the once-per-connection work
// of an mTLS server: reading the client certificate and hashing it
// (PeerCertificate::from_der, done by peer_certificate once per connection).
//   tokenpass_binding_bench CERT.pem [--rounds=15] [--time=0.2]
// scripts/binding_bench.sh builds and runs it with tests/data/tls/client_billing.pem.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "floor.h"
#include "tokenpass/tokenpass.h"

namespace {

using Clock = std::chrono::steady_clock;

// rate: calls of `op` per second over `seconds`.
double rate(const char* what, const std::function<bool()>& op, double seconds) {
  std::uint64_t n = 0;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    for (int i = 0; i < 64; ++i) {
      if (!op()) throw std::runtime_error(std::string("binding_bench: failed: ") + what);
    }
    n += 64;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tokenpass_binding_bench CERT.pem [--rounds=N] [--time=SECONDS]\n");
    return 2;
  }
  int rounds = 15;
  double seconds = 0.2;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--rounds=", 0) == 0) rounds = std::stoi(a.substr(9));
    if (a.rfind("--time=", 0) == 0) seconds = std::stod(a.substr(7));
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  auto cert = tokenpass::PeerCertificate::from_pem(pem);
  if (!cert) {
    std::fprintf(stderr, "binding_bench: %s: %s\n", argv[1], cert.error().detail.c_str());
    return 2;
  }
  // The certificate's DER, as a TLS stack hands it over.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  unsigned char* der_bytes = nullptr;
  const int der_len = i2d_X509(x509.get(), &der_bytes);
  const std::string der(reinterpret_cast<char*>(der_bytes), static_cast<std::size_t>(der_len));
  OPENSSL_free(der_bytes);

  const auto key = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::Issuer issuer(key, "https://issuer", std::chrono::minutes(10));
  tokenpass::ClaimsBuilder c;
  c.subject("billing").audience("product").client_id("billing").scopes({"product:reserve"});
  const std::string unbound = issuer.issue(c).value();
  tokenpass::bind_to_certificate(c, cert->thumbprint);
  const std::string bound = issuer.issue(c).value();
  tokenpass::Policy p;
  p.issuers = {"https://issuer"};
  p.audiences = {"product"};
  const tokenpass::Verifier verifier(tokenpass::KeySet({key.public_key().value()}), p);
  tokenpass::Presented presented;
  presented.certificate_thumbprint = cert->thumbprint;

  EVP_PKEY* pub = tokenpass_bench::pkey_from_pem(key.public_key().value().to_public_pem(), false);
  const std::string input = bound.substr(0, bound.rfind('.'));
  const std::string sig = tokenpass_bench::b64url_decode(bound.substr(bound.rfind('.') + 1));
  tokenpass_bench::Floor floor(tokenpass::Alg::ES256, pub, {}, false, input, sig);

  if (!verifier.verify(unbound) || !verifier.verify(bound, presented) || !floor.once() ||
      !tokenpass::PeerCertificate::from_der(der)) {
    std::fprintf(stderr, "binding_bench: the set-up does not work\n");
    return 1;
  }
  std::vector<double> plain, with_binding, raw, per_connection;
  for (int r = 0; r < rounds; ++r) {
    plain.push_back(rate("unbound", [&] { return verifier.verify(unbound).has_value(); }, seconds));
    with_binding.push_back(rate("bound", [&] { return verifier.verify(bound, presented).has_value(); }, seconds));
    raw.push_back(rate("floor", [&] { return floor.once(); }, seconds));
    per_connection.push_back(rate("from_der", [&] { return tokenpass::PeerCertificate::from_der(der).has_value(); }, seconds / 4));
  }
  const double p_ops = median(plain), b_ops = median(with_binding), f_ops = median(raw);
  std::printf("binding: ES256 verify, 1 thread, %d rounds of %.2f s (medians)\n", rounds, seconds);
  std::printf("  unbound token           %10.0f verifies/s  %.3f of the OpenSSL floor (%0.f/s)\n", p_ops,
              p_ops / f_ops, f_ops);
  std::printf("  bound token, presented  %10.0f verifies/s  %.3f of the OpenSSL floor, %.3f of unbound\n", b_ops,
              b_ops / f_ops, b_ops / p_ops);
  std::printf("  binding check           %10.0f ns per verify (bound minus unbound)\n", 1e9 / b_ops - 1e9 / p_ops);
  std::printf("  per connection          %10.0f ns to read and hash the client certificate (once)\n",
              1e9 / median(per_connection));
  EVP_PKEY_free(pub);
  return 0;
}

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.h"
#include "support/test_support.h"

using namespace std::chrono_literals;
using tokenpass::Alg;

// Several threads issue and verify at once with one shared Issuer and Verifier per
// algorithm. Run under ThreadSanitizer with scripts/test.sh --tsan.
TEST_CASE("issuers and verifiers are shared safely across threads", "[verifier][issuer][threads]") {
  const std::vector<Alg> algs = {Alg::HS256, Alg::RS256, Alg::ES256, Alg::EdDSA};
  std::vector<tokenpass::Key> keys;
  for (const Alg a : algs) keys.push_back(tp_test::key_for(a));
  std::vector<tokenpass::Key> pubs;
  for (const auto& k : keys) pubs.push_back(k.is_symmetric() ? k : k.public_key().value());

  tokenpass::IssuerOptions io;
  io.audience = {"api"};
  std::vector<tokenpass::Issuer> issuers;
  for (const auto& k : keys) issuers.emplace_back(k, "iss", 5min, io);
  tokenpass::Policy policy;
  policy.issuers = {"iss"};
  policy.audiences = {"api"};
  const tokenpass::Verifier verifier(tokenpass::KeySet(pubs), policy);
  const std::string foreign = tokenpass::Issuer(tokenpass::Key::generate(Alg::ES256), "iss", 5min, io)
                                  .issue(tokenpass::ClaimsBuilder())
                                  .value();

  std::atomic<int> ok{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 4;
  constexpr int kRounds = 40;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const auto& issuer = issuers[static_cast<std::size_t>(i + t) % issuers.size()];
        const auto token = issuer.issue(tokenpass::ClaimsBuilder().subject(std::to_string(i)));
        const auto r = token ? verifier.verify(*token) : tokenpass::Result<tokenpass::VerifiedToken>(token.error());
        if (r && r->claims().subject() == std::to_string(i)) {
          ++ok;
        } else {
          ++wrong;
        }
        const auto bad = verifier.verify(foreign);
        if (bad || bad.error().code != tokenpass::errc::key_not_found) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == kThreads * kRounds);
  CHECK(wrong == 0);
}

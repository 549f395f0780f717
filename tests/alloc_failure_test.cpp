// Memory runs out inside verify and sign: every allocation (C++ and OpenSSL) on the way
// is made to fail in turn, one per run. Whatever fails, the answer is the token's true
// verdict or internal_error (500): never malformed, bad_signature or another code that
// blames the client (issue 13 item 6), never an exception, never a crash.
//
// Its own program (no Catch2): OpenSSL's allocator can only be replaced before OpenSSL's
// first allocation, and the global operator new is replaced for the whole program.
#include <openssl/crypto.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "tokenpass/tokenpass.h"

namespace {

// The countdown: < 0 never fails; 0 fails the next allocation (and only that one).
long g_countdown = -1;
long g_injected = 0;

bool fail_now() {
  if (g_countdown < 0) return false;
  if (g_countdown-- > 0) return false;
  ++g_injected;
  return true;
}

void* ossl_malloc(std::size_t n, const char*, int) { return fail_now() ? nullptr : std::malloc(n); }
void* ossl_realloc(void* p, std::size_t n, const char*, int) {
  if (n != 0 && fail_now()) return nullptr;
  return std::realloc(p, n);
}
void ossl_free(void* p, const char*, int) { std::free(p); }

int g_failed = 0;
long g_internal = 0;  // answers that were internal_error

void count(tokenpass::errc code) {
  if (code == tokenpass::errc::internal_error) ++g_internal;
}

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++g_failed;
    std::printf("FAIL %s\n", what.c_str());
  }
}

constexpr long long kNow = 1900000000;

}  // namespace

void* operator new(std::size_t n) {
  if (fail_now()) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (fail_now()) return nullptr;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

int main() {
  if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1) {
    std::printf("FAIL OpenSSL's allocator could not be replaced\n");
    return 1;
  }
  using tokenpass::Alg;
  using tokenpass::errc;
  const std::string claims = R"({"iss":"https://issuer.example","aud":"api","exp":)" +
                             std::to_string(kNow + 600) + R"(,"sub":"alice","scope":"a b"})";
  tokenpass::Policy policy;
  policy.issuers = {"https://issuer.example"};
  policy.audiences = {"api"};
  policy.required_scopes = {"a"};
  policy.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };

  long runs = 0;
  for (const Alg alg : {Alg::HS256, Alg::RS256, Alg::PS256, Alg::ES256, Alg::EdDSA}) {
    const std::string name(tokenpass::to_string(alg));
    const tokenpass::Key key = tokenpass::Key::generate(alg);
    const std::string token = tokenpass::sign_jws(key, claims).value();
    const std::string jwk = (key.is_symmetric() ? key.to_private_jwk() : key.to_public_jwk()).dump();
    const std::string private_jwk = key.to_private_jwk().dump();

    // verify: a fresh key each run, so that its OpenSSL contexts are made under the
    // failing allocator too. The first run that injects nothing ends the loop.
    for (long n = 0;; ++n, ++runs) {
      const tokenpass::Verifier verifier(
          tokenpass::KeySet({tokenpass::Key::from_jwk(std::string_view(jwk)).value()}), policy);
      const long before = g_injected;
      g_countdown = n;
      tokenpass::Result<tokenpass::VerifiedToken> r = verifier.verify(token);
      g_countdown = -1;
      const bool injected = g_injected != before;
      const errc code = r ? errc{} : r.error().code;
      count(code);
      if (!injected) {
        expect(code == errc{}, name + " verify without a failure succeeds");
        break;
      }
      expect(code == errc{} || code == errc::internal_error,
             name + " verify, allocation " + std::to_string(n) + " failing: got " +
                 std::string(tokenpass::to_string(code)));
    }
    // verify_jws, through the same prepared contexts path.
    for (long n = 0;; ++n, ++runs) {
      const tokenpass::Key fresh = tokenpass::Key::from_jwk(std::string_view(jwk)).value();
      const long before = g_injected;
      g_countdown = n;
      auto r = tokenpass::verify_jws(token, fresh);
      g_countdown = -1;
      const errc code = r ? errc{} : r.error().code;
      count(code);
      if (g_injected == before) {
        expect(code == errc{}, name + " verify_jws without a failure succeeds");
        break;
      }
      expect(code == errc{} || code == errc::internal_error,
             name + " verify_jws, allocation " + std::to_string(n) + " failing: got " +
                 std::string(tokenpass::to_string(code)));
    }
    // sign_jws with a fresh private key. The options are made outside the window: their
    // default extra_header allocates in the caller.
    const tokenpass::JwsSignOptions sign_options;
    for (long n = 0;; ++n, ++runs) {
      const tokenpass::Key fresh = tokenpass::Key::from_jwk(std::string_view(private_jwk)).value();
      const long before = g_injected;
      g_countdown = n;
      auto r = tokenpass::sign_jws(fresh, claims, sign_options);
      g_countdown = -1;
      const errc code = r ? errc{} : r.error().code;
      count(code);
      if (g_injected == before) {
        expect(code == errc{}, name + " sign without a failure succeeds");
        break;
      }
      expect(code == errc{} || code == errc::internal_error,
             name + " sign, allocation " + std::to_string(n) + " failing: got " +
                 std::string(tokenpass::to_string(code)));
      if (r) {
        // A token made under failures is still a correct one.
        expect(static_cast<bool>(tokenpass::verify_jws(*r, fresh)),
               name + " a token signed under failures verifies");
      }
    }
  }
  std::printf("%ld runs, %ld allocations failed, %ld internal_error answers, %d wrong answers\n",
              runs, g_injected, g_internal, g_failed);
  // The failures reached the library's own paths, and were reported as ours.
  return g_failed == 0 && g_injected > 0 && g_internal > 0 ? 0 : 1;
}

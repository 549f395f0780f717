// Shared helpers for the tests: data files, cached keys, tamper tools.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/tokenpass.h"

namespace tp_test {

// error_of: the code of a failed result, or errc{} for a success, so that
// `CHECK(error_of(r) == errc::x)` states the exact code expected. Catch prints an errc
// as a std::error_code ("tokenpass:5"); "tokenpass:0" means the call succeeded. (No
// StringMaker<errc> here: other test files already print errc the default way, and two
// different stringifications of one type in one program break the ODR.)
template <class T>
tokenpass::errc error_of(const tokenpass::Result<T>& r) {
  return r ? tokenpass::errc{} : r.error().code;
}

// read_data / read_data_json: a file under tests/data.
std::string read_data(const std::string& relative);
nlohmann::json read_data_json(const std::string& relative);

// key_for: a private key for `alg`, generated once per process (RSA generation is slow).
const tokenpass::Key& key_for(tokenpass::Alg alg);

// run_python: runs `script` with /usr/bin/python3 and `args`, returns its stdout
// (stderr is discarded). Arguments go straight to argv; no shell is involved.
std::string run_python(const std::string& script, const std::vector<std::string>& args);

// sample_claims: a typical ~400-byte access-token payload.
std::string sample_claims();

std::string b64(std::string_view bytes);
std::string unb64(std::string_view text);

struct Split {
  std::string header, payload, signature;  // still base64url
};
Split split(std::string_view compact);
std::string join(const Split& s);

namespace tamper {
// flip_each_signature_bit: one token per bit of the decoded signature, that bit flipped.
std::vector<std::string> flip_each_signature_bit(std::string_view compact);
// with_header: the same payload and signature under another protected header text.
std::string with_header(std::string_view compact, std::string_view header_json);
// resign_with_header: a new header, signed properly with `key` over the same payload.
std::string resign_with_header(std::string_view compact, std::string_view header_json,
                               const tokenpass::Key& key, tokenpass::Alg alg);
// resign_parts: "header_b64.payload_b64.MAC", the two parts taken as they are (even
// when they are not canonical base64url) and MACed with the HMAC `key`.
std::string resign_parts(std::string_view header_b64, std::string_view payload_b64,
                         const tokenpass::Key& key, tokenpass::Alg alg);
// with_signature: the same header and payload with these raw signature bytes.
std::string with_signature(std::string_view compact, std::string_view signature);
// set_trailing_bit: `b64` with a non-zero bit after its last full byte (so it is no
// longer canonical). `b64.size() % 4` must be 2 or 3.
std::string set_trailing_bit(std::string b64);
}  // namespace tamper

// public_of: the public half of `key` read back from its public JWK (kid and alg
// kept); an oct key is returned as it is.
tokenpass::Key public_of(const tokenpass::Key& key);
// without_alg: the same key material and kid with no pinned "alg".
tokenpass::Key without_alg(const tokenpass::Key& key);

// Key encodings made straight with OpenSSL, for the key readers to read back.
namespace ossl {
std::string sha256(std::string_view bytes);
// base64: standard base64 with padding, as "x5c" uses.
std::string base64(std::string_view bytes);
std::string spki_der(const tokenpass::Key& key);
std::string pkcs8_der(const tokenpass::Key& key);
// traditional_pem / traditional_der: "RSA PRIVATE KEY" / "EC PRIVATE KEY" forms.
std::string traditional_pem(const tokenpass::Key& key);
std::string traditional_der(const tokenpass::Key& key);
// pkcs1_public_pem: "RSA PUBLIC KEY".
std::string pkcs1_public_pem(const tokenpass::Key& key);
// self_signed_cert_der: a one-year self-signed X.509 certificate for a private key.
std::string self_signed_cert_der(const tokenpass::Key& key);
std::string cert_pem(std::string_view der);
// ecdsa_raw_to_der: R || S (equal halves) as a DER ECDSA-Sig-Value.
std::string ecdsa_raw_to_der(std::string_view raw);
// ec_order: the order n of the curve, big-endian, left-padded to `width` bytes.
std::string ec_order(tokenpass::Curve crv, std::size_t width);

// foreign_key_pems: {public PEM, private PEM} of a key tokenpass must refuse for JWS:
// "X25519", "P-224" (an EC curve JWS does not use) or "RSA-PSS" (a PSS-restricted key).
std::pair<std::string, std::string> foreign_key_pems(const std::string& kind);

// WeakRsa: a 1024-bit RSA key in the forms tokenpass must refuse.
struct WeakRsa {
  nlohmann::json public_jwk, private_jwk;
  std::string public_pem, private_pem, public_der;
};
const WeakRsa& rsa_1024();
}  // namespace ossl

// ManualClock: time that moves only when the test says so, from `start` seconds after
// the epoch; safe to read from any thread, and copies share one time.
class ManualClock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  explicit ManualClock(long long start) : secs_(std::make_shared<std::atomic<long long>>(start)) {}
  TimePoint now() const { return TimePoint(std::chrono::seconds(secs_->load())); }
  void advance(std::chrono::seconds s) { *secs_ += s.count(); }
  std::function<TimePoint()> fn() const {
    auto secs = secs_;
    return [secs] { return TimePoint(std::chrono::seconds(secs->load())); };
  }

 private:
  std::shared_ptr<std::atomic<long long>> secs_;
};

// eventually: waits until `done()` holds. The 10 s deadline only keeps a broken build
// from hanging; nothing is asserted about how long it took.
template <class Pred>
bool eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace tp_test

#include "support/test_support.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal/base64url.h"

namespace tp_test {

std::string read_data(const std::string& relative) {
  const std::string path = std::string(TOKENPASS_TEST_DATA_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test data " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_data_json(const std::string& relative) {
  return nlohmann::json::parse(read_data(relative));
}

const tokenpass::Key& key_for(tokenpass::Alg alg) {
  static std::mutex mu;
  static std::map<tokenpass::Alg, tokenpass::Key> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(alg);
  if (it == cache.end()) {
    tokenpass::GenerateOptions opts;
    opts.kid = "test-" + std::string(tokenpass::to_string(alg));
    it = cache.emplace(alg, tokenpass::Key::generate(alg, opts)).first;
  }
  return it->second;
}

std::string sample_claims() {
  return R"({"iss":"https://auth.example.com","sub":"user-4711","aud":["orders-api","billing-api"],)"
         R"("exp":4102444800,"nbf":1700000000,"iat":1700000000,"jti":"5b1f0a6e-3c2d-4e8f-9a7b-6c5d4e3f2a1b",)"
         R"("client_id":"web-frontend","scope":"orders:read orders:write billing:read profile email",)"
         R"("roles":["customer","beta"],"tenant":"acme","email":"jane@example.com","name":"Jane Doe"})";
}

std::string b64(std::string_view bytes) { return tokenpass::internal::b64url_encode(bytes); }

std::string unb64(std::string_view text) {
  std::string out;
  if (!tokenpass::internal::b64url_decode(text, out)) throw std::runtime_error("bad base64url");
  return out;
}

Split split(std::string_view compact) {
  const auto d1 = compact.find('.');
  const auto d2 = compact.find('.', d1 + 1);
  return Split{std::string(compact.substr(0, d1)), std::string(compact.substr(d1 + 1, d2 - d1 - 1)),
               std::string(compact.substr(d2 + 1))};
}

std::string join(const Split& s) { return s.header + "." + s.payload + "." + s.signature; }

namespace tamper {

std::vector<std::string> flip_each_signature_bit(std::string_view compact) {
  Split parts = split(compact);
  const std::string sig = unb64(parts.signature);
  std::vector<std::string> out;
  out.reserve(sig.size() * 8);
  for (std::size_t i = 0; i < sig.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = sig;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      parts.signature = b64(flipped);
      out.push_back(join(parts));
    }
  }
  return out;
}

std::string with_header(std::string_view compact, std::string_view header_json) {
  Split parts = split(compact);
  parts.header = b64(header_json);
  return join(parts);
}

std::string resign_with_header(std::string_view compact, std::string_view header_json,
                               const tokenpass::Key& key, tokenpass::Alg alg) {
  // sign_jws writes only headers it considers valid, so hostile headers get their MAC
  // here, straight from OpenSSL.
  if (key.type() != tokenpass::KeyType::oct) {
    throw std::invalid_argument("resign_with_header supports HMAC keys only");
  }
  Split parts = split(compact);
  parts.header = b64(header_json);
  const std::string input = parts.header + "." + parts.payload;
  const std::string secret = unb64(key.to_private_jwk()["k"].get<std::string>());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const EVP_MD* md = alg == tokenpass::Alg::HS384   ? EVP_sha384()
                     : alg == tokenpass::Alg::HS512 ? EVP_sha512()
                                                    : EVP_sha256();
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  parts.signature = b64(std::string(reinterpret_cast<char*>(mac), len));
  return join(parts);
}

}  // namespace tamper
}  // namespace tp_test

// JwksServer: a real cpp-httplib server on 127.0.0.1 (a port the kernel picks) that
// plays an issuer for the remote key set tests. What it answers can be changed at run
// time from the test thread: a JWK set with optional Cache-Control and ETag (304 for a
// matching If-None-Match), status 500, a slow answer, malformed JSON, JSON that is not
// a JWK set, a huge body, or no listener at all (connection refused). Any other path
// serves a JSON document set with `set_document` (discovery metadata), else 404.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenpass/jwk.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tp_test {

class JwksServer {
 public:
  enum class Mode {
    jwks,            // the set (304 when If-None-Match equals the ETag)
    status_500,      // 500 with a text body
    malformed_json,  // 200, a truncated JSON text
    not_jwks,        // 200, a JSON object without "keys"
    huge,            // 200, the set padded with white space to `set_huge_size` bytes
  };
  static constexpr const char* kJwksPath = "/jwks.json";
  static constexpr const char* kOpenIdPath = "/.well-known/openid-configuration";
  static constexpr const char* kOAuthPath = "/.well-known/oauth-authorization-server";

  // Starts listening; throws std::runtime_error when it cannot.
  JwksServer();
  // Stops listening, ends delayed answers at once, and joins the server thread.
  ~JwksServer();
  JwksServer(const JwksServer&) = delete;
  JwksServer& operator=(const JwksServer&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT
  std::string jwks_url() const { return url() + kJwksPath; }

  // set_keys serves the public halves of `keys`; set_jwks serves `body` as it is.
  // Both switch back to Mode::jwks.
  void set_keys(const std::vector<tokenpass::Key>& keys);
  void set_jwks(std::string body);
  void set_mode(Mode mode);
  void set_cache_control(std::string value);  // "" sends none
  void set_etag(std::string value);           // "" sends none
  void set_huge_size(std::size_t bytes);
  // set_delay: every answer first waits this long. Any change made through this
  // class (a new delay included) ends the waits under way, and so does the destructor.
  void set_delay(std::chrono::milliseconds delay);
  // set_document serves `doc` at `path`; nullopt makes it 404 again. set_raw_document
  // serves `body` as it is (any bytes), as application/json.
  void set_document(const std::string& path, std::optional<nlohmann::json> doc);
  void set_raw_document(const std::string& path, std::string body);

  // stop_listening closes the port (connections are refused); resume_listening opens
  // the same port again.
  void stop_listening();
  void resume_listening();

  // requests: requests received for `path` so far (counted on arrival).
  int requests(const std::string& path) const;
  // waiting: answers held in their delay right now.
  int waiting() const;
  // last_header: that header of the last request received ("" when absent).
  std::string last_header(const std::string& name) const;

 private:
  void start();
  void stop();
  void changed();  // under mu_: ends the delays under way
  void handle(const httplib::Request& req, httplib::Response& res);
  void answer_jwks(const httplib::Request& req, httplib::Response& res);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  Mode mode_ = Mode::jwks;
  std::string jwks_ = R"({"keys":[]})";
  std::string cache_control_;
  std::string etag_;
  std::size_t huge_size_ = 600 * 1024;
  std::chrono::milliseconds delay_{0};
  std::uint64_t changes_ = 0;
  bool stopping_ = false;
  int waiting_ = 0;
  std::map<std::string, std::string> documents_;
  std::map<std::string, int> requests_;
  std::vector<std::pair<std::string, std::string>> last_headers_;

  // Used by the owning (test) thread only.
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace tp_test

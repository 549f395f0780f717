#include "support/jwks_server.h"

#include <atomic>
#include <stdexcept>

#include <httplib.h>

#include "tokenpass/http.h"

namespace tp_test {

JwksServer::JwksServer() { start(); }

JwksServer::~JwksServer() { stop(); }

std::string JwksServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void JwksServer::start() {
  auto server = std::make_unique<httplib::Server>();
  server->Get(".*", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  if (port_ == 0) {
    port_ = server->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) {
      port_ = 0;
      throw std::runtime_error("JwksServer: cannot bind to 127.0.0.1");
    }
  } else if (!server->bind_to_port("127.0.0.1", port_)) {
    throw std::runtime_error("JwksServer: cannot bind to 127.0.0.1:" + std::to_string(port_));
  }
  // The port accepts connections from here on (the kernel queues them); the thread
  // only runs the accept loop.
  auto ended = std::make_shared<std::atomic<bool>>(false);
  server_ = std::move(server);
  thread_ = std::thread([s = server_.get(), ended] {
    s->listen_after_bind();
    *ended = true;
  });
  // cpp-httplib's stop() does nothing until the accept loop has started.
  while (!server_->is_running() && !*ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void JwksServer::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();  // after the worker threads have finished
  server_.reset();
  std::lock_guard<std::mutex> g(mu_);
  stopping_ = false;
}

void JwksServer::stop_listening() { stop(); }

void JwksServer::resume_listening() {
  if (!server_) start();
}

void JwksServer::changed() {
  ++changes_;
  cv_.notify_all();
}

void JwksServer::set_keys(const std::vector<tokenpass::Key>& keys) {
  std::vector<tokenpass::Key> pubs;
  for (const auto& k : keys) pubs.push_back(k.public_key().value());
  set_jwks(tokenpass::KeySet(std::move(pubs)).to_public_jwks().dump());
}

void JwksServer::set_jwks(std::string body) {
  std::lock_guard<std::mutex> g(mu_);
  jwks_ = std::move(body);
  mode_ = Mode::jwks;
  changed();
}

void JwksServer::set_mode(Mode mode) {
  std::lock_guard<std::mutex> g(mu_);
  mode_ = mode;
  changed();
}

void JwksServer::set_cache_control(std::string value) {
  std::lock_guard<std::mutex> g(mu_);
  cache_control_ = std::move(value);
  changed();
}

void JwksServer::set_etag(std::string value) {
  std::lock_guard<std::mutex> g(mu_);
  etag_ = std::move(value);
  changed();
}

void JwksServer::set_huge_size(std::size_t bytes) {
  std::lock_guard<std::mutex> g(mu_);
  huge_size_ = bytes;
  changed();
}

void JwksServer::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> g(mu_);
  delay_ = delay;
  changed();
}

void JwksServer::set_document(const std::string& path, std::optional<nlohmann::json> doc) {
  std::lock_guard<std::mutex> g(mu_);
  if (doc) {
    documents_[path] = doc->dump();
  } else {
    documents_.erase(path);
  }
  changed();
}

void JwksServer::set_raw_document(const std::string& path, std::string body) {
  std::lock_guard<std::mutex> g(mu_);
  documents_[path] = std::move(body);
  changed();
}

int JwksServer::requests(const std::string& path) const {
  std::lock_guard<std::mutex> g(mu_);
  const auto it = requests_.find(path);
  return it == requests_.end() ? 0 : it->second;
}

int JwksServer::waiting() const {
  std::lock_guard<std::mutex> g(mu_);
  return waiting_;
}

std::string JwksServer::last_header(const std::string& name) const {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [k, v] : last_headers_) {
    if (tokenpass::header_name_equals(k, name)) return v;
  }
  return {};
}

void JwksServer::handle(const httplib::Request& req, httplib::Response& res) {
  std::unique_lock<std::mutex> lock(mu_);
  ++requests_[req.path];
  last_headers_.assign(req.headers.begin(), req.headers.end());
  if (delay_.count() > 0) {
    const std::uint64_t seen = changes_;
    ++waiting_;
    cv_.wait_for(lock, delay_, [&] { return stopping_ || changes_ != seen; });
    --waiting_;
  }
  if (stopping_) {
    res.status = 503;
    return;
  }
  if (req.path == kJwksPath) return answer_jwks(req, res);
  const auto doc = documents_.find(req.path);
  if (doc == documents_.end()) {
    res.status = 404;
    res.set_content("not found", "text/plain");
    return;
  }
  res.set_content(doc->second, "application/json");
}

// answer_jwks runs under mu_.
void JwksServer::answer_jwks(const httplib::Request& req, httplib::Response& res) {
  switch (mode_) {
    case Mode::status_500:
      res.status = 500;
      res.set_content("internal error", "text/plain");
      return;
    case Mode::malformed_json:
      res.set_content(R"({"keys":[{"kty":"EC","crv":"P-256",)", "application/json");
      return;
    case Mode::not_jwks:
      res.set_content(R"({"issuer":"https://issuer.example","token_endpoint":"/token"})",
                      "application/json");
      return;
    case Mode::huge: {
      std::string body = jwks_;
      if (body.size() < huge_size_) body.append(huge_size_ - body.size(), ' ');
      res.set_content(body, "application/json");
      return;
    }
    case Mode::jwks:
      break;
  }
  if (!cache_control_.empty()) res.set_header("Cache-Control", cache_control_);
  if (!etag_.empty()) {
    res.set_header("ETag", etag_);
    if (req.get_header_value("If-None-Match") == etag_) {
      res.status = 304;
      return;
    }
  }
  res.set_content(jwks_, "application/json");
}

}  // namespace tp_test

// tokenpass/adapters/http_wire.h: one HTTP/1.1 exchange over a socket (TLS through
// OpenSSL), held to the limits a client of hostile peers needs: one deadline for the
// whole exchange (connect to last byte), response headers bounded in bytes and lines,
// the body bounded while it is read (a larger Content-Length is refused before any of
// it), and no header value with CR, LF or NUL written. Used by `HttplibClient`
// (<tokenpass/adapters/httplib.h>): cpp-httplib's own client bounds each read, not the
// exchange, and does not bound the number of header lines. POSIX sockets; part of the
// optional tokenpass::httplib target. Not an API of its own: names in `wire` may change.
#pragma once

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tokenpass/http.h"

namespace tokenpass::wire {

using SteadyClock = std::chrono::steady_clock;

struct Limits {
  std::size_t max_header_bytes = 64 * 1024;  // status line and headers together
  std::size_t max_header_lines = 100;
  std::size_t max_body_bytes = 1024 * 1024;
};

inline Error fail(std::string_view why) { return make_error(errc::http_error, why); }

// header_value_ok: no CR, LF or NUL (RFC 9110 §5.5), which would end the header early
// and let the value write headers of its own.
inline bool header_value_ok(std::string_view v) noexcept {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// token_ok: an RFC 9110 §5.6.2 token (a header name, a method).
inline bool token_ok(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
    if (std::string_view("\"(),/:;<=>?@[\\]{}").find(c) != std::string_view::npos) return false;
  }
  return true;
}

// SigpipeBlock: SIGPIPE blocked on this thread while it lives; one that arrived meanwhile
// is taken off the thread's pending set before the mask is restored. OpenSSL writes to
// the socket without MSG_NOSIGNAL (the handshake, alerts, key updates as well as data),
// and a peer that closed must not kill the process: the whole exchange runs under it.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      const timespec none{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &none) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

// Connection: one socket, optionally under TLS, every wait bounded by `deadline`.
class Connection {
 public:
  explicit Connection(SteadyClock::time_point deadline) : deadline_(deadline) {}
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<void> connect(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
      return fail("cannot resolve the host");
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                              a->ai_protocol);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        return {};
      }
      if (errno == EINPROGRESS) {
        fd_ = fd;
        if (!wait(POLLOUT)) {
          ::close(fd);
          fd_ = -1;
          return fail("deadline passed while connecting");
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return {};
        fd_ = -1;
      }
      ::close(fd);
    }
    return fail("connection refused");
  }

  // start_tls: the TLS handshake, the server's certificate checked for `host` (a DNS
  // name or an IP address) unless `verify` is off.
  Result<void> start_tls(SSL_CTX* ctx, const std::string& host, bool verify) {
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return tls_failed("TLS setup failed");
    const bool is_ip = host.find_first_not_of("0123456789.") == std::string::npos ||
                       host.find(':') != std::string::npos;
    if (!is_ip) SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (verify) {
      SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      const int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                           : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
      if (ok != 1) return tls_failed("TLS setup failed (host name)");
    } else {
      SSL_set_verify(ssl_, SSL_VERIFY_NONE, nullptr);
    }
    while (true) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) return {};
      const int why = SSL_get_error(ssl_, rc);
      if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
        if (!wait(why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) {
          return tls_failed("deadline passed during the TLS handshake");
        }
        continue;
      }
      const long verdict = SSL_get_verify_result(ssl_);
      if (verify && verdict != X509_V_OK) {
        return tls_failed(std::string("the server's certificate is refused: ") +
                          X509_verify_cert_error_string(verdict));
      }
      return tls_failed("TLS handshake failed");
    }
  }

  // write_all: every byte of `data`. Call under a SigpipeBlock (exchange does).
  Result<void> write_all(std::string_view data) {
    while (!data.empty()) {
      if (expired()) return fail("deadline passed while sending");
      long n = 0;
      if (ssl_ != nullptr) {
        std::size_t written = 0;
        const int rc = SSL_write_ex(ssl_, data.data(), data.size(), &written);
        if (rc != 1) {
          const int why = SSL_get_error(ssl_, rc);
          if ((why == SSL_ERROR_WANT_WRITE || why == SSL_ERROR_WANT_READ) &&
              wait(why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) {
            continue;
          }
          return tls_failed(why == SSL_ERROR_WANT_WRITE || why == SSL_ERROR_WANT_READ
                                ? "deadline passed while sending"
                                : "TLS write failed");
        }
        n = static_cast<long>(written);
      } else {
        n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
          if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (wait(POLLOUT)) continue;
            return fail("deadline passed while sending");
          }
          return fail("the connection failed while sending");
        }
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  // read_some: up to `size` bytes; 0 at the end of the stream (over TLS, only after the
  // peer's close_notify: a bare close may have cut the body short).
  Result<std::size_t> read_some(char* buf, std::size_t size) {
    while (true) {
      // Checked on every read, not only when one would block: a peer that keeps the
      // socket full must meet the deadline too.
      if (expired()) return fail("deadline passed while receiving");
      if (ssl_ != nullptr) {
        std::size_t got = 0;
        const int rc = SSL_read_ex(ssl_, buf, size, &got);
        if (rc == 1) return got;
        const int why = SSL_get_error(ssl_, rc);
        if (why == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
        if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
          if (wait(why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) continue;
          return tls_failed("deadline passed while receiving");
        }
        return tls_failed("TLS read failed (or the peer closed without close_notify)");
      }
      const long n = ::recv(fd_, buf, size, 0);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (wait(POLLIN)) continue;
        return fail("deadline passed while receiving");
      }
      return fail("the connection failed while receiving");
    }
  }

 private:
  Error tls_failed(std::string why) {
    ERR_clear_error();
    return fail(why);
  }

  bool expired() const { return SteadyClock::now() >= deadline_; }

  // wait: until the socket is ready for `events` or the deadline passes (false).
  bool wait(short events) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - SteadyClock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, events, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30)));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  SteadyClock::time_point deadline_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

// Reader: the response's bytes, read as the parser asks for them.
class Reader {
 public:
  explicit Reader(Connection& c) : c_(c) {}

  // head: through the blank line that ends the status line and headers, at most
  // `limit` bytes. Returns the text without the blank line.
  Result<std::string> head(std::size_t limit) {
    std::size_t scanned = 0;
    while (true) {
      const std::size_t end = buf_.find("\r\n\r\n", scanned > 3 ? scanned - 3 : 0);
      if (end != std::string::npos) {
        if (end + 4 > limit) return fail("response headers over the size limit");
        std::string out = buf_.substr(0, end + 2);
        buf_.erase(0, end + 4);
        return out;
      }
      scanned = buf_.size();
      if (buf_.size() > limit) return fail("response headers over the size limit");
      auto more = fill(limit + 4 - buf_.size());
      if (!more) return more.error();
      if (*more == 0) return fail("the connection closed before the response headers ended");
    }
  }

  // line: one CRLF-terminated line of at most `limit` bytes (chunk sizes, trailers).
  Result<std::string> line(std::size_t limit) {
    while (true) {
      const std::size_t end = buf_.find("\r\n");
      if (end != std::string::npos) {
        if (end > limit) return fail("a chunk line over the size limit");
        std::string out = buf_.substr(0, end);
        buf_.erase(0, end + 2);
        return out;
      }
      // A line of `limit` bytes may have its CR already and wait for the LF.
      if (buf_.size() > limit + 1) return fail("a chunk line over the size limit");
      auto more = fill(limit + 2 - buf_.size());
      if (!more) return more.error();
      if (*more == 0) return fail("the connection closed inside a chunked body");
    }
  }

  // exactly: `n` bytes appended to `out`.
  Result<void> exactly(std::size_t n, std::string& out) {
    while (buf_.size() < n) {
      auto more = fill(n - buf_.size());
      if (!more) return more.error();
      if (*more == 0) return fail("the connection closed before the body was complete");
    }
    out.append(buf_, 0, n);
    buf_.erase(0, n);
    return {};
  }

  // rest: everything until the peer closes, at most `limit` bytes in `out`.
  Result<void> rest(std::size_t limit, std::string& out) {
    while (true) {
      if (out.size() + buf_.size() > limit) return fail("response body over the size limit");
      out += buf_;
      buf_.clear();
      auto more = fill(limit + 1 - out.size());
      if (!more) return more.error();
      if (*more == 0) return {};
    }
  }

 private:
  Result<std::size_t> fill(std::size_t want) {
    char chunk[16 * 1024];
    auto n = c_.read_some(chunk, std::min(want, sizeof chunk));
    if (n) buf_.append(chunk, *n);
    return n;
  }

  Connection& c_;
  std::string buf_;
};

inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// parse_head: the status line and headers of `text` (CRLF-separated, ending in CRLF).
inline Result<HttpResponse> parse_head(std::string_view text, const Limits& limits) {
  HttpResponse res;
  std::size_t lines = 0;
  bool first = true;
  while (!text.empty()) {
    const std::size_t end = text.find("\r\n");
    if (end == std::string_view::npos) return fail("a response header line without CRLF");
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 2);
    if (++lines > limits.max_header_lines + 1) return fail("too many response header lines");
    if (line.find('\0') != std::string_view::npos) return fail("a NUL in the response headers");
    if (first) {
      first = false;
      // RFC 9112 §4: HTTP/1.x SP 3DIGIT SP reason.
      if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." ||
          !std::isdigit(static_cast<unsigned char>(line[7])) || line[8] != ' ') {
        return fail("not an HTTP/1.x status line");
      }
      int status = 0;
      for (std::size_t i = 9; i < 12; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(line[i]))) return fail("a bad status code");
        status = status * 10 + (line[i] - '0');
      }
      if (status < 100 || (line.size() > 12 && line[12] != ' ')) return fail("a bad status code");
      res.status = status;
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return fail("obsolete line folding in the response headers");  // RFC 9112 §5.2
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !token_ok(line.substr(0, colon))) {
      return fail("a malformed response header line");
    }
    res.headers.emplace_back(std::string(line.substr(0, colon)),
                             std::string(trim_ows(line.substr(colon + 1))));
  }
  if (first) return fail("no status line");
  return res;
}

// has_chunked: Transfer-Encoding's last coding is chunked (RFC 9112 §6.3).
inline bool last_coding_chunked(std::string_view te) {
  const std::size_t comma = te.rfind(',');
  const std::string_view last = trim_ows(comma == std::string_view::npos ? te : te.substr(comma + 1));
  return last.size() == 7 && header_name_equals(last, "chunked");
}

inline Result<void> read_chunked(Reader& in, const Limits& limits, std::string& body) {
  // The framing (size lines, extensions, CRLFs) is bounded too: a body sent a byte per
  // chunk with long extensions would otherwise cost far more than its size.
  std::size_t framing = 0;
  const std::size_t max_framing = limits.max_header_bytes + limits.max_body_bytes / 8;
  while (true) {
    auto size_line = in.line(1024);
    if (!size_line) return size_line.error();
    framing += size_line->size() + 4;
    if (framing > max_framing) return fail("chunked framing over the size limit");
    const std::string_view s = *size_line;
    std::size_t i = 0;
    std::uint64_t size = 0;
    while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) {
      if (size > (std::uint64_t{1} << 40)) return fail("a chunk size too large");
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
      size = size * 16 + static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++i;
    }
    if (i == 0 || (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t')) {
      return fail("a malformed chunk size");
    }
    if (size == 0) break;
    if (body.size() + size > limits.max_body_bytes) return fail("response body over the size limit");
    if (auto ok = in.exactly(static_cast<std::size_t>(size), body); !ok) return ok.error();
    auto crlf = in.line(0);
    if (!crlf) return crlf.error();
  }
  // Trailers, bounded like headers, then the blank line.
  for (std::size_t n = 0;; ++n) {
    if (n > limits.max_header_lines) return fail("too many trailer lines");
    auto trailer = in.line(8192);
    if (!trailer) return trailer.error();
    if (trailer->empty()) return {};
    framing += trailer->size() + 2;
    if (framing > max_framing) return fail("chunked framing over the size limit");
  }
}

// exchange: `request` sent over a new connection (closed afterwards), its response read
// within `request.timeout` from now. `tls` is null for http:// URLs.
inline Result<HttpResponse> exchange(const HttpRequest& request, const Url& url, SSL_CTX* tls,
                                     bool verify_tls, const std::string& user_agent,
                                     const Limits& limits) {
  if (!token_ok(request.method)) return fail("the request method is not a token");
  std::string out = request.method + " " + url.target + " HTTP/1.1\r\n";
  const bool default_port = (url.scheme == "https" && url.port == 443) ||
                            (url.scheme == "http" && url.port == 80);
  const bool v6 = url.host.find(':') != std::string::npos;
  out += "Host: " + (v6 ? "[" + url.host + "]" : url.host) +
         (default_port ? "" : ":" + std::to_string(url.port)) + "\r\n";
  bool has_agent = false;
  for (const auto& [name, value] : request.headers) {
    // Security: a value with CR or LF would write headers of its own.
    if (!token_ok(name) || !header_value_ok(value)) {
      return make_error(errc::invalid_request, "a request header holds CR, LF or NUL, or a bad name");
    }
    if (header_name_equals(name, "Host") || header_name_equals(name, "Content-Length") ||
        header_name_equals(name, "Connection") || header_name_equals(name, "Transfer-Encoding")) {
      continue;  // the framing is ours
    }
    has_agent = has_agent || header_name_equals(name, "User-Agent");
    out += name + ": " + value + "\r\n";
  }
  if (!has_agent && !user_agent.empty() && header_value_ok(user_agent)) {
    out += "User-Agent: " + user_agent + "\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  out += "Connection: close\r\n\r\n";
  out += request.body;

  SigpipeBlock no_sigpipe;
  Connection conn(SteadyClock::now() + request.timeout);
  if (auto ok = conn.connect(url.host, url.port); !ok) return ok.error();
  if (tls != nullptr) {
    if (auto ok = conn.start_tls(tls, url.host, verify_tls); !ok) return ok.error();
  }
  if (auto ok = conn.write_all(out); !ok) return ok.error();

  Reader in(conn);
  std::size_t head_budget = limits.max_header_bytes;
  while (true) {
    auto head = in.head(head_budget);
    if (!head) return head.error();
    auto res = parse_head(*head, limits);
    if (!res) return res.error();
    // 1xx answers come before the final one (RFC 9110 §15.2); they share the budget.
    if (res->status >= 100 && res->status < 200) {
      if (res->status == 101) return fail("the server switched protocols");
      head_budget -= std::min(head_budget, head->size() + 2);
      continue;
    }
    if (request.method == "HEAD" || res->status == 204 || res->status == 304) return res;
    const auto te = res->header("Transfer-Encoding");
    if (te) {
      if (!last_coding_chunked(*te)) {
        if (auto ok = in.rest(request.max_response_bytes, res->body); !ok) return ok.error();
        return res;
      }
      Limits body_limits = limits;
      body_limits.max_body_bytes = request.max_response_bytes;
      if (auto ok = read_chunked(in, body_limits, res->body); !ok) return ok.error();
      return res;
    }
    std::optional<std::uint64_t> length;
    for (const auto& [name, value] : res->headers) {
      if (!header_name_equals(name, "Content-Length")) continue;
      if (value.empty() || value.size() > 15 ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        return fail("a bad Content-Length");
      }
      const std::uint64_t v = std::stoull(value);
      if (length && *length != v) return fail("conflicting Content-Length headers");
      length = v;
    }
    if (length) {
      // Refused before any of it is read.
      if (*length > request.max_response_bytes) return fail("response body over the size limit");
      if (auto ok = in.exactly(static_cast<std::size_t>(*length), res->body); !ok) return ok.error();
      return res;
    }
    if (auto ok = in.rest(request.max_response_bytes, res->body); !ok) return ok.error();
    return res;
  }
}

// TlsContext: an SSL_CTX for clients (TLS 1.2 or later), trusting the system's store or
// the given CA file and directory.
// ClientIdentity: the certificate chain and private key a client presents (mTLS), from
// PEM files or PEM text (the text wins when both are given).
struct ClientIdentity {
  std::string cert_file, key_file;
  std::string cert_pem, key_pem;
  bool empty() const noexcept {
    return cert_file.empty() && key_file.empty() && cert_pem.empty() && key_pem.empty();
  }
};

// use_identity loads `id` into `ctx`: the leaf and any chain certificates, then the key,
// which must match. False when anything fails.
inline bool use_identity(SSL_CTX* ctx, const ClientIdentity& id) {
  bool ok = false;
  if (!id.cert_pem.empty() || !id.key_pem.empty()) {
    std::unique_ptr<BIO, decltype(&BIO_free)> certs(
        BIO_new_mem_buf(id.cert_pem.data(), static_cast<int>(id.cert_pem.size())), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> key(
        BIO_new_mem_buf(id.key_pem.data(), static_cast<int>(id.key_pem.size())), BIO_free);
    X509* leaf = certs ? PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr) : nullptr;
    ok = leaf != nullptr && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    while (ok) {
      X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
      if (extra == nullptr) break;
      if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {  // takes `extra` on success
        X509_free(extra);
        ok = false;
      }
    }
    EVP_PKEY* pkey = ok && key ? PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr) : nullptr;
    ok = pkey != nullptr && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
    EVP_PKEY_free(pkey);
  } else {
    ok = SSL_CTX_use_certificate_chain_file(ctx, id.cert_file.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(ctx, id.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  }
  ok = ok && SSL_CTX_check_private_key(ctx) == 1;
  ERR_clear_error();
  return ok;
}

inline std::shared_ptr<SSL_CTX> make_tls_context(const std::string& ca_file, const std::string& ca_dir,
                                                 const ClientIdentity& identity = {}) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  bool ok = true;
  if (!ca_file.empty() || !ca_dir.empty()) {
    ok = SSL_CTX_load_verify_locations(ctx.get(), ca_file.empty() ? nullptr : ca_file.c_str(),
                                       ca_dir.empty() ? nullptr : ca_dir.c_str()) == 1;
  } else {
    ok = SSL_CTX_set_default_verify_paths(ctx.get()) == 1;
  }
  if (ok && !identity.empty()) ok = use_identity(ctx.get(), identity);
  ERR_clear_error();
  return ok ? ctx : nullptr;
}

}  // namespace tokenpass::wire

#include "tokenpass/http.h"

#include "internal/rules.h"

#include <cctype>
#include <limits>

namespace tokenpass {

HttpClient::~HttpClient() = default;

bool header_name_equals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (header_name_equals(k, name)) return v;
  }
  return std::nullopt;
}

Result<Url> parse_url(std::string_view url) {
  const auto bad = [](std::string_view why) { return make_error(errc::invalid_request, why); };
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return bad("URL has white space or control characters");
  }
  Url out;
  const std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) return bad("URL is not absolute");
  std::string scheme(url.substr(0, colon));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return bad("URL scheme is not http or https");
  out.scheme = scheme;
  std::string_view rest = url.substr(colon + 3);
  if (rest.find('#') != std::string_view::npos) return bad("URL has a fragment");
  const std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!out.target.empty() && out.target.front() == '?') out.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return bad("URL has user info");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("URL has a bad IPv6 host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("URL has a bad port");
      port = after.substr(1);
    }
  } else {
    const std::size_t c = authority.rfind(':');
    out.host = std::string(authority.substr(0, c));
    if (c != std::string_view::npos) port = authority.substr(c + 1);
  }
  if (out.host.empty()) return bad("URL has no host");
  out.port = out.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5) return bad("URL has a bad port");
    int p = 0;
    for (const char c : port) {
      if (c < '0' || c > '9') return bad("URL has a bad port");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return bad("URL has a bad port");
    out.port = p;
  }
  return out;
}

namespace internal {

std::optional<std::chrono::seconds> cache_max_age(std::string_view cc) {
  std::optional<std::chrono::seconds> result;
  std::size_t i = 0;
  while (i < cc.size()) {
    std::size_t end = cc.find(',', i);
    if (end == std::string_view::npos) end = cc.size();
    std::string_view d = cc.substr(i, end - i);
    while (!d.empty() && (d.front() == ' ' || d.front() == '\t')) d.remove_prefix(1);
    while (!d.empty() && (d.back() == ' ' || d.back() == '\t')) d.remove_suffix(1);
    std::string lower(d);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "no-cache" || lower == "no-store") return std::chrono::seconds(0);
    constexpr std::string_view kMaxAge = "max-age=";
    if (lower.compare(0, kMaxAge.size(), kMaxAge) == 0) {
      std::string_view v = std::string_view(lower).substr(kMaxAge.size());
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      if (v.empty() || v.size() > 10) return std::nullopt;
      long long n = 0;
      for (const char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
      }
      result = std::chrono::seconds(n);
    }
    i = end + 1;
  }
  return result;
}

bool scheme_allowed(std::string_view url, bool allow_http, std::string* why) {
  auto parsed = parse_url(url);
  if (!parsed) {
    *why = parsed.error().detail;
    return false;
  }
  if (parsed->scheme == "http" && !allow_http) {
    *why = "plain http:// is refused unless allow_http is set";
    return false;
  }
  return true;
}

}  // namespace internal

}  // namespace tokenpass

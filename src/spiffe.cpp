#include "tokenpass/spiffe.h"

namespace tokenpass {

namespace {

constexpr std::string_view kScheme = "spiffe://";

bool trust_domain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

}  // namespace

bool is_spiffe_id(std::string_view id) noexcept {
  if (id.size() > 2048 || id.substr(0, kScheme.size()) != kScheme) return false;
  id.remove_prefix(kScheme.size());
  const std::size_t slash = id.find('/');
  const std::string_view domain = id.substr(0, slash);
  if (domain.empty()) return false;
  for (const char c : domain) {
    if (!trust_domain_char(c)) return false;
  }
  if (slash == std::string_view::npos) return true;
  std::string_view path = id.substr(slash);
  while (!path.empty()) {
    path.remove_prefix(1);  // '/'
    const std::size_t end = path.find('/') == std::string_view::npos ? path.size() : path.find('/');
    const std::string_view segment = path.substr(0, end);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (const char c : segment) {
      if (!path_char(c)) return false;
    }
    path.remove_prefix(end);
  }
  return true;
}

bool spiffe_id_matches(std::string_view id, std::string_view pattern) noexcept {
  if (!is_spiffe_id(id) || !is_spiffe_id(pattern)) return false;
  if (id.substr(0, pattern.size()) != pattern) return false;
  // The pattern ends at a segment boundary of the ID: equal, or followed by '/'.
  return id.size() == pattern.size() || id[pattern.size()] == '/';
}

}  // namespace tokenpass

// operate_errors: every error code, the HTTP status and challenge it gets, checked
// against the table of docs/guide/operate.md (which is this program's `kTable`), and the
// way a service turns a refusal into an answer and a log line.
#include <tokenpass/tokenpass.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace {

// Row: what the guide's table says of one code.
struct Row {
  tokenpass::errc code;
  int status;
  const char* challenge;  // the Bearer challenge's error attribute; "" none; nullptr no challenge
};

using tokenpass::errc;
const Row kTable[] = {
    {errc::malformed, 401, "invalid_token"},
    {errc::unsupported_alg, 401, "invalid_token"},
    {errc::alg_not_allowed, 401, "invalid_token"},
    {errc::key_not_found, 401, "invalid_token"},
    {errc::key_unusable, 401, "invalid_token"},
    {errc::bad_signature, 401, "invalid_token"},
    {errc::expired, 401, "invalid_token"},
    {errc::not_yet_valid, 401, "invalid_token"},
    {errc::issued_in_future, 401, "invalid_token"},
    {errc::too_old, 401, "invalid_token"},
    {errc::bad_issuer, 401, "invalid_token"},
    {errc::bad_audience, 401, "invalid_token"},
    {errc::bad_subject, 401, "invalid_token"},
    {errc::bad_type, 401, "invalid_token"},
    {errc::missing_claim, 401, "invalid_token"},
    {errc::bad_claim, 401, "invalid_token"},
    {errc::insufficient_scope, 403, "insufficient_scope"},
    {errc::unknown_crit, 401, "invalid_token"},
    {errc::too_large, 401, "invalid_token"},
    {errc::replayed, 401, "invalid_token"},
    {errc::bad_binding, 401, "invalid_token"},
    {errc::bad_proof, 401, "invalid_token"},
    {errc::use_dpop_nonce, 401, "invalid_token"},
    {errc::inactive, 401, "invalid_token"},
    {errc::insufficient_role, 403, "insufficient_scope"},
    {errc::no_token, 401, ""},
    {errc::invalid_request, 400, "invalid_request"},
    {errc::key_source_unavailable, 503, nullptr},
    {errc::http_error, 503, nullptr},
    {errc::internal_error, 500, nullptr},
    {errc::token_request_refused, 500, nullptr},
    {errc::replay_store_unavailable, 503, nullptr},
    {errc::peer_not_allowed, 403, nullptr},
    {errc::untrusted_forward, 403, nullptr},
};

// [snippet:reject]
// reject: a refusal as the HTTP answer and one log line. Branch on the group
// (http_status, is_token_error), log the code; never log the token.
struct Answer {
  int status = 200;
  std::optional<std::string> challenge;  // WWW-Authenticate
};
Answer reject(const tokenpass::Error& e, const std::vector<std::string>& scopes) {
  Answer a;
  a.status = tokenpass::http_status(e);  // 400, 401, 403, 500 or 503
  a.challenge = tokenpass::www_authenticate(e, "orders", scopes);  // RFC 6750 §3, or none
  const char* level = a.status >= 500 ? "error" : tokenpass::is_token_error(e) ? "info" : "warn";
  std::fprintf(stderr, "%s: auth refused: %s: %s\n", level,
               std::string(tokenpass::to_string(e.code)).c_str(), e.detail.c_str());
  return a;
}
// [/snippet]

}  // namespace

int main() {
  int failures = 0;
  std::size_t seen = 0;
  // Every code there is: token codes from 1, library codes from 100.
  for (int v = 1; v < 200; ++v) {
    const auto code = static_cast<tokenpass::errc>(v);
    if (tokenpass::to_string(code) == "unknown") continue;
    ++seen;
    const Row* row = nullptr;
    for (const Row& r : kTable) {
      if (r.code == code) row = &r;
    }
    const std::string name(tokenpass::to_string(code));
    if (row == nullptr) {
      std::printf("FAIL %s is not in the guide's table\n", name.c_str());
      ++failures;
      continue;
    }
    const Answer a = reject(tokenpass::make_error(code, "detail for the log"), {"orders:read"});
    std::string wanted;
    if (row->challenge == nullptr) {
      wanted = "";
    } else if (*row->challenge == '\0') {
      wanted = "Bearer realm=\"orders\"";
    } else {
      wanted = std::string("Bearer realm=\"orders\", error=\"") + row->challenge + "\"";
    }
    const std::string got = a.challenge.value_or("");
    const bool ok = a.status == row->status && (row->challenge == nullptr ? !a.challenge
                                                                           : got.rfind(wanted, 0) == 0);
    std::printf("%s %-26s %d %s\n", ok ? "ok  " : "FAIL", name.c_str(), a.status,
                a.challenge ? a.challenge->c_str() : "(no challenge)");
    if (!ok) ++failures;
  }
  if (seen != sizeof kTable / sizeof kTable[0]) {
    std::printf("FAIL the table has %zu rows, tokenpass %zu codes\n", sizeof kTable / sizeof kTable[0], seen);
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}

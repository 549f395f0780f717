#include "tokenpass/propagation.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

#include "internal/base64url.h"

namespace tokenpass {

namespace {

bool is_token68_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '+' || c == '/';
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && header_name_equals(s.substr(0, prefix.size()), prefix);
}

// strip_bearer: a service header may carry the bare token or `Bearer <token>`.
Result<std::string_view> service_token_of(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return make_error(errc::no_token, "empty service token header");
  if (starts_with_ci(value, "bearer ")) return extract_bearer(value);
  if (!is_b64token(value)) return make_error(errc::invalid_request, "service token is malformed");
  return value;
}

Result<std::string_view> one_value(const std::vector<std::string>& values, bool bearer) {
  if (values.empty()) return make_error(errc::no_token, "no token");
  if (values.size() > 1) return make_error(errc::invalid_request, "more than one token header");
  return bearer ? extract_bearer(values.front()) : service_token_of(values.front());
}

}  // namespace

bool is_b64token(std::string_view token) noexcept {
  // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  std::size_t i = 0;
  while (i < token.size() && is_token68_char(token[i])) ++i;
  if (i == 0) return false;
  while (i < token.size() && token[i] == '=') ++i;
  return i == token.size();
}

namespace {
// credentials_of: `<scheme> 1*SP token68` (RFC 9110 §11.4, RFC 6750 §2.1), the scheme
// compared case-insensitively (§11.1); another scheme is no_token.
Result<std::string_view> credentials_of(std::string_view value, std::string_view scheme) {
  // RFC 9110 §5.5: surrounding white space is not part of the field value.
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return make_error(errc::no_token, "empty Authorization header");
  if (!starts_with_ci(value, scheme) || (value.size() > scheme.size() && value[scheme.size()] != ' ')) {
    return make_error(errc::no_token, "not a " + std::string(scheme) + " authorization");
  }
  value.remove_prefix(scheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return make_error(errc::invalid_request, std::string(scheme) + " without a token");
  if (!is_b64token(value)) {
    return make_error(errc::invalid_request,
                      value.find_first_of(" ,") != std::string_view::npos
                          ? "more than one token in the Authorization header"
                          : "the token has characters RFC 6750 does not allow");
  }
  return value;
}
}  // namespace

Result<std::string_view> extract_bearer(std::string_view value) { return credentials_of(value, "Bearer"); }

bool TokenResolver::uses_dpop(std::string_view value) noexcept {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  return starts_with_ci(value, "DPoP") && (value.size() == 4 || value[4] == ' ');
}

Result<std::string_view> extract_bearer(const std::vector<std::string_view>& values) {
  if (values.empty()) return make_error(errc::no_token, "no Authorization header");
  if (values.size() > 1) return make_error(errc::invalid_request, "more than one Authorization header");
  return extract_bearer(values.front());
}

TokenResolver::TokenResolver(std::shared_ptr<const Verifier> user_verifier,
                             std::shared_ptr<const Verifier> service_verifier,
                             TokenResolverOptions options)
    : user_(std::move(user_verifier)),
      service_(std::move(service_verifier)),
      options_(std::move(options)) {
  const auto fail = [](const char* why) {
    throw std::invalid_argument(std::string("tokenpass::TokenResolver: ") + why);
  };
  if (!user_ && !service_) fail("no verifier");
  if (options_.require_user && !user_) fail("a user token is required but there is no verifier for it");
  if (options_.require_service && !service_) {
    fail("a service token is required but there is no verifier for it");
  }
  if ((user_ && options_.user_header.empty()) || (service_ && options_.service_header.empty())) {
    fail("empty header name");
  }
  if (user_ && service_ && header_name_equals(options_.user_header, options_.service_header)) {
    fail("the user and service tokens need different headers");
  }
}

namespace {
// is_bound: `cnf` holds a member tokenpass checks (x5t#S256, jkt); others are not a
// binding here, as Verifier treats them.
bool is_bound(const Claims& claims) {
  const auto cnf = claims.get("cnf");
  return cnf && cnf->is_object() && (cnf->contains("x5t#S256") || cnf->contains("jkt"));
}
}  // namespace

Result<VerifiedToken> TokenResolver::verify_user(std::string_view token, const Presented& presented) const {
  // A JWS compact serialization has two dots; an opaque token is the issuer's to explain.
  if (options_.introspector && token.find('.') == std::string_view::npos) {
    auto answer = options_.introspector->introspect(token);
    if (!answer) return answer.error();
    return user_->verify_introspected(token, *answer, presented);
  }
  return user_->verify(token, presented);
}

Result<void> check_access(const RequestContext& ctx, const std::vector<std::string>& scopes,
                          const std::vector<std::string>& roles, const std::vector<std::string>& any_roles,
                          const RoleMapping& mapping) {
  const VerifiedToken* subject = ctx.user() ? ctx.user() : ctx.service();
  for (const auto& scope : scopes) {
    if (subject == nullptr || !subject->claims().has_scope(scope)) {
      return make_error(errc::insufficient_scope, "a required scope is not granted");
    }
  }
  if (roles.empty() && any_roles.empty()) return {};
  if (subject == nullptr) return make_error(errc::insufficient_role, "no token to take roles from");
  return check_roles(subject->claims(), mapping, roles, any_roles);
}

Result<void> check_peer(const PeerCertificate* peer, const std::vector<std::string>& allowed_peers) {
  if (allowed_peers.empty()) return {};
  const bool allowed = peer != nullptr && peer->verified &&
                       std::any_of(allowed_peers.begin(), allowed_peers.end(),
                                   [&](const std::string& id) { return peer->has_identity(id); });
  if (allowed) return {};
  return make_error(errc::peer_not_allowed,
                    peer ? "the caller's certificate is not on the allow list" : "no client certificate");
}

Result<RequestContext> TokenResolver::resolve(const HeaderLookup& headers, const PeerCertificate* peer,
                                              const RequestTarget* target) const {
  try {
    RequestContext ctx;
    // The TLS handshake proved possession of the certificate's key, whether or not its
    // chain was verified (RFC 8705 §3 binds to the certificate itself): a bound token
    // needs that certificate and no other.
    Presented presented;
    if (peer != nullptr) {
      ctx.peer_.emplace(*peer);
      presented.certificate_thumbprint = ctx.peer_->thumbprint;
    }
    if (user_) {
      // The values must outlive `raw`, which points into them.
      const std::vector<std::string> values = headers(options_.user_header);
      std::vector<std::string> proofs;
      DpopRequest dpop;
      Result<std::string_view> raw = make_error(errc::no_token);
      if (options_.dpop && values.size() == 1 && uses_dpop(values.front())) {
        // RFC 9449 §7.1: the DPoP scheme, and exactly one proof (§4.3 check 1).
        raw = credentials_of(values.front(), "DPoP");
        if (!raw) return raw.error();
        proofs = headers("DPoP");
        if (proofs.size() != 1) {
          return make_error(errc::bad_proof, proofs.empty() ? "no DPoP proof" : "more than one DPoP proof");
        }
        if (target == nullptr) return make_error(errc::internal_error, "DPoP needs the request's method and URI");
        dpop.proof = proofs.front();
        dpop.htm = target->method;
        dpop.htu = target->uri;
        dpop.options = options_.dpop.get();
        presented.dpop = &dpop;
      } else {
        raw = one_value(values, true);
      }
      if (raw) {
        auto verified = verify_user(*raw, presented);
        if (!verified) return verified.error();
        ctx.user_.emplace(std::move(*verified));
      } else if (raw.error().code != errc::no_token || options_.require_user) {
        return raw.error();
      }
      presented.dpop = nullptr;  // the proof names the user token, not the service's
    }
    if (service_) {
      const std::vector<std::string> values = headers(options_.service_header);
      auto raw = one_value(values, false);
      if (raw) {
        auto verified = service_->verify(*raw, presented);
        if (!verified) return verified.error();
        ctx.service_.emplace(std::move(*verified));
      } else if (raw.error().code != errc::no_token || options_.require_service) {
        return raw.error();
      }
    }
    return ctx;
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "the request's headers could not be read");
  }
}

Outbound::Outbound(Mode mode, std::shared_ptr<const ClientCredentials> credentials,
                   std::shared_ptr<const TokenExchange> exchange, std::string header)
    : mode_(mode),
      credentials_(std::move(credentials)),
      exchange_(std::move(exchange)),
      service_header_(std::move(header)),
      clock_([] { return std::chrono::system_clock::now(); }) {
  if ((mode_ == Mode::service_token || mode_ == Mode::forward_and_service_token) && !credentials_) {
    throw std::invalid_argument("tokenpass::Outbound: no ClientCredentials");
  }
  if (mode_ == Mode::exchange && !exchange_) {
    throw std::invalid_argument("tokenpass::Outbound: no TokenExchange");
  }
  if (mode_ == Mode::forward_and_service_token &&
      header_name_equals(service_header_, "Authorization")) {
    throw std::invalid_argument(
        "tokenpass::Outbound: the service token needs its own header when forwarding too");
  }
}

Outbound Outbound::forward() { return Outbound(Mode::forward, nullptr, nullptr, {}); }

Outbound Outbound::service_token(std::shared_ptr<const ClientCredentials> credentials,
                                 std::string header) {
  return Outbound(Mode::service_token, std::move(credentials), nullptr, std::move(header));
}

Outbound Outbound::forward_and_service_token(std::shared_ptr<const ClientCredentials> credentials,
                                             std::string service_header) {
  return Outbound(Mode::forward_and_service_token, std::move(credentials), nullptr,
                  std::move(service_header));
}

Outbound Outbound::exchange(std::shared_ptr<const TokenExchange> exchange) {
  return Outbound(Mode::exchange, nullptr, std::move(exchange), {});
}

Outbound& Outbound::allow(std::string name, Destination destination) {
  destinations_[std::move(name)] = std::move(destination);
  return *this;
}

Outbound& Outbound::clock(Clock clock) {
  if (clock) clock_ = std::move(clock);
  return *this;
}

Outbound& Outbound::claim_to_header(std::string header, std::string pointer, ClaimHeaderEncoding encoding) {
  const bool token = !header.empty() && std::all_of(header.begin(), header.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  if (!token || header_name_equals(header, "Authorization") || header_name_equals(header, "DPoP") ||
      (!service_header_.empty() && header_name_equals(header, service_header_))) {
    throw std::invalid_argument("tokenpass::Outbound: unusable claim header name: " + header);
  }
  if (!is_json_pointer(pointer) || pointer.empty()) {
    throw std::invalid_argument("tokenpass::Outbound: not a JSON Pointer: " + pointer);
  }
  claim_headers_.push_back({std::move(header), std::move(pointer), encoding});
  return *this;
}

namespace {
// claim_header_value: a claim as a header value (see Outbound::claim_to_header).
Result<std::string> claim_header_value(const nlohmann::json& value, ClaimHeaderEncoding encoding) {
  const auto scalar = [](const nlohmann::json& v, std::string& out) {
    if (v.is_string()) {
      out += v.get_ref<const std::string&>();
    } else if (v.is_number() || v.is_boolean()) {
      out += v.dump();
    } else {
      return false;
    }
    return true;
  };
  std::string text;
  if (value.is_array()) {
    bool first = true;
    for (const auto& e : value) {
      if (!first) text.push_back(',');
      first = false;
      if (!scalar(e, text)) return make_error(errc::bad_claim, "a claim for a header holds an object or nested array");
    }
  } else if (!scalar(value, text)) {
    return make_error(errc::bad_claim, "a claim for a header is an object or null");
  }
  if (encoding == ClaimHeaderEncoding::base64url) return internal::b64url_encode(text);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) {
      return make_error(errc::bad_claim, "a claim for a header is not printable ASCII (use base64url)");
    }
  }
  return text;
}
}  // namespace

Result<HttpHeaders> Outbound::headers_for(std::string_view destination, const VerifiedToken* caller) const {
  return headers_for(destination, caller, nullptr);
}

Result<HttpHeaders> Outbound::headers_for(std::string_view destination, const VerifiedToken* caller,
                                          const RequestTarget& call) const {
  return headers_for(destination, caller, &call);
}

namespace {
// authorization: the header(s) that send `token` in `header`: `Bearer <token>` in
// Authorization (the bare token in any other header); a DPoP-bound token as
// `DPoP <token>` with a proof for `call` (RFC 9449 §7.1), which only Authorization takes.
Result<void> add_token(HttpHeaders& out, std::string_view header, const AccessToken& token,
                       const DpopSigner* signer, const RequestTarget* call) {
  const bool authorization = header_name_equals(header, "Authorization");
  if (!header_name_equals(token.token_type, "DPoP")) {
    out.emplace_back(std::string(header), authorization ? "Bearer " + token.access_token : token.access_token);
    return {};
  }
  if (!authorization) return make_error(errc::invalid_request, "a DPoP-bound token goes in Authorization only");
  if (signer == nullptr) return make_error(errc::invalid_request, "a DPoP-bound token without the signer that got it");
  if (call == nullptr) {
    return make_error(errc::invalid_request, "a DPoP-bound token needs the call's method and URL (headers_for with a RequestTarget)");
  }
  auto proof = signer->proof(call->method, call->uri, token.access_token);
  if (!proof) return proof.error();
  out.emplace_back("Authorization", "DPoP " + token.access_token);
  out.emplace_back("DPoP", std::move(*proof));
  return {};
}
}  // namespace

Result<HttpHeaders> Outbound::headers_for(std::string_view destination, const VerifiedToken* caller,
                                          const RequestTarget* call) const {
  try {
    const auto it = destinations_.find(destination);
    if (it == destinations_.end()) {
      // Security: tokens go only where the service's configuration says they may.
      return make_error(errc::invalid_request, "destination is not on the allow list");
    }
    const Destination& dest = it->second;
    const bool needs_caller = mode_ != Mode::service_token;
    if (needs_caller) {
      if (caller == nullptr) return make_error(errc::invalid_request, "no caller token to pass on");
      // Never pass on a token that has expired (no leeway outbound).
      const auto exp = caller->expires_at();
      if (exp && !(NumericDate(clock_()) < *exp)) {
        return make_error(errc::expired, "the caller's token has expired");
      }
    }
    // Security: a forwarded token goes only to a service it names in `aud`, so that a
    // token meant for one service is never replayed at another by its neighbour.
    const bool forwards = mode_ == Mode::forward || mode_ == Mode::forward_and_service_token;
    // A bound token (RFC 8705, RFC 9449) proves nothing without its holder's key: the
    // next hop would refuse it. Exchange it instead (Outbound::exchange).
    if (forwards && is_bound(caller->claims())) {
      return make_error(errc::bad_binding, "the caller's token is bound (cnf) and cannot be forwarded; exchange it");
    }
    if (forwards && !dest.forward_any_audience) {
      const auto aud = caller->claims().audience();
      if (std::find(aud.begin(), aud.end(), dest.audience) == aud.end()) {
        return make_error(errc::bad_audience,
                          "the caller's token does not name the destination's audience");
      }
    }
    HttpHeaders out;
    const auto add_service = [&](std::string_view header) -> Result<void> {
      auto token = credentials_->token(dest.audience, dest.scopes);
      if (!token) return token.error();
      return add_token(out, header, *token, credentials_->dpop_signer(), call);
    };
    switch (mode_) {
      case Mode::forward:
        out.emplace_back("Authorization", "Bearer " + caller->compact());
        break;
      case Mode::service_token:
        if (auto r = add_service(service_header_); !r) return r.error();
        break;
      case Mode::forward_and_service_token:
        out.emplace_back("Authorization", "Bearer " + caller->compact());
        if (auto r = add_service(service_header_); !r) return r.error();
        break;
      case Mode::exchange: {
        auto token = exchange_->exchange(*caller, dest.audience, dest.scopes);
        if (!token) return token.error();
        if (auto r = add_token(out, "Authorization", *token, exchange_->dpop_signer(), call); !r) return r.error();
        break;
      }
      default:
        return make_error(errc::invalid_request, "unknown outbound mode");
    }
    if (caller != nullptr) {
      for (const auto& ch : claim_headers_) {
        const nlohmann::json* value = caller->claims().find(ch.pointer);
        if (value == nullptr) continue;
        auto text = claim_header_value(*value, ch.encoding);
        if (!text) return text.error();
        out.emplace_back(ch.header, std::move(*text));
      }
    }
    return out;
  } catch (const std::exception&) {
    return make_error(errc::internal_error, "outbound headers could not be made");
  }
}

}  // namespace tokenpass

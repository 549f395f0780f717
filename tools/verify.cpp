// tools/verify.cpp: `tokenpass verify (--key KEYFILE | --jwks-url URL | --issuer-url URL)
// [options] [TOKEN|-]`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "tokenpass/binding.h"
#include "tokenpass/dpop.h"
#include "tokenpass/forwarded.h"
#include "tokenpass/jwk.h"
#include "tokenpass/jws.h"
#include "tokenpass/key_source.h"
#include "tokenpass/metrics.h"
#include "tokenpass/replay.h"
#include "tokenpass/verifier.h"
#ifdef TOKENPASS_CLI_HAS_REDIS
#include "tokenpass/adapters/redis.h"
#endif
#ifdef TOKENPASS_CLI_HAS_HTTPLIB
#include "tokenpass/adapters/httplib.h"
#endif

namespace tokenpass::cli {

namespace {

constexpr const char* kUsage =
    "usage: tokenpass verify --key KEYFILE [--alg ALG]... [--iss ISS]... [--aud AUD]...\n"
    "                        [--sub SUB] [--scope SCOPE]... [--typ TYP] [--leeway SECONDS]\n"
    "                        [--now EPOCH] [--require CLAIM]... [--max-age SECONDS]\n"
    "                        [--max-size BYTES] [--payload-only] [--single-use --replay-store URL]\n"
    "                        [--cnf-cert CERTFILE] [--require-binding]\n"
    "                        [--dpop PROOF --htm METHOD --htu URL [--dpop-nonce NONCE]\n"
    "                         [--dpop-max-age SECONDS]]\n"
    "                        [--claim POINTER=JSON]... [--claim-contains POINTER=JSON]...\n"
    "                        [--role ROLE]... [--roles-path POINTER]... [--jwt-svid SPIFFE_ID]...\n"
    "                        [--cnf-forwarded FORMAT=VALUE] [--metrics FILE] [TOKEN|-]\n"
    "       tokenpass verify (--jwks-url URL | --issuer-url URL) [--allow-http] [--timeout SECONDS]\n"
    "                        [...]\n"
    "\n"
    "Verifies TOKEN (the token text; stdin when absent or -) and prints its claims.\n"
    "  --key KEYFILE     JWK, JWK set, PEM public key, PEM certificate or oct JWK; a\n"
    "                    private key is used through its public half\n"
    "  --alg ALG         accepted algorithms (default: the key's \"alg\", else every one\n"
    "                    its type and size fit)\n"
    "  --iss ISS         accepted issuer; repeat for several (default: not checked)\n"
    "  --aud AUD         accepted audience; repeat for several (default: not checked)\n"
    "  --sub SUB         required subject\n"
    "  --scope SCOPE     required scope; repeat, all must be granted\n"
    "  --typ TYP         required header typ (case-insensitive, application/ ignored)\n"
    "  --leeway SECONDS  clock skew allowed for exp, nbf, iat (default 0, at most 600)\n"
    "  --now EPOCH       the current time, in seconds since the epoch\n"
    "  --require CLAIM   the claim must be present (exp is not required otherwise)\n"
    "  --max-age SECONDS iat is required and must be at most this old\n"
    "  --max-size BYTES  largest token accepted (default 65536)\n"
    "  --payload-only    check only the signature and header rules; print the payload\n"
    "                    bytes exactly\n"
    "  --jwks-url URL    fetch the JWK set from URL (HTTPS unless --allow-http)\n"
    "  --issuer-url URL  find the JWK set through the issuer's metadata\n"
    "  --timeout SECONDS deadline of each network exchange, connect to last byte\n"
    "                    (default 10; past it, exit 2)\n"
    "\n"
    "Single-use and certificate-bound tokens (checked after every rule above: binding,\n"
    "then replay):\n"
    "  --single-use      the token must carry jti and exp; its (iss, jti) is recorded in\n"
    "                    the replay store until exp + leeway, and a second use is replayed\n"
    "  --replay-store URL  redis://[[USER]:PASSWORD@]HOST:PORT[/DB]: where used jtis are\n"
    "                    kept (needed by --single-use; unreachable: exit 2, not accepted)\n"
    "  --cnf-cert CERTFILE  the PEM client certificate of the connection that presented\n"
    "                    the token (RFC 8705): a token with cnf.x5t#S256 must match it\n"
    "  --require-binding a token bound by neither cnf.x5t#S256 nor cnf.jkt is bad_binding\n"
    "  --dpop PROOF      the DPoP proof of the request (RFC 9449), checked before the\n"
    "                    binding: the token must then carry cnf.jkt of the proof's key\n"
    "  --htm METHOD      the request's method (with --dpop)\n"
    "  --htu URL         the request's URI (with --dpop; compared normalised)\n"
    "  --dpop-nonce NONCE  the proof must carry this nonce (else use_dpop_nonce)\n"
    "  --dpop-max-age SECONDS  the proof's iat may be at most this old (default 60); with\n"
    "                    --replay-store, each proof jti is accepted once\n"
    "\n"
    "Claims by path, roles, SPIFFE (claim rules come after the registered ones):\n"
    "  --claim POINTER=JSON  the claim at the JSON Pointer (RFC 6901) equals the JSON value\n"
    "                    (--claim '/https:~1~1example.com~1tenant=\"acme\"'); else bad_claim,\n"
    "                    or missing_claim when absent\n"
    "  --claim-contains POINTER=JSON  an array there holds the value (or a string there\n"
    "                    has it as a space-separated word)\n"
    "  --role ROLE       a role the token must carry; repeat, all required (else\n"
    "                    insufficient_role)\n"
    "  --roles-path POINTER  where roles are (default /realm_access/roles, /roles, /groups)\n"
    "  --jwt-svid SPIFFE_ID  check a SPIFFE JWT-SVID: RS/ES/PS only, header alg/kid/typ only,\n"
    "                    aud (needs --aud) and exp required, sub covered by SPIFFE_ID (a\n"
    "                    trust domain or path prefix; repeat for several); keys with\n"
    "                    \"use\": \"jwt-svid\" (a SPIFFE bundle) verify\n"
    "  --cnf-forwarded FORMAT=VALUE  instead of --cnf-cert: the certificate as a proxy\n"
    "                    forwarded it; FORMAT client-cert (RFC 9440 :base64 DER:), xfcc\n"
    "                    (Envoy x-forwarded-client-cert) or escaped-pem (nginx)\n"
    "\n"
    "Metrics:\n"
    "  --metrics FILE    after the check, write what it observed in the Prometheus text\n"
    "                    format to FILE (- for stderr): the verify's outcome and time, the\n"
    "                    key set fetch (with --jwks-url/--issuer-url), single-use checks;\n"
    "                    e.g. for node_exporter's textfile collector\n";

// write_metrics: `metrics` rendered to `path` (- for stderr), written whole or not at all
// (a textfile collector must never read half a file).
void write_metrics(const PrometheusMetrics& metrics, const std::string& path) {
  const std::string text = metrics.render();
  if (path == "-") {
    std::cerr << text;
    return;
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) usage_error("--metrics: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) usage_error("--metrics: cannot write " + path);
}

// claim_option: POINTER=JSON of --claim and --claim-contains.
std::pair<std::string, nlohmann::json> claim_option(const char* name, const std::string& value) {
  const auto eq = value.find('=');
  if (eq == std::string::npos || !is_json_pointer(value.substr(0, eq)) || eq == 0) {
    usage_error(std::string(name) + " needs POINTER=JSON with a JSON Pointer such as /tenant");
  }
  try {
    return {value.substr(0, eq), nlohmann::json::parse(value.substr(eq + 1))};
  } catch (const nlohmann::json::exception&) {
    usage_error(std::string(name) + ": the value after '=' is not JSON (a string needs quotes)");
  }
}

// Where the keys come from. Remote sources (--jwks-url, --issuer-url) plug in here as
// another KeySource; the rest of verify does not change.
struct KeySpec {
  std::optional<std::string> key_file;
  std::optional<std::string> jwks_url;
  std::optional<std::string> issuer_url;
  bool allow_http = false;
  // cli-contract rule 18: one deadline per network exchange.
  std::chrono::milliseconds timeout{10000};
};


struct OpenedKeys {
  std::shared_ptr<const KeySource> source;
  std::vector<SkippedKey> skipped;  // refused members of a JWK set file
  // settle: for remote keys, waits (briefly) until the fetching thread has told the
  // observer about its first fetch; empty for local keys.
  std::function<void()> settle;
};

KeySpec read_key_spec(const Args& args) {
  KeySpec spec;
  spec.key_file = args.get("--key");
  spec.jwks_url = args.get("--jwks-url");
  spec.issuer_url = args.get("--issuer-url");
  spec.allow_http = args.has("--allow-http");
  spec.timeout = parse_timeout(args);
  const int given = (spec.key_file ? 1 : 0) + (spec.jwks_url ? 1 : 0) + (spec.issuer_url ? 1 : 0);
  if (given == 0) usage_error("verify needs --key, --jwks-url or --issuer-url (see --help)");
  if (given > 1) usage_error("give only one of --key, --jwks-url and --issuer-url");
  return spec;
}

void check_url(const char* option, const std::string& url, bool allow_http) {
  if (url.rfind("https://", 0) == 0) return;
  if (allow_http && url.rfind("http://", 0) == 0) return;
  usage_error(std::string(option) + " must be an https:// URL" +
              (allow_http ? " or an http:// URL" : " (http:// needs --allow-http)"));
}

OpenedKeys open_remote(const KeySpec& spec, bool jwt_svid, const std::shared_ptr<Observer>& observer) {
  const char* option = spec.jwks_url ? "--jwks-url" : "--issuer-url";
  const std::string& url = spec.jwks_url ? *spec.jwks_url : *spec.issuer_url;
  check_url(option, url, spec.allow_http);
#ifdef TOKENPASS_CLI_HAS_HTTPLIB
  RemoteJwksOptions options;
  options.allow_http = spec.allow_http;
  // Rule 18: the whole exchange under --timeout; a JWKS or metadata body over 1 MiB is
  // refused without reading the rest (HttplibClient: headers over 64 KiB too, and no
  // redirects).
  options.timeout = spec.timeout;
  options.max_body_bytes = 1024 * 1024;
  // --jwt-svid: the URL serves a SPIFFE bundle (its jwt-svid keys, spiffe_sequence).
  options.spiffe_bundle = jwt_svid;
  options.observer = observer;
  // What the first fetch reported, and why it failed, for the exit-2 message and for
  // --metrics. The fetching thread reports just after it releases the waiters (the
  // observer first, then this event); it may outlive this function, so the record is shared.
  struct FirstFetch {
    std::mutex mu;
    std::condition_variable cv;
    bool reported = false;
    std::string failure;
  };
  const auto first = std::make_shared<FirstFetch>();
  options.on_event = [first](const RemoteJwksEvent& e) {
    {
      std::lock_guard<std::mutex> lock(first->mu);
      first->reported = true;
      if (e.kind == RemoteJwksEvent::Kind::fetch_failed) first->failure = e.detail;
    }
    first->cv.notify_all();
  };
  const auto wait_for_report = [first] {
    std::unique_lock<std::mutex> lock(first->mu);
    first->cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return first->reported; });
    return first->failure;
  };
  const auto http = std::make_shared<HttplibClient>();
  std::shared_ptr<RemoteJwks> remote;
  if (spec.jwks_url) {
    options.url = url;
    remote = std::make_shared<RemoteJwks>(options, http);
  } else {
    // OpenID Connect discovery, else RFC 8414 metadata; its `issuer` must equal URL.
    auto found = RemoteJwks::from_issuer(url, options, http);
    if (!found) usage_error(std::string(option) + ": " + found.error().detail);
    remote = std::move(*found);
  }
  // A fetch that fails is exit 2 (cli-contract "verify against remote keys").
  if (auto ok = remote->prefetch(options.timeout); !ok) {
    // Give the failure's report a moment to arrive (else the message would miss the reason).
    const std::string why = wait_for_report();
    usage_error(std::string(option) + ": the JWK set could not be fetched from " + remote->url() + " (" +
                (why.empty() ? "no answer within the deadline" : why) + ")");
  }
  OpenedKeys out;
  out.source = remote;
  out.settle = [wait_for_report] { wait_for_report(); };
  return out;
#else
  usage_error(std::string(option) + ": this build has no HTTP client (cpp-httplib)");
#endif
}

OpenedKeys open_keys(const KeySpec& spec, bool jwt_svid, const std::shared_ptr<Observer>& observer) {
  if (!spec.key_file) return open_remote(spec, jwt_svid, observer);
  KeyFile file = load_key_file(*spec.key_file);
  std::vector<Key> keys;
  bool any_verifies = false;
  for (const Key& key : file.keys) {
    // cli-contract rule 1: a private key is used through its public half.
    keys.push_back(key.is_private() && !key.is_symmetric() ? check(key.public_key()) : key);
    // --jwt-svid: a SPIFFE bundle's keys verify too.
    any_verifies = any_verifies || key.can_verify() || (jwt_svid && key.use() == "jwt-svid");
  }
  // Rule 1: `use` other than "sig" or `key_ops` without "verify" refuse the key. A JWK
  // set may mix in such keys (encryption keys); it is refused only if none is left.
  if (!any_verifies) {
    fail(make_error(errc::key_unusable, "the key's \"use\" or \"key_ops\" forbid verifying"));
  }
  OpenedKeys out;
  out.source = std::make_shared<const StaticKeySource>(KeySet(std::move(keys)));
  out.skipped = std::move(file.skipped);
  return out;
}

std::vector<Alg> parse_algs(const Args& args) {
  std::vector<Alg> algs;
  for (const auto& a : args.all("--alg")) algs.push_back(parse_alg("--alg", a));
  return algs;
}

std::optional<std::string> parse_typ(const Args& args) {
  auto typ = args.get("--typ");
  if (typ && typ->empty()) usage_error("--typ is empty");
  return typ;
}

std::size_t parse_max_size(const Args& args) {
  const auto v = args.get("--max-size");
  if (!v) return kDefaultMaxTokenSize;
  return static_cast<std::size_t>(parse_int("--max-size", *v, 1, INT32_MAX));
}

// token_kid: the kid the token's header names, read without trusting it, to ask the key
// source for the right set (a remote source refreshes on an unknown kid).
std::optional<std::string> token_kid(const std::string& token, std::size_t max_size) {
  auto header = decode_unverified_header(token, max_size);
  if (!header) return std::nullopt;
  const auto it = header->find("kid");
  if (it == header->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// explain_not_found: a token naming the kid of a JWK set member that was refused is
// told key_unusable (rule 1), not key_not_found.
void explain_not_found(const Error& e, const OpenedKeys& keys,
                       const std::optional<std::string>& kid) {
  if (e.code != errc::key_not_found || !kid || kid->empty()) return;
  for (const auto& s : keys.skipped) {
    if (s.kid == *kid)
      fail(make_error(errc::key_unusable, "the key with this kid: " + s.error.detail));
  }
}

int verify_payload_only(const Args& args, const OpenedKeys& keys, const std::string& token) {
  // cli-contract "verify": the claims are not parsed or checked; the header rules
  // (alg, crit, typ) and the signature are (rule 9).
  JwsVerifyOptions options;
  options.algorithms = parse_algs(args);
  options.typ = parse_typ(args);
  options.max_token_size = parse_max_size(args);
  const auto kid = token_kid(token, options.max_token_size);
  KeyQuery query;
  query.has_kid = kid.has_value();
  if (kid) query.kid = *kid;
  const auto set = check(keys.source->keys_for(query));
  auto jws = verify_jws(token, *set, options);
  if (!jws) {
    explain_not_found(jws.error(), keys, kid);
    fail(std::move(jws).error());
  }
  write_out(jws->payload());
  return kExitOk;
}

// ShiftedStore: a replay store seen from `--now`. The contract records a pair for
// exp + leeway - now seconds, now being --now when given (at least 1 s); the store keeps
// pairs until an absolute time on the real clock, so that span is moved onto it.
class ShiftedStore final : public ReplayStore {
 public:
  ShiftedStore(std::shared_ptr<const ReplayStore> inner, Clock now) : inner_(std::move(inner)), now_(std::move(now)) {}
  Result<void> first_use(std::string_view issuer, std::string_view jti,
                         std::chrono::system_clock::time_point expires) const override {
    const auto span = std::max<std::chrono::system_clock::duration>(expires - now_(), std::chrono::seconds(1));
    return inner_->first_use(issuer, jti, std::chrono::system_clock::now() + span);
  }

 private:
  std::shared_ptr<const ReplayStore> inner_;
  Clock now_;
};

// open_replay_store: the store of --replay-store (exit 2 when it cannot be had).
std::shared_ptr<const ReplayStore> open_replay_store(const std::string& url, std::chrono::milliseconds timeout) {
#ifdef TOKENPASS_CLI_HAS_REDIS
  auto options = RedisReplayStoreOptions::from_url(url);
  if (!options) usage_error("--replay-store: " + options.error().detail);
  // Rule 18: each Redis command (and the connection) within --timeout.
  options->connect_timeout = timeout;
  options->command_timeout = timeout;
  auto store = RedisReplayStore::connect(*options);
  if (!store) usage_error("--replay-store: " + store.error().detail);
  return *store;
#else
  (void)url;
  (void)timeout;
  usage_error("--replay-store: this tokenpass was built without Redis support (TOKENPASS_WITH_REDIS)");
#endif
}

}  // namespace

int run_verify(const std::vector<std::string>& argv) {
  const Args args = Args::parse(argv,
                                {{"--key"},
                                 {"--jwks-url"},
                                 {"--issuer-url"},
                                 {"--allow-http", false},
                                 {"--alg", true, true},
                                 {"--iss", true, true},
                                 {"--aud", true, true},
                                 {"--sub"},
                                 {"--scope", true, true},
                                 {"--typ"},
                                 {"--leeway"},
                                 {"--now"},
                                 {"--require", true, true},
                                 {"--max-age"},
                                 {"--max-size"},
                                 {"--payload-only", false},
                                 {"--single-use", false},
                                 {"--replay-store"},
                                 {"--cnf-cert"},
                                 {"--require-binding", false},
                                 {"--timeout"},
                                 {"--dpop"},
                                 {"--htm"},
                                 {"--htu"},
                                 {"--dpop-nonce"},
                                 {"--dpop-max-age"},
                                 {"--claim", true, true},
                                 {"--claim-contains", true, true},
                                 {"--role", true, true},
                                 {"--roles-path", true, true},
                                 {"--jwt-svid", true, true},
                                 {"--cnf-forwarded"},
                                 {"--metrics"}},
                                /*max_positionals=*/1);
  if (args.help()) {
    std::cout << kUsage;
    return kExitOk;
  }
  const KeySpec spec = read_key_spec(args);

  // Every option is checked before any key or token is read: their refusals are exit 2.
  Policy policy;
  if (args.has("--jwt-svid")) {
    if (args.all("--aud").empty()) usage_error("--jwt-svid needs --aud (a JWT-SVID's audience is required)");
    try {
      policy = Policy::jwt_svid_profile(args.all("--aud"), args.all("--jwt-svid"));
    } catch (const std::invalid_argument& e) {
      usage_error(std::string("--jwt-svid: ") + e.what());
    }
  }
  if (!args.has("--jwt-svid") || args.has("--alg")) policy.algorithms = parse_algs(args);
  policy.typ = parse_typ(args);
  policy.max_token_size = parse_max_size(args);
  // cli-contract rule 5: issuer and audience are checked only when asked for.
  policy.issuers = args.all("--iss");
  if (policy.issuers.empty()) policy.any_issuer();
  for (const auto& c : args.all("--claim")) {
    auto [pointer, value] = claim_option("--claim", c);
    policy.claim_rules.push_back(ClaimRule::equals(pointer, std::move(value)));
  }
  for (const auto& c : args.all("--claim-contains")) {
    auto [pointer, value] = claim_option("--claim-contains", c);
    policy.claim_rules.push_back(ClaimRule::contains(pointer, std::move(value)));
  }
  if (args.has("--roles-path") && !args.has("--role")) usage_error("--roles-path goes with --role");
  if (args.has("--role")) {
    RoleMapping mapping;
    if (args.has("--roles-path")) mapping.paths = args.all("--roles-path");
    for (const auto& path : mapping.paths) {
      if (!is_json_pointer(path) || path.empty()) usage_error("--roles-path needs a JSON Pointer such as /roles");
    }
    policy.custom_checks.push_back([mapping, roles = args.all("--role")](const Claims& c) {
      return check_roles(c, mapping, roles);
    });
  }
  policy.audiences = args.all("--aud");
  if (policy.audiences.empty()) policy.any_audience();
  policy.subject = args.get("--sub");
  policy.required_scopes = parse_scopes(args);
  // cli-contract rule 4: leeway 0 unless given; exp required only with --require exp.
  policy.leeway = parse_leeway(args);
  policy.require_exp = args.has("--jwt-svid");  // a JWT-SVID has exp, always
  for (const auto& c : args.all("--require")) {
    if (c.empty()) usage_error("--require needs a claim name");
    policy.required_claims.push_back(c);
  }
  if (const auto m = args.get("--max-age")) {
    policy.max_age = std::chrono::seconds(parse_int("--max-age", *m, 0, INT32_MAX));
  }
  if (const auto now = args.get("--now")) {
    const auto t = parse_now(*now);
    policy.clock = [t] { return t; };
  }
  std::optional<Verifier> verifier_slot;
  const bool payload_only = args.has("--payload-only");
  const bool single_use = args.has("--single-use");
  const auto replay_store = args.get("--replay-store");
  if (single_use && !replay_store) {
    usage_error("--single-use needs --replay-store (a one-shot command has no memory of its own)");
  }
  if (payload_only && (single_use || args.has("--cnf-cert") || args.has("--cnf-forwarded") ||
                       args.has("--require-binding") || args.has("--claim") || args.has("--claim-contains") ||
                       args.has("--role") || args.has("--jwt-svid"))) {
    usage_error("--payload-only checks no claims: it cannot be combined with --single-use, --cnf-cert, "
                "--cnf-forwarded, --require-binding, --claim, --claim-contains, --role or --jwt-svid");
  }
  policy.require_binding = args.has("--require-binding");
  std::optional<PeerCertificate> cnf_cert;
  if (const auto file = args.get("--cnf-cert")) {
    auto cert = PeerCertificate::from_pem(read_file(*file, "--cnf-cert"));
    if (!cert) usage_error("--cnf-cert: " + *file + ": no PEM certificate");
    cnf_cert = std::move(*cert);
  }
  if (const auto forwarded = args.get("--cnf-forwarded")) {
    if (cnf_cert) usage_error("--cnf-cert and --cnf-forwarded name the same certificate: give one");
    const auto eq = forwarded->find('=');
    const std::string format = forwarded->substr(0, eq == std::string::npos ? 0 : eq);
    const std::string value = eq == std::string::npos ? std::string() : forwarded->substr(eq + 1);
    Result<PeerCertificate> cert = make_error(errc::invalid_request);
    if (format == "client-cert") {
      cert = parse_client_cert(value);
    } else if (format == "xfcc") {
      cert = parse_xfcc(value);
    } else if (format == "escaped-pem") {
      cert = parse_escaped_pem(value);
    } else {
      usage_error("--cnf-forwarded needs FORMAT=VALUE, FORMAT client-cert, xfcc or escaped-pem");
    }
    if (!cert) usage_error("--cnf-forwarded: " + cert.error().detail);
    cnf_cert = std::move(*cert);
  }
  // DPoP (RFC 9449): --dpop, --htm and --htu go together.
  const auto dpop = args.get("--dpop");
  const auto htm = args.get("--htm");
  const auto htu = args.get("--htu");
  if ((htm || htu || args.has("--dpop-nonce") || args.has("--dpop-max-age")) && !dpop) {
    usage_error("--htm, --htu, --dpop-nonce and --dpop-max-age go with --dpop");
  }
  if (dpop && (!htm || !htu)) usage_error("--dpop needs --htm and --htu");
  if (payload_only && dpop) usage_error("--payload-only checks no claims: it cannot be combined with --dpop");
  const Clock now = policy.clock ? policy.clock : Clock([] { return std::chrono::system_clock::now(); });
  DpopOptions dpop_options;
  dpop_options.clock = now;
  dpop_options.future_leeway = policy.leeway;  // the leeway widens only the future side
  if (const auto age = args.get("--dpop-max-age")) {
    dpop_options.max_age = std::chrono::seconds(parse_int("--dpop-max-age", *age, 0, INT32_MAX));
  }
  dpop_options.nonce = args.get("--dpop-nonce");
  if (replay_store) {
    // One store for both identifiers: the proof's jti (with --dpop) and, with
    // --single-use, the token's (iss, jti).
    const auto store = std::make_shared<ShiftedStore>(open_replay_store(*replay_store, spec.timeout), now);
    if (single_use) policy.replay_store = store;
    if (dpop) policy.proof_replay_store = store;
  }

  if (spec.key_file && *spec.key_file == "-" && (!args.positional() || *args.positional() == "-")) {
    usage_error("--key and the token cannot both be stdin");
  }
  // --metrics: the verify, the key fetch and single-use checks observed, written after.
  std::shared_ptr<PrometheusMetrics> metrics;
  const auto metrics_file = args.get("--metrics");
  if (metrics_file) {
    if (payload_only) usage_error("--payload-only checks no claims: it cannot be combined with --metrics");
    metrics = std::make_shared<PrometheusMetrics>();
    policy.observer = metrics;
  }
  const OpenedKeys keys = open_keys(spec, args.has("--jwt-svid"), metrics);
  if (spec.issuer_url) {
    // cli-contract: with --issuer-url the token's `iss` must equal URL too.
    const std::string expected = *spec.issuer_url;
    policy.custom_checks.push_back([expected](const Claims& c) -> Result<void> {
      if (c.issuer() != expected) return make_error(errc::bad_issuer, "issuer is not --issuer-url");
      return {};
    });
  }
  const std::string token = token_argument(args.positional());
  if (payload_only) return verify_payload_only(args, keys, token);

  try {
    verifier_slot.emplace(keys.source, std::move(policy));
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  const Verifier& verifier = *verifier_slot;
  Presented presented;
  if (cnf_cert) presented.certificate_thumbprint = cnf_cert->thumbprint;
  DpopRequest dpop_request;
  if (dpop) {
    dpop_request = DpopRequest{*dpop, *htm, *htu, &dpop_options};
    presented.dpop = &dpop_request;
  }
  auto verified = verifier.verify(token, presented);
  if (metrics) {
    if (keys.settle) keys.settle();  // the key fetch counted before the file is written
    write_metrics(*metrics, *metrics_file);
  }
  if (!verified) {
    explain_not_found(verified.error(), keys, token_kid(token, verifier.policy().max_token_size));
    fail(std::move(verified).error());
  }
  // cli-contract rule 15: claim values exactly as received (64-bit integers, UTF-8).
  write_out(verified->claims().json().dump() + "\n");
  return kExitOk;
}

}  // namespace tokenpass::cli

// threading_shared: what is built once and shared by every thread, who owns which
// thread, and what must outlive what (docs/guide/threading-and-lifetimes.md). An issuer's
// JWKS and a protected route are served on 127.0.0.1; eight threads verify and resolve
// with the same objects at once; a handler hands its caller's token to a background job;
// views (a bearer token, a DPoP proof) are kept alive for the calls that read them; and
// the objects are torn down in order.
#include <tokenpass/adapters/httplib.h>
#include <tokenpass/tokenpass.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// Jobs: one background thread running what handlers hand it, after they have returned.
class Jobs {
 public:
  Jobs() : worker_([this] { run(); }) {}
  ~Jobs() { stop(); }
  void push(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      auto job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace

int main() {
  using namespace std::chrono_literals;
  // The issuer: a signing key whose public half is served as a JWKS.
  const tokenpass::Key signing = tokenpass::Key::generate(tokenpass::Alg::ES256);
  tokenpass::IssuerOptions io;
  io.audience = {"orders-api"};
  const tokenpass::Issuer issuer(signing, "https://auth.example.com", 5min, io);
  const tokenpass::DpopSigner client_key(tokenpass::Key::generate(tokenpass::Alg::ES256));

  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const std::string jwks = tokenpass::KeySet({signing.public_key().value()}).to_public_jwks().dump();
  server.Get("/jwks.json", [&jwks](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(jwks, "application/jwk-set+json");
  });

  std::atomic<int> events{0};
  // [snippet:startup]
  // At start-up, once. Each object holds what it was built from (shared_ptr), so the
  // last owner decides when a part goes away; none needs to outlive another by hand.
  auto http = std::make_shared<tokenpass::HttplibClient>();
  tokenpass::RemoteJwksOptions jo;
  jo.url = base + "/jwks.json";
  jo.allow_http = true;  // 127.0.0.1 only
  jo.on_event = [&events](const tokenpass::RemoteJwksEvent&) { ++events; };  // its worker thread
  auto keys = std::make_shared<tokenpass::RemoteJwks>(jo, http);  // starts one worker thread

  tokenpass::Policy policy;
  policy.issuers = {"https://auth.example.com"};
  policy.audiences = {"orders-api"};
  policy.cache.max_entries = 1000;
  auto verifier = std::make_shared<const tokenpass::Verifier>(keys, policy);  // holds `keys`
  auto resolver = std::make_shared<const tokenpass::TokenResolver>(verifier, nullptr);
  // [/snippet]

  Jobs jobs;
  std::atomic<int> done{0};
  // [snippet:handler]
  const auto place_order = [&jobs, &done](const httplib::Request& req, httplib::Response& res,
                                          const tokenpass::RequestContext& ctx) {
    // `req`, `ctx` and what ctx.user() points to live until this handler returns. Work
    // that runs later takes copies: a VerifiedToken copy shares one immutable record and
    // may be read from any thread.
    tokenpass::VerifiedToken user = *ctx.user();
    jobs.push([user, order = req.body, &done] {
      if (user.claims().subject() == "user-4711" && order == "2 x sku-1") ++done;
    });
    res.status = 202;
  };
  server.Post("/orders", tokenpass::protect(resolver, place_order));  // copies `resolver`
  // [/snippet]
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  const std::string token = issuer.issue(tokenpass::ClaimsBuilder().subject("user-4711")).value();

  // [snippet:threads]
  // Any number of threads, the same objects, no lock of yours.
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      const std::string value = "Bearer " + token;
      const tokenpass::HeaderLookup headers = [&value](std::string_view name) {
        if (!tokenpass::header_name_equals(name, "Authorization")) return std::vector<std::string>{};
        return std::vector<std::string>{value};
      };
      for (int i = 0; i < 50; ++i) {
        if (verifier->verify(token)) ++verified;
        auto ctx = resolver->resolve(headers);
        if (ctx && ctx->user()) ++verified;
      }
    });
  }
  for (auto& t : threads) t.join();
  // [/snippet]
  check(verified == 800, "8 threads x 50 verifies and resolves, all accepted");
  check(keys->stats().fetches == 1, "one key fetch for all of them (single flight)");

  tokenpass::HttpRequest post;
  post.method = "POST";
  post.url = base + "/orders";
  post.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "text/plain"}};
  post.body = "2 x sku-1";
  auto res = http->send(post);
  check(res && res->status == 202, "the handler answered 202 and queued the job");

  // [snippet:views]
  const std::string header = "Bearer " + token;  // must outlive `bearer`
  tokenpass::Result<std::string_view> bearer = tokenpass::extract_bearer(header);  // into `header`
  auto user = verifier->verify(*bearer);
  const nlohmann::json* sub = user->claims().find("/sub");  // lives as long as user's claims
  // Wrong: a view into a temporary string, gone at the end of the statement.
  //   auto view = tokenpass::extract_bearer(req.get_header_value("Authorization"));
  // [/snippet]
  check(sub != nullptr && *sub == "user-4711", "a claim read through a view");

  tokenpass::ClaimsBuilder bound_claims;
  bound_claims.subject("user-4711");
  tokenpass::bind_to_dpop_key(bound_claims, client_key.jkt());
  const std::string bound = issuer.issue(bound_claims).value();
  const std::string url = base + "/orders";
  const std::string proof_text = client_key.proof("POST", url, bound).value();
  // [snippet:presented]
  // Presented and DpopRequest hold views, not copies: what they point to must live until
  // verify returns.
  const tokenpass::DpopOptions dpop_options;
  const tokenpass::DpopRequest dpop{proof_text, "POST", url, &dpop_options};
  tokenpass::Presented presented;
  presented.dpop = &dpop;
  auto holder = verifier->verify(bound, presented);
  // [/snippet]
  check(holder.has_value(), "a DPoP-bound token with its proof, through views");

  // [snippet:teardown]
  server.stop();  // 1. no handler runs any more (the routes still hold `resolver`)
  listener.join();
  jobs.stop();    // 2. background work, holding VerifiedToken copies, ends
  resolver.reset();
  verifier.reset();
  keys.reset();   // 3. the last owner: the worker thread stops; a fetch under way is
                  //    abandoned to its deadline, and on_event is not called again
  // [/snippet]
  check(done == 1, "the background job saw the caller's token after the handler returned");
  check(events >= 1, "on_event was called on the worker thread");
  return failures == 0 ? 0 : 1;
}

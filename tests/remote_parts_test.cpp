// The parts RemoteJwks is made of, each on its own (src/internal): what an answer to a
// JWK set fetch means, the freshness, back-off and unknown-kid rules, and the
// per-thread snapshots. RemoteJwks as a whole, against real servers, is in
// remote_jwks_test.cpp.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "internal/jwks_fetch.h"
#include "internal/key_snapshots.h"
#include "internal/refresh_policy.h"
#include "support/catch.h"
#include "support/test_support.h"

using namespace std::chrono_literals;
using tokenpass::Alg;
using tokenpass::internal::JwksAnswer;
using tokenpass::internal::RefreshPolicy;
using json = nlohmann::json;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

const TimePoint kT0 = TimePoint(std::chrono::seconds(1900000000));

tokenpass::HttpResponse response(int status, std::string body,
                                 tokenpass::HttpHeaders headers = {}) {
  tokenpass::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string one_key_set() {
  return json{{"keys", {tp_test::public_of(tp_test::key_for(Alg::ES256)).to_public_jwk()}}}.dump();
}

}  // namespace

TEST_CASE("read_jwks_answer: keys only from a 200 with a usable set", "[remote][parts][fetch]") {
  tokenpass::RemoteJwksOptions opt;
  auto fetched = tokenpass::internal::read_jwks_answer(
      response(200, one_key_set(), {{"Cache-Control", "max-age=120"}, {"ETag", "\"v1\""}}), opt, false);
  REQUIRE(fetched.kind == JwksAnswer::Kind::fetched);
  CHECK(fetched.keys->size() == 1);
  CHECK(fetched.ttl == 120s);
  CHECK(fetched.etag == "\"v1\"");

  CHECK(tokenpass::internal::read_jwks_answer(response(304, ""), opt, true).kind ==
        JwksAnswer::Kind::not_modified);
  // A 304 to a request without If-None-Match is no answer.
  CHECK(tokenpass::internal::read_jwks_answer(response(304, ""), opt, false).kind ==
        JwksAnswer::Kind::failed);
  for (const auto& bad : {response(500, one_key_set()), response(200, "{\"keys\":[]}"),
                          response(200, "not json"), response(200, "{\"no\":1}"),
                          response(200, json{{"keys", {tp_test::key_for(Alg::HS256).to_private_jwk()}}}.dump())}) {
    CAPTURE(bad.status, bad.body.substr(0, 40));
    CHECK(tokenpass::internal::read_jwks_answer(bad, opt, false).kind == JwksAnswer::Kind::failed);
  }
  opt.max_body_bytes = 10;  // a client that ignored the limit: refused all the same
  CHECK(tokenpass::internal::read_jwks_answer(response(200, one_key_set()), opt, false).kind ==
        JwksAnswer::Kind::failed);
  tokenpass::Result<tokenpass::HttpResponse> no_answer =
      tokenpass::make_error(tokenpass::errc::http_error, "refused");
  CHECK(tokenpass::internal::read_jwks_answer(no_answer, opt, false).detail == "refused");
}

TEST_CASE("jwks_ttl clamps Cache-Control, ETags are kept only as entity-tags",
          "[remote][parts][fetch]") {
  tokenpass::RemoteJwksOptions opt;  // default 300, within [30, 86400]
  CHECK(tokenpass::internal::jwks_ttl(response(200, ""), opt) == 300s);
  CHECK(tokenpass::internal::jwks_ttl(response(200, "", {{"Cache-Control", "max-age=5"}}), opt) == 30s);
  CHECK(tokenpass::internal::jwks_ttl(response(200, "", {{"Cache-Control", "no-store"}}), opt) == 30s);
  CHECK(tokenpass::internal::jwks_ttl(response(200, "", {{"Cache-Control", "max-age=999999"}}), opt) ==
        86400s);
  for (const char* good : {"\"a\"", "W/\"a\"", "\"\"", "\"\x80\""}) CHECK(tokenpass::internal::is_entity_tag(good));
  for (const char* bad : {"a", "\"a", "W/a", "\"a\"b\"", "\"a b\"", "\"a\", \"b\""}) {
    CAPTURE(bad);
    CHECK_FALSE(tokenpass::internal::is_entity_tag(bad));
  }
}

TEST_CASE("RefreshPolicy: fresh, refresh ahead, stale, unusable", "[remote][parts][policy]") {
  tokenpass::RemoteJwksOptions opt;
  opt.refresh_ahead = 30s;
  opt.max_stale = 3600s;
  RefreshPolicy p(opt);
  CHECK_FALSE(p.has_set());
  CHECK_FALSE(p.usable(kT0));
  p.fetched(kT0, 300s);
  CHECK(p.usable(kT0));
  CHECK(p.fresh_until() == kT0 + 270s);
  CHECK_FALSE(p.stale(kT0 + 299s));
  CHECK(p.stale(kT0 + 300s));
  CHECK(p.usable(kT0 + 300s + 3599s));
  CHECK_FALSE(p.usable(kT0 + 300s + 3600s));
  // A short TTL: refresh ahead is at most half of it.
  p.not_modified(kT0, 40s);
  CHECK(p.fresh_until() == kT0 + 20s);
}

TEST_CASE("RefreshPolicy: the back-off doubles from 1 s to 60 s and a success resets it",
          "[remote][parts][policy]") {
  tokenpass::RemoteJwksOptions opt;
  RefreshPolicy p(opt);
  CHECK(p.may_fetch(kT0));
  TimePoint t = kT0;
  for (const auto wait : {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s}) {
    p.failed(t);
    CHECK_FALSE(p.may_fetch(t + wait - 1s));
    CHECK(p.may_fetch(t + wait));
    t += wait;
  }
  p.fetched(t, 300s);
  CHECK(p.may_fetch(t));
}

TEST_CASE("RefreshPolicy: one unknown-kid refresh per interval, each kid remembered",
          "[remote][parts][policy]") {
  tokenpass::RemoteJwksOptions opt;
  opt.unknown_kid_interval = 30s;
  RefreshPolicy p(opt);
  p.fetched(kT0, 300s);
  using U = RefreshPolicy::UnknownKid;
  CHECK(p.unknown_kid("k1", kT0) == U::refresh);
  p.refreshing_for_kid(kT0);
  p.still_unknown("k1", kT0);
  CHECK(p.unknown_kid("k1", kT0 + 10s) == U::answer);  // this kid: remembered
  CHECK(p.unknown_kid("k2", kT0 + 10s) == U::answer);  // any kid: the interval holds
  CHECK(p.unknown_kid("k2", kT0 + 30s) == U::refresh);
  CHECK(p.unknown_kid("k1", kT0 + 30s) == U::refresh);  // after the interval, again
  p.still_unknown("k3", kT0 + 40s);
  p.fetched(kT0 + 41s, 300s);  // a new set forgets the kids it was asked for
  p.refreshing_for_kid(kT0);   // (and the last refresh was long ago)
  CHECK(p.unknown_kid("k3", kT0 + 42s) == U::refresh);
}

TEST_CASE("snapshots answer while the version holds, the set is fresh and has the kid",
          "[remote][parts][snapshots]") {
  auto set = std::make_shared<const tokenpass::KeySet>(
      std::vector<tokenpass::Key>{tp_test::public_of(tp_test::key_for(Alg::ES256)).with_kid("k1")});
  const auto source = tokenpass::internal::next_source_id();
  tokenpass::KeyQuery any;
  CHECK(tokenpass::internal::read_snapshot(source, 1, kT0, any) == nullptr);  // none yet
  const auto served = tokenpass::internal::renew_snapshot(source, 1, kT0 + 60s, set, 42);
  CHECK(served.keys.get() == set.get());
  CHECK(served.version == 42);
  const auto* snap = tokenpass::internal::read_snapshot(source, 1, kT0, any);
  REQUIRE(snap != nullptr);
  CHECK(snap->set_version == 42);
  CHECK(tokenpass::internal::read_snapshot(source, 2, kT0, any) == nullptr);        // changed
  CHECK(tokenpass::internal::read_snapshot(source, 1, kT0 + 60s, any) == nullptr);  // not fresh
  tokenpass::KeyQuery k1{"k1", true, {}};
  tokenpass::KeyQuery k2{"k2", true, {}};
  CHECK(tokenpass::internal::read_snapshot(source, 1, kT0, k1) != nullptr);
  CHECK(tokenpass::internal::read_snapshot(source, 1, kT0, k2) == nullptr);
  // Another thread has snapshots of its own.
  bool other_sees = true;
  std::thread([&] { other_sees = tokenpass::internal::read_snapshot(source, 1, kT0, any) != nullptr; }).join();
  CHECK_FALSE(other_sees);
  // More sources than slots: the oldest is replaced, round-robin.
  for (std::size_t i = 0; i < tokenpass::internal::kSnapshots; ++i) {
    tokenpass::internal::renew_snapshot(tokenpass::internal::next_source_id(), 1, kT0 + 60s, set, 1);
  }
  CHECK(tokenpass::internal::read_snapshot(source, 1, kT0, any) == nullptr);
}

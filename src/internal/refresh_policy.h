// When RemoteJwks serves, refreshes or refuses: the set's freshness (TTL, refresh ahead,
// stale-if-error), the back-off after failed fetches, and the rate limit on refreshes
// for unknown kids. Plain state and rules, no threads or I/O: RemoteJwks holds one under
// its mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tokenpass/key_source.h"

namespace tokenpass::internal {

class RefreshPolicy {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // Kids remembered as "not in the set" at most; a flood of random kids cannot grow it
  // past this (it is cleared when full, and whenever the keys change).
  static constexpr std::size_t kMaxUnknownKids = 4096;
  // Back-off after a failed fetch: doubles from the first value up to the last.
  static constexpr std::chrono::seconds kFirstBackoff{1};
  static constexpr std::chrono::seconds kMaxBackoff{60};

  explicit RefreshPolicy(const RemoteJwksOptions& opt) : opt_(opt) {}

  // A set is held (has_set) from the first successful fetch on.
  bool has_set() const { return has_set_; }
  // usable: a set is held and not past TTL + max_stale.
  bool usable(TimePoint t) const { return has_set_ && t < fetched_at_ + ttl_ + opt_.max_stale; }
  // fresh_until: until when the set is served without asking for a refresh (refresh
  // ahead: at most half the TTL before it ends).
  TimePoint fresh_until() const { return fetched_at_ + ttl_ - std::min(opt_.refresh_ahead, ttl_ / 2); }
  // stale: past the TTL (served only while fetches fail, up to max_stale).
  bool stale(TimePoint t) const { return t >= expires_at(); }
  TimePoint expires_at() const { return fetched_at_ + ttl_; }
  // confirmed_at: when the held set was last fetched or confirmed (304).
  TimePoint confirmed_at() const { return fetched_at_; }
  // may_fetch: the back-off after a failure has passed.
  bool may_fetch(TimePoint t) const { return t >= next_attempt_; }

  // After a fetch: new keys, the old ones confirmed (304), or a failure.
  void fetched(TimePoint t, std::chrono::seconds ttl);
  void not_modified(TimePoint t, std::chrono::seconds ttl);
  void failed(TimePoint t);

  // UnknownKid: what a lookup for a kid the set lacks does: answer with the set as it
  // is (rate limited), or ask for a refresh and wait for it.
  enum class UnknownKid { answer, refresh };
  UnknownKid unknown_kid(std::string_view kid, TimePoint t) const;
  // refreshing_for_kid: a refresh for an unknown kid starts now.
  void refreshing_for_kid(TimePoint t) { last_kid_refresh_ = t; }
  // still_unknown: the refresh did not bring `kid`; it is not asked for again within
  // the interval.
  void still_unknown(const std::string& kid, TimePoint t);

 private:
  const RemoteJwksOptions& opt_;
  bool has_set_ = false;
  TimePoint fetched_at_{};
  std::chrono::seconds ttl_{0};
  TimePoint next_attempt_ = TimePoint::min();
  std::chrono::seconds backoff_{0};
  TimePoint last_kid_refresh_ = TimePoint::min();
  std::unordered_map<std::string, TimePoint> unknown_kids_;  // kid -> when it was looked for
};

}  // namespace tokenpass::internal

#include "internal/refresh_policy.h"

#include <algorithm>

namespace tokenpass::internal {

void RefreshPolicy::fetched(TimePoint t, std::chrono::seconds ttl) {
  has_set_ = true;
  fetched_at_ = t;
  ttl_ = ttl;
  unknown_kids_.clear();  // a new set: every kid may be in it
  backoff_ = std::chrono::seconds(0);
  next_attempt_ = TimePoint::min();
}

void RefreshPolicy::not_modified(TimePoint t, std::chrono::seconds ttl) {
  fetched_at_ = t;
  ttl_ = ttl;
  backoff_ = std::chrono::seconds(0);
  next_attempt_ = TimePoint::min();
}

void RefreshPolicy::failed(TimePoint t) {
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  next_attempt_ = t + backoff_;
}

RefreshPolicy::UnknownKid RefreshPolicy::unknown_kid(std::string_view kid, TimePoint t) const {
  // Looked for within the interval already: answer without waiting. After the interval
  // the kid may ask again (it may have been published meanwhile).
  const auto known = unknown_kids_.find(std::string(kid));
  if (known != unknown_kids_.end() && t - known->second < opt_.unknown_kid_interval) {
    return UnknownKid::answer;
  }
  // A rotation shows up as an unknown kid: one refresh per interval, so that a flood of
  // random kids costs at most one fetch per interval.
  const bool interval_passed = last_kid_refresh_ == TimePoint::min() ||
                               t - last_kid_refresh_ >= opt_.unknown_kid_interval;
  return interval_passed ? UnknownKid::refresh : UnknownKid::answer;
}

void RefreshPolicy::still_unknown(const std::string& kid, TimePoint t) {
  if (unknown_kids_.size() >= kMaxUnknownKids) unknown_kids_.clear();
  unknown_kids_[kid] = t;
}

}  // namespace tokenpass::internal

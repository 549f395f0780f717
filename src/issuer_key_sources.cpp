// IssuerKeySources: one key source per configured issuer, chosen by the token's `iss`.
#include <stdexcept>
#include <utility>

#include "tokenpass/key_source.h"

namespace tokenpass {

IssuerKeySources::IssuerKeySources(
    std::map<std::string, std::shared_ptr<const KeySource>> sources) {
  if (sources.empty()) throw std::invalid_argument("tokenpass::IssuerKeySources: no issuers");
  for (auto& [iss, src] : sources) {
    if (!src) throw std::invalid_argument("tokenpass::IssuerKeySources: null source for " + iss);
    sources_.emplace(iss, std::move(src));
  }
}

Result<std::shared_ptr<const KeySet>> IssuerKeySources::keys_for(const KeyQuery& query) const {
  const auto it = sources_.find(query.issuer);
  if (it == sources_.end()) {
    return make_error(errc::bad_issuer, "the token's issuer is not configured");
  }
  return it->second->keys_for(query);
}

Result<ServedKeys> IssuerKeySources::served_keys(const KeyQuery& query) const {
  const auto it = sources_.find(query.issuer);
  if (it == sources_.end()) {
    return make_error(errc::bad_issuer, "the token's issuer is not configured");
  }
  return it->second->served_keys(query);
}

}  // namespace tokenpass

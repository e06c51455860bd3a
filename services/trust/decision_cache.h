// DecisionCache: remembers Decisions so that a peer seen again is judged without a new
// path build. Keyed by SHA-256 over (DER chain, purpose, expected name, policy
// generation); an entry never outlives the earliest notAfter in its chain, and a new policy
// generation makes every older entry unreachable.
//
//   DecisionCache cache(10000);
//   std::string key = DecisionCache::Key(chain_der, purpose, name, validator.generation());
//   if (auto hit = cache.Lookup(key, now)) return *hit;
//   Decision d = validator.Validate(chain_der, purpose, name, now);
//   cache.Insert(key, d, now);
//
// Thread-safe.
#ifndef SERVICES_TRUST_DECISION_CACHE_H_
#define SERVICES_TRUST_DECISION_CACHE_H_

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/trust/decision.h"

namespace edge::trust {

class DecisionCache {
 public:
  // Holds at most `capacity` decisions; the least recently used goes first.
  explicit DecisionCache(size_t capacity);

  static std::string Key(const std::vector<std::string>& chain_der, Purpose purpose,
                         absl::string_view expected_name, uint64_t policy_generation);

  // The cached decision for `key` when one is still valid at `now`.
  std::optional<Decision> Lookup(const std::string& key, absl::Time now);

  // Caches `decision` until the earliest notAfter of its chain. Decisions that time alone
  // may change sooner (NOT_YET_VALID) are not cached, nor are those with no chain.
  void Insert(const std::string& key, const Decision& decision, absl::Time now);

  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Entry {
    Decision decision;
    absl::Time valid_until;
    std::list<std::string>::iterator lru;
  };

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // Most recent first.
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_DECISION_CACHE_H_

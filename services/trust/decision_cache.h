// DecisionCache: remembers Decisions so that a peer seen again is judged without a new
// path build. Keyed by SHA-256 over (DER chain, purpose, expected name, policy
// generation); an entry never outlives the earliest notAfter in its chain, and a new policy
// generation makes every older entry unreachable.
//
// Bounded twice: in entries and in bytes (an estimate of the heap an entry holds: its key
// twice, the decision's strings and the containers' nodes, see EntryBytes), because a
// decision's size depends on what the peer sent; the least recently used entries go first
// when either bound would be exceeded.
//
//   DecisionCache cache(/*max_entries=*/10000, /*max_bytes=*/16 << 20);
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
  // Holds at most `max_entries` decisions taking at most `max_bytes` (EntryBytes) in all;
  // the least recently used go first. 0 counts as 1 for either.
  DecisionCache(size_t max_entries, size_t max_bytes);

  static std::string Key(const std::vector<std::string>& chain_der, Purpose purpose,
                         absl::string_view expected_name, uint64_t policy_generation);

  // The cached decision for `key` when one is still valid at `now`.
  std::optional<Decision> Lookup(const std::string& key, absl::Time now);

  // Caches `decision` until the earliest notAfter of its chain. Decisions that time alone
  // may change sooner (NOT_YET_VALID) are not cached, nor are those with no chain, nor one
  // larger than max_bytes by itself. Evicts least recently used entries until both bounds
  // hold with the new one.
  void Insert(const std::string& key, const Decision& decision, absl::Time now);

  // What an entry for (`key`, `decision`) is charged: an upper bound of the heap it holds
  // (string bytes plus allocator overhead, the map and list nodes), so that bytes() <=
  // max_bytes bounds the cache's real memory.
  static size_t EntryBytes(const std::string& key, const Decision& decision);

  size_t size() const;
  size_t bytes() const;  // Sum of EntryBytes of the entries held.
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Entry {
    Decision decision;
    absl::Time valid_until;
    size_t bytes;
    std::list<std::string>::iterator lru;
  };

  void EraseLocked(std::unordered_map<std::string, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // Most recent first.
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_DECISION_CACHE_H_

#include "services/trust/decision_cache.h"

#include <openssl/sha.h>

namespace edge::trust {

DecisionCache::DecisionCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

std::string DecisionCache::Key(const std::vector<std::string>& chain_der, Purpose purpose,
                               absl::string_view expected_name, uint64_t policy_generation) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  // Length-prefix every field so that no two inputs serialize alike.
  auto add = [&ctx](absl::string_view field) {
    uint64_t len = field.size();
    SHA256_Update(&ctx, &len, sizeof(len));
    SHA256_Update(&ctx, field.data(), field.size());
  };
  uint64_t count = chain_der.size();
  SHA256_Update(&ctx, &count, sizeof(count));
  for (const std::string& der : chain_der) add(der);
  add(PurposeName(purpose));
  add(expected_name);
  SHA256_Update(&ctx, &policy_generation, sizeof(policy_generation));
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &ctx);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

std::optional<Decision> DecisionCache::Lookup(const std::string& key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++misses_;
    return std::nullopt;
  }
  if (now > it->second.valid_until) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
    ++misses_;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.decision;
}

void DecisionCache::Insert(const std::string& key, const Decision& decision, absl::Time now) {
  if (decision.chain.empty() || decision.reason == Reason::kNotYetValid) return;
  absl::Time valid_until = absl::InfiniteFuture();
  for (const CertificateSummary& c : decision.chain) {
    valid_until = std::min(valid_until, c.not_after);
  }
  if (now > valid_until && decision.allowed) return;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{decision, valid_until, lru_.begin()});
}

size_t DecisionCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

uint64_t DecisionCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

uint64_t DecisionCache::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

}  // namespace edge::trust

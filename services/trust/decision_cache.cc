#include "services/trust/decision_cache.h"

#include <openssl/sha.h>

namespace edge::trust {

namespace {

// Heap an std::string of `s`'s length holds beyond its own object: nothing while it fits
// the small-string buffer (15 bytes in libstdc++), else its bytes, the terminator and what
// malloc adds (its header and the rounding to 16: under 32 bytes).
size_t StringHeap(const std::string& s) {
  constexpr size_t kSmallString = 15;
  constexpr size_t kMallocOverhead = 32;
  return s.size() <= kSmallString ? 0 : s.size() + 1 + kMallocOverhead;
}

// The unordered_map node (key, Entry, hash, next pointer), its bucket pointer and the LRU
// list node (a key string and two pointers), each with malloc's overhead: 80 bytes in
// libstdc++ on 64-bit, rounded up.
constexpr size_t kNodeOverhead = 96;

}  // namespace

DecisionCache::DecisionCache(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries == 0 ? 1 : max_entries),
      max_bytes_(max_bytes == 0 ? 1 : max_bytes) {}

size_t DecisionCache::EntryBytes(const std::string& key, const Decision& d) {
  size_t bytes = sizeof(std::string) + sizeof(Entry) + sizeof(std::string) + kNodeOverhead;
  bytes += 2 * StringHeap(key);  // In the map and in the LRU list.
  for (const std::string* s : {&d.openssl_error_text, &d.detail, &d.hint, &d.failing_subject,
                               &d.failing_issuer, &d.leaf_sha256}) {
    bytes += StringHeap(*s);
  }
  if (!d.chain.empty()) bytes += d.chain.size() * sizeof(CertificateSummary) + 32;
  for (const CertificateSummary& c : d.chain) {
    bytes += StringHeap(c.subject) + StringHeap(c.issuer) + StringHeap(c.sha256);
  }
  if (!d.warnings.empty()) bytes += d.warnings.size() * sizeof(std::string) + 32;
  for (const std::string& w : d.warnings) bytes += StringHeap(w);
  return bytes;
}

void DecisionCache::EraseLocked(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

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
    EraseLocked(it);
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
  const size_t bytes = EntryBytes(key, decision);
  if (bytes > max_bytes_) return;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) EraseLocked(it);
  while (!lru_.empty() && (entries_.size() >= max_entries_ || bytes_ + bytes > max_bytes_)) {
    EraseLocked(entries_.find(lru_.back()));
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{decision, valid_until, bytes, lru_.begin()});
  bytes_ += bytes;
}

size_t DecisionCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t DecisionCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
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

// SignatureCache: issuer-to-subject signatures already verified, so that a new leaf under
// a known intermediate costs one signature check, not one per certificate of its path.
//
//   SignatureCache signatures(/*max_entries=*/4096, /*max_bytes=*/1 << 20);
//   if (!signatures.Verify(leaf, intermediate)) ...  // X509_verify, remembered if it holds.
//
// An entry is keyed by the SHA-256 of both certificates' DER: the subject's covers its
// to-be-signed part and its signature, the issuer's its public key, so it vouches for that
// exact pair and nothing else. Only signatures that verify are remembered; a bad one is
// checked again every time it is presented (a hostile peer pays for it as much as we do).
//
// Bounded in entries and in bytes: every entry is kEntryBytes (an upper bound of what it
// holds: the key in the set and in the eviction ring, the set's slot overhead); when full,
// the oldest entry is forgotten first. Thread-safe.
#ifndef SERVICES_TRUST_SIGNATURE_CACHE_H_
#define SERVICES_TRUST_SIGNATURE_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "services/common/openssl_util.h"

namespace edge::trust {

class SignatureCache {
 public:
  // SHA-256(subject DER) || SHA-256(issuer DER).
  using Key = std::array<uint8_t, 64>;
  // What one entry costs at most: its key in the ring (64 bytes) and in the set, whose
  // slots are a key and a control byte each and at least 7/16 full once it has grown
  // (under 2.3 x 65 bytes per entry).
  static constexpr size_t kEntryBytes = 256;

  // Holds at most min(max_entries, max_bytes / kEntryBytes) signatures, at least one.
  SignatureCache(size_t max_entries, size_t max_bytes);

  // Whether `subject`'s signature verifies under `issuer`'s public key (X509_verify, which
  // also requires the outer and inner signature algorithms to be equal). Remembered when it
  // does. False when either certificate cannot be encoded or hashed. Leaves OpenSSL's error
  // queue empty.
  bool Verify(X509* subject, X509* issuer);

  size_t capacity() const { return capacity_; }
  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Key> known_ ABSL_GUARDED_BY(mu_);
  std::vector<Key> ring_ ABSL_GUARDED_BY(mu_);  // Insertion order; grows to capacity_.
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;        // The slot to overwrite once full.
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_SIGNATURE_CACHE_H_

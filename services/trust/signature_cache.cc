#include "services/trust/signature_cache.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

namespace edge::trust {
namespace {

// SHA-256 of the certificate's DER into `out` (32 bytes).
bool CertSha256(X509* cert, uint8_t* out) {
  unsigned int len = 0;
  return X509_digest(cert, EVP_sha256(), out, &len) == 1 && len == 32;
}

}  // namespace

SignatureCache::SignatureCache(size_t max_entries, size_t max_bytes)
    : capacity_(std::max<size_t>(1, std::min(max_entries, max_bytes / kEntryBytes))) {}

bool SignatureCache::Verify(X509* subject, X509* issuer) {
  Key key;
  if (!CertSha256(subject, key.data()) || !CertSha256(issuer, key.data() + 32)) {
    ClearOpenSslErrors();
    return false;
  }
  {
    absl::MutexLock lock(&mu_);
    if (known_.contains(key)) {
      ++hits_;
      return true;
    }
    ++misses_;
  }
  // Outside the lock: a signature check is the expensive part, and two threads checking
  // the same pair at once only both insert it.
  EVP_PKEY* key_of_issuer = X509_get0_pubkey(issuer);
  bool ok = key_of_issuer != nullptr && X509_verify(subject, key_of_issuer) == 1;
  ClearOpenSslErrors();
  if (!ok) return false;
  absl::MutexLock lock(&mu_);
  if (!known_.insert(key).second) return true;
  if (ring_.size() < capacity_) {
    ring_.push_back(key);
  } else {
    known_.erase(ring_[next_]);
    ring_[next_] = key;
    next_ = (next_ + 1) % capacity_;
  }
  return true;
}

size_t SignatureCache::size() const {
  absl::MutexLock lock(&mu_);
  return known_.size();
}

uint64_t SignatureCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

uint64_t SignatureCache::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

}  // namespace edge::trust

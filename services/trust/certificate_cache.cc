#include "services/trust/certificate_cache.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <utility>

namespace edge::trust {

CertificateCache::CertificateCache(size_t max_entries, size_t max_bytes)
    : max_entries_(std::max<size_t>(1, max_entries)), max_bytes_(max_bytes) {}

absl::StatusOr<UniqueX509> CertificateCache::Parse(absl::string_view der,
                                                   absl::string_view what, bool remember) {
  {
    absl::MutexLock lock(&mu_);
    auto it = parsed_.find(der);
    if (it != parsed_.end()) {
      ++hits_;
      X509_up_ref(it->second.get());
      return UniqueX509(it->second.get());
    }
    ++misses_;
  }
  // Parsed outside the lock: it is the expensive part.
  absl::StatusOr<UniqueX509> cert = CertFromDer(der, what);
  if (!cert.ok() || !remember) return cert;
  // Extensions decoded now, once: afterwards the certificate is only read.
  X509_check_purpose(cert->get(), -1, 0);
  ClearOpenSslErrors();
  X509_up_ref(cert->get());
  UniqueX509 kept(cert->get());
  absl::MutexLock lock(&mu_);
  InsertLocked(std::string(der), std::move(kept));
  return cert;
}

void CertificateCache::Remember(X509* cert) {
  std::string der = CertToDer(cert);
  if (der.empty()) {
    ClearOpenSslErrors();
    return;
  }
  X509_check_purpose(cert, -1, 0);
  ClearOpenSslErrors();
  X509_up_ref(cert);
  UniqueX509 kept(cert);
  absl::MutexLock lock(&mu_);
  InsertLocked(std::move(der), std::move(kept));
}

void CertificateCache::InsertLocked(std::string der, UniqueX509 cert) {
  size_t charge = EntryBytes(der.size());
  if (charge > max_bytes_ || parsed_.count(der) != 0) return;
  while (!oldest_first_.empty() &&
         (parsed_.size() + 1 > max_entries_ || bytes_ + charge > max_bytes_)) {
    const std::string* oldest = oldest_first_.front();
    oldest_first_.pop_front();
    bytes_ -= EntryBytes(oldest->size());
    parsed_.erase(*oldest);
  }
  auto it = parsed_.emplace(std::move(der), std::move(cert)).first;
  oldest_first_.push_back(&it->first);
  bytes_ += charge;
}

size_t CertificateCache::size() const {
  absl::MutexLock lock(&mu_);
  return parsed_.size();
}

size_t CertificateCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

uint64_t CertificateCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

uint64_t CertificateCache::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

}  // namespace edge::trust

// CertificateCache: certificates already parsed, by their exact DER, so that the CA
// certificates every peer sends (its intermediates, often its root) and the configured
// trust anchors are parsed once, not once per decision. With OpenSSL 3 parsing a
// certificate costs more than checking its signature (the public key goes through the
// provider decoders), and a peer's chain is mostly certificates seen before.
//
//   CertificateCache certs(/*max_entries=*/1024, /*max_bytes=*/4 << 20);
//   certs.Remember(anchor);                          // Parsed already: kept as it is.
//   auto ica = certs.Parse(der, "peer certificate 1", /*remember=*/true);
//
// Keyed by the DER bytes themselves (no hash to trust): a hit is the very certificate that
// was parsed from those bytes, its extensions already cached (X509_check_purpose), shared
// read-only between decisions as OpenSSL shares a store's anchors. Only what a caller asks
// to remember is remembered: the leaf of every new peer would only push the CAs out.
//
// Bounded in entries and in bytes (EntryBytes: an upper bound of what an entry holds, the
// key and OpenSSL's parsed form); the oldest entry goes first. Thread-safe.
#ifndef SERVICES_TRUST_CERTIFICATE_CACHE_H_
#define SERVICES_TRUST_CERTIFICATE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/common/openssl_util.h"

namespace edge::trust {

class CertificateCache {
 public:
  // Holds at most `max_entries` certificates charged at most `max_bytes` in all (0 counts
  // as 1 entry).
  CertificateCache(size_t max_entries, size_t max_bytes);

  // The certificate whose DER is exactly `der` (a new reference): the one parsed before
  // when there is one, else parsed now and, when `remember`, kept. Errors as CertFromDer
  // (kInvalidArgument naming `what`); a failure is never remembered.
  absl::StatusOr<UniqueX509> Parse(absl::string_view der, absl::string_view what,
                                   bool remember);

  // Keeps `cert` (takes a reference) as the parsed form of its own DER, so that a peer
  // sending that certificate gets this object. No-op when it cannot be encoded.
  void Remember(X509* cert);

  // What an entry for a certificate of `der_size` bytes is charged: the key, and OpenSSL's
  // parsed form (the to-be-signed part kept encoded, the decoded fields, names and key),
  // which a test measures to stay below it.
  static size_t EntryBytes(size_t der_size) { return 4 * der_size + 8192; }

  size_t size() const;
  size_t bytes() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  void InsertLocked(std::string der, UniqueX509 cert) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  // node_hash_map: keys keep their address, so the eviction queue points at them.
  absl::node_hash_map<std::string, UniqueX509> parsed_ ABSL_GUARDED_BY(mu_);
  std::deque<const std::string*> oldest_first_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_CERTIFICATE_CACHE_H_

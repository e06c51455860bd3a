// ChainValidator: the trust engine. Turns (peer chain, purpose, expected name, time) into a
// Decision under one immutable TrustPolicy. No gRPC, no I/O.
//
//   auto validator = ChainValidator::Create(std::move(policy));
//   Decision d = (*validator)->Validate({leaf_der, ica_der}, Purpose::kPlatform,
//                                       "platform.example", absl::Now());
//
// The pipeline: parse -> build candidate paths from the leaf to a configured anchor through
// the peer's other certificates (path_builder.h: issuer name and key identifiers, anchors
// first, bounded) -> for each path until one passes every step: (1) RFC 5280 section 6 with
// OpenSSL on exactly that path (X509_STRICT, policy processing, name constraints, path
// length, purpose, and revocation of every certificate below the anchor when CRLs are
// configured: no usable CRL is REVOCATION_UNKNOWN), (2) the web-PKI profile
// (strict_checks.h), (3) host name or IP, (4) validation_criteria, (5) leaf allowlist, (6)
// pins. A path that fails is abandoned for the next; the decision is the first path that
// passes, else the first path's failure (a leaf-only failure ends the search). When no
// candidate reaches an anchor, OpenSSL's own path building gives the diagnosis (unknown
// issuer, self-signed). At most 100 signature checks per decision. A refusal of a chain
// whose leaf is not first says so ("the leaf must come first; found at position 2").
//
// Work is not done twice (Caches): the trust anchors and the CA certificates peers send
// are parsed once (CertificateCache), and a verified issuer-to-subject signature is
// remembered (SignatureCache; with OpenSSL 3 the signature step of X509_verify_cert is
// replaced by one that consults it), so a new leaf under a known intermediate costs one
// parse and one signature check.
// Thread-safe: Validate may be called concurrently.
#ifndef SERVICES_TRUST_CHAIN_VALIDATOR_H_
#define SERVICES_TRUST_CHAIN_VALIDATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/openssl_util.h"
#include "services/trust/certificate_cache.h"
#include "services/trust/decision.h"
#include "services/trust/policy.h"
#include "services/trust/signature_cache.h"

namespace edge::trust {

class ChainValidator {
 public:
  // What a validator remembers between decisions so as not to do the same work twice.
  // Both hold for exact certificates whatever the policy, so the validators of successive
  // policy generations may share them. Null: one of the default size.
  struct Caches {
    // Verified issuer/subject signatures: a new leaf under a known intermediate costs one
    // signature check.
    std::shared_ptr<SignatureCache> signatures;
    // Parsed certificates: the trust anchors, and the CA certificates peers send (every
    // certificate after the leaf).
    std::shared_ptr<CertificateCache> certificates;
  };
  // The default sizes: a few thousand signatures (1 MB at most), a thousand CA
  // certificates (8 MB at most).
  static constexpr size_t kDefaultSignatureEntries = 4096;
  static constexpr size_t kDefaultSignatureBytes = 1 << 20;
  static constexpr size_t kDefaultCertificateEntries = 1024;
  static constexpr size_t kDefaultCertificateBytes = 8 << 20;

  // kInvalidArgument when a purpose has no trust store. The trust anchors are added to
  // `caches.certificates`.
  static absl::StatusOr<std::unique_ptr<ChainValidator>> Create(TrustPolicy policy,
                                                                Caches caches = {});

  // `chain_der`: the peer's certificates as DER, leaf first, as sent in the handshake.
  // `expected_name`: a DNS name or an IP address literal; empty skips the name check.
  // A purpose with no policy is refused (INVALID_CHAIN with a hint).
  // Every Decision returned is bounded (BoundDecision in decision.h): its chain summary is
  // the path as far as it was built (paths are capped at kMaxSummaryCertificates), or, when
  // no path was built, the leaf and at most kMaxUnbuiltSummaryCertificates - 1 more as
  // presented; names and sentences are cut to their limits. Callers may therefore keep
  // Decisions whatever the peer sent.
  Decision Validate(const std::vector<std::string>& chain_der, Purpose purpose,
                    absl::string_view expected_name, absl::Time now) const;

  // The same for already parsed certificates (leaf first); does not take ownership.
  Decision ValidateCerts(const std::vector<X509*>& chain, Purpose purpose,
                         absl::string_view expected_name, absl::Time now) const;

  uint64_t generation() const { return policy_.generation; }
  const TrustPolicy& policy() const { return policy_; }
  const Caches& caches() const { return caches_; }

 private:
  explicit ChainValidator(TrustPolicy policy) : policy_(std::move(policy)) {}
  // ValidateCerts before the bounds are applied.
  Decision Decide(const std::vector<X509*>& chain, Purpose purpose,
                  absl::string_view expected_name, absl::Time now) const;

  TrustPolicy policy_;
  Caches caches_;  // Neither is null.
  std::map<Purpose, UniqueX509Store> stores_;
  // Per purpose, why configured CRLs were left out of its store (one sentence each).
  std::map<Purpose, std::vector<std::string>> unusable_crls_;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_CHAIN_VALIDATOR_H_

// TrustPolicy: everything the chain validator needs to decide, per purpose.
//
// Built from the configuration by trustd (see policy_from_config.h) or directly by tests
// and the x509-limbo harness. Immutable once handed to ChainValidator::Create.
#ifndef SERVICES_TRUST_POLICY_H_
#define SERVICES_TRUST_POLICY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/openssl_util.h"
#include "services/trust/decision.h"

namespace edge::trust {

// Trust anchors and CRLs loaded from one configured file set.
struct TrustStore {
  std::string source;  // Field and files for hints: "certificates.cert_chain (/etc/ca.pem)".
  std::vector<UniqueX509> anchors;
  std::vector<UniqueX509Crl> crls;
};

// The strict web-PKI rules on top of RFC 5280; each `allow_*` relaxes one, with a warning
// in every Decision that relied on it. Defaults are strict.
struct StrictPolicy {
  bool allow_sha1_signatures = false;  // MD5 is never accepted.
  bool allow_missing_eku = false;      // Leaf without extendedKeyUsage.
  bool allow_missing_san = false;      // Leaf without subjectAltName (CN used for the name).
  bool allow_weak_keys = false;        // RSA < 2048 or not a multiple of 8, DSA, odd curves.
  bool allow_v1_ca = false;            // Certificates that are not X.509 v3.
  bool allow_invalid_serial = false;   // Serial zero, negative or over 20 octets.
  bool ignore_leaf_name_constraints = false;  // Wildcard-aware NC check on the leaf.
};

// certificates.validation_criteria: fields that must be equal when set.
struct ValidationCriteria {
  std::optional<std::string> cert_common_name;
  std::optional<std::string> cert_organization;
  std::optional<std::string> cert_organizational_unit;  // EMS: Cert_Organizational_Name.
  std::optional<std::string> ca_cert_common_name;
  std::optional<std::string> ca_cert_organization;
  std::optional<std::string> ca_cert_organizational_unit;
  bool empty() const;
};

struct PurposePolicy {
  std::shared_ptr<const TrustStore> store;  // Never null.
  bool validate = true;                 // certificates.validate.
  bool allow_self_signed = false;       // certificates.allow_self_signed.
  bool check_name = true;               // !certificates.disable_hostname_validation.
  ValidationCriteria criteria;          // Applied to the platform purpose only in EMS.
  // Leaf SHA-256 fingerprints (64 lower-case hex), applied after chain validation when
  // non-empty: certificates.fingerprint_allowlist for the edge purpose.
  std::vector<std::string> leaf_allowlist;
  std::string leaf_allowlist_field;     // For hints: "certificates.fingerprint_allowlist".
  // trustd.pins.<purpose>: SHA-256 (64 lower-case hex) of a certificate or of its
  // SubjectPublicKeyInfo; one must match somewhere in the verified chain.
  std::vector<std::string> pins;
  StrictPolicy strict;
  int max_depth = -1;                   // Intermediates allowed; -1: 18, ChainValidator's cap.
};

// The trustd.policy names of StrictPolicy's relaxations, in declaration order
// ("allow_sha1_signatures", "allow_missing_eku", ...).
std::vector<std::string> RelaxationNames();

// Sets the relaxation called `name` (a trustd.policy key) in `policy`. kInvalidArgument,
// listing the valid names, when `name` is none of them.
absl::Status ApplyRelaxation(absl::string_view name, StrictPolicy* policy);

struct TrustPolicy {
  uint64_t generation = 0;  // Bumped by trustd whenever the policy changes.
  std::map<Purpose, PurposePolicy> purposes;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_POLICY_H_

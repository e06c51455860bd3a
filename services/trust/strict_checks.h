// The strict web-PKI rules that the trust engine applies on top of OpenSSL's RFC 5280
// verification (CA/Browser Forum baseline requirements as Chrome, Firefox and rustls
// enforce them). Each check looks at an already verified chain.
#ifndef SERVICES_TRUST_STRICT_CHECKS_H_
#define SERVICES_TRUST_STRICT_CHECKS_H_

#include <optional>
#include <string>
#include <vector>

#include "services/common/openssl_util.h"
#include "services/trust/decision.h"
#include "services/trust/policy.h"
#include "services/trust/signature_cache.h"

namespace edge::trust {

struct StrictFailure {
  Reason reason;
  std::string detail;  // One sentence naming the rule and what the certificate has.
  X509* cert;          // The certificate that breaks it (borrowed).
  std::string relaxation;  // The trustd.policy setting that would allow it, if any.
};

// How a chain is to be checked beyond its StrictPolicy.
struct StrictOptions {
  // Remembers the self-signatures checked; may be null.
  SignatureCache* signatures = nullptr;
  // The chain is the leaf alone, a self-signed certificate that certificates.
  // allow_self_signed let through: the operator trusts that very certificate, so the rules
  // for certificates that a CA issues to a subscriber (CA/B Forum BR 7.1.2.7), which a
  // certificate made by `openssl req -x509` cannot meet, do not apply to it: it may lack
  // extendedKeyUsage (RFC 5280 4.2.1.12: then any purpose) and subjectAltName (its CN is
  // then its name, RFC 6125 6.4.4). Every other rule applies.
  bool self_signed_leaf = false;
};

// `chain`: verified, leaf first, trust anchor last. `server`: serverAuth (true) or
// clientAuth (false) is the EKU the purpose needs. Records in `warnings` each relaxation
// of `policy` that the chain relied on.
std::optional<StrictFailure> CheckStrictPolicy(const std::vector<X509*>& chain, bool server,
                                               const StrictPolicy& policy,
                                               std::vector<std::string>* warnings,
                                               const StrictOptions& options = {});

// Whether every name constraint in `chain` is of a type that the verifier or this file
// checks: dNSName, rfc822Name, URI, directoryName, iPAddress (CheckStrictPolicy checks
// iPAddress constraints itself).
bool OnlyKnownNameConstraintTypes(const std::vector<X509*>& chain);

// Whether `name` (a SAN dNSName, possibly "*.example.com") is allowed by the dNSName
// subtrees of `nc` (RFC 5280 4.2.1.10), treating a wildcard as every name it can match:
// it must lie wholly inside a permitted subtree and may match no excluded name.
bool DnsNameAllowedByConstraints(absl::string_view name, const NAME_CONSTRAINTS* nc);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_STRICT_CHECKS_H_

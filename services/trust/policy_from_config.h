// Builds the trust engine's TrustPolicy from the configuration: the trust stores named by
// certificates.cert_chain and http_client_ca_certs (with trustd.crl_files), and per purpose
// the EMS switches, validation_criteria, fingerprint_allowlist, trustd.pins and the strict
// policy's relaxations.
#ifndef SERVICES_TRUST_POLICY_FROM_CONFIG_H_
#define SERVICES_TRUST_POLICY_FROM_CONFIG_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "services/config/config.h"
#include "services/trust/policy.h"

namespace edge::trust {

// Reads every trust-anchor and CRL file. kInvalidArgument (naming the field and file) when
// one cannot be read or parsed, or holds no certificate.
absl::StatusOr<TrustPolicy> PolicyFromConfig(const config::Config& config, uint64_t generation);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_POLICY_FROM_CONFIG_H_

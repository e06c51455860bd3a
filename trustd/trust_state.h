// TrustState: everything trustd serves from, loaded from one configuration: the chain
// validator (trust stores, pins, policy), the identities it signs for, the revealed
// secrets and the master key. Immutable once loaded; trustd swaps in a new one atomically
// when files change (rotation), so readers hold a shared_ptr to a consistent state.
//
//   auto state = TrustState::Load(loaded_config, /*generation=*/1, {});
//   Decision d = (*state)->validator().Validate(chain, Purpose::kPlatform, name, absl::Now());
#ifndef TRUSTD_TRUST_STATE_H_
#define TRUSTD_TRUST_STATE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/trust/v1/trust.pb.h"
#include "services/config/config.h"
#include "services/config/diagnostic.h"
#include "services/trust/chain_validator.h"
#include "services/trust/identity.h"
#include "services/trust/master_key.h"

namespace edge::trustd {

struct LoadOptions {
  // Where the master key is; empty: config's trustd.master_key_file.
  std::string master_key_file;
  // Create the master key file when it does not exist (trustd), instead of only using an
  // existing one (check-config).
  bool create_master_key = false;
  // What the chain validator remembers (ChainValidator::Caches); trustd passes the same to
  // every generation. Null members: the validator's own, of the default size.
  trust::ChainValidator::Caches validator_caches;
};

struct RoleIdentity {
  ::trust::v1::Role role;
  std::string name;    // "rest_server", "platform_client".
  std::string key_id;  // "<name>:<first 16 hex of the leaf SHA-256>": changes on rotation.
  trust::Identity identity;
  bool acme_issued = false;  // From trustd.acme's state directory, not the configured files.
};

class TrustState {
 public:
  // Loads trust stores, identities and secrets. On failure, kInvalidArgument whose message
  // has one "error: <field>: ..." line per problem (all of them, not just the first).
  static absl::StatusOr<std::shared_ptr<const TrustState>> Load(const config::Config& config,
                                                                uint64_t generation,
                                                                const LoadOptions& options);

  const config::Config& config() const { return config_; }
  uint64_t generation() const { return validator_->generation(); }
  const trust::ChainValidator& validator() const { return *validator_; }
  const trust::MasterKey* master_key() const { return master_key_ ? &*master_key_ : nullptr; }

  const RoleIdentity* IdentityForRole(::trust::v1::Role role) const;
  const RoleIdentity* IdentityForKeyId(const std::string& key_id) const;
  // Secrets by name: "app_key", "auto_bind/<thing>/password", "http_server/password",
  // "acme/eab_hmac_key".
  const std::string* Secret(const std::string& name) const;

  // Every certificate trustd holds, for expiry warnings: (description, notAfter).
  std::vector<std::pair<std::string, absl::Time>> Certificates() const;
  // Every file this state was read from (config, certificates, keys, CRLs, master key).
  std::vector<std::string> Files() const;
  // Warnings found while loading (key file modes, chain order...).
  const std::vector<std::string>& warnings() const { return warnings_; }

  ::trust::v1::TrustSnapshot Snapshot() const;

 private:
  TrustState() = default;

  config::Config config_;
  std::unique_ptr<trust::ChainValidator> validator_;
  std::optional<trust::MasterKey> master_key_;
  std::string master_key_file_;
  std::vector<RoleIdentity> identities_;
  std::vector<std::string> identity_files_;  // The certificate and key files they came from.
  std::map<std::string, std::string> secrets_;
  std::vector<std::string> warnings_;
  absl::Time loaded_;
};

}  // namespace edge::trustd

#endif  // TRUSTD_TRUST_STATE_H_

// Sealed secrets: "AES:" + base64 of a versioned AES-256-GCM envelope under the master key.
//
//   envelope = version (1 byte, 0x01) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//   the version byte is also authenticated (GCM additional data)
//
//   std::string value = Seal(key, "my app key");          // "AES:AV4x..."
//   absl::StatusOr<std::string> plain = Unseal(key, value, "appKey");
//
// Errors name the configuration field and what the value most likely is (corrupted, a
// legacy EMS value, sealed under another key); they never contain the value itself.
#ifndef SERVICES_TRUST_SEALED_SECRET_H_
#define SERVICES_TRUST_SEALED_SECRET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/trust/master_key.h"

namespace edge::trust {

inline constexpr char kSealedPrefix[] = "AES:";

// Whether `value` is written in the sealed form (starts with "AES:").
bool IsSealed(absl::string_view value);

std::string Seal(const MasterKey& key, absl::string_view plaintext);

// What can be said of a sealed value without a key: kInvalidArgument, naming `field`, when
// it is plaintext, corrupted (not base64), or not one of ours (a legacy EMS value from
// `wsems -encrypt`, whose key is not public). OK when it has our envelope's form; only the
// master key tells whether it decrypts (Unseal).
absl::Status CheckSealedForm(absl::string_view value, absl::string_view field);

// kInvalidArgument when `value` is not a sealed value that decrypts under `key`; first what
// CheckSealedForm refuses, with its message.
absl::StatusOr<std::string> Unseal(const MasterKey& key, absl::string_view value,
                                   absl::string_view field);

// A configuration secret as the daemons need it: plaintext passes through (the config
// loader has already warned), a sealed value is unsealed. kFailedPrecondition when the
// value is sealed and no master key is available.
absl::StatusOr<std::string> Reveal(const MasterKey* key, absl::string_view value,
                                   absl::string_view field);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_SEALED_SECRET_H_

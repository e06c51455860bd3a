// MasterKey: the per-installation 32-byte key that seals secrets (sealed_secret.h). Only
// trustd and `trustctl encrypt` read it.
//
//   absl::StatusOr<MasterKey> key = MasterKey::LoadOrCreate("/var/lib/edge/master.key");
//
// The key is never printed and is wiped from memory when the object goes away.
#ifndef SERVICES_TRUST_MASTER_KEY_H_
#define SERVICES_TRUST_MASTER_KEY_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge::trust {

class MasterKey {
 public:
  static constexpr size_t kSize = 32;

  // Reads an existing key file: exactly 32 bytes, readable by its owner only. Errors:
  // kNotFound (no file), kFailedPrecondition (group/others may read it: chmod 600),
  // kInvalidArgument (wrong size). Messages name the path.
  static absl::StatusOr<MasterKey> Load(const std::string& path);
  // Load, or when the file does not exist, create it with mode 0600 from the system's
  // random generator (written atomically).
  static absl::StatusOr<MasterKey> LoadOrCreate(const std::string& path);
  // For tests. kInvalidArgument unless `bytes` is 32 bytes long.
  static absl::StatusOr<MasterKey> FromBytes(absl::string_view bytes);

  MasterKey(const MasterKey& other) = default;
  MasterKey& operator=(const MasterKey& other) = default;
  ~MasterKey();

  const uint8_t* data() const { return key_.data(); }

 private:
  MasterKey() = default;
  std::array<uint8_t, kSize> key_{};
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_MASTER_KEY_H_

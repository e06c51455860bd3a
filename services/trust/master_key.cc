#include "services/trust/master_key.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/file_util.h"

namespace edge::trust {

MasterKey::~MasterKey() { OPENSSL_cleanse(key_.data(), key_.size()); }

absl::StatusOr<MasterKey> MasterKey::FromBytes(absl::string_view bytes) {
  if (bytes.size() != kSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("master key: expected 32 bytes, found ", bytes.size()));
  }
  MasterKey key;
  std::memcpy(key.key_.data(), bytes.data(), kSize);
  return key;
}

absl::StatusOr<MasterKey> MasterKey::Load(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("master key ", path, ": no such file"));
  }
  if (st.st_mode & 077) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "master key %s: readable or writable by group or others (mode %04o); chmod 600 %s",
        path, st.st_mode & 07777, path));
  }
  auto bytes = ReadFile(path, 4096);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat("master key ", path,
                                                   ": expected 32 bytes, found ", bytes->size()));
  }
  auto key = FromBytes(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return key;
}

absl::StatusOr<MasterKey> MasterKey::LoadOrCreate(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return Load(path);
  // Its directory too, on first use (0700: only the master key's owner may look in).
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status made = MakeDirectories(path.substr(0, slash), 0700); !made.ok()) {
      return absl::Status(made.code(), absl::StrCat("master key: ", made.message()));
    }
  }
  MasterKey key;
  if (RAND_bytes(key.key_.data(), kSize) != 1) {
    return absl::InternalError("master key: the system random generator failed");
  }
  absl::Status written = WriteFileAtomically(
      path, absl::string_view(reinterpret_cast<const char*>(key.key_.data()), kSize), 0600);
  if (!written.ok()) {
    return absl::Status(written.code(),
                        absl::StrCat("master key: cannot create ", path, ": ", written.message()));
  }
  return key;
}

}  // namespace edge::trust

#include "services/common/fingerprint.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace edge {

constexpr char kExpected[] = "expected 64 hex digits (SHA-256, ':' optional), found ";

absl::StatusOr<std::string> ParseSha256Fingerprint(absl::string_view text,
                                                   absl::string_view shown_as) {
  std::string hex;
  hex.reserve(64);
  for (char c : text) {
    if (c == ':' || c == ' ') continue;
    if (!absl::ascii_isxdigit(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kExpected, shown_as, ", which has characters that are not hex"));
    }
    hex.push_back(absl::ascii_tolower(c));
  }
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat(kExpected, hex.size(), " hex digits"));
  }
  return hex;
}

std::string NormalizeFingerprint(absl::string_view text) {
  absl::StatusOr<std::string> hex = ParseSha256Fingerprint(text, "");
  return hex.ok() ? *std::move(hex) : "";
}

}  // namespace edge

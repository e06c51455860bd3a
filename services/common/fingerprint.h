// SHA-256 certificate fingerprints as the configuration and the logs write them.
//
// Two forms, one meaning (32 bytes of SHA-256):
//   display form   "AB:CD:..."  what `openssl x509 -noout -fingerprint -sha256` prints;
//                  decisions, logs and trustctl show this (openssl_util's Sha256Fingerprint)
//   canonical form "abcd..."    64 lower-case hex digits; the configuration is normalised to
//                  it and every comparison is made in it
//
//   absl::StatusOr<std::string> hex = ParseSha256Fingerprint(text, "\"AB:CD\"");
//   bool same = NormalizeFingerprint(decision.leaf_sha256) == *hex;
//
// Thread-safe: pure functions.
#ifndef SERVICES_COMMON_FINGERPRINT_H_
#define SERVICES_COMMON_FINGERPRINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge {

// The canonical form of `text`: hex digits in any case, with or without ':' or ' ' between
// them. kInvalidArgument otherwise; the message says what was expected and what was found,
// naming the value as `shown_as` (a caller that must not echo the value passes a
// description instead):
//   expected 64 hex digits (SHA-256, ':' optional), found 6 hex digits
//   expected 64 hex digits (SHA-256, ':' optional), found "xy", which has characters that
//   are not hex
absl::StatusOr<std::string> ParseSha256Fingerprint(absl::string_view text,
                                                   absl::string_view shown_as);

// The canonical form of `text`, or "" when it is not a SHA-256 fingerprint.
std::string NormalizeFingerprint(absl::string_view text);

}  // namespace edge

#endif  // SERVICES_COMMON_FINGERPRINT_H_

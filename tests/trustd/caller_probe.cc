// A separate process for the caller-policy test: run as an unprivileged uid, it calls
// trustd and exits with one bit set per expectation that did not hold.
//   caller_probe SOCKET KEY_ID            (as a caller whose rule allows Sign)
//   caller_probe SOCKET KEY_ID stranger   (as a caller with no rule)
#include <string>

#include "services/trustd_client/trustd_client.h"

int main(int argc, char** argv) {
  namespace v1 = ::trust::v1;
  if (argc != 3 && argc != 4) return 100;
  auto client = edge::trust::TrustdClient::Create({argv[1], absl::Seconds(3)});
  int failures = 0;
  if (argc == 4) {
    // No rule: Sign is refused, the open methods are not.
    if (client->Sign(argv[2], v1::ECDSA_SHA256, std::string(32, 'x')).status().code() !=
        absl::StatusCode::kPermissionDenied) {
      failures |= 64;
    }
    if (!client->Seal("x").ok()) failures |= 8;
    return failures;
  }
  // Allowed by its rule.
  if (!client->Sign(argv[2], v1::ECDSA_SHA256, std::string(32, 'x')).ok()) failures |= 1;
  // Not allowed by its rule: a key of another role... (only rest_server exists here, so the
  // unknown key id stands for it) and the methods the rule does not name.
  if (client->Sign("platform_client:0000000000000000", v1::ECDSA_SHA256, std::string(32, 'x'))
          .status()
          .code() != absl::StatusCode::kNotFound) {
    failures |= 32;
  }
  // Not allowed by its rule.
  if (client->RevealSecret("app_key").status().code() != absl::StatusCode::kPermissionDenied) {
    failures |= 2;
  }
  if (client->CheckPassword("rest_server", "admin", "x").status().code() !=
      absl::StatusCode::kPermissionDenied) {
    failures |= 4;
  }
  // Open to everyone who can connect.
  if (!client->Seal("x").ok()) failures |= 8;
  if (client->ValidatePeer({}, edge::trust::Purpose::kPlatform, "platform.test", "").reason ==
      edge::trust::Reason::kTrustdUnavailable) {
    failures |= 16;
  }
  return failures;
}

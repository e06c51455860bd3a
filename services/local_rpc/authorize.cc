#include "services/local_rpc/authorize.h"

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace edge::local_rpc {

absl::StatusOr<PeerCredentials> AuthorizeCaller(const PeerRegistry& peers,
                                                const CallerPolicy& policy,
                                                const std::string& grpc_peer,
                                                absl::string_view method,
                                                absl::string_view daemon) {
  std::optional<PeerCredentials> creds = peers.Lookup(grpc_peer);
  if (!creds) {
    LogAudit(absl::StrCat("denied ", method, " to an unidentified caller (", grpc_peer, ")"));
    return absl::PermissionDeniedError(absl::StrCat(daemon, " cannot identify the caller"));
  }
  if (!policy.AllowsMethod(*creds, method)) {
    LogAudit(absl::StrCat("denied ", method, " to ", policy.Describe(*creds),
                          ": not allowed by ", daemon, ".callers"));
    return absl::PermissionDeniedError(absl::StrCat(method, " is not allowed for uid ",
                                                    creds->uid, " (", daemon, ".callers)"));
  }
  return *creds;
}

}  // namespace edge::local_rpc

// AuthorizeCaller: the one check every method of a daemon's Unix-socket API makes first:
// who is calling (the credentials UdsListener read with SO_PEERCRED when it accepted the
// connection) and whether the daemon's CallerPolicy lets them call this method.
//
//   absl::StatusOr<PeerCredentials> caller =
//       AuthorizeCaller(listener.registry(), policy, context->peer(), "Sign", "trustd");
//   if (!caller.ok()) return ToGrpcStatus(caller.status());
//
// Thread-safe.
#ifndef SERVICES_LOCAL_RPC_AUTHORIZE_H_
#define SERVICES_LOCAL_RPC_AUTHORIZE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"

namespace edge::local_rpc {

// The caller of `method` when `policy` allows it. kPermissionDenied when the connection's
// credentials are unknown (it did not come through UdsListener) or no rule allows the
// method; each refusal is logged with the caller's uid, gid, pid and the method. `daemon`
// names the daemon in messages and its `callers` group ("trustd" -> "trustd.callers").
absl::StatusOr<PeerCredentials> AuthorizeCaller(const PeerRegistry& peers,
                                                const CallerPolicy& policy,
                                                const std::string& grpc_peer,
                                                absl::string_view method,
                                                absl::string_view daemon);

}  // namespace edge::local_rpc

#endif  // SERVICES_LOCAL_RPC_AUTHORIZE_H_

// CallerPolicy: which local callers may use which methods of a daemon's Unix-socket API
// (trustd's TrustService, edged's EdgeService), and for trustd which identities and
// secrets. Callers are told apart by their Unix credentials (SO_PEERCRED), never by
// anything they say about themselves.
//
//   CallerPolicy policy({CallerRule{.name = "edged", .uid = 1001,
//                                   .methods = {"GetIdentity", "Sign", "RevealSecret"},
//                                   .roles = {"platform_client"}, .secrets = {"app_key"}}},
//                       /*daemon_uid=*/geteuid(), /*open_methods=*/{"ValidatePeer"});
//   if (!policy.AllowsMethod(creds, "Sign")) -> PERMISSION_DENIED
//
// Open to everyone who can connect to the socket (its mode and group decide who can): the
// daemon's `open_methods` and the health and reflection services. root and the user the
// daemon runs as may call everything. Immutable; thread-safe.
#ifndef SERVICES_LOCAL_RPC_CALLER_POLICY_H_
#define SERVICES_LOCAL_RPC_CALLER_POLICY_H_

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/config/config.h"
#include "services/local_rpc/uds_listener.h"

namespace edge::local_rpc {

struct CallerRule {
  std::string name;            // For logs: "edged".
  std::optional<uid_t> uid;    // Matches when set and equal...
  std::optional<gid_t> gid;    // ...and/or when set and equal (all set fields must match).
  std::set<std::string> methods;  // "GetIdentity", "Sign", "CheckPassword", "RevealSecret".
  std::set<std::string> roles;    // Identities for GetIdentity/Sign: "rest_server", ...
  // Secrets for RevealSecret: exact names ("app_key") or a prefix ending in '*'
  // ("auto_bind/*").
  std::vector<std::string> secrets;
};

class CallerPolicy {
 public:
  // `daemon_uid`: the user the daemon runs as (privileged like root). `open_methods`: the
  // methods anyone on the socket may call, besides grpc.health.* and grpc.reflection.*.
  CallerPolicy(std::vector<CallerRule> rules, uid_t daemon_uid,
               std::set<std::string> open_methods = {});

  bool IsOpenMethod(absl::string_view method) const;

  bool AllowsMethod(const PeerCredentials& caller, absl::string_view method) const;
  bool AllowsRole(const PeerCredentials& caller, absl::string_view role) const;
  bool AllowsSecret(const PeerCredentials& caller, absl::string_view secret) const;

  // The rule's name for logs, or "uid N" when no rule matches.
  std::string Describe(const PeerCredentials& caller) const;

 private:
  bool Privileged(const PeerCredentials& caller) const;
  std::vector<const CallerRule*> Matching(const PeerCredentials& caller) const;

  std::vector<CallerRule> rules_;
  uid_t daemon_uid_;
  std::set<std::string, std::less<>> open_methods_;
};

// The rules of a `callers` list (trustd.callers, edged.callers), user and group names
// resolved; errors name the entry ("edged.callers[1].user: ..."). The policy's daemon is
// the current effective user.
absl::StatusOr<CallerPolicy> CallerPolicyFromConfig(
    const std::vector<config::CallerConfig>& callers, absl::string_view group,
    std::set<std::string> open_methods = {});

}  // namespace edge::local_rpc

#endif  // SERVICES_LOCAL_RPC_CALLER_POLICY_H_

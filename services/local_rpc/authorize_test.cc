#include "services/local_rpc/authorize.h"

#include "gtest/gtest.h"

namespace edge::local_rpc {
namespace {

CallerPolicy Policy() {
  CallerRule dashboard;
  dashboard.name = "dashboard";
  dashboard.uid = 4242;
  dashboard.methods = {"Status"};
  return CallerPolicy({dashboard}, /*daemon_uid=*/900, /*open_methods=*/{"Ping"});
}

TEST(AuthorizeCallerTest, ReturnsTheCredentialsOfAnAllowedCaller) {
  PeerRegistry peers;
  peers.Set(12, PeerCredentials{77, 4242, 4243});
  for (const char* method : {"Status", "Ping", "grpc.health.v1.Health/Check"}) {
    SCOPED_TRACE(method);
    absl::StatusOr<PeerCredentials> who = AuthorizeCaller(peers, Policy(), "fd:12", method, "edged");
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->uid, 4242u);
    EXPECT_EQ(who->pid, 77);
  }
}

TEST(AuthorizeCallerTest, RefusesAMethodNoRuleAllowsNamingTheDaemonsCallersGroup) {
  PeerRegistry peers;
  peers.Set(12, PeerCredentials{77, 4242, 4243});
  absl::StatusOr<PeerCredentials> who =
      AuthorizeCaller(peers, Policy(), "fd:12", "WriteProperty", "edged");
  ASSERT_TRUE(absl::IsPermissionDenied(who.status())) << who.status();
  EXPECT_EQ(who.status().message(), "WriteProperty is not allowed for uid 4242 (edged.callers)");
}

TEST(AuthorizeCallerTest, RefusesACallerWhoseCredentialsAreUnknown) {
  PeerRegistry peers;
  peers.Set(12, PeerCredentials{77, 4242, 4243});
  for (const char* peer : {"fd:13", "unix:/tmp/x", "ipv4:127.0.0.1:5", "fd:"}) {
    SCOPED_TRACE(peer);
    absl::StatusOr<PeerCredentials> who = AuthorizeCaller(peers, Policy(), peer, "Ping", "trustd");
    ASSERT_TRUE(absl::IsPermissionDenied(who.status())) << who.status();
    EXPECT_EQ(who.status().message(), "trustd cannot identify the caller");
  }
}

}  // namespace
}  // namespace edge::local_rpc

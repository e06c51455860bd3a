#include "services/local_rpc/caller_policy.h"

#include "gtest/gtest.h"

namespace edge::local_rpc {
namespace {

CallerPolicy Policy() {
  CallerRule edged;
  edged.name = "edged";
  edged.uid = 1001;
  edged.methods = {"GetIdentity", "Sign", "RevealSecret"};
  edged.roles = {"platform_client"};
  edged.secrets = {"app_key"};
  CallerRule restd;
  restd.name = "restd";
  restd.gid = 2002;
  restd.methods = {"GetIdentity", "Sign", "CheckPassword", "RevealSecret"};
  restd.roles = {"rest_server"};
  restd.secrets = {"auto_bind/*"};
  CallerRule nobody;  // Names no one: must match no one.
  nobody.methods = {"Sign"};
  return CallerPolicy({edged, restd, nobody}, /*daemon_uid=*/900,
                      /*open_methods=*/{"ValidatePeer", "Seal", "WatchTrust"});
}

TEST(CallerPolicyTest, OpenMethodsAreOpenToAnyCaller) {
  PeerCredentials stranger{42, 5555, 5555};
  for (const char* m : {"ValidatePeer", "Seal", "WatchTrust", "grpc.health.v1.Health/Check"}) {
    SCOPED_TRACE(m);
    EXPECT_TRUE(Policy().AllowsMethod(stranger, m));
  }
  EXPECT_FALSE(Policy().AllowsMethod(stranger, "Sign"));
  EXPECT_FALSE(Policy().AllowsMethod(stranger, "RevealSecret"));
  EXPECT_FALSE(Policy().AllowsMethod(stranger, "CheckPassword"));
}

TEST(CallerPolicyTest, EachCallerGetsOnlyItsMethodsRolesAndSecrets) {
  PeerCredentials edged{10, 1001, 1001};
  PeerCredentials restd{11, 1002, 2002};
  EXPECT_TRUE(Policy().AllowsMethod(edged, "Sign"));
  EXPECT_FALSE(Policy().AllowsMethod(edged, "CheckPassword"));
  EXPECT_TRUE(Policy().AllowsRole(edged, "platform_client"));
  EXPECT_FALSE(Policy().AllowsRole(edged, "rest_server"));
  EXPECT_TRUE(Policy().AllowsSecret(edged, "app_key"));
  EXPECT_FALSE(Policy().AllowsSecret(edged, "auto_bind/Pump1/password"));

  EXPECT_TRUE(Policy().AllowsMethod(restd, "CheckPassword"));
  EXPECT_TRUE(Policy().AllowsRole(restd, "rest_server"));
  EXPECT_TRUE(Policy().AllowsSecret(restd, "auto_bind/Pump1/password"));
  EXPECT_FALSE(Policy().AllowsSecret(restd, "app_key"));
}

TEST(CallerPolicyTest, RootAndTrustdItselfMayDoEverything) {
  for (uid_t uid : {0u, 900u}) {
    PeerCredentials caller{1, uid, 1};
    EXPECT_TRUE(Policy().AllowsMethod(caller, "Sign"));
    EXPECT_TRUE(Policy().AllowsRole(caller, "rest_server"));
    EXPECT_TRUE(Policy().AllowsSecret(caller, "app_key"));
  }
}

TEST(CallerPolicyTest, DescribesCallersForLogs) {
  EXPECT_EQ(Policy().Describe({10, 1001, 1001}), "edged (uid 1001, gid 1001, pid 10)");
  EXPECT_EQ(Policy().Describe({42, 5555, 5556}), "(uid 5555, gid 5556, pid 42)");
}

}  // namespace
}  // namespace edge::local_rpc

#include "services/trust/policy.h"

#include "gtest/gtest.h"

namespace edge::trust {
namespace {

TEST(RelaxationTest, SetsEachRelaxationByItsTrustdPolicyName) {
  struct Case {
    const char* name;
    bool StrictPolicy::*field;
  };
  for (const Case& c : {Case{"allow_sha1_signatures", &StrictPolicy::allow_sha1_signatures},
                        Case{"allow_missing_eku", &StrictPolicy::allow_missing_eku},
                        Case{"allow_missing_san", &StrictPolicy::allow_missing_san},
                        Case{"allow_weak_keys", &StrictPolicy::allow_weak_keys},
                        Case{"allow_v1_ca", &StrictPolicy::allow_v1_ca},
                        Case{"allow_invalid_serial", &StrictPolicy::allow_invalid_serial},
                        Case{"ignore_leaf_name_constraints",
                             &StrictPolicy::ignore_leaf_name_constraints}}) {
    SCOPED_TRACE(c.name);
    StrictPolicy p;
    ASSERT_TRUE(ApplyRelaxation(c.name, &p).ok());
    EXPECT_TRUE(p.*c.field);
  }
  EXPECT_EQ(RelaxationNames().size(), 7u);
}

TEST(RelaxationTest, RefusesAnUnknownNameAndListsTheValidOnes) {
  StrictPolicy p;
  absl::Status s = ApplyRelaxation("allow_everything", &p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "unknown relaxation \"allow_everything\"; expected one of the trustd.policy names: "
            "allow_sha1_signatures, allow_missing_eku, allow_missing_san, allow_weak_keys, "
            "allow_v1_ca, allow_invalid_serial, ignore_leaf_name_constraints");
}

}  // namespace
}  // namespace edge::trust

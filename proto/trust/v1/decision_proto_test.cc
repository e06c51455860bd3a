#include "proto/trust/v1/decision_proto.h"

#include <set>

#include "gtest/gtest.h"

namespace edge::trust {
namespace {

// Every engine reason has its own proto value and comes back as itself; every proto value
// but REASON_UNSPECIFIED is some engine reason. A reason added on one side only fails here.
TEST(DecisionProtoTest, MapsEveryReasonBothWaysOneToOne) {
  std::set<int> protos;
  int reasons = 0;
  for (int i = 0; ReasonName(static_cast<Reason>(i)) != "UNKNOWN"; ++i) {
    Reason reason = static_cast<Reason>(i);
    SCOPED_TRACE(std::string(ReasonName(reason)));
    Decision d;
    d.reason = reason;
    v1::Decision p = ToProto(d);
    EXPECT_EQ(v1::Reason_Name(p.reason()), ReasonName(reason));
    protos.insert(p.reason());
    EXPECT_EQ(FromProto(p).reason, reason);
    ++reasons;
  }
  EXPECT_EQ(static_cast<int>(protos.size()), reasons);
  for (int v = v1::Reason_MIN; v <= v1::Reason_MAX; ++v) {
    if (!v1::Reason_IsValid(v) || v == v1::REASON_UNSPECIFIED) continue;
    EXPECT_EQ(protos.count(v), 1u) << v1::Reason_Name(static_cast<v1::Reason>(v));
  }
}

}  // namespace
}  // namespace edge::trust

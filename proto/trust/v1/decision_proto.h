// Conversion between the engine's Decision (services/trust) and trust.v1.Decision, used by
// trustd on one side of the socket and by TrustdClient on the other.
#ifndef PROTO_TRUST_V1_DECISION_PROTO_H_
#define PROTO_TRUST_V1_DECISION_PROTO_H_

#include "proto/trust/v1/trust.pb.h"
#include "services/trust/decision.h"

namespace edge::trust {

namespace v1 = ::trust::v1;

v1::Decision ToProto(const Decision& decision);
Decision FromProto(const v1::Decision& decision);

v1::Purpose ToProto(Purpose purpose);
// false when `purpose` is unspecified or unknown.
bool FromProto(v1::Purpose purpose, Purpose* out);

}  // namespace edge::trust

#endif  // PROTO_TRUST_V1_DECISION_PROTO_H_

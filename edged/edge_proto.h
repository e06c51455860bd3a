// Conversions between edged's gRPC types (proto/edge/v1) and the AlwaysOn codec's values.
// The proto side comes from local callers: every conversion from it checks what it reads
// and names the field that is wrong.
#ifndef EDGED_EDGE_PROTO_H_
#define EDGED_EDGE_PROTO_H_

#include "absl/status/statusor.h"
#include "proto/edge/v1/edge.pb.h"
#include "services/alwayson/value.h"

namespace edge::edged {

absl::StatusOr<alwayson::Value> FromProto(const ::edge::v1::Value& value,
                                          absl::string_view field, int depth = 0);
absl::StatusOr<alwayson::InfoTable> FromProto(const ::edge::v1::InfoTable& table,
                                              absl::string_view field, int depth = 0);
::edge::v1::Value ToProto(const alwayson::Value& value);
::edge::v1::InfoTable ToProto(const alwayson::InfoTable& table);

}  // namespace edge::edged

#endif  // EDGED_EDGE_PROTO_H_

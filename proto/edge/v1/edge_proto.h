// Conversions between the edge.v1 contract (edge.proto: edged's local API) and the AlwaysOn
// codec's types, used on both sides of the socket: by edged and by its callers (restd).
// The proto side comes from local callers: every conversion from it checks what it reads
// and names the field that is wrong.
//
//   absl::StatusOr<alwayson::InfoTable> t = edge_api::FromProto(request.parameters(), "parameters");
//   *answer.mutable_content() = edge_api::ToProto(*t);
//
// Thread-safe: pure functions.
#ifndef PROTO_EDGE_V1_EDGE_PROTO_H_
#define PROTO_EDGE_V1_EDGE_PROTO_H_

#include <optional>

#include "absl/status/statusor.h"
#include "proto/edge/v1/edge.pb.h"
#include "services/alwayson/message.h"
#include "services/alwayson/value.h"

namespace edge::edge_api {

absl::StatusOr<alwayson::Value> FromProto(const ::edge::v1::Value& value,
                                          absl::string_view field, int depth = 0);
absl::StatusOr<alwayson::InfoTable> FromProto(const ::edge::v1::InfoTable& table,
                                              absl::string_view field, int depth = 0);
::edge::v1::Value ToProto(const alwayson::Value& value);
::edge::v1::InfoTable ToProto(const alwayson::InfoTable& table);

// The AlwaysOn status of an Answer (SUCCESS, BAD_REQUEST... carry the spec's names, not
// necessarily its numbers); nullopt for a number that is none of AnswerStatus's values.
std::optional<alwayson::Code> FromProto(::edge::v1::AnswerStatus status);

}  // namespace edge::edge_api

#endif  // PROTO_EDGE_V1_EDGE_PROTO_H_

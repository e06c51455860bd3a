// The one place where our error codes cross a boundary: absl::Status <-> grpc::Status at
// every local RPC (trustd, edged) and absl::Status -> HTTP status in restd's answers.
//
//   return ToGrpcStatus(result.status());                     // server side
//   absl::Status s = FromGrpcStatus(grpc_status, "trustd Sign");  // client side
//   res.result(HttpStatusFor(s.code()));
//
// The codes are the same numbers in absl and gRPC and map one to one. Our conventions on
// top of them, used by every daemon:
//   kInvalidArgument    bad input from the caller (HTTP 400)
//   kFailedPrecondition fix the system state first (HTTP 400)
//   kNotFound           no such Thing, property, secret... (HTTP 404)
//   kPermissionDenied   the caller is not allowed (HTTP 403)
//   kUnavailable        retry later: a peer is unreachable (HTTP 503)
//   kResourceExhausted  a bound is reached, e.g. the offline store is full (HTTP 503)
//   kDeadlineExceeded   no answer in time (HTTP 504)
//   kUnimplemented      not offered (HTTP 501)
//   kPayloadTooLarge    (kOutOfRange) a message exceeds a size limit (HTTP 413)
// Thread-safe: pure functions.
#ifndef SERVICES_COMMON_STATUS_MAPPING_H_
#define SERVICES_COMMON_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace edge {

// "A payload exceeds a size limit": the AlwaysOn ENTITY_TOO_LARGE answer and HTTP 413.
inline constexpr absl::StatusCode kPayloadTooLarge = absl::StatusCode::kOutOfRange;
absl::Status PayloadTooLargeError(absl::string_view message);

// What an error message may hold when it crosses a process boundary: longer messages are
// cut (at a UTF-8 character boundary) and end in "...". gRPC puts the message in a header,
// and a header over its limit fails the whole connection.
inline constexpr size_t kMaxErrorMessageBytes = 2048;
std::string BoundedErrorMessage(absl::string_view message);

// Same code; the message bounded by BoundedErrorMessage.
grpc::Status ToGrpcStatus(const absl::Status& status);
// Same code; the message prefixed with "`what`: " when `what` is not empty.
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view what = "");

// The HTTP status code restd answers for an error of `code` (500 for codes with no better
// meaning: kInternal, kUnknown, kDataLoss...).
int HttpStatusFor(absl::StatusCode code);

}  // namespace edge

#endif  // SERVICES_COMMON_STATUS_MAPPING_H_

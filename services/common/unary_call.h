// UnaryCall: one unary gRPC call with a deadline, its result as absl::StatusOr. The clients
// of our local APIs (TrustdClient, EdgedClient) make every call this way.
//
//   absl::StatusOr<v1::SealResponse> r = UnaryCall(
//       *stub_, &v1::TrustService::Stub::Seal, request, absl::Seconds(2),
//       [](const grpc::Status& s) { return FromGrpcStatus(s, "trustd Seal"); });
//
// `to_status` turns a failed call's grpc::Status into the caller's error (it is not called
// for a successful call). Thread-safe when the stub is (gRPC stubs are).
#ifndef SERVICES_COMMON_UNARY_CALL_H_
#define SERVICES_COMMON_UNARY_CALL_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace edge {

template <typename Stub, typename Request, typename Response, typename ToStatus>
absl::StatusOr<Response> UnaryCall(Stub& stub,
                                   grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                const Request&, Response*),
                                   const Request& request, absl::Duration deadline,
                                   ToStatus&& to_status) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return absl::Status(std::forward<ToStatus>(to_status)(status));
  return response;
}

}  // namespace edge

#endif  // SERVICES_COMMON_UNARY_CALL_H_

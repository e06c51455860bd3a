// EdgedClient: how restd (and any other local C++ service) asks edged, the counterpart of
// TrustdClient. Every unary call has a deadline; the channel finds edged again quickly
// after it restarts (or starts after the caller); and every failure to get an answer is
// an error the caller must treat as "not done": nothing is assumed delivered.
//
//   std::shared_ptr<EdgedClient> edged = EdgedClient::Create({.socket_path = "/run/edge/edged.sock"});
//   absl::StatusOr<v1::Delivery> d = edged->WriteProperty(request);
//   if (!d.ok()) return HttpStatusFor(d.status().code());
//
// Errors are edged's own (see proto/edge/v1/edge.proto: kUnavailable when the platform is
// unreachable, kResourceExhausted for a full offline store, kPayloadTooLarge...), except
// when edged itself cannot be reached: then kUnavailable with a message that says so
// (IsEdgedUnreachable tells the two kinds of kUnavailable apart).
//
// Thread-safe: calls may be made concurrently from any thread.
#ifndef SERVICES_EDGED_CLIENT_EDGED_CLIENT_H_
#define SERVICES_EDGED_CLIENT_EDGED_CLIENT_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/edge/v1/edge.grpc.pb.h"

namespace edge::edged_client {

namespace v1 = ::edge::v1;

struct EdgedClientOptions {
  std::string socket_path = "/run/edge/edged.sock";
  // Per unary call: the platform's msg_timeout and a margin, so edged answers first.
  absl::Duration deadline = absl::Seconds(12);
};

class EdgedClient {
 public:
  static std::shared_ptr<EdgedClient> Create(EdgedClientOptions options);

  absl::StatusOr<v1::Delivery> WriteProperty(const v1::WritePropertyRequest& request);
  absl::StatusOr<v1::ReadPropertyResponse> ReadProperty(const v1::ReadPropertyRequest& request);
  absl::StatusOr<v1::Delivery> InvokeService(const v1::InvokeServiceRequest& request);
  absl::StatusOr<v1::Delivery> FireEvent(const v1::FireEventRequest& request);
  absl::StatusOr<v1::StatusResponse> Status();

  // Opens a Serve stream on `context` (which must outlive the stream; cancel it to end the
  // stream from another thread). No deadline: the stream lasts as long as both sides do.
  std::unique_ptr<grpc::ClientReaderWriter<v1::ServeMessage, v1::PlatformRequest>> Serve(
      grpc::ClientContext* context);

  // "unix:/run/edge/edged.sock".
  const std::string& target() const { return target_; }

 private:
  explicit EdgedClient(EdgedClientOptions options);
  absl::Status ToStatus(const grpc::Status& status) const;

  EdgedClientOptions options_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EdgeService::Stub> stub_;
};

// Whether `status` says that edged itself did not answer (as opposed to edged answering
// that the platform is unreachable).
bool IsEdgedUnreachable(const absl::Status& status);

}  // namespace edge::edged_client

#endif  // SERVICES_EDGED_CLIENT_EDGED_CLIENT_H_

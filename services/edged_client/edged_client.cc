#include "services/edged_client/edged_client.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "services/common/status_mapping.h"
#include "services/common/unary_call.h"

namespace edge::edged_client {
namespace {

// Marks the kUnavailable of an unreachable edged (an absl::Status payload stays in this
// process: it never crosses gRPC).
constexpr char kUnreachableUrl[] = "type.edge/edged_client.Unreachable";

}  // namespace

std::shared_ptr<EdgedClient> EdgedClient::Create(EdgedClientOptions options) {
  return std::shared_ptr<EdgedClient>(new EdgedClient(std::move(options)));
}

EdgedClient::EdgedClient(EdgedClientOptions options)
    : options_(std::move(options)), target_(absl::StrCat("unix:", options_.socket_path)) {
  grpc::ChannelArguments args;
  // edged may start after its callers or restart: reconnect within a tenth of a second, not
  // gRPC's default backoff of a second and more, so calls meanwhile fail for a moment only.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::EdgeService::NewStub(channel_);
}

absl::Status EdgedClient::ToStatus(const grpc::Status& status) const {
  // A call fails with UNAVAILABLE both when edged answers so (the platform is away) and
  // when there is no connection to edged at all; only in the second case is the channel
  // not READY after the call.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("edged is not reachable on its socket (", target_,
                     "); the platform cannot be asked"));
    s.SetPayload(kUnreachableUrl, absl::Cord());
    return s;
  }
  return FromGrpcStatus(status);
}

absl::StatusOr<v1::Delivery> EdgedClient::WriteProperty(const v1::WritePropertyRequest& request) {
  return UnaryCall(*stub_, &v1::EdgeService::Stub::WriteProperty, request, options_.deadline,
                   [this](const grpc::Status& s) { return ToStatus(s); });
}

absl::StatusOr<v1::ReadPropertyResponse> EdgedClient::ReadProperty(
    const v1::ReadPropertyRequest& request) {
  return UnaryCall(*stub_, &v1::EdgeService::Stub::ReadProperty, request, options_.deadline,
                   [this](const grpc::Status& s) { return ToStatus(s); });
}

absl::StatusOr<v1::Delivery> EdgedClient::InvokeService(const v1::InvokeServiceRequest& request) {
  return UnaryCall(*stub_, &v1::EdgeService::Stub::InvokeService, request, options_.deadline,
                   [this](const grpc::Status& s) { return ToStatus(s); });
}

absl::StatusOr<v1::Delivery> EdgedClient::FireEvent(const v1::FireEventRequest& request) {
  return UnaryCall(*stub_, &v1::EdgeService::Stub::FireEvent, request, options_.deadline,
                   [this](const grpc::Status& s) { return ToStatus(s); });
}

absl::StatusOr<v1::StatusResponse> EdgedClient::Status() {
  return UnaryCall(*stub_, &v1::EdgeService::Stub::Status, v1::StatusRequest(),
                   options_.deadline, [this](const grpc::Status& s) { return ToStatus(s); });
}

std::unique_ptr<grpc::ClientReaderWriter<v1::ServeMessage, v1::PlatformRequest>>
EdgedClient::Serve(grpc::ClientContext* context) {
  return stub_->Serve(context);
}

bool IsEdgedUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) && status.GetPayload(kUnreachableUrl).has_value();
}

}  // namespace edge::edged_client

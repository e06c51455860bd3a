#include "services/common/status_mapping.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace edge {

// The enums share their numbers (both are google.rpc.Code); the casts below rely on it.
static_assert(static_cast<int>(absl::StatusCode::kOutOfRange) ==
              static_cast<int>(grpc::StatusCode::OUT_OF_RANGE));
static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
static_assert(static_cast<int>(absl::StatusCode::kDataLoss) ==
              static_cast<int>(grpc::StatusCode::DATA_LOSS));

absl::Status PayloadTooLargeError(absl::string_view message) {
  return absl::Status(kPayloadTooLarge, message);
}

std::string BoundedErrorMessage(absl::string_view message) {
  if (message.size() <= kMaxErrorMessageBytes) return std::string(message);
  size_t cut = kMaxErrorMessageBytes - 3;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(message.substr(0, cut), "...");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      BoundedErrorMessage(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      what.empty() ? status.error_message()
                                   : absl::StrCat(what, ": ", status.error_message()));
}

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition: return 400;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnimplemented: return 501;
    case kPayloadTooLarge: return 413;
    default: return 500;
  }
}

}  // namespace edge

#include "services/common/status_mapping.h"

#include "gtest/gtest.h"

namespace edge {
namespace {

TEST(StatusMappingTest, KeepsCodeAndMessageAcrossGrpcBothWays) {
  for (absl::Status s : {absl::InvalidArgumentError("body.x: expected a number"),
                         absl::UnavailableError("platform unreachable"),
                         PayloadTooLargeError("message of 9 MB over max_msg_size"),
                         absl::PermissionDeniedError("Sign is not allowed")}) {
    SCOPED_TRACE(s.ToString());
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(s.code()));
    EXPECT_EQ(g.error_message(), s.message());
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "trustd Sign").ok());
}

TEST(StatusMappingTest, NamesWhatFailedOnTheClientSide) {
  absl::Status s = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"),
                                  "trustd Sign (/run/edge/trustd.sock)");
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(s.message(), "trustd Sign (/run/edge/trustd.sock): connection refused");
}

TEST(StatusMappingTest, BoundsMessagesThatCrossAProcessBoundary) {
  std::string huge(10000, 'x');
  grpc::Status g = ToGrpcStatus(absl::InvalidArgumentError(huge));
  EXPECT_EQ(g.error_message().size(), kMaxErrorMessageBytes);
  EXPECT_EQ(g.error_message().substr(kMaxErrorMessageBytes - 3), "...");
  // A cut never splits a UTF-8 character: "é" is two bytes.
  std::string accents;
  while (accents.size() < 3 * kMaxErrorMessageBytes) accents += "\xC3\xA9";
  std::string cut = BoundedErrorMessage(accents);
  EXPECT_LE(cut.size(), kMaxErrorMessageBytes);
  EXPECT_EQ((cut.size() - 3) % 2, 0u);
  EXPECT_EQ(BoundedErrorMessage("short"), "short");
}

TEST(StatusMappingTest, AnswersEachErrorWithItsHttpStatus) {
  struct Case {
    absl::StatusCode code;
    int http;
  } cases[] = {
      {absl::StatusCode::kInvalidArgument, 400}, {absl::StatusCode::kFailedPrecondition, 400},
      {absl::StatusCode::kNotFound, 404},        {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kUnavailable, 503},     {absl::StatusCode::kResourceExhausted, 503},
      {absl::StatusCode::kDeadlineExceeded, 504}, {absl::StatusCode::kUnimplemented, 501},
      {kPayloadTooLarge, 413},                   {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kDataLoss, 500},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StatusCodeToString(c.code));
    EXPECT_EQ(HttpStatusFor(c.code), c.http);
  }
}

}  // namespace
}  // namespace edge

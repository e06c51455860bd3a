#include "services/edged_client/edged_client.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "services/common/status_mapping.h"

namespace edge::edged_client {
namespace {

// Stands in for edged on a real Unix socket: answers as edged does when the platform is
// away, or with a message too large for the platform.
class PlatformAwayService final : public v1::EdgeService::Service {
  grpc::Status WriteProperty(grpc::ServerContext*, const v1::WritePropertyRequest* request,
                             v1::Delivery*) override {
    if (request->property() == "Huge") {
      return ToGrpcStatus(PayloadTooLargeError("message over ws_connection.max_msg_size"));
    }
    return ToGrpcStatus(absl::UnavailableError("the platform is not connected"));
  }
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* response) override {
    response->set_server("platform.test:443");
    return grpc::Status::OK;
  }
};

// Bazel's TEST_TMPDIR is longer than a socket path may be (108 bytes).
std::string SocketPath(const char* name) {
  char dir[] = "/tmp/edged-client-test.XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  return absl::StrCat(dir, "/", name, ".sock");
}

TEST(EdgedClientTest, SaysSoWhenEdgedItselfCannotBeReached) {
  std::string path = SocketPath("nobody");
  std::shared_ptr<EdgedClient> client = EdgedClient::Create({path, absl::Seconds(2)});
  absl::StatusOr<v1::Delivery> d = client->WriteProperty(v1::WritePropertyRequest());
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(absl::IsUnavailable(d.status())) << d.status();
  EXPECT_TRUE(IsEdgedUnreachable(d.status()));
  EXPECT_EQ(d.status().message(), absl::StrCat("edged is not reachable on its socket (unix:",
                                               path, "); the platform cannot be asked"));
  EXPECT_TRUE(IsEdgedUnreachable(client->Status().status()));
}

TEST(EdgedClientTest, PassesEdgedsOwnErrorsOnWithTheirCodes) {
  std::string path = SocketPath("edged");
  PlatformAwayService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  std::shared_ptr<EdgedClient> client = EdgedClient::Create({path, absl::Seconds(5)});

  absl::StatusOr<v1::StatusResponse> status = client->Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->server(), "platform.test:443");

  absl::StatusOr<v1::Delivery> away = client->WriteProperty(v1::WritePropertyRequest());
  EXPECT_TRUE(absl::IsUnavailable(away.status())) << away.status();
  EXPECT_FALSE(IsEdgedUnreachable(away.status()));
  EXPECT_EQ(away.status().message(), "the platform is not connected");

  v1::WritePropertyRequest huge;
  huge.set_property("Huge");
  absl::StatusOr<v1::Delivery> too_large = client->WriteProperty(huge);
  EXPECT_EQ(too_large.status().code(), kPayloadTooLarge) << too_large.status();
  EXPECT_EQ(HttpStatusFor(too_large.status().code()), 413);
  server->Shutdown();
}

}  // namespace
}  // namespace edge::edged_client

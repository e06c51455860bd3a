#include "services/metrics/metrics_server.h"

#include <cstdio>
#include <cstdlib>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/curl.h"

namespace edge::metrics {
namespace {

using ::testing::HasSubstr;

absl::Status Check(const std::string& address, bool allow_public = false) {
  return CheckAddress(config::MetricsConfig{address, allow_public}, "edged.metrics");
}

TEST(MetricsServerTest, LoopbackAddressesAreTakenAndOthersNeedAllowPublic) {
  EXPECT_TRUE(Check("127.0.0.1:9101").ok());
  EXPECT_TRUE(Check("127.0.0.2:0").ok());
  EXPECT_TRUE(Check("[::1]:9101").ok());
  EXPECT_TRUE(Check("localhost:9101").ok());
  absl::Status s = Check("0.0.0.0:9101");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("edged.metrics.address: 0.0.0.0:9101 is not a loopback address"));
  EXPECT_THAT(s.message(), HasSubstr("edged.metrics.allow_public is true"));
  EXPECT_THAT(Check("192.168.1.5:9101").message(), HasSubstr("not a loopback address"));
  EXPECT_THAT(Check("[::]:9101").message(), HasSubstr("not a loopback address"));
  EXPECT_TRUE(Check("0.0.0.0:9101", /*allow_public=*/true).ok());
}

TEST(MetricsServerTest, MalformedAddressesNameTheFieldAndTheForm) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:70000", "127.0.0.1:x", "[::1]9101",
                          "metrics.example.com:9101", "::1:9101"}) {
    absl::Status s = Check(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("edged.metrics.address: \"")) << bad;
    EXPECT_THAT(s.message(), HasSubstr("expected HOST:PORT")) << bad;
  }
}

TEST(MetricsServerTest, OffWithoutAnAddress) {
  auto server = MetricsServer::Start({}, "edged.metrics", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(*server, nullptr);
}

TEST(MetricsServerTest, ServesTheRegistryInTheTextFormatThatPromtoolAccepts) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("edge_test_things_total")
                     .Help("Things counted by the test.")
                     .Register(*registry);
  family.Add({{"kind", "pump"}}).Increment(3);
  auto server = MetricsServer::Start(config::MetricsConfig{"127.0.0.1:0", false}, "edged.metrics",
                                     registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_NE(*server, nullptr);
  EXPECT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->url(), absl::StrCat("http://127.0.0.1:", (*server)->port(), "/metrics"));
  std::string dir = ::testing::TempDir();
  testing::CurlResult r = testing::Curl(dir, {(*server)->url()}, "");
  ASSERT_EQ(r.code, 200) << r.curl_error;
  EXPECT_THAT(r.body, HasSubstr("edge_test_things_total{kind=\"pump\"} 3"));
  std::string file = absl::StrCat(dir, "/metrics.txt");
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fwrite(r.body.data(), 1, r.body.size(), f);
  std::fclose(f);
  EXPECT_EQ(std::system(absl::StrCat("promtool check metrics < ", file).c_str()), 0);
  // A second server on the same port is refused with the field and the address.
  auto again = MetricsServer::Start(
      config::MetricsConfig{absl::StrCat("127.0.0.1:", (*server)->port()), false},
      "restd.metrics", registry);
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(),
              HasSubstr(absl::StrCat("restd.metrics.address: cannot serve metrics on 127.0.0.1:",
                                     (*server)->port())));
}

}  // namespace
}  // namespace edge::metrics

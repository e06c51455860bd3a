// testssl.sh against a running restd (keyless TLS through trustd): no SSLv3, TLS 1.0 or 1.1,
// no weak cipher, no vulnerability finding. Skipped, saying so, when testssl is not installed.
#include <unistd.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "services/json/json.h"
#include "services/common/file_util.h"
#include "tests/testing/edge_stack.h"

namespace edge {
namespace {

namespace json = ::edge::json;
using testing::EdgeStack;
using testing::StackConfig;

std::string FindTestssl() {
  for (const char* path : {"/usr/bin/testssl", "/usr/bin/testssl.sh", "/usr/local/bin/testssl.sh"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

TEST(RestdTestssl, NoWeakProtocolCipherOrVulnerability) {
  std::string testssl = FindTestssl();
  if (testssl.empty()) {
    GTEST_SKIP() << "testssl.sh is not installed (deploy/setup.sh installs it): restd's TLS "
                    "audit did not run";
  }
  EdgeStack stack;
  ASSERT_TRUE(stack.StartSim().ok());
  int port = EdgeStack::FreePort();
  StackConfig config;
  config.http_server = stack.RestHttpServer(port);
  ASSERT_TRUE(stack.WriteConfig(config).ok());
  ASSERT_TRUE(stack.StartTrustd().ok());
  ASSERT_TRUE(stack.StartEdged().ok());
  absl::Status started = stack.StartRestd();
  ASSERT_TRUE(started.ok()) << started;

  std::string report = stack.dir() + "/testssl.json";
  // Protocols, the standard cipher categories, and every vulnerability check.
  std::string cmd = absl::StrCat(
      "timeout 600 ", testssl, " --quiet --color 0 --warnings off --ip one "
      "--protocols --std --vulnerable --jsonfile ", report, " 127.0.0.1:", port,
      " > ", stack.dir(), "/testssl.out 2>&1");
  int rc = std::system(cmd.c_str());
  std::string out = ReadFile(stack.dir() + "/testssl.out").value_or("");
  auto parsed = json::Parse(ReadFile(report).value_or("[]"));
  ASSERT_TRUE(parsed.ok() && parsed->is_array() && !parsed->array().empty())
      << "testssl exited " << rc << ":\n" << out;

  std::map<std::string, std::string> finding;
  std::vector<std::string> problems;
  for (const json::Value& f : parsed->array()) {
    std::string id = f.Find("id") ? f.Find("id")->str() : "";
    std::string severity = f.Find("severity") ? f.Find("severity")->str() : "";
    std::string text = f.Find("finding") ? f.Find("finding")->str() : "";
    finding[id] = text;
    if (severity == "LOW" || severity == "MEDIUM" || severity == "HIGH" ||
        severity == "CRITICAL" || severity == "FATAL") {
      problems.push_back(absl::StrCat(id, " [", severity, "]: ", text));
    }
  }
  for (const char* old : {"SSLv2", "SSLv3", "TLS1", "TLS1_1"}) {
    EXPECT_TRUE(absl::StrContains(finding[old], "not offered")) << old << ": " << finding[old];
  }
  for (const char* weak : {"cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                           "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"}) {
    EXPECT_TRUE(absl::StrContains(finding[weak], "not offered")) << weak << ": " << finding[weak];
  }
  EXPECT_TRUE(absl::StrContains(finding["TLS1_2"], "offered")) << finding["TLS1_2"];
  EXPECT_TRUE(absl::StrContains(finding["TLS1_3"], "offered")) << finding["TLS1_3"];
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n") << "\n\n" << out;
  std::vector<std::string> ids;
  for (const auto& [id, text] : finding) ids.push_back(id);
  std::printf("testssl: %zu findings, none above INFO/OK: %s\n", parsed->array().size(),
              absl::StrJoin(ids, " ").c_str());
}

}  // namespace
}  // namespace edge

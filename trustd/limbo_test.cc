#include "trustd/limbo.h"

#include <cstdlib>
#include <set>

#include "gtest/gtest.h"
#include "services/common/file_util.h"

namespace edge::trustd {
namespace {

std::string LimboFile() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir) + "/" + workspace + "/tests/limbo/limbo-dev.json";
}

TEST(LimboTest, GetsAtLeast95PercentOfServerCasesRight) {
  auto json = ReadFile(LimboFile());
  ASSERT_TRUE(json.ok()) << json.status();
  auto results = RunLimboCases(*json);
  ASSERT_TRUE(results.ok()) << results.status();

  int server = 0, right = 0;
  for (const LimboResult& r : *results) {
    if (r.validation_kind != "SERVER") continue;
    ++server;
    if (r.actual == r.expected) {
      ++right;
    } else {
      std::cout << "miss: " << r.id << " expected " << r.expected << ": " << r.context << "\n";
    }
  }
  ASSERT_EQ(server, 120);
  std::cout << "limbo SERVER: " << right << "/" << server << "\n";
  EXPECT_GE(right * 100, server * 95);
}

// The cases a plain OpenSSL harness misses and the strict policy exists for: each must stay
// right, whatever the total.
TEST(LimboTest, StrictPolicyCasesStayRight) {
  auto json = ReadFile(LimboFile());
  ASSERT_TRUE(json.ok()) << json.status();
  auto results = RunLimboCases(*json);
  ASSERT_TRUE(results.ok()) << results.status();
  const std::set<std::string> must = {
      "webpki::san::no-san",
      "webpki::forbidden-weak-rsa-in-leaf",
      "webpki::forbidden-p192-leaf",
      "webpki::forbidden-dsa-root",
      "webpki::v1-cert",
      "rfc5280::serial::zero",
      "rfc5280::serial::too-long",
      "cve::cve-2025-61727",
      "webpki::aki::root-with-aki-authoritycertissuer",
      "rfc5280::validity::notafter-exact",
      "crl::revoked-certificate-with-crl",
      "online::docs.python.org",
  };
  int seen = 0;
  for (const LimboResult& r : *results) {
    if (must.count(r.id) == 0) continue;
    ++seen;
    SCOPED_TRACE(r.id);
    EXPECT_EQ(r.actual, r.expected) << r.context;
  }
  EXPECT_EQ(seen, static_cast<int>(must.size()));
}

TEST(LimboTest, RejectsInputThatIsNotALimboFile) {
  auto results = RunLimboCases("{\"version\": 1}");
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().message(),
            "limbo input: expected an object with a \"testcases\" array");
}

}  // namespace
}  // namespace edge::trustd

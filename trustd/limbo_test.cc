#include "trustd/limbo.h"

#include <cstdlib>
#include <set>

#include "gtest/gtest.h"
#include "services/common/file_util.h"

namespace edge::trustd {
namespace {

std::string LimboFile(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir) + "/" + workspace + "/tests/limbo/" + name;
}

std::vector<LimboResult> RunFile(const std::string& name, const LimboOptions& options = {}) {
  auto json = ReadFile(LimboFile(name));
  EXPECT_TRUE(json.ok()) << json.status();
  if (!json.ok()) return {};
  auto results = RunLimboCases(*json, options);
  EXPECT_TRUE(results.ok()) << results.status();
  return results.ok() ? *results : std::vector<LimboResult>();
}

// The whole suite: at least 97% of the cases right (a case and its conflicts_with partners
// counting once), and not one chain accepted that must be refused.
TEST(LimboTest, GetsAtLeast97PercentOfTheWholeSuiteRightAndAcceptsNothingItMustRefuse) {
  std::vector<LimboResult> results = RunFile("limbo.json");
  ASSERT_EQ(results.size(), 208u);
  for (const LimboResult& r : results) {
    if (r.actual != r.expected) {
      std::cout << "miss: " << r.id << " expected " << r.expected << ": " << r.context << "\n";
    }
  }
  LimboTally tally = TallyLimbo(results);
  std::cout << RenderLimboTally(tally) << "\n";
  EXPECT_EQ(tally.cases, 205);
  EXPECT_GE(tally.right * 100, tally.cases * 97);
  EXPECT_EQ(tally.wrongly_accepted, std::vector<std::string>());
}

TEST(LimboTest, GetsAtLeast95PercentOfTheDevelopmentSubsetsServerCasesRight) {
  int server = 0, right = 0;
  for (const LimboResult& r : RunFile("limbo-dev.json")) {
    if (r.validation_kind != "SERVER") continue;
    ++server;
    if (r.actual == r.expected) ++right;
  }
  ASSERT_EQ(server, 120);
  EXPECT_GE(right * 100, server * 95);
}

// The cases each rule of the engine exists for: each must stay right, whatever the total.
TEST(LimboTest, CasesEachRuleExistsForStayRight) {
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
      // v2: the rules of issue 15.
      "crl::crlnumber-missing",
      "rfc5280::aki::cross-signed-root-missing-aki",
      "rfc5280::nc::permitted-dns-match-noncritical",
      "rfc5280::nc::not-allowed-in-ee-noncritical",
      "rfc5280::nc::not-allowed-in-ee-critical",
      "rfc5280::nc::nc-permits-invalid-email-san",
      "rfc5280::pc::ica-noncritical-pc",
      "rfc5280::san::underscore-dns",
      "webpki::cn::ipv4-hex-mismatch",
      "webpki::cn::punycode-not-in-san",
      "webpki::cn::utf8-vs-punycode-mismatch",
      "webpki::cn::not-in-san",
      "webpki::cn::case-mismatch",
      "webpki::eku::ee-anyeku",
      "webpki::eku::ee-critical-eku",
      "webpki::eku::root-has-eku",
      "webpki::san::public-suffix-multi-label-wildcard-san",
      "webpki::san::public-suffix-private-namespace-wildcard-san",
      "webpki::malformed-aia",
      // Path building: an alternate intermediate, a self-issued intermediate and the depth.
      "rfc5280::nc::nc-forbids-alternate-chain-ica",
      "rfc5280::nc::nc-forbids-same-chain-ica",
      "pathlen::max-chain-depth-1-self-issued",
  };
  int seen = 0;
  for (const LimboResult& r : RunFile("limbo.json")) {
    if (must.count(r.id) == 0) continue;
    ++seen;
    SCOPED_TRACE(r.id);
    EXPECT_EQ(r.actual, r.expected) << r.context;
  }
  EXPECT_EQ(seen, static_cast<int>(must.size()));
}

TEST(LimboTest, RunsTheRfc5280SideOfAConflictWhenItsWebPkiRuleIsRelaxed) {
  LimboOptions options;
  ASSERT_TRUE(trust::ApplyRelaxation("allow_missing_eku", &options.strict).ok());
  bool seen = false;
  for (const LimboResult& r : RunFile("limbo.json", options)) {
    if (r.id != "rfc5280::eku::ee-without-eku") continue;
    seen = true;
    EXPECT_EQ(r.actual, "SUCCESS") << r.context;
  }
  EXPECT_TRUE(seen);
}

TEST(LimboTest, CountsAConflictingPairOnceRightWhenEitherSideIsRight) {
  std::vector<LimboResult> results(3);
  results[0] = {"a", "SERVER", "SUCCESS", "FAILURE", "", {"b"}};
  results[1] = {"b", "SERVER", "FAILURE", "FAILURE", "", {"a"}};
  results[2] = {"c", "SERVER", "FAILURE", "SUCCESS", "", {}};
  LimboTally t = TallyLimbo(results);
  EXPECT_EQ(t.cases, 2);
  EXPECT_EQ(t.right, 1);
  EXPECT_EQ(t.wrongly_accepted, std::vector<std::string>{"c"});
  EXPECT_EQ(t.wrongly_refused, std::vector<std::string>{"a"});
  EXPECT_EQ(RenderLimboTally(t), "limbo: 1/2 right (50.0%), 1 wrongly accepted, 1 wrongly refused");
}

TEST(LimboTest, RejectsInputThatIsNotALimboFile) {
  auto results = RunLimboCases("{\"version\": 1}");
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().message(),
            "limbo input: expected an object with a \"testcases\" array");
}

}  // namespace
}  // namespace edge::trustd

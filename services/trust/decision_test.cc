#include "services/trust/decision.h"

#include "gtest/gtest.h"

namespace edge::trust {
namespace {

TEST(TruncateUtf8Test, CutsOnCharacterBoundariesAndMarksTheCut) {
  struct Case {
    const char* name;
    std::string in;
    size_t max;
    std::string want;
  } cases[] = {
      {"fits", "CN=short", 8, "CN=short"},
      {"empty", "", 0, ""},
      {"ascii", "CN=abcdefgh", 8, "CN=ab..."},
      // "é" is two bytes (C3 A9): never cut between them.
      {"two-byte character at the cut", "CN=\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 9, "CN=\xC3\xA9..."},
      {"two-byte character before the cut", "CN=\xC3\xA9" "abcdef", 8, "CN=\xC3\xA9..."},
      // "€" is three bytes (E2 82 AC).
      {"three-byte character", "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", 7, "\xE2\x82\xAC..."},
      {"no room for the mark", "abcdef", 2, "ab"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string out = TruncateUtf8(c.in, c.max);
    EXPECT_EQ(out, c.want);
    EXPECT_LE(out.size(), c.max);
  }
}

TEST(BoundDecisionTest, CutsEveryStringAndList) {
  Decision d;
  const std::string name(60 * 1024, 'n');
  d.detail = d.hint = d.openssl_error_text = std::string(100 * 1024, 's');
  d.failing_subject = d.failing_issuer = name;
  for (int i = 0; i < 40; ++i) d.chain.push_back(CertificateSummary{name, name, "AA:BB", {}, {}});
  d.warnings.assign(40, std::string(10 * 1024, 'w'));
  BoundDecision(&d);
  EXPECT_EQ(d.detail.size(), kMaxSentenceBytes);
  EXPECT_EQ(d.detail.substr(kMaxSentenceBytes - 3), "...");
  EXPECT_EQ(d.hint.size(), kMaxSentenceBytes);
  EXPECT_EQ(d.openssl_error_text.size(), kMaxSentenceBytes);
  EXPECT_EQ(d.failing_subject.size(), kMaxNameBytes);
  EXPECT_EQ(d.failing_issuer.size(), kMaxNameBytes);
  ASSERT_EQ(d.chain.size(), kMaxSummaryCertificates);
  EXPECT_EQ(d.chain[0].subject.size(), kMaxNameBytes);
  EXPECT_EQ(d.chain[0].issuer.size(), kMaxNameBytes);
  EXPECT_EQ(d.chain[0].sha256, "AA:BB");
  ASSERT_EQ(d.warnings.size(), kMaxWarnings);
  EXPECT_EQ(d.warnings[0].size(), kMaxSentenceBytes);
}

TEST(BoundDecisionTest, LeavesAnOrdinaryDecisionAsItIs) {
  Decision d;
  d.reason = Reason::kNameMismatch;
  d.detail = "expected \"evil.test\", the certificate is for DNS:platform.test";
  d.failing_subject = "CN=platform.test";
  d.chain.push_back(CertificateSummary{"CN=platform.test", "CN=Edge Test Intermediate",
                                       "AA:BB", {}, {}});
  Decision bounded = d;
  BoundDecision(&bounded);
  EXPECT_EQ(bounded.ToJson(), d.ToJson());
}

TEST(DecisionSummaryTest, SaysTheReasonTheDetailAndTheHintOnOneLine) {
  Decision d;
  d.reason = Reason::kNameMismatch;
  d.openssl_error = 62;
  d.openssl_error_text = "hostname mismatch";
  d.detail = "expected \"evil.test\", the certificate is for DNS:platform.test";
  d.hint = "connect to a name the certificate holds";
  EXPECT_EQ(d.Summary(),
            "NAME_MISMATCH (openssl error 62: hostname mismatch): expected \"evil.test\", the "
            "certificate is for DNS:platform.test; hint: connect to a name the certificate "
            "holds");
  d.hint.clear();
  d.openssl_error = 0;
  EXPECT_EQ(d.Summary(),
            "NAME_MISMATCH: expected \"evil.test\", the certificate is for DNS:platform.test");
}

TEST(DecisionSummaryTest, IsBoundedEvenForADecisionThatWasNotBounded) {
  Decision d;
  d.reason = Reason::kInvalidChain;
  d.openssl_error = 7;
  d.openssl_error_text = d.detail = d.hint = std::string(100 * 1024, 's');
  EXPECT_LE(d.Summary().size(), kMaxSummaryBytes);
}

}  // namespace
}  // namespace edge::trust

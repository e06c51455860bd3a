#include "trustd/verify_text.h"

#include "gtest/gtest.h"

namespace edge::trustd {
namespace {

trust::Decision Refused() {
  trust::Decision d;
  d.allowed = false;
  d.reason = trust::Reason::kNameMismatch;
  d.openssl_error = 62;
  d.openssl_error_text = "hostname mismatch";
  d.detail = "the leaf is for platform.local, not evil.local";
  d.hint = "connect to a name in the certificate";
  d.leaf_sha256 = "AA:BB";
  d.chain.push_back({"CN=platform.local", "CN=Dev CA", "AA:BB", absl::FromUnixSeconds(0),
                     absl::FromUnixSeconds(86400 * 366)});
  return d;
}

TEST(DecisionTextTest, SaysTheVerdictTheReasonAndTheChain) {
  EXPECT_EQ(DecisionText(Refused(), trust::Purpose::kPlatform, "evil.local"),
            "refused: platform peer \"evil.local\": NAME_MISMATCH (openssl error 62: hostname "
            "mismatch)\n"
            "  detail       the leaf is for platform.local, not evil.local\n"
            "  hint         connect to a name in the certificate\n"
            "  leaf sha256  AA:BB\n"
            "  chain        0  CN=platform.local\n"
            "                  issued by CN=Dev CA, valid 1970-01-01 to 1971-01-02\n"
            "                  sha256 AA:BB\n");
}

TEST(DecisionTextTest, SaysWhenTheHostNameWasNotChecked) {
  trust::Decision d = Refused();
  d.allowed = true;
  d.reason = trust::Reason::kOk;
  d.detail.clear();
  d.hint.clear();
  d.chain.clear();
  d.warnings = {"SHA-1 signatures are accepted"};
  EXPECT_EQ(DecisionText(d, trust::Purpose::kEdge, ""),
            "allowed: edge peer (host name not checked)\n"
            "  leaf sha256  AA:BB\n"
            "  warning      SHA-1 signatures are accepted\n");
}

}  // namespace
}  // namespace edge::trustd

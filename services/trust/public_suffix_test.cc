#include "services/trust/public_suffix.h"

#include "gtest/gtest.h"

namespace edge::trust {
namespace {

TEST(PublicSuffixListTest, AppliesListedWildcardAndExceptionRules) {
  PublicSuffixList list = PublicSuffixList::Parse(
      "// comment\n"
      "com\n"
      "co.uk\n"
      "*.ck\n"
      "!www.ck\n"
      "s3.amazonaws.com   trailing words are ignored\n");
  struct Case {
    const char* domain;
    bool public_suffix;
  };
  for (const Case& c : {Case{"com", true}, Case{"example.com", false}, Case{"co.uk", true},
                        Case{"CO.UK", true}, Case{"example.co.uk", false},
                        Case{"anything.ck", true}, Case{"www.ck", false},
                        Case{"s3.amazonaws.com", true}, Case{"bucket.s3.amazonaws.com", false},
                        Case{"unlisted", true}, Case{"example.unlisted", false}}) {
    SCOPED_TRACE(c.domain);
    EXPECT_EQ(list.IsPublicSuffix(c.domain), c.public_suffix);
  }
}

TEST(PublicSuffixListTest, StoresUnicodeRulesAsALabels) {
  PublicSuffixList list = PublicSuffixList::Parse("公司.cn\n");
  EXPECT_TRUE(list.IsPublicSuffix("xn--55qx5d.cn"));
}

TEST(PublicSuffixListTest, EncodesLabelsAsRfc3492Punycode) {
  // RFC 3492 7.1 sample (A) and well-known registrations.
  EXPECT_EQ(ToALabel("ليهمابتكلموشعربي؟").value(), "xn--egbpdaj6bu4bxfgehfvwxn");
  EXPECT_EQ(ToALabel("bücher").value(), "xn--bcher-kva");
  EXPECT_EQ(ToALabel("example").value(), "example");
  EXPECT_FALSE(ToALabel("\xff").has_value());
}

TEST(PublicSuffixListTest, DebiansListIsInstalledAndHasTheMultiLabelSuffixes) {
  const PublicSuffixList& list = PublicSuffixList::Default();
  ASSERT_TRUE(list.loaded()) << "install Debian's publicsuffix package ("
                             << PublicSuffixList::kDebianPath << ")";
  EXPECT_TRUE(list.IsPublicSuffix("co.uk"));
  EXPECT_TRUE(list.IsPublicSuffix("s3.amazonaws.com"));
  EXPECT_FALSE(list.IsPublicSuffix("example.com"));
}

}  // namespace
}  // namespace edge::trust

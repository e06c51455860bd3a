#include "restd/auth.h"

#include "gtest/gtest.h"

namespace edge::restd {
namespace {

TEST(BasicAuthTest, ParsesAndRefusesWhatIsNotBasic) {
  // "admin:pa:ss" -> the user ends at the first ':', the password keeps the rest.
  auto c = ParseBasicAuthorization("Basic YWRtaW46cGE6c3M=");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "admin");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_TRUE(ParseBasicAuthorization("basic   YWRtaW46cGE6c3M=  ").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Bearer abc").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic !!!").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic YWRtaW4=").has_value());  // "admin", no ':'.
  EXPECT_FALSE(ParseBasicAuthorization("").has_value());
}

TEST(CsrfTokensTest, CurrentAndPreviousAreValidUntilTheNextRotation) {
  absl::Time now = absl::FromUnixSeconds(1000);
  CsrfTokens tokens(absl::Minutes(10), [&] { return now; });
  std::string first = tokens.Current();
  EXPECT_EQ(first.size(), 32u);
  EXPECT_TRUE(tokens.Valid(first));
  EXPECT_FALSE(tokens.Valid(""));
  EXPECT_FALSE(tokens.Valid(first.substr(1)));
  now += absl::Minutes(10);
  std::string second = tokens.Current();
  EXPECT_NE(second, first);
  EXPECT_TRUE(tokens.Valid(first)) << "the previous token stays valid for one period";
  now += absl::Minutes(10);
  EXPECT_FALSE(tokens.Valid(first));
  EXPECT_TRUE(tokens.Valid(second));
}

TEST(CredentialCacheTest, ExpiresAndClears) {
  CredentialCache cache(absl::Seconds(10));
  absl::Time now = absl::FromUnixSeconds(1000);
  BasicCredentials ok{"admin", "secret"};
  EXPECT_FALSE(cache.Accepted(ok, now));
  cache.Remember(ok, now);
  EXPECT_TRUE(cache.Accepted(ok, now + absl::Seconds(9)));
  EXPECT_FALSE(cache.Accepted({"admin", "secreT"}, now));
  EXPECT_FALSE(cache.Accepted(ok, now + absl::Seconds(10)));
  cache.Remember(ok, now);
  cache.Clear();
  EXPECT_FALSE(cache.Accepted(ok, now));
}

}  // namespace
}  // namespace edge::restd

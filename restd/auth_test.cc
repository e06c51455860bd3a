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

TEST(CsrfTokensTest, ATokenIsValidInItsPeriodAndTheNextOnlyHoweverRarelyAsked) {
  // The report: rotation 1 minute, a token still accepted 135 s after it was drawn, since
  // rotation only happened when asked and restarted the period then.
  absl::Time start = absl::FromUnixSeconds(5000);
  absl::Time now = start;
  CsrfTokens tokens(absl::Minutes(1), [&] { return now; });
  std::string first = tokens.Current();
  now = start + absl::Seconds(59);
  EXPECT_EQ(tokens.Current(), first) << "the same period: the same token";
  now = start + absl::Seconds(119);  // The next period, first asked at its end.
  EXPECT_TRUE(tokens.Valid(first));
  std::string second = tokens.Current();
  EXPECT_NE(second, first);
  now = start + absl::Seconds(120);  // Two periods after the first token's period began.
  EXPECT_FALSE(tokens.Valid(first));
  EXPECT_TRUE(tokens.Valid(second));
  now = start + absl::Seconds(135);
  EXPECT_FALSE(tokens.Valid(first)) << "135 s: refused";
}

TEST(CsrfTokensTest, CurrentRotatesOnScheduleAndNothingOlderThanTwoPeriodsIsValid) {
  absl::Time start = absl::FromUnixSeconds(5000);
  absl::Time now = start;
  CsrfTokens tokens(absl::Minutes(1), [&] { return now; });
  std::string first = tokens.Current();
  // Nobody asks for three periods: the first token is not carried into them.
  now = start + absl::Minutes(3) + absl::Seconds(1);
  EXPECT_FALSE(tokens.Valid(first));
  std::string fourth = tokens.Current();
  EXPECT_NE(fourth, first);
  // The schedule is fixed from the start, not from when a token was last asked for.
  now = start + absl::Minutes(4) - absl::Milliseconds(1);
  EXPECT_EQ(tokens.Current(), fourth);
  now = start + absl::Minutes(4);
  std::string fifth = tokens.Current();
  EXPECT_NE(fifth, fourth);
  EXPECT_TRUE(tokens.Valid(fourth));
  EXPECT_TRUE(tokens.Valid(fifth));
  now = start + absl::Minutes(6);
  EXPECT_FALSE(tokens.Valid(fifth));
  // A clock that steps back keeps the current token.
  std::string seventh = tokens.Current();
  now = start + absl::Minutes(2);
  EXPECT_EQ(tokens.Current(), seventh);
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

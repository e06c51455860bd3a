#include "restd/auth.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

TEST(LoggableUserNameTest, EscapesControlCharactersAndShortens) {
  struct Case {
    std::string user;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"admin", "\"admin\""},
           {"ev\x1b[31mil\nINFO forged", "\"ev\\x1b[31mil\\nINFO forged\""},
           {"a\"b\\c", "\"a\\\"b\\\\c\""},
           {"\xC3\xA9t\xC3\xA9", "\"\\xc3\\xa9t\\xc3\\xa9\""},
           {"", "\"\""},
           {std::string(100, 'u'), "\"" + std::string(64, 'u') + "\" (its first 64 of 100 bytes)"},
       }) {
    SCOPED_TRACE(c.user);
    EXPECT_EQ(LoggableUserName(c.user), c.expected);
  }
}

TEST(FailedLoginsTest, HoldsAnswersAfterThreeFailuresDoublingUpToFiveSeconds) {
  FailedLogins failed;
  absl::Time now = absl::FromUnixSeconds(1000);
  std::vector<absl::Duration> expected = {
      absl::ZeroDuration(),      absl::ZeroDuration(),      absl::ZeroDuration(),
      absl::Milliseconds(100),   absl::Milliseconds(200),   absl::Milliseconds(400),
      absl::Milliseconds(800),   absl::Milliseconds(1600),  absl::Milliseconds(3200),
      absl::Seconds(5),          absl::Seconds(5)};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i + 1);
    EXPECT_EQ(failed.Failed("192.0.2.7", "admin", now).hold, expected[i]);
    now += absl::Seconds(1);
  }
  for (int i = 0; i < 100; ++i) failed.Failed("192.0.2.7", "admin", now);
  EXPECT_EQ(failed.Failed("192.0.2.7", "admin", now).hold, absl::Seconds(5)) << "capped";
  EXPECT_EQ(failed.Failed("192.0.2.8", "admin", now).hold, absl::ZeroDuration())
      << "another address has its own count";
  EXPECT_EQ(failed.total(), expected.size() + 100 + 2);
}

TEST(FailedLoginsTest, ASuccessOrFiveQuietMinutesStartTheCountAgain) {
  FailedLogins failed;
  absl::Time now = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 5; ++i) failed.Failed("192.0.2.7", "admin", now);
  failed.Succeeded("192.0.2.7");
  EXPECT_EQ(failed.addresses(), 0u);
  EXPECT_EQ(failed.Failed("192.0.2.7", "admin", now).hold, absl::ZeroDuration());
  for (int i = 0; i < 4; ++i) failed.Failed("192.0.2.7", "admin", now);
  now += absl::Minutes(5) - absl::Seconds(1);
  EXPECT_EQ(failed.Failed("192.0.2.7", "admin", now).hold, absl::Milliseconds(400));
  now += absl::Minutes(5);
  EXPECT_EQ(failed.Failed("192.0.2.7", "admin", now).hold, absl::ZeroDuration());
  EXPECT_EQ(failed.total(), 12u) << "the total is not reset";
}

TEST(FailedLoginsTest, RemembersAtMostMaxAddressesForgettingTheOldest) {
  FailedLoginPolicy policy;
  policy.max_addresses = 3;
  FailedLogins failed(policy);
  absl::Time now = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 4; ++i) failed.Failed("10.0.0.1", "u", now);  // Held from now on.
  failed.Failed("10.0.0.2", "u", now);
  failed.Failed("10.0.0.3", "u", now);
  failed.Failed("10.0.0.1", "u", now);  // The most recent again.
  failed.Failed("10.0.0.4", "u", now);  // Forgets 10.0.0.2, the oldest.
  EXPECT_EQ(failed.addresses(), 3u);
  EXPECT_EQ(failed.Failed("10.0.0.1", "u", now).hold, absl::Milliseconds(400));
  for (int i = 0; i < 10000; ++i) {
    failed.Failed(absl::StrCat("10.1.", i / 256, ".", i % 256), "u", now);
  }
  EXPECT_EQ(failed.addresses(), 3u);
}

TEST(FailedLoginsTest, LogsEachFailureWithUserAndAddressUpToTenPerMinuteThenSumsUp) {
  FailedLogins failed;
  absl::Time now = absl::FromUnixSeconds(1000);
  std::vector<std::string> lines;
  for (int i = 0; i < 25; ++i) {
    FailedLogins::Verdict v = failed.Failed("192.0.2.7", "adm\x01in", now);
    if (v.log_line) lines.push_back(*v.log_line);
    now += absl::Seconds(1);
  }
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "failed login for user \"adm\\x01in\" from 192.0.2.7: 1 in a row");
  EXPECT_EQ(lines[4],
            "failed login for user \"adm\\x01in\" from 192.0.2.7: 5 in a row, the 401 is held "
            "200ms");
  EXPECT_EQ(lines[9],
            "failed login for user \"adm\\x01in\" from 192.0.2.7: 10 in a row, the 401 is held "
            "5s; further failures from this address in this minute are counted, not logged");
  now = absl::FromUnixSeconds(1000) + absl::Minutes(1);  // A new minute.
  auto v = failed.Failed("192.0.2.7", "admin", now);
  ASSERT_TRUE(v.log_line.has_value());
  EXPECT_EQ(*v.log_line,
            "failed login for user \"admin\" from 192.0.2.7: 26 in a row, the 401 is held 5s; 15 "
            "failed logins from this address before this one were not logged (at most 10 lines "
            "per address and 100 in all per minute)");
}

TEST(FailedLoginsTest, BoundsTheLogLinesOfAllAddressesTogether) {
  FailedLogins failed;
  absl::Time now = absl::FromUnixSeconds(1000);
  int logged = 0;
  for (int i = 0; i < 500; ++i) {
    if (failed.Failed(absl::StrCat("10.0.", i / 256, ".", i % 256), "u", now).log_line) ++logged;
  }
  EXPECT_EQ(logged, 100);
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

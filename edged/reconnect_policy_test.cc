#include "edged/reconnect_policy.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace edge::edged {
namespace {

using Clock = ReconnectPolicy::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

ReconnectOptions Options() {
  ReconnectOptions o;
  o.retry_interval = milliseconds(10000);
  o.max_connect_delay = milliseconds(10000);
  o.max_delay = milliseconds(300000);
  return o;
}

TEST(ReconnectPolicyTest, TheFirstAttemptsWaitTheIntervalPlusARandomDelay) {
  double jitter = 0.5;
  ReconnectPolicy policy(Options(), [&] { return jitter; });
  Clock::time_point t{};
  for (int i = 0; i < ReconnectPolicy::kJitteredAttempts; ++i) {
    EXPECT_EQ(policy.Failed(t, "x"), milliseconds(15000)) << i;
  }
  jitter = 0;
  ReconnectPolicy none(Options(), [&] { return jitter; });
  EXPECT_EQ(none.Failed(t, "x"), milliseconds(10000));
  jitter = 1;
  ReconnectPolicy full(Options(), [&] { return jitter; });
  EXPECT_EQ(full.Failed(t, "x"), milliseconds(20000));
}

TEST(ReconnectPolicyTest, BacksOffAfterRepeatedFailuresUpToTheCap) {
  ReconnectPolicy policy(Options(), [] { return 0.0; });
  Clock::time_point t{};
  std::vector<int64_t> waits;
  for (int i = 0; i < 10; ++i) waits.push_back(policy.Failed(t, "x").count());
  EXPECT_EQ(waits, (std::vector<int64_t>{10000, 10000, 10000, 20000, 40000, 80000, 160000,
                                         300000, 300000, 300000}));
  // Forever offline stays at the cap (and the loop that doubles ends).
  for (int i = 0; i < 100000; ++i) policy.Failed(t, "x");
  EXPECT_EQ(policy.Failed(t, "x"), milliseconds(300000));
}

TEST(ReconnectPolicyTest, AZeroIntervalStillBacksOff) {
  ReconnectOptions o = Options();
  o.retry_interval = milliseconds(0);
  o.max_connect_delay = milliseconds(0);
  ReconnectPolicy policy(o, [] { return 0.0; });
  Clock::time_point t{};
  for (int i = 0; i < ReconnectPolicy::kJitteredAttempts; ++i) policy.Failed(t, "x");
  EXPECT_GE(policy.Failed(t, "x"), milliseconds(1000));
}

TEST(ReconnectPolicyTest, ASuccessfulBindStartsOver) {
  ReconnectPolicy policy(Options(), [] { return 0.0; });
  Clock::time_point t{};
  for (int i = 0; i < 8; ++i) policy.Failed(t, "x");
  policy.Reset();
  EXPECT_EQ(policy.failures(), 0);
  EXPECT_EQ(policy.Failed(t, "x"), milliseconds(10000));
}

TEST(ReconnectPolicyTest, LogsTheFirstFailureThenASummaryAtMostOnceAMinute) {
  ReconnectPolicy policy(Options(), [] { return 0.0; });
  Clock::time_point t{};
  policy.Failed(t, "cannot connect to p:443: Connection refused");
  ASSERT_TRUE(policy.Warning().has_value());
  EXPECT_EQ(*policy.Warning(), "cannot connect to p:443: Connection refused");
  std::vector<std::string> warnings;
  // One failure per second for three minutes: three summaries, not 180 lines.
  for (int i = 1; i <= 180; ++i) {
    policy.Failed(t + seconds(i), "cannot connect to p:443: timed out");
    if (policy.Warning()) warnings.push_back(*policy.Warning());
  }
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_EQ(warnings[0],
            "still offline: 61 attempts (60 since the last report), last error: cannot connect "
            "to p:443: timed out");
  // A failure of another kind is reported at once, the first time.
  policy.Failed(t + seconds(181), "trustd unreachable: platform certificate not judged");
  ASSERT_TRUE(policy.Warning().has_value());
  EXPECT_EQ(*policy.Warning(), "trustd unreachable: platform certificate not judged");
  policy.Failed(t + seconds(182), "trustd unreachable: platform certificate not judged");
  EXPECT_FALSE(policy.Warning().has_value());
  // Back online, the next outage's first failure is reported at once.
  policy.Reset();
  policy.Failed(t + seconds(200), "lost");
  ASSERT_TRUE(policy.Warning().has_value());
  EXPECT_EQ(*policy.Warning(), "lost");
}

}  // namespace
}  // namespace edge::edged

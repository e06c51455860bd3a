#include "edged/request_tracker.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace edge::edged {
namespace {

using Clock = RequestTracker::Clock;
using std::chrono::milliseconds;

RequestTracker::Done Record(std::vector<std::string>* log, std::string name) {
  return [log, name](absl::StatusOr<alwayson::Message> m) {
    log->push_back(name + (m.ok() ? ":answered" : ":" + std::string(m.status().message())));
  };
}

TEST(RequestTrackerTest, IdsAreNeverZeroAndNeverOneStillWaiting) {
  RequestTracker tracker;
  Clock::time_point t0{};
  uint32_t first = tracker.NextId();
  EXPECT_EQ(first, 1u);
  tracker.Add(first, RequestKind::kCall, t0, nullptr);
  // Go round the whole id space: 0 and the waiting id are skipped.
  uint32_t id = first;
  for (int i = 0; i < 3; ++i) id = tracker.NextId();
  EXPECT_EQ(id, 4u);
  // After 2^32 - 1 comes 1, not 0, and an id still waiting is skipped.
  RequestTracker wrapped(0xFFFFFFFEu);
  wrapped.Add(1, RequestKind::kCall, t0, nullptr);
  EXPECT_EQ(wrapped.NextId(), 0xFFFFFFFFu);
  EXPECT_EQ(wrapped.NextId(), 2u);
}

TEST(RequestTrackerTest, AnAnswerIsTakenOnceAndALateOneIsUnknown) {
  RequestTracker tracker;
  std::vector<std::string> log;
  tracker.Add(7, RequestKind::kCall, Clock::time_point{} + milliseconds(100), Record(&log, "a"));
  std::optional<RequestTracker::Done> done = tracker.Take(7);
  ASSERT_TRUE(done.has_value());
  (*done)(alwayson::Message{});
  EXPECT_FALSE(tracker.Take(7).has_value());
  EXPECT_FALSE(tracker.Take(8).has_value()) << "never sent";
  EXPECT_EQ(log, std::vector<std::string>{"a:answered"});
}

TEST(RequestTrackerTest, ExpiredRequestsComeOutInTheOrderSentWithTheirKind) {
  RequestTracker tracker;
  Clock::time_point t0{};
  // Ids out of order (after a wrap, say): the order is the order of Add.
  tracker.Add(900, RequestKind::kAuth, t0 + milliseconds(10), nullptr);
  tracker.Add(5, RequestKind::kBind, t0 + milliseconds(10), nullptr);
  tracker.Add(300, RequestKind::kCall, t0 + milliseconds(20), nullptr);
  tracker.Add(6, RequestKind::kCall, t0 + milliseconds(10), nullptr);
  EXPECT_TRUE(tracker.TakeExpired(t0 + milliseconds(9)).empty());
  std::vector<RequestTracker::Expired> expired = tracker.TakeExpired(t0 + milliseconds(10));
  ASSERT_EQ(expired.size(), 3u);
  EXPECT_EQ(expired[0].id, 900u);
  EXPECT_EQ(expired[0].kind, RequestKind::kAuth);
  EXPECT_EQ(expired[1].id, 5u);
  EXPECT_EQ(expired[1].kind, RequestKind::kBind);
  EXPECT_EQ(expired[2].id, 6u);
  EXPECT_EQ(tracker.size(), 1u);
  std::vector<RequestTracker::Expired> rest = tracker.TakeAll();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, 300u);
  EXPECT_EQ(tracker.size(), 0u);
}

TEST(RequestTrackerTest, FailingEverythingKeepsTheOrderSent) {
  RequestTracker tracker;
  std::vector<std::string> log;
  Clock::time_point t0{};
  for (uint32_t id : {40u, 2u, 17u}) {
    tracker.Add(id, RequestKind::kCall, t0, Record(&log, std::to_string(id)));
  }
  for (RequestTracker::Expired& e : tracker.TakeAll()) e.done(absl::UnavailableError("lost"));
  EXPECT_EQ(log, (std::vector<std::string>{"40:lost", "2:lost", "17:lost"}));
}

}  // namespace
}  // namespace edge::edged

#include "restd/refusal_log.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edge::restd {
namespace {

class RefusalLogTest : public ::testing::Test {
 protected:
  RefusalLog::Sink Sink() {
    return [this](RefusalLog::Severity s, absl::string_view line) {
      lines_.push_back(absl::StrCat(s == RefusalLog::Severity::kInfo ? "I " : "W ", line));
    };
  }
  std::vector<std::string> lines_;
};

TEST_F(RefusalLogTest, LogsTheFirstPerLimitAndAddressAndSumsUpTheRest) {
  RefusalLog log(Sink());
  for (int i = 0; i < 5; ++i) log.Note("limit A (4)", "10.0.0.1", "refused 10.0.0.1 by A");
  log.Note("limit A (4)", "10.0.0.2", "refused 10.0.0.2 by A");
  log.Note("limit B (1 ms)", "10.0.0.1", "dropped 10.0.0.1 by B", RefusalLog::Severity::kInfo);
  log.Note("limit B (1 ms)", "10.0.0.1", "dropped 10.0.0.1 by B");
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "W refused 10.0.0.1 by A (repeats from 10.0.0.1 are summed up every 1m)",
                        "W refused 10.0.0.2 by A (repeats from 10.0.0.2 are summed up every 1m)",
                        "I dropped 10.0.0.1 by B (repeats from 10.0.0.1 are summed up every 1m)",
                    }));
  lines_.clear();
  log.EndWindow();
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "W 5 more refused or dropped connections in the last 1m were not logged "
                        "one by one: limit A (4): 4, limit B (1 ms): 1"}));
  // A new window logs each pair again, and a quiet one logs nothing.
  lines_.clear();
  log.Note("limit A (4)", "10.0.0.1", "refused 10.0.0.1 by A");
  log.EndWindow();
  log.EndWindow();
  EXPECT_EQ(lines_.size(), 1u);
}

TEST_F(RefusalLogTest, BoundsTheAddressesLoggedOneByOne) {
  RefusalLog log(Sink(), /*max_pairs=*/3);
  for (int i = 0; i < 100; ++i) {
    std::string address = absl::StrCat("10.0.1.", i);
    log.Note("limit A (4)", address, "refused " + address);
  }
  EXPECT_EQ(lines_.size(), 3u);
  log.EndWindow();
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_EQ(lines_.back(),
            "W 97 more refused or dropped connections in the last 1m were not logged one by "
            "one: limit A (4): 97");
}

TEST(EscapeForLog, EscapesQuotesAndControlBytesAndCutsLongValues) {
  EXPECT_EQ(EscapeForLog("gzip"), "gzip");
  EXPECT_EQ(EscapeForLog("a\"b\\c\r\n\x01"), "a\\\"b\\\\c\\r\\n\\x01");
  std::string escaped = EscapeForLog(std::string(1000, 'x'));
  EXPECT_EQ(escaped, std::string(kLoggedPeerBytes, 'x') + "...");
}

}  // namespace
}  // namespace edge::restd

#include "services/common/log.h"

#include "gtest/gtest.h"

namespace edge {
namespace {

TEST(LogSafeTest, EscapesWhatCouldForgeALineOrAnEscapeSequence) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"plain text, ünïcode", "plain text, ünïcode"},
      {"endpoint\n2026-01-01T00:00:00Z trustd INFO forged",
       "endpoint\\n2026-01-01T00:00:00Z trustd INFO forged"},
      {"a\rb\tc", "a\\rb\\tc"},
      {std::string("nul\0bell\a", 9), "nul\\x00bell\\x07"},
      {"\x1b[31mred\x7f", "\\x1b[31mred\\x7f"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(LogSafe(c.in), c.out);
  }
}

TEST(LogSafeTest, BoundsWhatAPeerCanMakeALineHold) {
  std::string sans(390 * 1024, 'x');
  std::string safe = LogSafe(sans, kMaxLogMessageBytes);
  EXPECT_LE(safe.size(), kMaxLogMessageBytes + 32);
  EXPECT_EQ(safe.substr(kMaxLogMessageBytes), "... (391168 more bytes)");
  EXPECT_EQ(LogSafe(std::string(300, 'n')).size(), 256u + std::string("... (44 more bytes)").size());
  EXPECT_EQ(LogSafe("short", 5), "short");
}

}  // namespace
}  // namespace edge

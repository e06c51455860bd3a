#include "services/common/log.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

TEST(LogLevelTest, ParsesEveryEmsLevelNameInAnyCase) {
  struct Case {
    std::string name;
    LogLevel level;
  } cases[] = {
      {"FORCE", LogLevel::kForce}, {"ERROR", LogLevel::kError}, {"WARN", LogLevel::kWarning},
      {"INFO", LogLevel::kInfo},   {"DEBUG", LogLevel::kDebug}, {"TRACE", LogLevel::kTrace},
      {"AUDIT", LogLevel::kAudit}, {"warn", LogLevel::kWarning}, {"Trace", LogLevel::kTrace},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<LogLevel> level = ParseLogLevel(c.name);
    ASSERT_TRUE(level.ok()) << level.status();
    EXPECT_EQ(*level, c.level);
    EXPECT_TRUE(absl::EqualsIgnoreCase(LogLevelName(*level), c.name));
  }
}

TEST(LogLevelTest, RefusesANameThatIsNotAnEmsLevelNamingTheAllowedOnes) {
  for (const char* name : {"VERBOSE", "WARNING", "", "info "}) {
    SCOPED_TRACE(name);
    absl::StatusOr<LogLevel> level = ParseLogLevel(name);
    ASSERT_FALSE(level.ok());
    EXPECT_EQ(level.status().message(),
              absl::StrCat("expected one of FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT, found \"",
                           name, "\""));
  }
}

// What each threshold lets through, on standard error: EMS's order, AUDIT and FORCE above
// ERROR.
TEST(LogLevelTest, EachThresholdWritesItsLevelAndTheMoreSevereOnes) {
  struct Case {
    LogLevel threshold;
    std::string written;  // The levels of the lines written, in the order logged.
  } cases[] = {
      {LogLevel::kTrace, "TRACE DEBUG INFO WARNING ERROR FORCE AUDIT"},
      {LogLevel::kDebug, "DEBUG INFO WARNING ERROR FORCE AUDIT"},
      {LogLevel::kInfo, "INFO WARNING ERROR FORCE AUDIT"},
      {LogLevel::kWarning, "WARNING ERROR FORCE AUDIT"},
      {LogLevel::kError, "ERROR FORCE AUDIT"},
      {LogLevel::kForce, "FORCE AUDIT"},
      {LogLevel::kAudit, "AUDIT"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(LogLevelName(c.threshold));
    ASSERT_TRUE(ApplyLogSettings({c.threshold}).ok());
    testing::internal::CaptureStderr();
    LogTrace("t");
    LogDebug("d");
    LogInfo("i");
    LogWarning("w");
    LogError("e");
    LogForce("f");
    LogAudit("a");
    std::vector<std::string> levels;
    for (absl::string_view line : absl::StrSplit(testing::internal::GetCapturedStderr(), '\n',
                                                 absl::SkipEmpty())) {
      std::vector<std::string> words = absl::StrSplit(line, ' ');
      ASSERT_EQ(words.size(), 4u) << line;  // Time, name, level, message.
      levels.push_back(words[2]);
    }
    EXPECT_EQ(absl::StrJoin(levels, " "), c.written);
    EXPECT_EQ(LogEnabled(LogLevel::kDebug), c.threshold >= LogLevel::kDebug);
  }
  ASSERT_TRUE(ApplyLogSettings({}).ok());
}

std::string TestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  (void)!std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
  return dir;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(LogFileTest, PublishLevelFiltersWhatGoesToTheFileApartFromStandardError) {
  std::string dir = TestDir("publish");
  SetLogName("edged");
  LogSettings settings;
  settings.level = LogLevel::kWarning;
  settings.publish_directory = dir;
  settings.publish_level = LogLevel::kDebug;
  ASSERT_TRUE(ApplyLogSettings(settings).ok());
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));  // For the file.
  EXPECT_FALSE(LogEnabled(LogLevel::kTrace));
  testing::internal::CaptureStderr();
  LogDebug("detail for the file");
  LogWarning("for both");
  LogTrace("for nobody");
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ApplyLogSettings({}).ok());  // Closes the file.
  EXPECT_EQ(err.find("detail for the file"), std::string::npos);
  EXPECT_NE(err.find(" edged WARNING for both\n"), std::string::npos);
  std::string file = Slurp(dir + "/edged.log");
  EXPECT_NE(file.find(" edged DEBUG detail for the file\n"), std::string::npos) << file;
  EXPECT_NE(file.find(" edged WARNING for both\n"), std::string::npos) << file;
  EXPECT_EQ(file.find("for nobody"), std::string::npos) << file;
}

TEST(LogFileTest, WithoutPublishLevelTheFileFollowsTheLevelAndTheCommandLineWins) {
  std::string dir = TestDir("follows");
  SetLogName("trustd");
  SetCommandLineLogLevel(LogLevel::kError);
  LogSettings settings;
  settings.level = LogLevel::kTrace;  // The command line's ERROR wins.
  settings.publish_directory = dir;
  ASSERT_TRUE(ApplyLogSettings(settings).ok());
  testing::internal::CaptureStderr();
  LogInfo("not written");
  LogError("written");
  std::string err = testing::internal::GetCapturedStderr();
  SetCommandLineLogLevel(std::nullopt);
  ASSERT_TRUE(ApplyLogSettings({}).ok());
  EXPECT_EQ(err.find("not written"), std::string::npos);
  std::string file = Slurp(dir + "/trustd.log");
  EXPECT_EQ(file.find("not written"), std::string::npos);
  EXPECT_NE(file.find(" trustd ERROR written\n"), std::string::npos) << file;
}

TEST(LogFileTest, ADirectoryThatCannotBeCreatedIsAnErrorAndTheLevelsStillApply) {
  std::string dir = TestDir("missing") + "/no/parent";
  LogSettings settings;
  settings.level = LogLevel::kDebug;
  settings.publish_directory = dir;
  absl::Status s = ApplyLogSettings(settings);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(absl::StrCat("cannot create ", dir)), absl::string_view::npos) << s;
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  ASSERT_TRUE(ApplyLogSettings({}).ok());
}

}  // namespace
}  // namespace edge

#include "services/common/rotating_log_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edge {
namespace {

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  (void)!std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
  return dir;
}

uint64_t SizeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RotatingLogFileTest, FilesOfADaemonNeverExceedMaxFileStorageAcrossManyLines) {
  std::string dir = FreshDir("many_lines");
  const uint64_t kMax = 100000;
  auto file = RotatingLogFile::Open({dir, "edged", kMax, false});
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->max_file_bytes(), kMax / RotatingLogFile::kFiles);
  std::mt19937 random(7);
  std::uniform_int_distribution<size_t> length(20, 9000);
  for (int i = 0; i < 3000; ++i) {
    std::string line = absl::StrCat("line ", i, " ", std::string(length(random), 'x'), "\n");
    ASSERT_TRUE((*file)->Append(line).ok());
    if (i % 50 != 0) continue;
    uint64_t total = 0;
    for (const std::string& p : (*file)->AllPaths()) {
      SCOPED_TRACE(p);
      EXPECT_LE(SizeOf(p), (*file)->max_file_bytes());
      total += SizeOf(p);
    }
    ASSERT_LE(total, kMax) << "after line " << i;
  }
  for (const std::string& p : (*file)->AllPaths()) {
    EXPECT_GT(SizeOf(p), 0u) << p << " should exist after so many lines";
  }
  EXPECT_NE(Slurp(dir + "/edged.log").find("line 2999 "), std::string::npos);
}

TEST(RotatingLogFileTest, KeepsTheNewestLinesAndDropsTheOldest) {
  std::string dir = FreshDir("newest");
  auto file = RotatingLogFile::Open({dir, "trustd", RotatingLogFile::kMinTotalBytes, false});
  ASSERT_TRUE(file.ok()) << file.status();
  std::string filler(1000, 'f');
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*file)->Append(absl::StrCat(i, " ", filler, "\n")).ok());
  }
  std::string current = Slurp(dir + "/trustd.log");
  std::string previous = Slurp(dir + "/trustd.log.1");
  EXPECT_EQ(current.substr(current.rfind('\n', current.size() - 2) + 1, 4), "199 ");
  std::string oldest = Slurp(dir + "/trustd.log.3");
  EXPECT_GT(std::stoul(oldest.substr(0, oldest.find(' '))), 0u);  // Line 0 is gone.
  // .1 holds the lines right before the current file's first one.
  size_t first = std::stoul(current.substr(0, current.find(' ')));
  std::string last_of_previous = previous.substr(previous.rfind('\n', previous.size() - 2) + 1);
  EXPECT_EQ(std::stoul(last_of_previous.substr(0, last_of_previous.find(' '))), first - 1);
  EXPECT_EQ(Slurp(dir + "/trustd.log.4"), "");  // Never more than kFiles.
}

TEST(RotatingLogFileTest, CreatesTheDirectoryOnlyReadableByItsGroup) {
  std::string dir = FreshDir("created");
  auto file = RotatingLogFile::Open({dir, "restd", 2000000, true});
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("synced line\n").ok());
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(::stat((dir + "/restd.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0037, 0u);  // At most group read, nothing for others.
  EXPECT_EQ(Slurp(dir + "/restd.log"), "synced line\n");
}

TEST(RotatingLogFileTest, AppendsToTheFileOfAnEarlierRun) {
  std::string dir = FreshDir("earlier");
  {
    auto file = RotatingLogFile::Open({dir, "edged", 2000000, false});
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("first run\n").ok());
  }
  auto file = RotatingLogFile::Open({dir, "edged", 2000000, false});
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("second run\n").ok());
  EXPECT_EQ(Slurp(dir + "/edged.log"), "first run\nsecond run\n");
}

TEST(RotatingLogFileTest, RemovesFilesLargerThanASmallerLimitAllows) {
  std::string dir = FreshDir("smaller");
  {
    auto file = RotatingLogFile::Open({dir, "edged", 4000000, false});
    ASSERT_TRUE(file.ok());
    for (int i = 0; i < 300; ++i) ASSERT_TRUE((*file)->Append(std::string(8000, 'a') + "\n").ok());
  }
  auto file = RotatingLogFile::Open({dir, "edged", 100000, false});
  ASSERT_TRUE(file.ok()) << file.status();
  uint64_t total = 0;
  for (const std::string& p : (*file)->AllPaths()) total += SizeOf(p);
  EXPECT_LE(total, 100000u);
}

TEST(RotatingLogFileTest, CutsALineLongerThanOneFile) {
  std::string dir = FreshDir("cut");
  auto file = RotatingLogFile::Open({dir, "edged", RotatingLogFile::kMinTotalBytes, false});
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append(std::string(100000, 'z') + "\n").ok());
  std::string written = Slurp(dir + "/edged.log");
  EXPECT_EQ(written.size(), (*file)->max_file_bytes());
  EXPECT_EQ(written.back(), '\n');
}

TEST(RotatingLogFileTest, RefusesWhatCannotWork) {
  std::string dir = FreshDir("refused");
  struct Case {
    RotatingLogFile::Options options;
    std::string message;
  } cases[] = {
      {{dir, "edged", 1000, false}, "expected at least 65536 bytes for the log files, found 1000"},
      {{dir, "../edged", 2000000, false}, "expected a plain name for the log file"},
      {{dir + "/no/such/parent", "edged", 2000000, false},
       absl::StrCat("cannot create ", dir, "/no/such/parent in ", dir, "/no/such")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    auto file = RotatingLogFile::Open(c.options);
    ASSERT_FALSE(file.ok());
    EXPECT_NE(file.status().message().find(c.message), absl::string_view::npos)
        << file.status();
  }
}

}  // namespace
}  // namespace edge

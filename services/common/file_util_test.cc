#include "services/common/file_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace edge {
namespace {

class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/file_util_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)!std::system(("rm -rf " + dir_).c_str()); }
  static int Mode(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  }
  std::string dir_;
};

TEST_F(FileUtilTest, MakesTheDirectoryAndItsMissingParentsWithTheirModes) {
  const std::string path = dir_ + "/var/lib/edge/offline";
  EXPECT_TRUE(CanMakeDirectories(path).ok());
  ASSERT_TRUE(MakeDirectories(path, 0700).ok());
  EXPECT_EQ(Mode(path), 0700);
  EXPECT_EQ(Mode(dir_ + "/var/lib/edge"), 0755);
  EXPECT_TRUE(MakeDirectories(path, 0700).ok()) << "a directory already there is fine";
}

TEST_F(FileUtilTest, RefusesUnderAFileNamingIt) {
  std::ofstream(dir_ + "/ca.pem") << "x";
  absl::Status s = MakeDirectories(dir_ + "/ca.pem/run", 0750);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), dir_ + "/ca.pem: exists and is not a directory"))
      << s;
  EXPECT_FALSE(CanMakeDirectories(dir_ + "/ca.pem/run").ok());
}

TEST_F(FileUtilTest, NeverMakesANewTopLevelDirectory) {
  absl::Status s = CanMakeDirectories("/no-such-top-level-dir-xyz/run/edge");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "not creating it")) << s;
  EXPECT_FALSE(MakeDirectories("/no-such-top-level-dir-xyz/run/edge", 0750).ok());
  EXPECT_NE(::access("/no-such-top-level-dir-xyz", F_OK), 0);
}

}  // namespace
}  // namespace edge

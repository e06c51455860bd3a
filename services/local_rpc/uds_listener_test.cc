#include "services/local_rpc/uds_listener.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edge::local_rpc {
namespace {

// Bazel's TEST_TMPDIR is longer than a socket path may be (108 bytes).
std::string SocketDir() {
  char dir[] = "/tmp/uds-listener-test.XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  return dir;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(UdsListenerTest, RefusesASocketAnotherProcessStillServesNamingItsPid) {
  std::string path = SocketDir() + "/d.sock";
  auto first = UdsListener::Listen(path, 0600);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = UdsListener::Listen(path, 0600);
  ASSERT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(),
                                absl::StrCat(" already serves ", path, " (pid ", ::getpid(), ")")))
      << second.status();
  EXPECT_TRUE(Exists(path));  // The refusal did not touch the first one's socket.
}

TEST(UdsListenerTest, ReplacesAStaleSocketNobodyServes) {
  std::string path = SocketDir() + "/d.sock";
  {
    auto old = UdsListener::Listen(path, 0600);
    ASSERT_TRUE(old.ok()) << old.status();
    // A crash leaves the file behind: keep a hard link to put it back.
    ASSERT_EQ(::link(path.c_str(), (path + ".kept").c_str()), 0);
  }
  ASSERT_EQ(::rename((path + ".kept").c_str(), path.c_str()), 0);
  auto fresh = UdsListener::Listen(path, 0600);
  EXPECT_TRUE(fresh.ok()) << fresh.status();
}

TEST(UdsListenerTest, RemovesOnlyTheSocketItCreated) {
  std::string path = SocketDir() + "/d.sock";
  auto old = UdsListener::Listen(path, 0600);
  ASSERT_TRUE(old.ok()) << old.status();
  // A successor starts while the old one is still shutting down: it finds the path gone (or
  // the old socket no longer accepting) and binds its own.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto successor = UdsListener::Listen(path, 0600);
  ASSERT_TRUE(successor.ok()) << successor.status();
  old->reset();
  EXPECT_TRUE(Exists(path)) << "the old listener removed its successor's socket";
  successor->reset();
  EXPECT_FALSE(Exists(path));
}

}  // namespace
}  // namespace edge::local_rpc

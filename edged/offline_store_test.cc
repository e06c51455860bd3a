#include "edged/offline_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace edge::edged {
namespace {

class OfflineStoreTest : public ::testing::Test {
 protected:
  std::string dir_ = testing::ShortTempDir() + "/offline";

  std::unique_ptr<OfflineStore> Open(uint64_t max_bytes = 1 << 20) {
    auto store = OfflineStore::Open(dir_, max_bytes, /*fsync=*/true);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  off_t LogSize() {
    struct stat st;
    return ::stat((dir_ + "/queue.log").c_str(), &st) == 0 ? st.st_size : -1;
  }
};

TEST(Crc32cTest, KnownVector) {
  // The check value of CRC-32C (RFC 3720, B.4): "123456789" -> E3069283.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
}

TEST_F(OfflineStoreTest, KeepsOrderAcrossReopen) {
  {
    auto store = Open();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->Append(absl::StrCat("m", i)).ok());
    ASSERT_TRUE(store->Ack(2).ok());
  }
  auto store = Open();
  EXPECT_EQ(store->recovery_note(), "");
  ASSERT_EQ(store->size(), 3u);
  for (int i = 2; i < 5; ++i) {
    auto front = store->Front();
    ASSERT_TRUE(front.has_value());
    EXPECT_EQ(front->payload, absl::StrCat("m", i));
    ASSERT_TRUE(store->Ack(front->seq).ok());
  }
  EXPECT_FALSE(store->Front().has_value());
  EXPECT_EQ(LogSize(), 0) << "an empty queue leaves an empty log";
  // Sequence numbers keep rising after the log was emptied.
  auto seq = store->Append("later");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 6u);
}

TEST_F(OfflineStoreTest, TornTailIsCutAndTheRestKept) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Append("first").ok());
    ASSERT_TRUE(store->Append("second").ok());
    ASSERT_TRUE(store->Append("third, torn by the crash").ok());
  }
  // A crash in the middle of the third record's write.
  off_t full = LogSize();
  ASSERT_EQ(::truncate((dir_ + "/queue.log").c_str(), full - 7), 0);
  auto store = Open();
  EXPECT_NE(store->recovery_note().find("cut "), std::string::npos) << store->recovery_note();
  EXPECT_NE(store->recovery_note().find("kept 2 messages"), std::string::npos)
      << store->recovery_note();
  ASSERT_EQ(store->size(), 2u);
  EXPECT_EQ(store->Front()->payload, "first");
  // The next append follows the last good record, and survives a reopen.
  ASSERT_TRUE(store->Append("after the crash").ok());
  store.reset();
  store = Open();
  EXPECT_EQ(store->recovery_note(), "");
  EXPECT_EQ(store->size(), 3u);
}

TEST_F(OfflineStoreTest, CorruptedByteIsDetectedByTheChecksum) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Append("aaaa").ok());
    ASSERT_TRUE(store->Append("bbbb").ok());
  }
  {
    std::fstream f(dir_ + "/queue.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('X');
  }
  auto store = Open();
  EXPECT_NE(store->recovery_note().find("checksum"), std::string::npos)
      << store->recovery_note();
  EXPECT_EQ(store->size(), 1u);
}

TEST_F(OfflineStoreTest, FullStoreRefusesWithAClearError) {
  auto store = Open(/*max_bytes=*/3 * (OfflineStore::kRecordOverhead + 10));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Append(std::string(10, 'x')).ok());
  auto refused = store->Append(std::string(10, 'y'));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("offline_msg_store.max_size"), std::string::npos);
  EXPECT_NE(refused.status().message().find("3 messages"), std::string::npos);
  EXPECT_EQ(store->size(), 3u);
  // Acknowledging frees room.
  ASSERT_TRUE(store->Ack(store->Front()->seq).ok());
  EXPECT_TRUE(store->Append(std::string(10, 'y')).ok());
}

TEST_F(OfflineStoreTest, CompactionKeepsTheLiveRecords) {
  auto store = Open(64 << 20);
  std::string big(100 * 1024, 'z');
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store->Append(absl::StrCat(i, big)).ok());
  for (int i = 0; i < 35; ++i) ASSERT_TRUE(store->Ack(store->Front()->seq).ok());
  EXPECT_LT(LogSize(), 2 * 5 * 103 * 1024 + (1 << 20) + 1);
  store.reset();
  store = Open(64 << 20);
  ASSERT_EQ(store->size(), 5u);
  EXPECT_EQ(store->Front()->payload, absl::StrCat(35, big));
}

TEST_F(OfflineStoreTest, BadAckFileIsNamed) {
  { auto store = Open(); }
  std::ofstream(dir_ + "/acked") << "garbage";
  auto store = OfflineStore::Open(dir_, 1 << 20, true);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(dir_ + "/acked"), std::string::npos);
}

}  // namespace
}  // namespace edge::edged

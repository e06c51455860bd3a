#include "edged/offline_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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


// --- Damage and hostile state: nothing acknowledged is lost, nothing impossible is believed.

// One record exactly as the store frames it (see kRecordOverhead): magic "EQR1", sequence
// number, payload length, CRC-32C of the sequence number and payload; big-endian.
std::string FrameRecord(uint64_t seq, absl::string_view payload) {
  auto put = [](std::string& out, uint64_t v, int bytes) {
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>(v >> shift));
    }
  };
  std::string seq_bytes;
  put(seq_bytes, seq, 8);
  std::string out;
  put(out, 0x45515231, 4);
  out += seq_bytes;
  put(out, payload.size(), 4);
  put(out, Crc32c(payload, Crc32c(seq_bytes)), 4);
  out.append(payload.data(), payload.size());
  return out;
}

std::string Payload(int i) { return absl::StrFormat("message %02d, acknowledged", i); }

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteWholeFile(const std::string& path, absl::string_view data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

class OfflineStoreDamageTest : public OfflineStoreTest {
 protected:
  std::string LogPath() const { return dir_ + "/queue.log"; }
  std::string AckPath() const { return dir_ + "/acked"; }

  // A new, empty store directory, for each row of a table.
  void UseFreshDirectory() { dir_ = testing::ShortTempDir() + "/offline"; }

  // Appends `count` records (seq 1..count) through the store; returns the byte offset of
  // each record in the log.
  std::vector<size_t> AppendRecords(int count) {
    std::vector<size_t> offsets;
    auto store = Open();
    size_t offset = 0;
    for (int i = 0; i < count; ++i) {
      offsets.push_back(offset);
      EXPECT_TRUE(store->Append(Payload(i)).ok());
      offset += OfflineStore::kRecordOverhead + Payload(i).size();
    }
    return offsets;
  }

  // Every payload waiting, in delivery order; acknowledges them one by one.
  static std::vector<std::string> Drain(OfflineStore& store) {
    std::vector<std::string> out;
    while (auto front = store.Front()) {
      out.push_back(front->payload);
      if (!store.Ack(front->seq).ok()) break;
    }
    return out;
  }

  std::vector<std::string> QuarantineFiles() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (absl::StartsWith(e->d_name, "quarantine-")) out.push_back(dir_ + "/" + e->d_name);
      }
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::vector<std::string> PayloadsExcept(int count, std::vector<int> missing) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    if (std::find(missing.begin(), missing.end(), i) == missing.end()) out.push_back(Payload(i));
  }
  return out;
}

TEST_F(OfflineStoreDamageTest, KeepsRecordsAfterADamagedRecordInTheMiddle) {
  // Each row damages one record of 30 in one way. Whatever was hit, the other 29 are
  // delivered in order, and the damaged record's bytes are kept in a quarantine file.
  struct Row {
    const char* what;
    int record;
    size_t at;        // offset inside the record of the bytes written
    std::string put;  // the bytes written there
    const char* problem;
  };
  const std::string kHuge("\x7f\xff\xff\xff", 4);                 // beyond the largest record
  const std::string kPastTheFile("\x00\x01\x00\x00", 4);          // 64 KiB: more than the file
  const std::string kShorter("\x00\x00\x00\x03", 4);
  const Row rows[] = {
      {"a flipped payload byte", 5, 22, "#", "checksum"},
      {"a flipped byte in the first record", 0, 25, "#", "checksum"},
      {"a flipped byte in the second to last record", 28, 30, "#", "checksum"},
      {"a damaged marker", 5, 0, "X", "marker"},
      {"a damaged sequence number", 5, 11, "\x7f", "checksum"},
      {"a damaged checksum", 5, 17, std::string("\x00\x00", 2), "checksum"},
      {"a length that claims more than the file holds", 5, 12, kPastTheFile, "end of the file"},
      {"a length beyond the largest record", 5, 12, kHuge, "largest record"},
      {"a length shorter than the payload", 5, 12, kShorter, "checksum"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    std::vector<size_t> offsets = AppendRecords(30);
    std::string log = ReadWholeFile(LogPath());
    log.replace(offsets[row.record] + row.at, row.put.size(), row.put);
    WriteWholeFile(LogPath(), log);
    size_t end = row.record + 1 < 30 ? offsets[row.record + 1] : log.size();
    std::string damaged = log.substr(offsets[row.record], end - offsets[row.record]);

    auto store = Open();
    ASSERT_NE(store, nullptr);
    const std::string& note = store->recovery_note();
    EXPECT_NE(note.find(absl::StrCat("byte offset ", offsets[row.record], " (",
                                     damaged.size(), " bytes)")),
              std::string::npos)
        << note;
    EXPECT_NE(note.find(row.record == 0 ? std::string("before any intact record")
                                        : absl::StrCat("after ", row.record, " intact records")),
              std::string::npos)
        << note;
    EXPECT_NE(note.find(row.problem), std::string::npos) << note;
    EXPECT_NE(note.find("quarantined"), std::string::npos) << note;
    EXPECT_EQ(note.find("interrupted"), std::string::npos) << note;
    EXPECT_EQ(note.find(Payload(row.record)), std::string::npos) << "no payload in the note";

    std::vector<std::string> quarantined = QuarantineFiles();
    ASSERT_EQ(quarantined.size(), 1u);
    EXPECT_EQ(store->quarantine_files(), quarantined);
    EXPECT_NE(note.find(quarantined[0]), std::string::npos) << note;
    EXPECT_EQ(ReadWholeFile(quarantined[0]), damaged);

    // The repair is done once: a reopen finds a clean log with the same 29 records.
    store.reset();
    store = Open();
    EXPECT_EQ(store->recovery_note(), "");
    EXPECT_EQ(QuarantineFiles().size(), 1u);
    auto seq = store->Append("after the repair");
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_GT(*seq, 30u);
    std::vector<std::string> expected = PayloadsExcept(30, {row.record});
    expected.push_back("after the repair");
    EXPECT_EQ(Drain(*store), expected);

    // Acknowledged and compacted away: nothing comes back, not even from the quarantine.
    store.reset();
    store = Open();
    EXPECT_FALSE(store->Front().has_value());
    EXPECT_EQ(store->recovery_note(), "");
  }
}

TEST_F(OfflineStoreDamageTest, QuarantinesEachDamagedRegionInItsOwnFile) {
  std::vector<size_t> offsets = AppendRecords(30);
  std::string log = ReadWholeFile(LogPath());
  log[offsets[5] + 21] ^= 0x01;
  log[offsets[20] + 1] ^= 0x01;  // The marker.
  log[offsets[21] + 21] ^= 0x01;  // The next record too: one region of two records.
  WriteWholeFile(LogPath(), log);

  auto store = Open();
  const std::string& note = store->recovery_note();
  EXPECT_NE(note.find(absl::StrCat("byte offset ", offsets[5], " ")), std::string::npos) << note;
  EXPECT_NE(note.find("after 5 intact records"), std::string::npos) << note;
  EXPECT_NE(note.find(absl::StrCat("byte offset ", offsets[20], " ")), std::string::npos) << note;
  EXPECT_NE(note.find("after 19 intact records (the last one sequence number 20)"),
            std::string::npos)
      << note;
  std::vector<std::string> quarantined = QuarantineFiles();
  ASSERT_EQ(quarantined.size(), 2u);
  EXPECT_EQ(ReadWholeFile(quarantined[0]), log.substr(offsets[5], offsets[6] - offsets[5]));
  EXPECT_EQ(ReadWholeFile(quarantined[1]), log.substr(offsets[20], offsets[22] - offsets[20]));
  EXPECT_EQ(Drain(*store), PayloadsExcept(30, {5, 20, 21}));
}

TEST_F(OfflineStoreDamageTest, DropsDamageThatHeldOnlyDeliveredRecords) {
  std::vector<size_t> offsets = AppendRecords(30);
  {
    auto store = Open();
    ASSERT_TRUE(store->Ack(10).ok());  // Not compacted yet: records 1..10 are still in the log.
  }
  std::string log = ReadWholeFile(LogPath());
  ASSERT_EQ(log.size(), offsets[29] + OfflineStore::kRecordOverhead + Payload(29).size());
  log[offsets[5] + 21] ^= 0x01;  // seq 6, delivered.
  WriteWholeFile(LogPath(), log);

  auto store = Open();
  EXPECT_NE(store->recovery_note().find("only delivered"), std::string::npos)
      << store->recovery_note();
  EXPECT_TRUE(QuarantineFiles().empty());
  std::vector<std::string> expected;
  for (int i = 10; i < 30; ++i) expected.push_back(Payload(i));
  EXPECT_EQ(Drain(*store), expected);
}

TEST_F(OfflineStoreDamageTest, CutsATornTailAndReportsAnInterruptedWrite) {
  // A crash in the middle of appending the last record leaves a prefix of it.
  struct Row {
    const char* what;
    size_t keep;  // bytes of the last record left in the file
    const char* problem;
  };
  const Row rows[] = {
      {"payload cut short", OfflineStore::kRecordOverhead + 5, "past the end of the file"},
      {"header cut short", 9, "header cut short"},
      {"only the marker", 4, "header cut short"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    std::vector<size_t> offsets = AppendRecords(30);
    ASSERT_EQ(::truncate(LogPath().c_str(), static_cast<off_t>(offsets[29] + row.keep)), 0);

    auto store = Open();
    const std::string& note = store->recovery_note();
    EXPECT_NE(note.find(absl::StrCat("cut ", row.keep, " bytes")), std::string::npos) << note;
    EXPECT_NE(note.find("interrupted write"), std::string::npos) << note;
    EXPECT_NE(note.find(row.problem), std::string::npos) << note;
    EXPECT_NE(note.find("kept 29 messages"), std::string::npos) << note;
    EXPECT_TRUE(QuarantineFiles().empty()) << "a torn append was never acknowledged";
    EXPECT_EQ(LogSize(), static_cast<off_t>(offsets[29]));
    EXPECT_EQ(Drain(*store), PayloadsExcept(29, {}));
  }
}

TEST_F(OfflineStoreDamageTest, KeepsACopyOfADamagedLastRecordThatIsComplete) {
  // The last record is whole, so its append was acknowledged: damage to it is cut from the
  // log (nothing follows it) but its bytes are kept, and it is not called a torn write.
  struct Row {
    const char* what;
    size_t at;
    std::string put;
  };
  const Row rows[] = {
      {"a flipped payload byte", 24, "#"},
      {"a length that runs past the end of the file", 12, std::string("\x00\x00\x01\x00", 4)},
      {"a damaged marker", 2, "?"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    std::vector<size_t> offsets = AppendRecords(30);
    std::string log = ReadWholeFile(LogPath());
    log.replace(offsets[29] + row.at, row.put.size(), row.put);
    WriteWholeFile(LogPath(), log);

    auto store = Open();
    const std::string& note = store->recovery_note();
    EXPECT_EQ(note.find("interrupted"), std::string::npos) << note;
    EXPECT_NE(note.find("quarantined"), std::string::npos) << note;
    std::vector<std::string> quarantined = QuarantineFiles();
    ASSERT_EQ(quarantined.size(), 1u);
    EXPECT_EQ(ReadWholeFile(quarantined[0]), log.substr(offsets[29]));
    EXPECT_EQ(Drain(*store), PayloadsExcept(29, {}));
  }
}

TEST_F(OfflineStoreDamageTest, RefusesAnAckBeyondTheLastRecordAndChangesNothing) {
  struct Row {
    const char* what;
    std::string acked;
  };
  const Row rows[] = {
      {"the largest 64-bit value", "18446744073709551615\n"},
      {"one past the last record", "31\n"},
      {"far beyond", "1000000\n"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    AppendRecords(30);
    WriteWholeFile(AckPath(), row.acked);
    const std::string log = ReadWholeFile(LogPath());

    auto store = OfflineStore::Open(dir_, 1 << 20, /*fsync=*/true);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
    const std::string message(store.status().message());
    EXPECT_NE(message.find(AckPath()), std::string::npos) << message;
    EXPECT_NE(message.find(std::string(absl::StripAsciiWhitespace(row.acked))),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("last record"), std::string::npos) << message;
    EXPECT_NE(message.find("30"), std::string::npos) << message;
    EXPECT_EQ(ReadWholeFile(LogPath()), log) << "the log is untouched";
    EXPECT_EQ(ReadWholeFile(AckPath()), row.acked) << "the ack file is untouched";
    EXPECT_TRUE(QuarantineFiles().empty());

    // The remedy the message gives (remove the ack file) replays everything: nothing lost.
    ASSERT_EQ(::unlink(AckPath().c_str()), 0);
    auto reopened = Open();
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(Drain(*reopened), PayloadsExcept(30, {}));
  }
}

TEST_F(OfflineStoreDamageTest, RefusesTheLastSequenceNumberAsAnAckOfAnEmptyLog) {
  // With no record to compare with, only the value that leaves no sequence number for a
  // new message is known to be impossible.
  { auto store = Open(); }
  WriteWholeFile(AckPath(), "18446744073709551615\n");
  auto store = OfflineStore::Open(dir_, 1 << 20, /*fsync=*/true);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find(AckPath()), std::string::npos) << store.status();
  EXPECT_NE(store.status().message().find("18446744073709551615"), std::string::npos)
      << store.status();
}

TEST_F(OfflineStoreDamageTest, RefusesADamagedAckFileWithAClearError) {
  struct Row {
    const char* what;
    std::string acked;
  };
  const Row rows[] = {
      {"garbage", "garbage"},
      {"empty", ""},
      {"a number with trailing garbage", "12x\n"},
      {"a negative number", "-1\n"},
      {"a sign", "+5\n"},
      {"two numbers", "5 6\n"},
      {"a number too large for 64 bits", "18446744073709551616\n"},
      {"far too long", std::string(100, '7')},
      {"binary", std::string("\x00\x00\x00\x00\x00\x00\x00\x05", 8)},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    AppendRecords(3);
    WriteWholeFile(AckPath(), row.acked);
    const std::string log = ReadWholeFile(LogPath());

    auto store = OfflineStore::Open(dir_, 1 << 20, /*fsync=*/true);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
    const std::string message(store.status().message());
    EXPECT_NE(message.find(AckPath()), std::string::npos) << message;
    EXPECT_NE(message.find("expected"), std::string::npos) << message;
    EXPECT_NE(message.find(absl::StrCat(row.acked.size(), " bytes")), std::string::npos)
        << message;
    EXPECT_EQ(ReadWholeFile(LogPath()), log);
  }
}

TEST_F(OfflineStoreDamageTest, NextSequenceNumberFollowsEveryRecordInTheLog) {
  // Hand-made logs, as another version or a restore could leave them: the next sequence
  // number is above every one in the log, whatever the ack file says below it.
  struct Row {
    const char* what;
    std::vector<uint64_t> seqs;
    std::string acked;  // "" for no ack file
    uint64_t next;
  };
  const Row rows[] = {
      {"contiguous", {1, 2, 3}, "", 4},
      {"with a gap", {7, 9, 40}, "", 41},
      {"all delivered, not yet compacted", {1, 2, 3}, "3\n", 4},
      {"partly delivered", {5, 6, 7}, "6\n", 8},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
    std::string log;
    for (uint64_t seq : row.seqs) log += FrameRecord(seq, absl::StrCat("m", seq));
    WriteWholeFile(LogPath(), log);
    if (!row.acked.empty()) WriteWholeFile(AckPath(), row.acked);
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery_note(), "");
    auto seq = store->Append("next");
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, row.next);
  }
}

TEST_F(OfflineStoreDamageTest, SequenceNumbersNeverWrap) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  WriteWholeFile(LogPath(), FrameRecord(kMax - 2, "a") + FrameRecord(kMax - 1, "b"));
  {
    auto store = Open();
    ASSERT_EQ(store->size(), 2u);
    auto last = store->Append("c");
    ASSERT_TRUE(last.ok()) << last.status();
    EXPECT_EQ(*last, kMax);
    auto refused = store->Append("d");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find("sequence numbers"), std::string::npos)
        << refused.status();
    EXPECT_NE(refused.status().message().find(dir_), std::string::npos) << refused.status();
    EXPECT_EQ(store->size(), 3u);
  }
  auto store = Open();
  EXPECT_EQ(store->recovery_note(), "");
  EXPECT_FALSE(store->Append("e").ok()) << "still refused after a reopen";
  EXPECT_EQ(LogSize(), static_cast<off_t>(3 * (OfflineStore::kRecordOverhead + 1)));
  EXPECT_EQ(Drain(*store), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(OfflineStoreDamageTest, QuarantinesARecordOutOfSequence) {
  // A well-formed record whose sequence number does not rise (a foreign or replayed block)
  // is not delivered ahead of, or instead of, the records around it.
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  std::string stray = FrameRecord(2, "stray");
  WriteWholeFile(LogPath(), FrameRecord(1, "a") + FrameRecord(2, "b") + stray +
                                FrameRecord(3, "c"));
  auto store = Open();
  EXPECT_NE(store->recovery_note().find("out of sequence"), std::string::npos)
      << store->recovery_note();
  std::vector<std::string> quarantined = QuarantineFiles();
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(ReadWholeFile(quarantined[0]), stray);
  EXPECT_EQ(Drain(*store), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(OfflineStoreDamageTest, RefusesToAcknowledgeASequenceNumberNeverHandedOut) {
  auto store = Open();
  ASSERT_TRUE(store->Append("a").ok());
  absl::Status refused = store->Ack(2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("2"), std::string::npos) << refused;
  EXPECT_EQ(store->size(), 1u);
  store.reset();
  store = Open();
  EXPECT_EQ(store->size(), 1u);
}


// Found by the fuzzer: a damaged length that happens to reach exactly the end of the file
// looked like a whole last record, and swallowed the intact records after it.
TEST_F(OfflineStoreDamageTest, ALengthThatHappensToReachTheEndOfTheFileCostsOnlyItsRecord) {
  std::vector<size_t> offsets = AppendRecords(30);
  std::string log = ReadWholeFile(LogPath());
  uint32_t claimed = static_cast<uint32_t>(log.size() - offsets[5] - OfflineStore::kRecordOverhead);
  for (int i = 0; i < 4; ++i) log[offsets[5] + 12 + i] = static_cast<char>(claimed >> (24 - 8 * i));
  WriteWholeFile(LogPath(), log);
  auto store = Open();
  EXPECT_EQ(Drain(*store), PayloadsExcept(30, {5})) << store->recovery_note();
  EXPECT_EQ(QuarantineFiles().size(), 1u) << store->recovery_note();
}

TEST_F(OfflineStoreDamageTest, NeverTakesARecordFramedInsideADamagedPayloadForARecord) {
  // A client's message may hold bytes that look like a whole record. When damage hits the
  // message's own record, its intact length still says where the record ends: what is
  // inside is payload, and is quarantined with it, not delivered.
  const std::string kInner = FrameRecord(1000, "not a message of this store");
  struct Row {
    const char* what;
    int record;  // of 5, which carries kInner in its payload
  };
  const Row rows[] = {{"in the middle", 2}, {"the last record", 4}};
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    UseFreshDirectory();
    std::vector<std::string> payloads;
    size_t damaged_at = 0;
    {
      auto store = Open();
      size_t offset = 0;
      for (int i = 0; i < 5; ++i) {
        payloads.push_back(i == row.record ? "head " + kInner + " tail" : Payload(i));
        if (i == row.record) damaged_at = offset + OfflineStore::kRecordOverhead + 1;
        offset += OfflineStore::kRecordOverhead + payloads.back().size();
        ASSERT_TRUE(store->Append(payloads.back()).ok());
      }
    }
    std::string log = ReadWholeFile(LogPath());
    log[damaged_at] ^= 0x01;
    WriteWholeFile(LogPath(), log);

    auto store = Open();
    EXPECT_NE(store->recovery_note().find("quarantined"), std::string::npos)
        << store->recovery_note();
    std::vector<std::string> expected = payloads;
    expected.erase(expected.begin() + row.record);
    EXPECT_EQ(Drain(*store), expected);
  }
}

TEST_F(OfflineStoreDamageTest, GivesUpTheSearchInBytesThatHoldManyRecordMarkers) {
  // Bytes full of markers, each claiming a record up to the end of the file with a wrong
  // checksum, would cost a checksum over most of the file each. The search is bounded:
  // Open stays fast, and what it could not sort out is quarantined, not lost.
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  const std::string first = FrameRecord(1, "first");
  const std::string last = FrameRecord(3, "after the markers");
  std::string damaged = FrameRecord(2, "x");
  damaged.replace(12, 4, std::string("\x7f\xff\xff\xff", 4));  // resynchronise
  constexpr size_t kMarkers = 50000;
  const size_t size = first.size() + damaged.size() + 20 * kMarkers + last.size();
  for (size_t i = 0; i < kMarkers; ++i) {
    size_t at = first.size() + damaged.size() + 20 * i;
    std::string fake = FrameRecord(2 + i, "");
    uint64_t len = size - at - OfflineStore::kRecordOverhead;  // to the end of the file
    for (int b = 0; b < 4; ++b) fake[12 + b] = static_cast<char>(len >> (24 - 8 * b));
    damaged += fake;
  }
  WriteWholeFile(LogPath(), first + damaged + last);
  ASSERT_EQ(ReadWholeFile(LogPath()).size(), size);

  absl::Time start = absl::Now();
  auto store = Open();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_NE(store->recovery_note().find("gave up"), std::string::npos)
      << store->recovery_note();
  std::vector<std::string> quarantined = QuarantineFiles();
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(ReadWholeFile(quarantined[0]), damaged + last);
  EXPECT_EQ(Drain(*store), std::vector<std::string>{"first"});
}

}  // namespace
}  // namespace edge::edged

// OfflineStore: the persistent, bounded queue of messages edged accepted for the platform
// while it was unreachable (`offline_msg_store`). Records are appended to one log file,
// each framed with its sequence number, length and CRC-32C, and fsynced; delivered records
// are acknowledged in a small side file. After a crash, a torn record at the end of the log
// is detected, cut and reported; everything before it is kept.
//
//   auto store = OfflineStore::Open("/var/lib/edge/offline", 64 << 20, /*fsync=*/true);
//   absl::StatusOr<uint64_t> seq = (*store)->Append(bytes);   // kResourceExhausted: full
//   while (auto next = (*store)->Front()) { send(next->payload); (*store)->Ack(next->seq); }
//
// Thread-safe.
#ifndef EDGED_OFFLINE_STORE_H_
#define EDGED_OFFLINE_STORE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace edge::edged {

// CRC-32C (Castagnoli) of `data`, continuing from `crc`.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

class OfflineStore {
 public:
  struct Record {
    uint64_t seq = 0;
    std::string payload;
  };

  // Bytes of framing per record (magic, sequence number, length, CRC).
  static constexpr size_t kRecordOverhead = 20;

  // Opens (creating) the store in `directory`. `max_bytes` bounds the records waiting
  // (payload plus framing). Errors name the directory or file.
  static absl::StatusOr<std::unique_ptr<OfflineStore>> Open(const std::string& directory,
                                                            uint64_t max_bytes, bool fsync);
  ~OfflineStore();

  // Appends a record and makes it durable. kResourceExhausted (saying how full the store is)
  // when it does not fit; nothing is written then.
  absl::StatusOr<uint64_t> Append(absl::string_view payload);
  // The oldest record not yet acknowledged.
  std::optional<Record> Front() const;
  // Acknowledges every record up to and including `seq` (delivered): they are not replayed
  // again, even after a crash.
  absl::Status Ack(uint64_t seq);

  size_t size() const;
  uint64_t bytes() const;
  // What Open found and repaired, for the log: "" or "cut 13 bytes of a torn record ...".
  const std::string& recovery_note() const { return recovery_note_; }
  const std::string& log_path() const { return log_path_; }

 private:
  OfflineStore(std::string directory, uint64_t max_bytes, bool fsync);
  absl::Status Load();
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string directory_;
  const std::string log_path_;
  const std::string ack_path_;
  const uint64_t max_bytes_;
  const bool fsync_;
  std::string recovery_note_;

  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t file_size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Record> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edge::edged

#endif  // EDGED_OFFLINE_STORE_H_

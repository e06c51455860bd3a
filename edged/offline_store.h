// OfflineStore: the persistent, bounded queue of messages edged accepted for the platform
// while it was unreachable (`offline_msg_store`). Records are appended to one log file,
// `queue.log`, each framed with a marker, its sequence number, length and CRC-32C, and
// fsynced; delivered records are acknowledged in a small side file, `acked`.
//
// Open checks what it finds and loses nothing that was acknowledged to a client:
// - A torn tail (the last record cut short: a crash while appending it, which was therefore
//   never acknowledged) is cut and reported. It is the only damage removed without a copy,
//   besides damage that held only delivered records (dropped, and reported).
// - Damage with intact records after it (a flipped byte, a bad length or marker, a record
//   out of sequence) is reported with its byte offset and the count of intact records
//   before it (the record index when nothing else was damaged); its bytes are kept in
//   `quarantine-<n>.bin` in the directory (n rising; fsynced before the log forgets them),
//   and the records after it are delivered. The damaged record's own length is used only
//   when it leads exactly to the end of the file or to the record that should follow it
//   (so a message that holds bytes looking like a record is not taken for one); otherwise
//   reading resumes at the next offset that holds a whole, valid record (marker, length
//   within the file and the record limit, checksum, a rising sequence number), so a length
//   field that claims more than the file holds swallows nothing. That search is bounded (a
//   few passes over the log); past the bound, the rest of the log is quarantined.
// - Damage at the end of the log that is not a torn append (e.g. a complete last record with
//   a bad checksum) is cut from the log and quarantined.
// - The log is then rewritten from the intact records, so nothing quarantined comes back.
// - An `acked` file that is not a decimal number, or names a sequence number beyond the
//   last record in the log, is refused: Open fails with kDataLoss and changes nothing, so
//   that no record is hidden by a damaged ack file.
// Sequence numbers rise by one per record and never wrap: once UINT64_MAX is handed out,
// Append refuses. recovery_note() tells what Open found; quarantine_files() what it kept.
//
//   auto store = OfflineStore::Open("/var/lib/edge/offline", 64 << 20, /*fsync=*/true);
//   absl::StatusOr<uint64_t> seq = (*store)->Append(bytes);   // kResourceExhausted: full
//   while (auto next = (*store)->Front()) { send(next->payload); (*store)->Ack(next->seq); }
//
// Thread-safe.
#ifndef EDGED_OFFLINE_STORE_H_
#define EDGED_OFFLINE_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace edge::edged {

// CRC-32C (Castagnoli) of `data`, continuing from `crc`.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

namespace internal {
struct LogScan;  // What Open read from the log (offline_store.cc).
}  // namespace internal

class OfflineStore {
 public:
  struct Record {
    uint64_t seq = 0;
    std::string payload;
  };

  // Bytes of framing per record (magic, sequence number, length, CRC).
  static constexpr size_t kRecordOverhead = 20;
  // The largest payload of one record, whatever `max_bytes` says: Append refuses larger
  // ones, and Open treats a length field above it as damage.
  static constexpr uint32_t kMaxPayload = 64u << 20;

  // Opens (creating) the store in `directory`. `max_bytes` bounds the records waiting
  // (payload plus framing). Repairs the log as the file comment says. Errors name the
  // directory or file: kDataLoss for an ack file that is not a number or is beyond the
  // last record (nothing is changed then); kInternal and others for I/O failures.
  static absl::StatusOr<std::unique_ptr<OfflineStore>> Open(const std::string& directory,
                                                            uint64_t max_bytes, bool fsync);
  ~OfflineStore();

  // Appends a record and makes it durable; returns its sequence number, one above the
  // last one handed out or found in the log. kResourceExhausted (saying how full the store
  // is) when it does not fit; kFailedPrecondition once the sequence numbers are used up
  // (UINT64_MAX was handed out). Nothing is written then.
  absl::StatusOr<uint64_t> Append(absl::string_view payload);
  // The oldest record not yet acknowledged.
  std::optional<Record> Front() const;
  // Acknowledges every record up to and including `seq` (delivered): they are not replayed
  // again, even after a crash. kInvalidArgument for a sequence number never handed out
  // (nothing is written then: such an ack would hide the records appended after it).
  absl::Status Ack(uint64_t seq);

  // Records not yet acknowledged. Never waits: read without the lock an append holds
  // through its fsync.
  size_t size() const { return count_.load(std::memory_order_acquire); }
  uint64_t bytes() const;
  // What Open found and repaired, for the log: "" or e.g. "cut 13 bytes at the end of ...
  // (..., left by an interrupted write)" or "damaged bytes in ... at byte offset 220 (44
  // bytes), after 5 intact records (...): ...; quarantined in .../quarantine-1.bin, ...".
  // Never holds payload bytes.
  const std::string& recovery_note() const { return recovery_note_; }
  // The quarantine files this Open wrote (damaged bytes, not delivered), for the log.
  const std::vector<std::string>& quarantine_files() const { return quarantine_files_; }
  const std::string& log_path() const { return log_path_; }

 private:
  OfflineStore(std::string directory, uint64_t max_bytes, bool fsync);
  // Open's steps, in this order; each returns the failure it found.
  absl::Status Load();
  absl::Status ReadAck() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> ReadLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckAck(const internal::LogScan& scan) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Repair(const internal::LogScan& scan, absl::string_view log)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> Quarantine(absl::string_view damaged) const;
  absl::Status SyncDirectory() const;
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string directory_;
  const std::string log_path_;
  const std::string ack_path_;
  const uint64_t max_bytes_;
  const bool fsync_;
  std::string recovery_note_;
  std::vector<std::string> quarantine_files_;

  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t file_size_ ABSL_GUARDED_BY(mu_) = 0;
  // The highest sequence number handed out, found in the log or acknowledged; the next
  // Append uses last_seq_ + 1, and none is left once it is UINT64_MAX.
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Record> records_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> count_{0};  // records_.size(), set with it.
};

}  // namespace edge::edged

#endif  // EDGED_OFFLINE_STORE_H_

#include "edged/offline_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/common/file_util.h"

namespace edge::edged {
namespace {

// The on-disk format (unchanged: logs written before are read as they are), per record,
// big-endian:
//   magic "EQR1" (4) | sequence number (8) | payload length (4) | CRC-32C (4) | payload
// The CRC covers the sequence number and the payload. The length is not covered, but a
// wrong one frames the wrong bytes, which the CRC then refuses; the magic is what a reader
// that lost its place looks for to find the next record.
constexpr uint32_t kMagic = 0x45515231;  // "EQR1"
constexpr absl::string_view kMagicBytes = "EQR1";
constexpr size_t kOverhead = OfflineStore::kRecordOverhead;
constexpr uint64_t kLastSeq = std::numeric_limits<uint64_t>::max();
// The ack file holds a decimal number and a newline; anything much larger is not one.
constexpr size_t kMaxAckFile = 4096;
constexpr absl::string_view kQuarantinePrefix = "quarantine-";
constexpr absl::string_view kQuarantineSuffix = ".bin";

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
uint64_t GetBe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write failed", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string Frame(uint64_t seq, absl::string_view payload) {
  std::string seq_bytes;
  PutU64(seq_bytes, seq);
  std::string out;
  out.reserve(OfflineStore::kRecordOverhead + payload.size());
  PutU32(out, kMagic);
  out += seq_bytes;
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, Crc32c(payload, Crc32c(seq_bytes)));
  out.append(payload.data(), payload.size());
  return out;
}

// Why the bytes at an offset of the log are not a record.
enum class Defect {
  kNone,
  kHeaderCutShort,  // fewer bytes left than a record header
  kNoMarker,
  kTooLong,         // length field above kMaxPayload
  kPastEnd,         // length field runs past the end of the file
  kChecksum,
  kOutOfSequence,   // well-formed, but its sequence number does not rise
};

// A record as it stands in the log (payload is a view into the log's bytes).
struct Framed {
  uint64_t seq = 0;
  uint32_t len = 0;
  absl::string_view payload;
};

bool ChecksumMatches(const char* header, absl::string_view payload) {
  return Crc32c(payload, Crc32c(absl::string_view(header + 4, 8))) == GetBe(header + 16, 4);
}

// Checks the record at `offset` of `log`, which must have a sequence number above
// `prev_seq` (0 before the first record: 0 is never handed out). Fills what it could read.
Defect Check(absl::string_view log, size_t offset, uint64_t prev_seq, Framed& out) {
  const size_t left = log.size() - offset;
  const char* p = log.data() + offset;
  if (left < kOverhead) return Defect::kHeaderCutShort;
  if (GetBe(p, 4) != kMagic) return Defect::kNoMarker;
  out.seq = GetBe(p + 4, 8);
  out.len = static_cast<uint32_t>(GetBe(p + 12, 4));
  // Checked before anything is framed with it: a damaged length never sizes an allocation.
  if (out.len > OfflineStore::kMaxPayload) return Defect::kTooLong;
  if (out.len > left - kOverhead) return Defect::kPastEnd;
  out.payload = absl::string_view(p + kOverhead, out.len);
  if (!ChecksumMatches(p, out.payload)) return Defect::kChecksum;
  if (out.seq <= prev_seq) return Defect::kOutOfSequence;
  return Defect::kNone;
}

// For the log: what is wrong, with the numbers read, never payload bytes.
std::string Describe(Defect defect, const Framed& read, uint64_t prev_seq) {
  switch (defect) {
    case Defect::kNone: return "an intact record";
    case Defect::kHeaderCutShort: return "a record header cut short";
    case Defect::kNoMarker: return "a record without its marker";
    case Defect::kTooLong:
      return absl::StrCat("a record whose length field (", read.len,
                          " bytes) exceeds the largest record (", OfflineStore::kMaxPayload,
                          " bytes)");
    case Defect::kPastEnd:
      return absl::StrCat("a record whose length field (", read.len,
                          " bytes) runs past the end of the file");
    case Defect::kChecksum: return "a record whose checksum does not match";
    case Defect::kOutOfSequence:
      return absl::StrCat("a record out of sequence (sequence number ", read.seq, " after ",
                          prev_seq, ")");
  }
  return "a damaged record";
}

// Bounds the checksum work of resynchronisation in one Open. Real damage costs about one
// pass over the records it spans; bytes that hold many markers, each claiming a long record,
// would otherwise make Open quadratic in the size of the log (hours for a full store).
class ResyncBudget {
 public:
  explicit ResyncBudget(size_t log_size)
      : left_(4 * static_cast<uint64_t>(log_size) + (1 << 20)) {}

  // Pays for checking the record at `at` (the bytes its checksum would cover); false, and
  // exhausted() from then on, when the budget cannot.
  bool Spend(absl::string_view log, size_t at) {
    uint64_t cost = kOverhead;
    if (log.size() - at >= kOverhead) {
      uint64_t len = GetBe(log.data() + at + 12, 4);
      if (len <= OfflineStore::kMaxPayload && len <= log.size() - at - kOverhead) cost += len;
    }
    if (exhausted_ || cost > left_) {
      exhausted_ = true;
      return false;
    }
    left_ -= cost;
    return true;
  }
  bool exhausted() const { return exhausted_; }

 private:
  uint64_t left_;
  bool exhausted_ = false;
};

// Where intact records resume after a defect at `offset`: the offset of the next intact
// record (sequence number above `prev_seq`), or log.size() when none follows (or the budget
// ran out looking for one).
//
// The damaged record's own length is used when it leads exactly to the end of the file (and
// the record that should follow is not found inside what it claims), or to the very record
// that should follow (sequence number `base_seq` + 2: one record lost, the damaged one). The length was then right and the damage is inside that one record,
// whose payload is never searched, so a payload that happens to hold a framed record is not
// mistaken for one. Otherwise the length is not trusted at all: reading resumes at the first
// offset after `offset` that starts with the magic and holds a whole, valid record, so a
// length field that claims more than the file holds swallows nothing.
size_t Resync(absl::string_view log, size_t offset, uint64_t prev_seq, uint64_t base_seq,
              ResyncBudget& budget) {
  Framed next;
  if (log.size() - offset >= kOverhead) {
    uint64_t len = GetBe(log.data() + offset + 12, 4);
    if (len <= OfflineStore::kMaxPayload && len <= log.size() - offset - kOverhead) {
      size_t at = offset + kOverhead + static_cast<size_t>(len);
      if (at == log.size()) {
        // The length may itself be the damage and only happen to reach the end: the
        // records it would swallow are looked for, but only the very one that should
        // follow (sequence number base_seq + 2) counts, so that a payload holding some
        // framed record is still not mistaken for one.
        for (size_t in = log.find(kMagicBytes, offset + 1); in != absl::string_view::npos;
             in = log.find(kMagicBytes, in + 1)) {
          if (!budget.Spend(log, in)) return log.size();
          if (Check(log, in, prev_seq, next) == Defect::kNone && next.seq > base_seq &&
              next.seq - base_seq == 2) {
            return in;
          }
        }
        return at;
      }
      if (budget.Spend(log, at) && Check(log, at, prev_seq, next) == Defect::kNone &&
          next.seq > base_seq && next.seq - base_seq == 2) {
        return at;
      }
    }
  }
  for (size_t at = log.find(kMagicBytes, offset + 1); at != absl::string_view::npos;
       at = log.find(kMagicBytes, at + 1)) {
    if (!budget.Spend(log, at)) return log.size();
    if (Check(log, at, prev_seq, next) == Defect::kNone) return at;
  }
  return log.size();
}

// Whether damage running from `offset` to the end of `log` is an append cut short by a
// crash. Such a record was never acknowledged (Append returns after the whole record is
// durable), so cutting it loses nothing. A whole record with a damaged length field (the
// rest of the file is exactly its payload, by the checksum) is not torn.
bool IsTornAppend(absl::string_view log, size_t offset, Defect defect) {
  if (defect == Defect::kHeaderCutShort) return true;  // shorter than any record
  if (defect != Defect::kPastEnd) return false;
  return !ChecksumMatches(log.data() + offset, log.substr(offset + kOverhead));
}

std::string Messages(size_t n) { return absl::StrCat(n, n == 1 ? " message" : " messages"); }

// The highest n of the quarantine-<n>.bin files in `directory`; 0 when there is none.
uint64_t HighestQuarantineNumber(const std::string& directory) {
  uint64_t highest = 0;
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return 0;
  while (const dirent* entry = ::readdir(dir)) {
    absl::string_view name = entry->d_name;
    uint64_t n = 0;
    if (absl::ConsumePrefix(&name, kQuarantinePrefix) &&
        absl::ConsumeSuffix(&name, kQuarantineSuffix) && absl::SimpleAtoi(name, &n)) {
      highest = std::max(highest, n);
    }
  }
  ::closedir(dir);
  return highest;
}

}  // namespace

namespace internal {

// What Open read from the log, before it changed anything.
struct LogScan {
  // Bytes that are not intact records, one entry per run of them.
  struct Damage {
    size_t offset = 0;
    size_t length = 0;
    size_t intact_before = 0;  // intact records before it in the log
    uint64_t prev_seq = 0;     // the last one's sequence number
    std::string problem;
    bool at_end = false;     // no intact record follows
    bool torn = false;       // at_end, and an append cut short (IsTornAppend)
    bool delivered = false;  // the record after it is acknowledged, so was all it held
    bool gave_up = false;    // the resync budget ran out: the rest of the log counts as damage
  };
  std::deque<OfflineStore::Record> waiting;  // intact records above the ack, in order
  uint64_t waiting_bytes = 0;
  size_t intact = 0;     // intact records, acknowledged or not
  uint64_t max_seq = 0;  // the last intact record's (they rise); 0 when there is none
  std::vector<Damage> damage;
};

// Reads every intact record of `log` and every run of damage between them.
LogScan ScanLog(absl::string_view log, uint64_t acked) {
  LogScan scan;
  ResyncBudget budget(log.size());
  size_t offset = 0;
  while (offset < log.size()) {
    Framed r;
    Defect defect = Check(log, offset, scan.max_seq, r);
    if (defect == Defect::kNone) {
      ++scan.intact;
      scan.max_seq = r.seq;
      if (r.seq > acked) {
        scan.waiting.push_back(OfflineStore::Record{r.seq, std::string(r.payload)});
        scan.waiting_bytes += kOverhead + r.len;
      }
      offset += kOverhead + r.len;
      continue;
    }
    LogScan::Damage d;
    d.offset = offset;
    d.intact_before = scan.intact;
    d.prev_seq = scan.max_seq;
    d.problem = Describe(defect, r, scan.max_seq);
    size_t resume =
        Resync(log, offset, scan.max_seq, scan.intact > 0 ? scan.max_seq : acked, budget);
    d.length = resume - offset;
    d.at_end = resume == log.size();
    d.gave_up = budget.exhausted();
    d.torn = d.at_end && !d.gave_up && IsTornAppend(log, offset, defect);
    Framed next;
    d.delivered = !d.at_end && Check(log, resume, scan.max_seq, next) == Defect::kNone &&
                  next.seq <= acked;
    scan.damage.push_back(std::move(d));
    offset = resume;
  }
  return scan;
}

// For recovery_note(): what was found where, and what became of it. `quarantined` is the
// file that holds its bytes ("" for none), `kept` the records waiting.
std::string DescribeRepair(const LogScan::Damage& d, absl::string_view log_path,
                           absl::string_view quarantined, size_t kept) {
  if (d.at_end) {
    absl::string_view why = d.gave_up
                                ? "; the search for the next intact record gave up: the bytes "
                                  "after it hold too many record markers to check"
                                : d.torn ? ", left by an interrupted write"
                                         : "; damage, not a torn append";
    return absl::StrCat("cut ", d.length, " bytes from byte offset ", d.offset,
                        d.gave_up ? " of " : " at the end of ", log_path, " (", d.problem, why,
                        ")", d.torn ? "" : absl::StrCat(": quarantined in ", quarantined,
                                                         ", not delivered"),
                        "; kept ", Messages(kept), " before it");
  }
  // Exact by byte offset; as a record index only as the intact records count it, since how
  // many records a run of damage held cannot be known.
  std::string where =
      d.intact_before == 0
          ? std::string("before any intact record")
          : absl::StrCat("after ", d.intact_before,
                         d.intact_before == 1 ? " intact record" : " intact records",
                         " (the last one sequence number ", d.prev_seq, ")");
  return absl::StrCat("damaged bytes in ", log_path, " at byte offset ", d.offset, " (",
                      d.length, " bytes), ", where, ": ", d.problem,
                      d.delivered ? "; they held only delivered messages and were dropped"
                                  : absl::StrCat("; quarantined in ", quarantined,
                                                 ", not delivered; the records after them "
                                                 "are kept"));
}

}  // namespace internal

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  crc = ~crc;
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

OfflineStore::OfflineStore(std::string directory, uint64_t max_bytes, bool fsync)
    : directory_(std::move(directory)),
      log_path_(directory_ + "/queue.log"),
      ack_path_(directory_ + "/acked"),
      max_bytes_(max_bytes),
      fsync_(fsync) {}

OfflineStore::~OfflineStore() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<OfflineStore>> OfflineStore::Open(const std::string& directory,
                                                                 uint64_t max_bytes,
                                                                 bool fsync) {
  if (directory.empty()) {
    return absl::InvalidArgumentError("offline_msg_store.directory is empty");
  }
  // Created with its missing parents (an EMS machine has no /var/lib/edge).
  if (absl::Status made = MakeDirectories(directory, 0700); !made.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "offline_msg_store.directory: ", made.message(), "; create it: install -d -m 0700 -o ",
        "EDGED_USER ", directory));
  }
  std::unique_ptr<OfflineStore> store(new OfflineStore(directory, max_bytes, fsync));
  if (absl::Status s = store->Load(); !s.ok()) return s;
  return store;
}

absl::Status OfflineStore::Load() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ReadAck(); !s.ok()) return s;
  absl::StatusOr<std::string> log = ReadLog();
  if (!log.ok()) return log.status();
  internal::LogScan scan = internal::ScanLog(*log, acked_);
  // Nothing is changed on disk before this check: a wrong ack file must not cost records.
  if (absl::Status s = CheckAck(scan); !s.ok()) return s;
  records_ = std::move(scan.waiting);
  count_.store(records_.size(), std::memory_order_release);
  bytes_ = scan.waiting_bytes;
  last_seq_ = std::max(acked_, scan.max_seq);
  file_size_ = log->size();
  return Repair(scan, *log);
}

absl::Status OfflineStore::ReadAck() {
  absl::StatusOr<std::string> text = ReadFile(ack_path_, kMaxAckFile);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();  // nothing delivered yet
  if (!text.ok()) return text.status();
  absl::string_view digits = absl::StripAsciiWhitespace(*text);
  bool is_number = !digits.empty() && digits.size() <= 20 &&
                   std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) &&
                   absl::SimpleAtoi(digits, &acked_);
  if (!is_number) {
    return absl::DataLossError(absl::StrCat(
        ack_path_,
        ": expected the last delivered sequence number (decimal digits and a newline), found ",
        text->size(), " bytes: \"", absl::CEscape(text->substr(0, 24)),
        text->size() > 24 ? "...\"" : "\"",
        "; nothing was changed: restore the file, or remove it to replay every record (the "
        "platform may then see some twice)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> OfflineStore::ReadLog() {
  fd_ = ::open(log_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Errno("cannot open", log_path_);
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Errno("cannot stat", log_path_);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd_, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("cannot read", log_path_);
    got += static_cast<size_t>(n);
  }
  return data;
}

absl::Status OfflineStore::CheckAck(const internal::LogScan& scan) const {
  // An ack beyond the last record would hide every record up to it, and the next sequence
  // numbers would follow it (up to a wrap, with the replay of what it hid).
  if (scan.intact > 0 && acked_ > scan.max_seq) {
    return absl::DataLossError(absl::StrCat(
        ack_path_, ": holds ", acked_, ", beyond the last record in ", log_path_,
        " (sequence number ", scan.max_seq, "): expected at most ", scan.max_seq,
        "; nothing was changed: restore the file, or remove it to replay every record (the "
        "platform may then see some twice)"));
  }
  // With no record to compare with, only the value that leaves no sequence number for a
  // new message is known to be wrong: a store does not get there (2^64 appends).
  if (scan.intact == 0 && acked_ == kLastSeq) {
    return absl::DataLossError(absl::StrCat(
        ack_path_, ": holds ", acked_,
        ", the largest sequence number, which leaves none for a new message: expected a "
        "smaller number; nothing was changed: remove the file (",
        log_path_, " holds no intact record)"));
  }
  return absl::OkStatus();
}

// Keeps what is damaged, then takes it out of the log, in that order: the quarantine files
// are durable (file and directory fsynced) before the log forgets the bytes. A crash in
// between only quarantines the same bytes again at the next Open.
absl::Status OfflineStore::Repair(const internal::LogScan& scan, absl::string_view log) {
  if (scan.damage.empty()) return absl::OkStatus();
  std::vector<std::string> notes;
  bool damage_before_the_end = false;
  for (const internal::LogScan::Damage& d : scan.damage) {
    std::string quarantined;
    if (!d.torn && !d.delivered) {
      absl::StatusOr<std::string> path = Quarantine(log.substr(d.offset, d.length));
      if (!path.ok()) return path.status();
      quarantined = *path;
      quarantine_files_.push_back(quarantined);
    }
    if (!d.at_end) damage_before_the_end = true;
    notes.push_back(internal::DescribeRepair(d, log_path_, quarantined, records_.size()));
  }
  recovery_note_ = absl::StrJoin(notes, "; ");
  if (!quarantine_files_.empty()) {
    if (absl::Status s = SyncDirectory(); !s.ok()) return s;
  }
  if (damage_before_the_end) {
    // Rewritten from the intact records waiting: damage is never read again, and no
    // quarantined byte comes back by a later compaction.
    if (absl::Status s = CompactLocked(); !s.ok()) return s;
    if (::fsync(fd_) != 0) return Errno("fsync failed", log_path_);
    return SyncDirectory();
  }
  const size_t cut_at = scan.damage.back().offset;
  if (::ftruncate(fd_, static_cast<off_t>(cut_at)) != 0) {
    return Errno("cannot cut the damaged end from", log_path_);
  }
  if (::fsync(fd_) != 0) return Errno("fsync failed", log_path_);
  file_size_ = cut_at;
  return absl::OkStatus();
}

// Writes `damaged` to a new quarantine-<n>.bin (n above every one in the directory, so the
// names sort by age) and fsyncs it. The bytes are kept as they were in the log.
absl::StatusOr<std::string> OfflineStore::Quarantine(absl::string_view damaged) const {
  uint64_t n = HighestQuarantineNumber(directory_);
  for (int attempt = 0; attempt < 100; ++attempt) {
    ++n;
    std::string path = absl::StrCat(directory_, "/", kQuarantinePrefix, n, kQuarantineSuffix);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return Errno("cannot create the quarantine file for damaged records", path);
    absl::Status s = WriteAll(fd, damaged, path);
    if (s.ok() && ::fsync(fd) != 0) s = Errno("fsync failed", path);
    ::close(fd);
    if (!s.ok()) {
      ::unlink(path.c_str());
      return s;
    }
    return path;
  }
  return absl::InternalError(
      absl::StrCat(directory_, ": cannot find a free name for a quarantine file"));
}

absl::Status OfflineStore::SyncDirectory() const {
  int fd = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", directory_);
  absl::Status s = ::fsync(fd) == 0 ? absl::OkStatus() : Errno("fsync failed", directory_);
  ::close(fd);
  return s;
}

absl::StatusOr<uint64_t> OfflineStore::Append(absl::string_view payload) {
  absl::MutexLock lock(&mu_);
  if (last_seq_ == kLastSeq) {
    return absl::FailedPreconditionError(absl::StrCat(
        log_path_, ": the sequence numbers are used up (", kLastSeq,
        " was handed out) and do not wrap, so a message was refused; once the queue is "
        "delivered, move ", directory_, " aside to start a new store"));
  }
  uint64_t need = kRecordOverhead + payload.size();
  if (payload.size() > kMaxPayload || bytes_ + need > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "offline store full: ", records_.size(), " messages, ", bytes_, " of ", max_bytes_,
        " bytes used (offline_msg_store.max_size); a message of ", need,
        " bytes was refused"));
  }
  uint64_t seq = last_seq_ + 1;
  std::string framed = Frame(seq, payload);
  if (::lseek(fd_, static_cast<off_t>(file_size_), SEEK_SET) < 0) {
    return Errno("seek failed", log_path_);
  }
  absl::Status written = WriteAll(fd_, framed, log_path_);
  if (written.ok() && fsync_ && ::fdatasync(fd_) != 0) written = Errno("fsync failed", log_path_);
  if (!written.ok()) {
    // Leave no partial record behind for the next append to follow.
    (void)::ftruncate(fd_, static_cast<off_t>(file_size_));
    return written;
  }
  file_size_ += framed.size();
  last_seq_ = seq;
  bytes_ += need;
  records_.push_back(Record{seq, std::string(payload)});
  count_.store(records_.size(), std::memory_order_release);
  return seq;
}

std::optional<OfflineStore::Record> OfflineStore::Front() const {
  absl::MutexLock lock(&mu_);
  if (records_.empty()) return std::nullopt;
  return records_.front();
}

absl::Status OfflineStore::Ack(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  if (seq <= acked_) return absl::OkStatus();
  if (seq > last_seq_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "offline store ", log_path_, ": cannot acknowledge sequence number ", seq,
        ", which was never handed out (the last one is ", last_seq_, ")"));
  }
  absl::Status s = WriteFileAtomically(ack_path_, absl::StrCat(seq, "\n"), 0600);
  if (!s.ok()) return s;
  acked_ = seq;
  while (!records_.empty() && records_.front().seq <= seq) {
    bytes_ -= kRecordOverhead + records_.front().payload.size();
    records_.pop_front();
  }
  count_.store(records_.size(), std::memory_order_release);
  // The log keeps acknowledged records until they are a burden: all of them once the queue
  // is empty, or a rewrite when they are most of the file.
  if (file_size_ > 0 && (records_.empty() || file_size_ > 2 * bytes_ + (1u << 20))) {
    return CompactLocked();
  }
  return absl::OkStatus();
}

absl::Status OfflineStore::CompactLocked() {
  if (records_.empty()) {
    if (::ftruncate(fd_, 0) != 0) return Errno("cannot truncate", log_path_);
    if (fsync_ && ::fsync(fd_) != 0) return Errno("fsync failed", log_path_);
    file_size_ = 0;
    return absl::OkStatus();
  }
  std::string live;
  for (const Record& r : records_) live += Frame(r.seq, r.payload);
  absl::Status s = WriteFileAtomically(log_path_, live, 0600);
  if (!s.ok()) return s;
  int fd = ::open(log_path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Errno("cannot reopen", log_path_);
  ::close(fd_);
  fd_ = fd;
  file_size_ = live.size();
  return absl::OkStatus();
}

uint64_t OfflineStore::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace edge::edged

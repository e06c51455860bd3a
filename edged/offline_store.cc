#include "edged/offline_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/common/file_util.h"

namespace edge::edged {
namespace {

constexpr uint32_t kMagic = 0x45515231;  // "EQR1"
// A single record may not be larger than this, whatever max_bytes says: a length field
// above it is damage, not data.
constexpr uint32_t kMaxRecord = 64u << 20;

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

}  // namespace

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
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create the offline_msg_store.directory", directory);
  }
  std::unique_ptr<OfflineStore> store(new OfflineStore(directory, max_bytes, fsync));
  if (absl::Status s = store->Load(); !s.ok()) return s;
  return store;
}

absl::Status OfflineStore::Load() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> acked = ReadFile(ack_path_, 64);
  if (acked.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*acked), &acked_)) {
      return absl::DataLossError(
          absl::StrCat(ack_path_, ": expected the last delivered sequence number, found \"",
                       absl::CEscape(acked->substr(0, 20)), "\""));
    }
  } else if (!absl::IsNotFound(acked.status())) {
    return acked.status();
  }

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

  size_t offset = 0;
  uint64_t last_seq = acked_;
  std::string problem;
  while (offset < data.size()) {
    size_t left = data.size() - offset;
    const char* p = data.data() + offset;
    if (left < kRecordOverhead) {
      problem = "a record header cut short";
      break;
    }
    uint64_t seq = GetBe(p + 4, 8);
    uint32_t len = static_cast<uint32_t>(GetBe(p + 12, 4));
    if (GetBe(p, 4) != kMagic) {
      problem = "a record without its marker";
      break;
    }
    if (len > kMaxRecord || len > left - kRecordOverhead) {
      problem = "a record whose length runs past the end of the file";
      break;
    }
    absl::string_view payload(p + kRecordOverhead, len);
    if (Crc32c(payload, Crc32c(absl::string_view(p + 4, 8))) != GetBe(p + 16, 4)) {
      problem = "a record whose checksum does not match";
      break;
    }
    if (seq <= last_seq && seq > acked_) {
      problem = "a record out of sequence";
      break;
    }
    if (seq > acked_) {
      records_.push_back(Record{seq, std::string(payload)});
      bytes_ += kRecordOverhead + len;
      last_seq = seq;
    }
    offset += kRecordOverhead + len;
  }
  next_seq_ = std::max(last_seq, acked_) + 1;
  if (offset < data.size()) {
    recovery_note_ = absl::StrCat("cut ", data.size() - offset, " bytes at the end of ",
                                  log_path_, " (", problem,
                                  ", left by an interrupted write); kept ", records_.size(),
                                  " messages before it");
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) {
      return Errno("cannot cut the torn record from", log_path_);
    }
    if (::fsync(fd_) != 0) return Errno("fsync failed", log_path_);
  }
  file_size_ = offset;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> OfflineStore::Append(absl::string_view payload) {
  absl::MutexLock lock(&mu_);
  uint64_t need = kRecordOverhead + payload.size();
  if (payload.size() > kMaxRecord || bytes_ + need > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "offline store full: ", records_.size(), " messages, ", bytes_, " of ", max_bytes_,
        " bytes used (offline_msg_store.max_size); a message of ", need,
        " bytes was refused"));
  }
  uint64_t seq = next_seq_;
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
  ++next_seq_;
  bytes_ += need;
  records_.push_back(Record{seq, std::string(payload)});
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
  absl::Status s = WriteFileAtomically(ack_path_, absl::StrCat(seq, "\n"), 0600);
  if (!s.ok()) return s;
  acked_ = seq;
  while (!records_.empty() && records_.front().seq <= seq) {
    bytes_ -= kRecordOverhead + records_.front().payload.size();
    records_.pop_front();
  }
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

size_t OfflineStore::size() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

uint64_t OfflineStore::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace edge::edged

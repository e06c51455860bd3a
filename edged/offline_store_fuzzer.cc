// Fuzz target: the offline store must load whatever it finds after a crash or damage (torn,
// flipped or foreign bytes in the log, a damaged ack file) into the intact records, or fail
// with an error that changed nothing; never crash, return a damaged record, drop an intact
// one next to damage, or read again what it quarantined.
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "edged/offline_store.h"

namespace {

using edge::edged::OfflineStore;

// On tmpfs when there is one: the store fsyncs every ack and repair, whatever `fsync` says,
// and on a disk that makes a run a few inputs per second.
const std::string& Dir() {
  static const std::string dir = [] {
    char shm[] = "/dev/shm/offline_store_fuzz.XXXXXX";
    if (const char* made = mkdtemp(shm)) return std::string(made);
    char tmp[] = "/tmp/offline_store_fuzz.XXXXXX";
    return std::string(mkdtemp(tmp));
  }();
  return dir;
}

std::string LogPath() { return Dir() + "/queue.log"; }
std::string AckPath() { return Dir() + "/acked"; }

size_t QuarantineFiles(bool remove) {
  size_t n = 0;
  if (DIR* d = ::opendir(Dir().c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (!absl::StartsWith(e->d_name, "quarantine-")) continue;
      ++n;
      if (remove) std::remove((Dir() + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  return n;
}

void Clear() {
  std::remove(LogPath().c_str());
  std::remove(AckPath().c_str());
  QuarantineFiles(/*remove=*/true);
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A record as the store frames it (see kRecordOverhead): "EQR1", seq, length, CRC-32C of
// seq and payload, payload; big-endian.
std::string FrameRecord(uint64_t seq, absl::string_view payload) {
  auto put = [](std::string& out, uint64_t v, int bytes) {
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>(v >> shift));
    }
  };
  std::string seq_bytes;
  put(seq_bytes, seq, 8);
  std::string out = "EQR1" + seq_bytes;
  put(out, payload.size(), 4);
  put(out, edge::edged::Crc32c(payload, edge::edged::Crc32c(seq_bytes)), 4);
  out.append(payload.data(), payload.size());
  return out;
}

// Every record waiting, acknowledged one by one; traps on a sequence number that does not
// rise.
std::vector<OfflineStore::Record> Drain(OfflineStore& store) {
  std::vector<OfflineStore::Record> out;
  while (auto front = store.Front()) {
    if (!out.empty() && front->seq <= out.back().seq) __builtin_trap();
    out.push_back(*front);
    if (!store.Ack(front->seq).ok()) break;
  }
  return out;
}

// The input as the log file itself: every record delivered stood framed in the input, and
// the repair is done once (a reopen finds nothing to repair and the same records).
void InputAsLog(const std::string& in) {
  Clear();
  std::ofstream(LogPath(), std::ios::binary) << in;
  size_t kept = 0;
  {
    auto store = OfflineStore::Open(Dir(), 1 << 20, /*fsync=*/false);
    if (!store.ok()) return;
    kept = (*store)->size();
  }
  auto store = OfflineStore::Open(Dir(), 1 << 20, /*fsync=*/false);
  if (!store.ok() || !(*store)->recovery_note().empty() || (*store)->size() != kept) {
    __builtin_trap();
  }
  for (const OfflineStore::Record& r : Drain(**store)) {
    if (in.find(FrameRecord(r.seq, r.payload)) == std::string::npos) __builtin_trap();
  }
}

// The input as the ack file, beside a log of three records: Open refuses it without
// changing the log, or hides only records up to a sequence number that exists.
void InputAsAckFile(const std::string& in) {
  Clear();
  std::string log = FrameRecord(1, "one") + FrameRecord(2, "two") + FrameRecord(3, "three");
  std::ofstream(LogPath(), std::ios::binary) << log;
  std::ofstream(AckPath(), std::ios::binary) << in;
  auto store = OfflineStore::Open(Dir(), 1 << 20, /*fsync=*/false);
  if (!store.ok()) {
    if (ReadWhole(LogPath()) != log || ReadWhole(AckPath()) != in) __builtin_trap();
    return;
  }
  std::vector<OfflineStore::Record> waiting = Drain(**store);
  if (waiting.size() > 3) __builtin_trap();
  for (size_t i = 0; i < waiting.size(); ++i) {
    if (waiting[i].seq != 4 - waiting.size() + i) __builtin_trap();
  }
}

// The input as payloads (split at 0xFF), appended, then one byte damaged. The reload
// delivers the appended payloads in order, all but at most the one the damage hit, which is
// then quarantined. A payload that itself holds the record marker may be mistaken for
// records when its own record's length is damaged (the format cannot tell them apart);
// then only what is delivered is checked to be bytes that were appended.
void InputAsPayloads(const uint8_t* data, size_t size, const std::string& in) {
  Clear();
  std::vector<std::string> split;
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\xFF') {
      split.push_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  std::vector<std::string> appended;
  bool holds_marker = false;
  {
    auto store = OfflineStore::Open(Dir(), 1 << 20, false);
    if (!store.ok()) return;
    for (const std::string& p : split) {
      if (!(*store)->Append(p).ok()) continue;
      appended.push_back(p);
      holds_marker = holds_marker || absl::StrContains(p, "EQR1");
    }
  }
  if (size > 0) {
    std::fstream f(LogPath(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    long length = static_cast<long>(f.tellg());
    if (length > 0) {
      f.seekp(data[0] * 7919L % length);
      f.put(static_cast<char>(data[size - 1] ^ 0x5A));
    }
  }
  auto reloaded = OfflineStore::Open(Dir(), 1 << 20, false);
  if (!reloaded.ok()) __builtin_trap();  // the ack file is fine: nothing to refuse
  std::vector<OfflineStore::Record> delivered = Drain(**reloaded);
  if (holds_marker) {
    for (const OfflineStore::Record& r : delivered) {
      bool appended_bytes = false;
      for (const std::string& p : appended) appended_bytes |= absl::StrContains(p, r.payload);
      if (!appended_bytes) __builtin_trap();
    }
    return;
  }
  size_t i = 0;
  size_t missing = 0;
  for (const OfflineStore::Record& r : delivered) {
    while (i < appended.size() && appended[i] != r.payload) {
      ++missing;
      ++i;
    }
    if (i == appended.size()) __builtin_trap();  // never appended, or out of order
    ++i;
  }
  missing += appended.size() - i;
  if (missing > 1) __builtin_trap();  // one damaged byte cost more than its record
  if (missing == 1 && QuarantineFiles(/*remove=*/false) == 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  InputAsLog(in);
  InputAsAckFile(in);
  InputAsPayloads(data, size, in);
  return 0;
}

// Fuzz target: the offline store must load any file it finds after a crash (torn, flipped or
// foreign bytes) into the records before the damage, or an error; never crash or return a
// damaged record.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "edged/offline_store.h"

namespace {

const std::string& Dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/offline_store_fuzz.XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  return dir;
}

void Clear() {
  std::remove((Dir() + "/queue.log").c_str());
  std::remove((Dir() + "/acked").c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edge::edged::OfflineStore;
  std::string in(reinterpret_cast<const char*>(data), size);

  // The input as the log file itself.
  Clear();
  std::ofstream(Dir() + "/queue.log", std::ios::binary) << in;
  if (auto store = OfflineStore::Open(Dir(), 1 << 20, /*fsync=*/false); store.ok()) {
    for (int i = 0; i < 3; ++i) {
      auto front = (*store)->Front();
      if (!front) break;
      (void)(*store)->Ack(front->seq);
    }
  }

  // The input as payloads (split at 0xFF), appended, then one byte damaged: the reload keeps
  // a prefix of what was appended, each record intact.
  Clear();
  std::vector<std::string> payloads;
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\xFF') {
      payloads.push_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  {
    auto store = OfflineStore::Open(Dir(), 1 << 20, false);
    if (!store.ok()) return 0;
    for (const std::string& p : payloads) (void)(*store)->Append(p);
  }
  if (size > 0) {
    std::fstream f(Dir() + "/queue.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    long length = static_cast<long>(f.tellg());
    if (length > 0) {
      f.seekp(data[0] * 7919L % length);
      f.put(static_cast<char>(data[size - 1] ^ 0x5A));
    }
  }
  auto reloaded = OfflineStore::Open(Dir(), 1 << 20, false);
  if (!reloaded.ok()) return 0;
  size_t i = 0;
  while (auto front = (*reloaded)->Front()) {
    // A record that was never appended, or out of order: the checksum let damage through.
    if (i >= payloads.size() || front->payload != payloads[i]) __builtin_trap();
    (void)(*reloaded)->Ack(front->seq);
    ++i;
  }
  return 0;
}

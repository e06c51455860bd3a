// Fuzz target: a platform's request as edged receives it (an AlwaysOn message: the Thing,
// the service, its parameter infotable), run through FileService over a sandbox of two
// virtual directories, a staging directory, and a directory outside them that a symlink
// in one of them points to. Whatever the bytes: no crash, and nothing outside the virtual
// directories and staging is read into an answer, written, created or removed.
//
// A seed file is one request, encoded as edged's codec encodes it; a seed may hold several
// requests, each prefixed by its length (4 bytes, big-endian), run in order on one service,
// so that transfers (Start, Write, Checksum, Move, Complete) are reachable.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "edged/file_service.h"
#include "services/alwayson/message.h"
#include "services/common/log.h"

namespace {

namespace fs = std::filesystem;
using edge::alwayson::RequestBody;
using edge::edged::FileAnswer;
using edge::edged::FileService;
using edge::edged::FileServiceOptions;

constexpr char kSecret[] = "outside: never to be read, changed or removed";

const std::string& Root() {
  static const std::string dir = [] {
    char shm[] = "/dev/shm/file_service_fuzz.XXXXXX";
    if (const char* made = mkdtemp(shm)) return std::string(made);
    char tmp[] = "/tmp/file_service_fuzz.XXXXXX";
    return std::string(mkdtemp(tmp));
  }();
  return dir;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// A fresh sandbox: in/ (a file, a subdirectory, a symlink to outside/), out/, staging/,
// and outside/ with its secret.
void Reset() {
  const std::string& root = Root();
  std::error_code ec;
  for (const char* d : {"in", "out", "staging", "outside"}) fs::remove_all(root + "/" + d, ec);
  for (const char* d : {"in", "in/sub", "out", "staging", "outside"}) {
    ::mkdir((root + "/" + d).c_str(), 0750);
  }
  Write(root + "/in/a.txt", "inside a");
  Write(root + "/out/b.bin", std::string(300, 'b'));
  Write(root + "/outside/secret.txt", kSecret);
  ::symlink((root + "/outside").c_str(), (root + "/in/escape").c_str());
  ::symlink((root + "/outside/secret.txt").c_str(), (root + "/out/link.txt").c_str());
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "file_service_fuzzer: %s\n", what);
    std::abort();
  }
}

// Nothing but the four directories at the root; outside/ holds the secret, unchanged.
void CheckOutsideUntouched() {
  const std::string& root = Root();
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string name = e.path().filename().string();
    Check(name == "in" || name == "out" || name == "staging" || name == "outside",
          "an entry appeared beside the virtual directories");
    ++entries;
  }
  Check(entries == 4, "a directory beside the virtual directories went away");
  size_t outside = 0;
  for (const auto& e : fs::directory_iterator(root + "/outside")) {
    Check(e.path().filename() == "secret.txt", "an entry appeared outside");
    ++outside;
  }
  Check(outside == 1, "the file outside was removed");
  Check(ReadAll(root + "/outside/secret.txt") == kSecret, "the file outside was changed");
}

void CheckNoSecretIn(const FileAnswer& a) {
  if (!a.content) return;
  for (const auto& row : a.content->rows) {
    for (const auto& v : row) {
      if (v.type() == edge::alwayson::BaseType::kBlob) {
        Check(v.str().find("outside: never") == std::string::npos,
              "the file outside was read into an answer");
      }
    }
  }
}

void Run(FileService& files, absl::string_view bytes) {
  edge::alwayson::Limits limits{1 << 20};
  absl::StatusOr<edge::alwayson::Message> m = edge::alwayson::DecodeMessage(bytes, limits);
  if (!m.ok()) return;
  const auto* body = std::get_if<RequestBody>(&m->body);
  if (body == nullptr || !edge::edged::IsFileService(body->characteristic_name)) return;
  // Pump1 sees in/ and out/; any other Thing name is fuzzed as it comes.
  FileAnswer a = files.Handle(body->entity_name, body->characteristic_name, body->params);
  CheckNoSecretIn(a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {
    edge::SetLogLevel(edge::LogLevel::kError);
    return true;
  }();
  (void)quiet;
  Reset();
  FileServiceOptions options;
  options.file.virtual_dirs = {{"in", Root() + "/in", {}}, {"out", Root() + "/out", {"Pump1"}}};
  options.file.staging_dir = Root() + "/staging";
  options.file.buffer_size = 4096;
  options.file.max_file_size = 1 << 20;
  options.max_staging_bytes = 2 << 20;
  {
    absl::StatusOr<std::unique_ptr<FileService>> files = FileService::Create(options);
    Check(files.ok(), "the sandbox's FileService cannot be created");
    absl::string_view in(reinterpret_cast<const char*>(data), size);
    // Several length-prefixed requests, or the whole input as one.
    bool framed = size >= 4;
    absl::string_view rest = in;
    while (framed && rest.size() >= 4) {
      uint32_t n = (static_cast<uint32_t>(static_cast<uint8_t>(rest[0])) << 24) |
                   (static_cast<uint32_t>(static_cast<uint8_t>(rest[1])) << 16) |
                   (static_cast<uint32_t>(static_cast<uint8_t>(rest[2])) << 8) |
                   static_cast<uint32_t>(static_cast<uint8_t>(rest[3]));
      if (n > rest.size() - 4) break;
      Run(**files, rest.substr(4, n));
      rest.remove_prefix(4 + n);
    }
    if (rest.size() == in.size()) Run(**files, in);
    (*files)->Sweep();
  }  // Destroyed: open transfers closed, their .part files removed.
  CheckOutsideUntouched();
  return 0;
}

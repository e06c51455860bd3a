// FileService: the file services a platform calls on an edge Thing (BrowseDirectory,
// StartFileTransfer, ReadFromBinaryFile, ...: shared/specs/alwayson-file-transfer.md), over
// the virtual directories of EMS's `file` group, so that a platform that drives the vendor's
// SDK drives edged unchanged: the same parameter types, result shapes and status codes.
//
// Stricter than the SDK, and still compatible with a platform that follows the spec:
// - every path is resolved beneath its virtual directory by openat2(RESOLVE_BENEATH), so no
//   `..`, symlink or absolute path reaches outside it (MoveFile's paths included); a path
//   with a `..` component, NUL or a control character, a drive letter or an unknown first
//   component is refused with BAD_REQUEST and a log line;
// - max_file_size, staged bytes, transfers per Thing and in total, block counts and the
//   requests waiting are bounded; a write must continue where the file ends;
// - a `.part` is removed when its transfer is cancelled, idles out, fails or its
//   connection is lost (the SDK leaves them in staging).
//
//   FileService files(options);
//   files.Start();                                    // The worker thread.
//   files.Post("Pump1", "GetFileInfo", params, [](FileAnswer a) { ... });
//
// One worker thread does every file operation, in the order requests arrive; Post never
// blocks on the disk. Handle() is the same work on the caller's thread (tests, the fuzzer).
#ifndef EDGED_FILE_SERVICE_H_
#define EDGED_FILE_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/alwayson/message.h"
#include "services/config/config.h"

namespace edge::edged {

// The services routed to the file service (the spec's section 1.5, and RenameFile).
bool IsFileService(absl::string_view service);

// The components of a wire path (shared/specs/alwayson-file-transfer.md section 5.2: `/`
// and `\` both separate, leading and trailing separators optional, `.` dropped). Refused
// with kInvalidArgument naming `field`: longer than 4096 bytes, NUL and control characters,
// a `..` component (section 5.5), a component longer than NAME_MAX, a drive letter.
absl::StatusOr<std::vector<std::string>> SplitWirePath(absl::string_view path,
                                                       absl::string_view field);

// The name of the staging directory as the platform sees it (GetTransferInfo stagingDir).
inline constexpr char kStagingName[] = "__staging__";

struct FileAnswer {
  alwayson::Code status = alwayson::Code::kSuccess;
  std::optional<std::string> reason;  // Our refusals say why; SDK-shaped errors carry none.
  std::optional<alwayson::InfoTable> content;
};

// What happened to a transfer, for edge-initiated copies (EdgeService::CopyFile).
struct TransferEvent {
  enum class Kind { kStarted, kProgress, kCompleted, kFailed };
  Kind kind = Kind::kStarted;
  std::string thing;
  std::string tid;
  std::string file;     // The transfer's real file: "<virtual dir>/<path beneath it>".
  uint64_t bytes = 0;   // Read or written so far.
  uint64_t size = 0;    // A get: the file's size.
  std::string message;  // kFailed: why; kCompleted: the job's state.
};

struct FileServiceOptions {
  config::FileTransfer file;
  int64_t max_transfers = 16;
  int64_t max_transfers_per_thing = 4;
  int64_t max_staging_bytes = 8000000000;
  size_t max_waiting_requests = 32;  // Post refuses past it (each holds up to a message).
  size_t max_listing_rows = 10000;   // Rows of one listing or directory structure.
  size_t max_depth = 32;             // GetDirectoryStructure.
  // Test hook: the clock the idle timeout is measured by (default steady_clock).
  std::function<std::chrono::steady_clock::time_point()> now;
};

class FileService {
 public:
  using Respond = std::function<void(FileAnswer)>;
  using Observer = std::function<void(const TransferEvent&)>;

  // Creates the staging directory (0750) when it is missing. Errors name file.staging_dir.
  static absl::StatusOr<std::unique_ptr<FileService>> Create(FileServiceOptions options);
  ~FileService();  // Stops the worker; open transfers are closed, their .part files removed.

  void Start();
  void Stop();

  // Queues the request for the worker; `respond` runs there. False (and `respond` not run)
  // when max_waiting_requests are waiting already.
  bool Post(const std::string& thing, const std::string& service,
            std::optional<alwayson::InfoTable> params, Respond respond);
  // The same work now, on this thread (not while the worker runs).
  FileAnswer Handle(const std::string& thing, const std::string& service,
                    const std::optional<alwayson::InfoTable>& params);

  // The platform connection is gone: every open transfer fails (.part removed). Queued.
  void ConnectionLost();
  // Closes transfers idle for longer than file.idle_timeout. The worker runs it every
  // second; tests with their own clock call it (not while the worker runs).
  void Sweep();

  // Called on the worker thread for every TransferEvent; must not block. Set before Start.
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  // The local file a wire path of `thing` names, checked as every service checks it; for
  // edge-initiated copies (CopyFile). `vdir` and `rel` split it: "/logs/a.txt" -> "logs",
  // "a.txt". BAD_REQUEST-worthy paths are kInvalidArgument naming `field`.
  struct Located {
    std::string vdir;
    std::string rel;
    std::string file;  // vdir + "/" + rel, the TransferEvent::file of its transfers.
  };
  absl::StatusOr<Located> Locate(const std::string& thing, absl::string_view path,
                                 absl::string_view field) const;
  // Whether `located` exists as a regular file (kNotFound otherwise).
  absl::Status CheckRegularFile(const Located& located) const;

  const config::FileTransfer& config() const { return options_.file; }
  size_t open_transfers() const { return transfers_.size(); }  // Worker thread / tests.

 private:
  struct Transfer;
  struct Resolved;
  class Params;
  explicit FileService(FileServiceOptions options);
  std::chrono::steady_clock::time_point Now() const;
  void Loop();
  void Emit(const TransferEvent& event) const;

  // Dispatch and the services (file_service.cc).
  FileAnswer Dispatch(const std::string& thing, const std::string& service,
                      const alwayson::InfoTable* params);
  std::vector<std::pair<std::string, std::string>> DirsOf(const std::string& thing) const;
  absl::StatusOr<Resolved> Resolve(const std::string& thing, absl::string_view path,
                                   absl::string_view field) const;
  // Reads the STRING parameter `field` into `value` and resolves it; kInvalidArgument
  // (the BAD_REQUEST reason) when it is missing, mistyped or refused.
  absl::StatusOr<Resolved> ResolveParam(const std::string& thing, Params& params, const char* field,
                                        std::optional<std::string>* value) const;
  Transfer* Find(const std::string& thing, const std::string& tid, const std::string& file);
  void Close(Transfer* t, bool remove_part, absl::string_view why);
  uint64_t StagedBytes() const;

  FileAnswer TransferInfo() const;
  FileAnswer Browse(const std::string& thing, const alwayson::InfoTable& p, bool files_only,
                    bool dirs_only);
  FileAnswer DirectoryStructure(const std::string& thing);
  FileAnswer FileInfo(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer Delete(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer Move(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer MakeDirectory(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer CreateBinary(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer Checksum(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer StartTransfer(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer Read(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer Write(const std::string& thing, const alwayson::InfoTable& p);
  FileAnswer Finish(const std::string& thing, const alwayson::InfoTable& p, bool cancel);
  FileAnswer Append(Transfer* t, const std::string& data);
  absl::StatusOr<Transfer*> Open(const std::string& thing, const std::string& tid,
                                 const Resolved& where, bool write, bool staging);

  const FileServiceOptions options_;
  Observer observer_;
  // Worker thread only (or the thread calling Handle/Sweep when there is no worker).
  std::vector<std::unique_ptr<Transfer>> transfers_;

  struct Task {
    std::function<void()> run;
  };
  absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  size_t waiting_requests_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace edge::edged

#endif  // EDGED_FILE_SERVICE_H_

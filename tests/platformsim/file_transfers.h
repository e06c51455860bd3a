// FileTransfers: platformsim's side of the AlwaysOn file transfers (shared/specs/
// alwayson-file-transfer.md section 6), driven as a platform drives them, over its own
// file repository on disk: a put sends a repository file onto an edge Thing's virtual
// directory (staging, blocks, checksum, move, complete); a get fetches one into the
// repository. Each call is one synchronous request down to the edge.
//
//   FileTransfers files("/tmp/repo", call, drop);
//   TransferResult r = files.Run({.put = true, .thing = "Pump1", .edge_path = "/in/a.bin",
//                                 .repository = "SystemRepository",
//                                 .repository_path = "/a.bin"});
//   r.status == "COMPLETED", r.md5 == the file's MD5.
//
// Repository files live at <dir>/<repository>/<path>; a path with "..", a control character
// or a repository name with a separator is refused.
#ifndef TESTS_PLATFORMSIM_FILE_TRANSFERS_H_
#define TESTS_PLATFORMSIM_FILE_TRANSFERS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "services/alwayson/message.h"

namespace edge::platformsim {

// An edge's answer to one request: its status name ("SUCCESS", "BAD_REQUEST"...), or
// "NOT_BOUND", "TIMEOUT", "CONNECTION_LOST" when there was none.
struct Reply {
  std::string status;
  std::string reason;
  std::optional<alwayson::InfoTable> content;
};

// A service call on `thing` (POST, Services), answered or not within the platform's timeout.
using CallFn = std::function<Reply(const std::string& thing, const std::string& service,
                                   alwayson::InfoTable params)>;

struct TransferRequest {
  bool put = true;        // Repository -> edge; false: edge -> repository.
  std::string thing;      // The edge Thing.
  std::string edge_path;  // "/in/a.bin": its virtual directory and the file beneath.
  std::string repository = "SystemRepository";
  std::string repository_path;  // "/a.bin" in the repository.
  std::string tid;              // Empty: one is made up.
  int64_t block_size = 0;       // 0: the edge's blockSize (GetTransferInfo).
  // Tests: after this many blocks, do `then` instead of finishing: "cancel"
  // (CancelFileTransfer), "abandon" (nothing more), "drop" (close the edge's connection).
  int64_t stop_after_blocks = -1;
  std::string then;
};

struct TransferResult {
  // COMPLETED, FAILED, CANCELLED, ABANDONED or DROPPED.
  std::string status;
  std::string message;  // FAILED: which request failed and how.
  std::string tid;
  std::string md5;     // Of the file as the repository holds it.
  uint64_t bytes = 0;  // Moved.
  std::string failed_service;
  std::string failed_status;  // The edge's status for it.
};

class FileTransfers {
 public:
  FileTransfers(std::string repository_dir, CallFn call, std::function<void()> drop);

  TransferResult Run(const TransferRequest& request);

  // <dir>/<repository>/<path>, or kInvalidArgument naming what is wrong.
  absl::StatusOr<std::string> RepositoryFile(const std::string& repository,
                                             const std::string& path) const;

 private:
  TransferResult Put(const TransferRequest& r, const std::string& local, const std::string& tid);
  TransferResult Get(const TransferRequest& r, const std::string& local, const std::string& tid);
  // stop_after_blocks reached: `then` (cancel, drop or abandon) after `bytes` moved.
  TransferResult StopMidway(const TransferRequest& r, const std::string& tid, uint64_t bytes,
                            const std::string& md5);
  // After a failed step of a started transfer: CancelFileTransfer.
  void Abort(const TransferRequest& r, const std::string& tid, uint64_t bytes);
  // The job of Complete/Cancel (section 4).
  alwayson::InfoTable Job(const TransferRequest& r, const std::string& tid,
                          const std::string& state, bool complete, uint64_t size,
                          const std::string& md5) const;

  const std::string dir_;
  CallFn call_;
  std::function<void()> drop_;
  std::atomic<uint64_t> next_tid_{0};
};

// MD5 of the file at `path`, 32 lowercase hex digits.
absl::StatusOr<std::string> Md5OfFile(const std::string& path);

}  // namespace edge::platformsim

#endif  // TESTS_PLATFORMSIM_FILE_TRANSFERS_H_

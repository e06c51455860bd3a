// FileWatcher: calls back when any of a set of files changes on disk, however it changed:
// rewritten in place, replaced by rename, or swapped in through a symlinked directory (the
// "..data" pattern of Kubernetes secrets and cert-manager). Uses inotify on the files'
// directories, then compares contents, so a touch without a change does nothing; a slow
// poll backs inotify up.
//
//   auto watcher = FileWatcher::Start([&] { return state->Files(); }, [&] { Reload(); });
#ifndef TRUSTD_FILE_WATCHER_H_
#define TRUSTD_FILE_WATCHER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace edge::trustd {

class FileWatcher {
 public:
  using FileList = std::function<std::vector<std::string>()>;

  // `files` is asked again after every change (a new config may name new files).
  // `on_change` runs on the watcher's thread. `tick` runs there too, about once a second
  // (used for the hourly expiry check).
  static absl::StatusOr<std::unique_ptr<FileWatcher>> Start(FileList files,
                                                            std::function<void()> on_change,
                                                            std::function<void()> tick = nullptr,
                                                            absl::Duration poll = absl::Seconds(5));
  ~FileWatcher();

 private:
  FileWatcher() = default;
  void Run();
  void Rewatch();
  bool Relevant();
  std::map<std::string, std::string> Fingerprints() const;

  FileList files_;
  std::function<void()> on_change_;
  std::function<void()> tick_;
  absl::Duration poll_;
  int inotify_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::map<std::string, int> watches_;  // Directory -> watch descriptor.
  std::map<std::string, std::string> last_;
  std::thread thread_;
};

}  // namespace edge::trustd

#endif  // TRUSTD_FILE_WATCHER_H_

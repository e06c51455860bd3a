#include "trustd/file_watcher.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"

namespace edge::trustd {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileWatcher>> FileWatcher::Start(FileList files,
                                                                std::function<void()> on_change,
                                                                std::function<void()> tick,
                                                                absl::Duration poll) {
  std::unique_ptr<FileWatcher> w(new FileWatcher());
  w->files_ = std::move(files);
  w->on_change_ = std::move(on_change);
  w->tick_ = std::move(tick);
  w->poll_ = poll;
  w->inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->inotify_ < 0 || ::pipe2(w->wake_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("inotify: ", std::strerror(errno)));
  }
  w->last_ = w->Fingerprints();
  w->Rewatch();
  FileWatcher* raw = w.get();
  w->thread_ = std::thread([raw] { raw->Run(); });
  return w;
}

FileWatcher::~FileWatcher() {
  stop_ = true;
  if (wake_[1] >= 0) {
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : {inotify_, wake_[0], wake_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

std::map<std::string, std::string> FileWatcher::Fingerprints() const {
  std::map<std::string, std::string> out;
  for (const std::string& path : files_()) {
    auto content = ReadFile(path);
    if (!content.ok()) {
      out[path] = std::string(content.status().message());
      continue;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(content->data()), content->size(), md);
    out[path] = std::string(reinterpret_cast<char*>(md), sizeof(md));
  }
  return out;
}

void FileWatcher::Rewatch() {
  std::set<std::string> dirs;
  for (const std::string& path : files_()) dirs.insert(DirOf(path));
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (dirs.count(it->first) == 0) {
      ::inotify_rm_watch(inotify_, it->second);
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& dir : dirs) {
    if (watches_.count(dir) > 0) continue;
    int wd = ::inotify_add_watch(inotify_, dir.c_str(),
                                 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                     IN_DELETE | IN_ATTRIB | IN_MODIFY);
    if (wd >= 0) watches_[dir] = wd;
  }
}

void FileWatcher::Run() {
  absl::Time next_poll = absl::Now() + poll_;
  // Debounce: once something relevant moved, wait for 100 ms of quiet before comparing, but
  // never more than a second (a directory may also hold files that change all the time).
  bool pending = false;
  absl::Time pending_since;
  while (!stop_) {
    pollfd fds[2] = {{inotify_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int timeout_ms = pending ? 100 : 1000;
    int n = ::poll(fds, 2, timeout_ms);
    if (stop_ || (n > 0 && fds[1].revents != 0)) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      if (Relevant()) {
        if (!pending) pending_since = absl::Now();
        pending = true;
      }
      if (pending && absl::Now() - pending_since < absl::Seconds(1)) continue;
    }
    if (tick_) tick_();
    if (!pending && absl::Now() < next_poll) continue;
    pending = false;
    next_poll = absl::Now() + poll_;
    std::map<std::string, std::string> now = Fingerprints();
    if (now != last_) {
      on_change_();
      // The list itself may have changed with the config: new files are taken as they are
      // now, but a file that was watched keeps the fingerprint the reload started from, so
      // one written during the reload is reloaded again, never taken as seen.
      std::map<std::string, std::string> after = Fingerprints();
      for (auto& [path, fingerprint] : after) {
        auto seen = now.find(path);
        if (seen != now.end()) fingerprint = seen->second;
      }
      last_ = std::move(after);
      Rewatch();
    }
  }
}

// Drains the inotify queue; true when an event concerns a watched file: its name, a name
// starting with ".." (the Kubernetes/cert-manager "..data" swap), or the directory itself.
bool FileWatcher::Relevant() {
  std::set<std::string> names;
  for (const std::string& path : files_()) {
    size_t slash = path.rfind('/');
    names.insert(slash == std::string::npos ? path : path.substr(slash + 1));
  }
  bool relevant = false;
  alignas(inotify_event) char buf[16384];
  ssize_t len;
  while ((len = ::read(inotify_, buf, sizeof(buf))) > 0) {
    for (char* p = buf; p < buf + len;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      std::string name = ev->len > 0 ? std::string(ev->name) : "";
      if (name.empty() || names.count(name) > 0 || name.rfind("..", 0) == 0 ||
          (ev->mask & IN_Q_OVERFLOW)) {
        relevant = true;
      }
      p += sizeof(inotify_event) + ev->len;
    }
  }
  return relevant;
}

}  // namespace edge::trustd

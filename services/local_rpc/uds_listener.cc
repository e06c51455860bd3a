#include "services/local_rpc/uds_listener.h"

#include <fcntl.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "services/common/file_util.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace edge::local_rpc {
namespace {

// The pid of the process accepting connections on the socket at `path`, if one does.
std::optional<pid_t> ServingPid(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  std::optional<pid_t> pid;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    pid = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
  }
  ::close(fd);
  return pid;
}

// "trustd" for a pid, from /proc; "a process" when it cannot be read.
std::string ProcessName(pid_t pid) {
  std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
  std::string name;
  if (!std::getline(comm, name) || name.empty()) return "a process";
  return name;
}

}  // namespace

void PeerRegistry::Set(int fd, PeerCredentials creds) {
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = creds;
}

std::optional<PeerCredentials> PeerRegistry::Lookup(const std::string& grpc_peer) const {
  absl::string_view peer = grpc_peer;
  if (!absl::ConsumePrefix(&peer, "fd:")) return std::nullopt;
  int fd;
  if (!absl::SimpleAtoi(peer, &fd)) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

absl::Status CheckSocketPath(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": socket path longer than ", sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = path.rfind('/') == 0 ? "/" : ".";
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    // The daemon creates it (0750) when it may: as root, or where its user may write.
    if (absl::Status can = CanMakeDirectories(dir); !can.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, ": the socket's directory does not exist and cannot be created (", can.message(),
          "); create it: install -d -m 0750 -o DAEMON_USER -g edge ", dir,
          " (systemd: RuntimeDirectory=edge)"));
    }
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": the socket's directory is not a directory"));
  }
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": the socket's directory is writable by others, so anyone could replace the "
             "socket; chmod o-w ", dir));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<UdsListener>> UdsListener::Listen(const std::string& path,
                                                                 int mode) {
  if (absl::Status s = CheckSocketPath(path); !s.ok()) return s;
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (!dir.empty()) {
    if (absl::Status made = MakeDirectories(dir, 0750); !made.ok()) return made;
  }
  sockaddr_un addr{};
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": exists and is not a socket; refusing to replace it"));
    }
    if (std::optional<pid_t> owner = ServingPid(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          ProcessName(*owner), " already serves ", path, " (pid ", *owner,
          "); stop it first, or give this one another socket"));
    }
    ::unlink(path.c_str());  // A stale socket from an earlier run: nobody accepts on it.
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Bind with no permissions at all, then open up to `mode`: no window in which the
  // socket is reachable with the umask's bits.
  mode_t old_umask = ::umask(0777);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  ::umask(old_umask);
  if (rc != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot bind: ", std::strerror(bind_errno)));
  }
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  struct stat created;
  if (::lstat(path.c_str(), &created) != 0) {
    int err = errno;
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  std::unique_ptr<UdsListener> listener(new UdsListener(path, fd));
  listener->device_ = created.st_dev;
  listener->inode_ = created.st_ino;
  if (::pipe2(listener->wake_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  return listener;
}

UdsListener::~UdsListener() {
  Stop();
  for (int w : wake_) {
    if (w >= 0) ::close(w);
  }
}

void UdsListener::Start(grpc::Server* server) {
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void UdsListener::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_[1] >= 0) {
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  // Let go of the path at once, so that a successor can start while this daemon is still
  // finishing its calls. Only the socket this listener created: the file is checked while
  // this listener still listens on it, so no successor (which refuses a path that is being
  // served) can have replaced it yet; after the close, the path is the successor's.
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
  ::close(fd_);
  fd_ = -1;
}

void UdsListener::AcceptLoop(grpc::Server* server) {
  while (!stopping_) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0 || stopping_) return;
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) continue;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(conn);  // No credentials, no service.
      continue;
    }
    registry_.Set(conn, PeerCredentials{cred.pid, cred.uid, cred.gid});
    grpc::AddInsecureChannelFromFd(server, conn);
  }
}

}  // namespace edge::local_rpc

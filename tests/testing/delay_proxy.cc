#include "tests/testing/delay_proxy.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"

namespace edge::testing {
namespace {

bool Address(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DelayProxy>> DelayProxy::Start(const std::string& listen_path,
                                                              const std::string& target_path) {
  sockaddr_un addr;
  if (!Address(listen_path, &addr)) return absl::InvalidArgumentError("socket path too long");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::unlink(listen_path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("listen on ", listen_path, ": ", std::strerror(err)));
  }
  int stop[2];
  if (::pipe2(stop, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  std::unique_ptr<DelayProxy> proxy(new DelayProxy(target_path, fd, stop[0], stop[1]));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

DelayProxy::DelayProxy(std::string target, int listener, int stop_read, int stop_write)
    : target_(std::move(target)), listener_(listener), stop_read_(stop_read),
      stop_write_(stop_write) {}

DelayProxy::~DelayProxy() {
  stopping_ = true;
  char b = 0;
  (void)!::write(stop_write_, &b, 1);
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu_);
  for (int fd : fds_) ::close(fd);
  ::close(listener_);
  ::close(stop_read_);
  ::close(stop_write_);
}

void DelayProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) <= 0) continue;
    if (fds[1].revents != 0) return;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    sockaddr_un addr;
    Address(target_, &addr);
    int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(server);
      ::close(client);
      continue;
    }
    ++connections_;
    absl::MutexLock lock(&mu_);
    fds_.push_back(client);
    fds_.push_back(server);
    threads_.emplace_back([this, client, server] { Serve(client, server); });
  }
}

void DelayProxy::Serve(int client, int server) {
  // Client to server: as it comes.
  std::thread up([client, server] {
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(client, buf, sizeof(buf), 0)) > 0) {
      if (!WriteAll(server, buf, static_cast<size_t>(n))) break;
    }
    ::shutdown(server, SHUT_WR);
  });
  // Server to client: each chunk stamped when it arrived, written `delay` after that.
  struct Pending {
    std::deque<std::pair<absl::Time, std::string>> due;
    bool eof = false;
    bool Ready() const { return !due.empty() || eof; }
  };
  absl::Mutex mu;
  Pending pending;
  std::thread down_writer([&] {
    while (true) {
      std::pair<absl::Time, std::string> next;
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(&pending, &Pending::Ready));
        if (pending.due.empty()) break;
        next = std::move(pending.due.front());
        pending.due.pop_front();
      }
      absl::Time at = next.first + absl::Microseconds(delay_us_.load());
      absl::SleepFor(at - absl::Now());
      if (!WriteAll(client, next.second.data(), next.second.size())) break;
    }
    ::shutdown(client, SHUT_WR);
  });
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(server, buf, sizeof(buf), 0)) > 0) {
    absl::MutexLock lock(&mu);
    pending.due.emplace_back(absl::Now(), std::string(buf, static_cast<size_t>(n)));
  }
  {
    absl::MutexLock lock(&mu);
    pending.eof = true;
  }
  down_writer.join();
  up.join();
}

}  // namespace edge::testing

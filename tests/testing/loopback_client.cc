#include "tests/testing/loopback_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace edge::testing {
namespace {

std::string OpensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "no OpenSSL error queued" : out;
}

// Waits until `fd` is ready for `events` or `deadline` passes; false on timeout.
bool PollUntil(int fd, short events, absl::Time deadline) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    int ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)));
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

// Drives one non-blocking OpenSSL call to completion; its result (>0: done).
template <class Call>
int Drive(SSL* ssl, int fd, absl::Time deadline, Call call) {
  for (;;) {
    int r = call();
    if (r > 0) return r;
    int err = SSL_get_error(ssl, r);
    short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0 || !PollUntil(fd, events, deadline)) return r;
  }
}

}  // namespace

std::shared_ptr<SSL_CTX> ClientTlsContext(const std::string& ca_pem) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca_pem.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

std::string ClientHelloPrefix(size_t n) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // ssl owns both.
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  SSL_connect(ssl.get());  // Writes the ClientHello, then wants the server's answer.
  ERR_clear_error();
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  return std::string(data, std::min<size_t>(n, len > 0 ? static_cast<size_t>(len) : 0));
}

absl::StatusOr<LoopbackClient> LoopbackClient::Connect(int port, const std::string& source,
                                                       absl::Duration io_timeout) {
  ::signal(SIGPIPE, SIG_IGN);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  LoopbackClient client(fd);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("source: expected an IPv4 address, got \"",
                                                   source, "\""));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
    return absl::UnavailableError(absl::StrCat("bind ", source, ": ", strerror(errno)));
  }
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(io_timeout)), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));  // Bounds connect().
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect from ", source, " to 127.0.0.1:", port, ": ", strerror(errno)));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  client.io_timeout_ = io_timeout;
  return client;
}

LoopbackClient::LoopbackClient(LoopbackClient&& other) noexcept { *this = std::move(other); }

LoopbackClient& LoopbackClient::operator=(LoopbackClient&& other) noexcept {
  if (this != &other) {
    Reset();
    std::swap(fd_, other.fd_);
    std::swap(ssl_, other.ssl_);
    std::swap(closed_, other.closed_);
    std::swap(io_timeout_, other.io_timeout_);
  }
  return *this;
}

LoopbackClient::~LoopbackClient() { Reset(); }

void LoopbackClient::Reset() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
  ssl_ = nullptr;
  fd_ = -1;
}

absl::Status LoopbackClient::SendRaw(absl::string_view bytes) {
  absl::Time deadline = absl::Now() + io_timeout_;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!PollUntil(fd_, POLLOUT, deadline)) return absl::DeadlineExceededError("send: timed out");
    } else {
      return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status LoopbackClient::StartTls(const std::shared_ptr<SSL_CTX>& ctx,
                                      const std::string& host) {
  if (!ctx) return absl::FailedPreconditionError("no client TLS context (ClientTlsContext failed)");
  ssl_ = SSL_new(ctx.get());
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, host.c_str());
  SSL_set1_host(ssl_, host.c_str());
  int r = Drive(ssl_, fd_, absl::Now() + io_timeout_, [&] { return SSL_connect(ssl_); });
  if (r != 1) {
    long verify = SSL_get_verify_result(ssl_);
    return absl::UnavailableError(absl::StrCat("TLS handshake failed (verify result ", verify,
                                               "): ", OpensslErrors()));
  }
  return absl::OkStatus();
}

absl::Status LoopbackClient::Write(absl::string_view bytes) {
  if (ssl_ == nullptr) return SendRaw(bytes);
  if (bytes.empty()) return absl::OkStatus();
  int r = Drive(ssl_, fd_, absl::Now() + io_timeout_, [&] {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
  });
  if (r <= 0) return absl::UnavailableError(absl::StrCat("TLS write: ", OpensslErrors()));
  return absl::OkStatus();
}

int LoopbackClient::ReadSome(std::string* out, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  char buf[16384];
  while (!closed_) {
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        out->append(buf, static_cast<size_t>(n));
        return n;
      }
      int err = SSL_get_error(ssl_, n);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) closed_ = true;
      ERR_clear_error();
    } else {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        out->append(buf, static_cast<size_t>(n));
        return static_cast<int>(n);
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed_ = true;
    }
    if (closed_) break;
    if (!PollUntil(fd_, POLLIN, deadline)) return -1;
  }
  return 0;
}

std::string LoopbackClient::ReadUntil(absl::string_view needle, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  std::string out;
  while (!absl::StrContains(out, needle)) {
    if (ReadSome(&out, deadline - absl::Now()) <= 0) break;
  }
  return out;
}

std::string LoopbackClient::ReadUntilClosed(absl::Duration timeout, bool* closed) {
  absl::Time deadline = absl::Now() + timeout;
  std::string out;
  while (ReadSome(&out, deadline - absl::Now()) > 0) {
  }
  if (closed != nullptr) *closed = closed_;
  return out;
}

bool LoopbackClient::WaitClosed(absl::Duration timeout) {
  bool closed = false;
  ReadUntilClosed(timeout, &closed);
  return closed;
}

bool LoopbackClient::LooksOpen() {
  std::string discard;
  while (ReadSome(&discard, absl::ZeroDuration()) > 0) discard.clear();
  return !closed_;
}

}  // namespace edge::testing

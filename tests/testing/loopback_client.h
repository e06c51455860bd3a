// LoopbackClient: a TCP (then optionally TLS) client socket for tests of a server's connection
// handling: idle connections, half-sent ClientHellos, slow header senders, smuggling
// attempts. It connects from a chosen loopback source address (any 127.x.y.z works on
// Linux), so that a test can play several peers. Blocking, with bounded waits everywhere.
//
//   auto tls = ClientTlsContext(dir + "/ca.pem");
//   auto c = LoopbackClient::Connect(port, "127.0.0.2");
//   ASSERT_TRUE(c.ok() && c->StartTls(tls, "localhost").ok());
//   c->Write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
//   std::string reply = c->ReadUntilClosed(absl::Seconds(5));
//
// Not thread-safe: one thread per client (several clients may be used from several threads).
#ifndef TESTS_TESTING_LOOPBACK_CLIENT_H_
#define TESTS_TESTING_LOOPBACK_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace edge::testing {

// A client context that verifies the server against `ca_pem` (chain and, per connection,
// host name). Null if the file cannot be loaded.
std::shared_ptr<SSL_CTX> ClientTlsContext(const std::string& ca_pem);

// The first `n` bytes of a real TLS ClientHello, as OpenSSL's client writes it.
std::string ClientHelloPrefix(size_t n);

class LoopbackClient {
 public:
  // Connects to 127.0.0.1:`port` from `source`. Every later blocking call gives up after
  // `io_timeout`. Ignores SIGPIPE for the whole process (a server may close first).
  static absl::StatusOr<LoopbackClient> Connect(int port, const std::string& source = "127.0.0.1",
                                                absl::Duration io_timeout = absl::Seconds(10));
  LoopbackClient(LoopbackClient&&) noexcept;
  LoopbackClient& operator=(LoopbackClient&&) noexcept;
  ~LoopbackClient();

  // Raw bytes on the TCP connection (before, or instead of, TLS).
  absl::Status SendRaw(absl::string_view bytes);
  // A TLS handshake that verifies the server's chain and `host`.
  absl::Status StartTls(const std::shared_ptr<SSL_CTX>& ctx, const std::string& host);
  // Through TLS once started, else raw.
  absl::Status Write(absl::string_view bytes);
  // Reads until `needle` has arrived, the peer closes, or `timeout`; returns what arrived.
  std::string ReadUntil(absl::string_view needle, absl::Duration timeout);
  // Reads until the peer closes or `timeout`; *closed says which (if not null).
  std::string ReadUntilClosed(absl::Duration timeout, bool* closed = nullptr);
  // True once the peer has closed the connection (EOF or reset) within `timeout`; whatever
  // arrives before is discarded.
  bool WaitClosed(absl::Duration timeout);
  // False once the peer is known to have closed: a non-blocking look, no waiting.
  bool LooksOpen();

 private:
  explicit LoopbackClient(int fd) : fd_(fd) {}
  // Reads what is available within `timeout`: >0 bytes, 0 on close, -1 on timeout.
  int ReadSome(std::string* out, absl::Duration timeout);
  void Reset();

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool closed_ = false;
  absl::Duration io_timeout_ = absl::Seconds(10);
};

}  // namespace edge::testing

#endif  // TESTS_TESTING_LOOPBACK_CLIENT_H_

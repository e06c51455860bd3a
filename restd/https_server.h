// HttpsServer: restd's HTTP(S) listener on Boost.Beast. TLS contexts come from a callback
// (trustd's identity with its keyless key, rebuilt on rotation), so a new connection uses
// the identity current when it arrived and open ones keep theirs.
//
// Each stage of a connection has its own deadline (the option, and restd's config key):
//   accept -> TLS handshake done            handshake_timeout  (restd.handshake_timeout)
//   handshake done -> whole request header  header_timeout     (restd.header_timeout)
//   response written -> next request's first byte
//                                           keepalive_timeout  (restd.keepalive_timeout),
//                                           then header_timeout for the rest of the header
//   header -> whole body; writing a response read_timeout   (http_server.content_read_timeout)
// Deadlines, not idle timers: a peer that trickles one byte at a time gains nothing.
// Connections are admitted by a ConnectionTable (connection_table.h): only those past the
// handshake count toward max_clients; pending handshakes are bounded separately (oldest
// dropped first); one peer address holds at most max_connections_per_address. A request is
// refused with 400/501 and the connection closed when its framing is ambiguous
// (request_framing.h: RFC 9112 sections 6.1, 6.3), with 413 when its body is over the
// limit. Plain HTTP on the TLS port gets a one-line 400 telling to use https. Every refusal
// and drop is logged naming its limit, through a RefusalLog (refusal_log.h).
//
// The handler runs on a worker pool, never on an I/O thread, since it waits on trustd and
// edged. Thread-safe.
#ifndef RESTD_HTTPS_SERVER_H_
#define RESTD_HTTPS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "restd/rest_api.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace edge::restd {

class RestdMetrics;

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  bool tls = true;
  // The context for the next connection; null refuses connections (no identity yet).
  std::function<std::shared_ptr<SSL_CTX>()> tls_context;
  size_t max_clients = 15;                    // Past the handshake; http_server.max_clients
  size_t max_pending_handshakes = 64;         // restd.max_pending_handshakes
  size_t max_connections_per_address = 8;     // restd.max_connections_per_address
  absl::Duration handshake_timeout = absl::Seconds(10);  // restd.handshake_timeout
  absl::Duration header_timeout = absl::Seconds(20);     // restd.header_timeout
  absl::Duration read_timeout = absl::Seconds(20);       // http_server.content_read_timeout
  absl::Duration keepalive_timeout = absl::Seconds(60);  // restd.keepalive_timeout
  size_t body_limit = 1 << 20;
  int io_threads = 2;
  int workers = 8;
  // Threads TLS handshakes run on (their trustd calls block them, never an I/O thread;
  // services/tls/offloaded_handshake.h). restd: max_pending_handshakes / 8, 4 to 32.
  int handshake_threads = 8;
  // Handshakes and refusals are counted here when set; must outlive the server.
  RestdMetrics* metrics = nullptr;
};

class HttpsServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  // Also told the client's IP address ("192.0.2.7", "::1": the one the ConnectionTable
  // counts), and may hold its reply: the connection then waits on a timer before the
  // response is written (no thread waits, and it reads no further request meanwhile).
  using PeerHandler = std::function<Reply(const Request&, const std::string& peer_address)>;
  HttpsServer(HttpsServerOptions options, Handler handler);
  HttpsServer(HttpsServerOptions options, PeerHandler handler);
  ~HttpsServer();

  // Binds and starts serving; returns the bound port (useful with port 0).
  absl::StatusOr<int> Start();
  void Stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edge::restd

#endif  // RESTD_HTTPS_SERVER_H_

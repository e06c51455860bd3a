// WsConnection: one WebSocket connection to the platform, plain or over TLS, as
// PlatformSession uses it: connect, TLS handshake, the upgrade (with the two headers the
// vendor's client sends: shared/specs/alwayson-protocol.md, "Transport"), then binary
// messages both ways and pings. Every method is asynchronous and must be called on the
// connection's io_context thread; handlers run there.
#ifndef EDGED_WS_CONNECTION_H_
#define EDGED_WS_CONNECTION_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/status/status.h"
#include "services/tls/offloaded_handshake.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace edge::edged {

struct UpgradeRequest {
  std::string host;
  std::string app_key;             // The `appKey` header. Never logged.
  int64_t max_frame_size = 8192;   // The `Max-Frame-Size` header: message_chunk_size.
  std::chrono::milliseconds timeout{10000};
  bool deflate = true;
  size_t read_max = 1 << 20;       // The largest WebSocket message accepted.
};

// A tunnel through an HTTP proxy (EMS's `proxy` group) to the platform.
struct ProxyRoute {
  std::string proxy;      // "host:port" of the proxy, for messages.
  std::string authority;  // "host:port" of the platform, what CONNECT asks for.
  std::string user;       // Empty: no authentication offered.
  std::string password;   // Never logged.
};

class WsConnection {
 public:
  using StatusHandler = std::function<void(absl::Status)>;
  using Handler = std::function<void(boost::beast::error_code)>;
  // `http_status`: the status of the platform's answer to the upgrade (101 when it
  // succeeded; 0 when no answer was read).
  using UpgradeHandler = std::function<void(boost::beast::error_code, int http_status)>;
  using ReadHandler = std::function<void(boost::beast::error_code, std::string message)>;

  virtual ~WsConnection() = default;

  virtual void Connect(const boost::asio::ip::tcp::resolver::results_type& endpoints,
                       std::chrono::milliseconds timeout, Handler h) = 0;
  // Like Connect, to `proxy_endpoints`, then CONNECT to route.authority (RFC 9110 section
  // 9.3.6); a 407 is answered once with Basic or Digest credentials on a new connection.
  // The status names the proxy and what it answered.
  virtual void ConnectThroughProxy(const boost::asio::ip::tcp::resolver::results_type& proxy_endpoints,
                                   ProxyRoute route, std::chrono::milliseconds timeout,
                                   StatusHandler h) = 0;
  virtual SSL* ssl() = 0;  // Null for a plain connection.
  virtual void TlsHandshake(Handler h) = 0;
  virtual void Upgrade(const UpgradeRequest& request, UpgradeHandler h) = 0;
  // Queues `message`; written in order. A failed write closes the connection (the read
  // side reports it).
  virtual void Send(std::string message) = 0;
  // Reads messages until an error; `h` runs for each.
  virtual void ReadLoop(ReadHandler h) = 0;
  virtual void Ping() = 0;
  virtual void OnPong(std::function<void()> f) = 0;
  // "closed by the platform (1008 reason)" when the platform sent a close frame, else "".
  virtual std::string CloseReason() = 0;
  virtual void Close() = 0;
};

// A connection on `io`: TLS with `ctx` (the asio context takes a reference of its own) or,
// when `ctx` is null, plain TCP. The TLS handshake runs on `handshakes` (its trustd calls
// block a thread of that pool, never `io`'s), which must outlive the connection.
std::shared_ptr<WsConnection> NewWsConnection(boost::asio::io_context& io, SSL_CTX* ctx,
                                              tls::HandshakePool& handshakes);

}  // namespace edge::edged

#endif  // EDGED_WS_CONNECTION_H_

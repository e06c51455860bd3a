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

class WsConnection {
 public:
  using Handler = std::function<void(boost::beast::error_code)>;
  // `http_status`: the status of the platform's answer to the upgrade (101 when it
  // succeeded; 0 when no answer was read).
  using UpgradeHandler = std::function<void(boost::beast::error_code, int http_status)>;
  using ReadHandler = std::function<void(boost::beast::error_code, std::string message)>;

  virtual ~WsConnection() = default;

  virtual void Connect(const boost::asio::ip::tcp::resolver::results_type& endpoints,
                       std::chrono::milliseconds timeout, Handler h) = 0;
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
// when `ctx` is null, plain TCP.
std::shared_ptr<WsConnection> NewWsConnection(boost::asio::io_context& io, SSL_CTX* ctx);

}  // namespace edge::edged

#endif  // EDGED_WS_CONNECTION_H_

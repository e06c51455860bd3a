#include "edged/ws_connection.h"

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <optional>
#include <type_traits>
#include <vector>

#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "edged/http_proxy.h"
#include "services/common/log.h"

namespace edge::edged {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

template <class Next>
class Connection : public WsConnection, public std::enable_shared_from_this<Connection<Next>> {
 public:
  template <class... Args>
  explicit Connection(tls::HandshakePool& handshakes, std::unique_ptr<asio::ssl::context> ctx,
                      Args&&... args)
      : ctx_(std::move(ctx)), ws_(std::forward<Args>(args)...), handshake_(handshakes) {}

  void Connect(const tcp::resolver::results_type& endpoints, std::chrono::milliseconds timeout,
               Handler h) override {
    Lowest().expires_after(timeout);
    Lowest().async_connect(endpoints, [self = this->shared_from_this(), h = std::move(h)](
                                          beast::error_code ec, const tcp::endpoint&) {
      beast::error_code ignored;
      if (!ec) self->Lowest().socket().set_option(tcp::no_delay(true), ignored);
      h(ec);
    });
  }

  void ConnectThroughProxy(const tcp::resolver::results_type& proxy_endpoints, ProxyRoute route,
                           std::chrono::milliseconds timeout, StatusHandler h) override {
    auto state = std::make_shared<ProxyState>();
    state->endpoints = proxy_endpoints;
    state->route = std::move(route);
    state->timeout = timeout;
    state->done = std::move(h);
    ProxyAttempt(state, "");
  }

  SSL* ssl() override {
    if constexpr (std::is_same_v<Next, beast::tcp_stream>) {
      return nullptr;
    } else {
      return ws_.next_layer().native_handle();
    }
  }

  void TlsHandshake(Handler h) override {
    if constexpr (std::is_same_v<Next, beast::tcp_stream>) {
      h({});
    } else {
      // On the handshake pool: the platform certificate's ValidatePeer and a client
      // certificate's keyless Sign wait for trustd there, not on the session's thread.
      handshake_.Start(ws_.next_layer(), asio::ssl::stream_base::client, ws_.get_executor(),
                       [self = this->shared_from_this(), h = std::move(h)](
                           beast::error_code ec) { h(ec); });
    }
  }

  void Upgrade(const UpgradeRequest& request, UpgradeHandler h) override {
    Lowest().expires_never();
    ws_.set_option(
        websocket::stream_base::timeout{request.timeout, websocket::stream_base::none(), false});
    if (request.deflate) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    // A chunk is at most the peer's chunk size; whole messages are bounded by max_msg_size.
    // Beast applies the limit to the inflated size, so deflate cannot get past it either.
    ws_.read_message_max(request.read_max);
    ws_.set_option(websocket::stream_base::decorator(
        [key = request.app_key, frame = request.max_frame_size](websocket::request_type& req) {
          req.set(http::field::user_agent, "edged");
          req.set("appKey", key);
          req.set("Max-Frame-Size", std::to_string(frame));
        }));
    ws_.binary(true);
    ws_.async_handshake(response_, request.host, "/Thingworx/WS",
                        [self = this->shared_from_this(), h = std::move(h)](beast::error_code ec) {
                          h(ec, static_cast<int>(self->response_.result_int()));
                        });
  }

  void Send(std::string message) override {
    queue_.push_back(std::move(message));
    Flush();
  }

  void ReadLoop(ReadHandler h) override {
    ws_.async_read(buffer_, [self = this->shared_from_this(), h = std::move(h)](
                                beast::error_code ec, size_t) mutable {
      if (ec) {
        h(ec, std::string());
        return;
      }
      std::string bytes = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      h({}, std::move(bytes));
      if (!self->closed_) self->ReadLoop(std::move(h));
    });
  }

  void Ping() override { ws_.async_ping({}, [](beast::error_code) {}); }

  void OnPong(std::function<void()> f) override {
    ws_.control_callback([f = std::move(f)](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) f();
    });
  }

  std::string CloseReason() override {
    const websocket::close_reason& r = ws_.reason();
    if (r.code == websocket::close_code::none) return "";
    return absl::StrCat("closed by the platform (", static_cast<int>(r.code),
                        r.reason.empty() ? "" : " ", std::string(r.reason.data(), r.reason.size()),
                        ")");
  }

  void Close() override {
    closed_ = true;
    // Where the socket may be touched: on the handshake pool while a handshake runs there.
    handshake_.Close(ws_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ignored;
      self->Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->Lowest().socket().close(ignored);
    });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(ws_); }

  struct ProxyState {
    tcp::resolver::results_type endpoints;
    ProxyRoute route;
    std::chrono::milliseconds timeout{10000};
    StatusHandler done;
    std::string request;
    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::empty_body>> parser;
  };

  // One CONNECT on a new connection to the proxy, with `authorization` when not empty.
  void ProxyAttempt(std::shared_ptr<ProxyState> state, std::string authorization) {
    const std::string& proxy = state->route.proxy;
    Lowest().expires_after(state->timeout);
    Lowest().async_connect(state->endpoints, [self = this->shared_from_this(), state, authorization,
                                              proxy](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        state->done(absl::UnavailableError(absl::StrCat(
            "cannot connect to the proxy ", proxy, ": ",
            ec == beast::error::timeout ? "timed out (connect_timeout)" : ec.message())));
        return;
      }
      state->request = ConnectRequest(state->route.authority, authorization);
      asio::async_write(self->Lowest(), asio::buffer(state->request),
                        [self, state, authorization, proxy](beast::error_code ec, size_t) {
        if (ec) {
          state->done(absl::UnavailableError(absl::StrCat("proxy ", proxy, ": ", ec.message())));
          return;
        }
        state->buffer.clear();
        state->parser.emplace();
        state->parser->skip(true);  // A CONNECT answer has no body to read (RFC 9110 9.3.6).
        state->parser->header_limit(16 * 1024);
        http::async_read_header(self->Lowest(), state->buffer, *state->parser,
                                [self, state, authorization, proxy](beast::error_code ec, size_t) {
          self->OnProxyAnswer(state, authorization, ec);
        });
      });
    });
  }

  void OnProxyAnswer(std::shared_ptr<ProxyState> state, const std::string& authorization,
                     beast::error_code ec) {
    const ProxyRoute& route = state->route;
    if (ec) {
      state->done(absl::UnavailableError(absl::StrCat("the proxy ", route.proxy,
                                                      " did not answer CONNECT ", route.authority,
                                                      ": ", ec.message())));
      return;
    }
    const auto& res = state->parser->get();
    unsigned code = res.result_int();
    if (code / 100 == 2) {
      Lowest().expires_never();
      if (state->buffer.size() > 0) {
        state->done(absl::UnavailableError(absl::StrCat(
            "the proxy ", route.proxy, " sent bytes of its own after opening the tunnel")));
        return;
      }
      state->done(absl::OkStatus());
      return;
    }
    std::string reason = LogSafe(std::string(res.reason().data(), res.reason().size()), 64);
    if (code == 407 && !route.user.empty() && authorization.empty()) {
      std::vector<std::string> challenges;
      for (const auto& field : res) {
        if (field.name() == http::field::proxy_authenticate && challenges.size() < 16) {
          challenges.emplace_back(field.value().data(), std::min<size_t>(field.value().size(), 4096));
        }
      }
      unsigned char random[16];
      RAND_bytes(random, sizeof(random));
      absl::StatusOr<std::string> answer = ProxyAuthorization(
          ParseChallenges(challenges), route.user, route.password, "CONNECT", route.authority,
          absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random))));
      if (!answer.ok()) {
        state->done(absl::PermissionDeniedError(
            absl::StrCat("the proxy ", route.proxy, ": ", answer.status().message())));
        return;
      }
      // The proxy may close after a 407: the credentials go on a new connection.
      beast::error_code ignored;
      Lowest().socket().close(ignored);
      ProxyAttempt(state, *answer);
      return;
    }
    if (code == 407) {
      state->done(absl::PermissionDeniedError(
          route.user.empty()
              ? absl::StrCat("the proxy ", route.proxy,
                             " asks for authentication (407): set proxy.user and proxy.password")
              : absl::StrCat("the proxy ", route.proxy, " refused the credentials of proxy.user \"",
                             LogSafe(route.user, 64), "\" (407 ", reason, ")")));
      return;
    }
    state->done(absl::UnavailableError(absl::StrCat("the proxy ", route.proxy, " answered CONNECT ",
                                                    route.authority, " with ", code, " ", reason)));
  }

  void Flush() {
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->Close();  // The read side reports it.
                        return;
                      }
                      self->queue_.pop_front();
                      self->Flush();
                    });
  }

  std::unique_ptr<asio::ssl::context> ctx_;  // Outlives the stream that uses it.
  websocket::stream<Next> ws_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closed_ = false;
  tls::OffloadedHandshake handshake_;
};

}  // namespace

std::shared_ptr<WsConnection> NewWsConnection(asio::io_context& io, SSL_CTX* ctx,
                                              tls::HandshakePool& handshakes) {
  if (ctx == nullptr) {
    return std::make_shared<Connection<beast::tcp_stream>>(handshakes, nullptr, io);
  }
  SSL_CTX_up_ref(ctx);  // The asio context takes this reference.
  auto asio_ctx = std::make_unique<asio::ssl::context>(ctx);
  auto* raw = asio_ctx.get();
  return std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(
      handshakes, std::move(asio_ctx), io, *raw);
}

}  // namespace edge::edged

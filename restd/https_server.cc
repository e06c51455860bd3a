#include "restd/https_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace edge::restd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

Response Plain(http::status status, unsigned version, const std::string& message) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = absl::StrCat("{\"error\": \"", message, "\"}");
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace

class HttpsServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(HttpsServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)),
        io_(std::make_unique<asio::io_context>()), workers_(static_cast<size_t>(options_.workers)) {
    acceptor_.emplace(*io_);
  }

  absl::StatusOr<int> Start() {
    beast::error_code ec;
    tcp::resolver resolver(*io_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "http_server.host: cannot resolve \"", options_.host, "\": ", ec.message()));
    }
    tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("http_server: cannot listen on ", options_.host,
                                                 ":", options_.port, ": ", ec.message()));
    }
    Accept();
    for (int i = 0; i < options_.io_threads; ++i) {
      threads_.emplace_back([self = shared_from_this()] { self->io_->run(); });
    }
    return static_cast<int>(acceptor_->local_endpoint().port());
  }

  // Stops the I/O threads and the workers, then destroys the I/O context: the handlers it
  // still holds (and the sessions they keep alive) go with it.
  void Stop() {
    if (!io_) return;
    io_->stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    workers_.join();
    acceptor_.reset();
    io_.reset();
  }

 private:
  template <class Stream>
  class Session;

  void Accept() {
    acceptor_->async_accept(asio::make_strand(*io_), [self = shared_from_this()](
                                                       beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != asio::error::operation_aborted) self->Accept();
        return;
      }
      if (self->active_ >= self->options_.max_clients) {
        if (!self->warned_full_.exchange(true)) {
          LogWarning(absl::StrCat("refusing connections: http_server.max_clients (",
                                  self->options_.max_clients, ") are open"));
        }
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        self->warned_full_ = false;
        self->StartSession(std::move(socket));
      }
      self->Accept();
    });
  }

  void StartSession(tcp::socket socket);

  HttpsServerOptions options_;
  Handler handler_;
  std::atomic<size_t> active_{0};
  std::atomic<bool> warned_full_{false};
  std::unique_ptr<asio::io_context> io_;
  std::optional<tcp::acceptor> acceptor_;
  asio::thread_pool workers_;
  std::vector<std::thread> threads_;
};

// One client connection: (TLS handshake), then requests one after another.
template <class Stream>
class HttpsServer::Impl::Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<Impl> server, std::unique_ptr<asio::ssl::context> ctx, Stream stream)
      : server_(std::move(server)), ctx_(std::move(ctx)), stream_(std::move(stream)) {
    ++server_->active_;
  }
  ~Session() { --server_->active_; }

  void Run() {
    auto self = this->shared_from_this();
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      ReadRequest();
    } else {
      beast::get_lowest_layer(stream_).expires_after(Chrono(server_->options_.read_timeout));
      stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return;  // Scanners, plain-HTTP clients, refused client certificates.
        self->ReadRequest();
      });
    }
  }

 private:
  void ReadRequest() {
    auto self = this->shared_from_this();
    parser_.emplace();
    parser_->body_limit(server_->options_.body_limit);
    // The first byte of a later request may take the keep-alive time; then the whole
    // request must arrive within content_read_timeout.
    beast::get_lowest_layer(stream_).expires_after(
        Chrono(first_ ? server_->options_.read_timeout : server_->options_.keepalive_timeout));
    http::async_read_header(stream_, buffer_, *parser_, [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec);
      beast::get_lowest_layer(self->stream_).expires_after(
          Chrono(self->server_->options_.read_timeout));
      // Refuse an announced oversized body before it is sent.
      auto length = self->parser_->content_length();
      if (length && *length > self->server_->options_.body_limit) {
        return self->Fail(http::error::body_limit);
      }
      const auto& header = self->parser_->get();
      auto expect = header.find(http::field::expect);
      if (expect != header.end() && beast::iequals(expect->value(), "100-continue")) {
        auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                       header.version());
        http::async_write(self->stream_, *cont, [self, cont](beast::error_code ec, size_t) {
          if (ec) return;
          self->ReadBody();
        });
        return;
      }
      self->ReadBody();
    });
  }

  void ReadBody() {
    auto self = this->shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec);
      self->first_ = false;
      self->Dispatch(self->parser_->release());
    });
  }

  void Fail(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Write(Plain(http::status::payload_too_large, 11,
                  absl::StrCat("request body over ", server_->options_.body_limit,
                               " bytes (restd.max_body_bytes)")));
    } else if (ec == http::error::header_limit || ec == http::error::bad_method ||
               ec == http::error::bad_target || ec == http::error::bad_version) {
      Write(Plain(http::status::bad_request, 11, "malformed HTTP request"));
    }
    // Timeouts and closed connections: nothing to answer.
  }

  void Dispatch(Request request) {
    auto self = this->shared_from_this();
    beast::get_lowest_layer(stream_).expires_never();
    auto req = std::make_shared<Request>(std::move(request));
    asio::post(server_->workers_, [self, req] {
      Response res = self->server_->handler_(*req);
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    });
  }

  void Write(Response res) {
    auto self = this->shared_from_this();
    auto owned = std::make_shared<Response>(std::move(res));
    beast::get_lowest_layer(stream_).expires_after(Chrono(server_->options_.read_timeout));
    http::async_write(stream_, *owned, [self, owned](beast::error_code ec, size_t) {
      if (ec) return;
      if (owned->keep_alive()) {
        self->ReadRequest();
      } else {
        self->Close();
      }
    });
  }

  void Close() {
    auto self = this->shared_from_this();
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self](beast::error_code) {});
    }
  }

  std::shared_ptr<Impl> server_;
  std::unique_ptr<asio::ssl::context> ctx_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool first_ = true;
};

void HttpsServer::Impl::StartSession(tcp::socket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // Small TLS records must not wait on ACKs.
  if (!options_.tls) {
    std::make_shared<Session<beast::tcp_stream>>(shared_from_this(), nullptr,
                                                 beast::tcp_stream(std::move(socket)))
        ->Run();
    return;
  }
  std::shared_ptr<SSL_CTX> native = options_.tls_context ? options_.tls_context() : nullptr;
  if (!native) {
    LogWarning("refusing a connection: no server identity from trustd yet");
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  SSL_CTX_up_ref(native.get());
  auto ctx = std::make_unique<asio::ssl::context>(native.get());
  auto* raw = ctx.get();
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  std::make_shared<Session<TlsStream>>(shared_from_this(), std::move(ctx),
                                       TlsStream(beast::tcp_stream(std::move(socket)), *raw))
      ->Run();
}

HttpsServer::HttpsServer(HttpsServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}
HttpsServer::~HttpsServer() { Stop(); }
absl::StatusOr<int> HttpsServer::Start() { return impl_->Start(); }
void HttpsServer::Stop() {
  if (impl_) impl_->Stop();
  impl_.reset();
}

}  // namespace edge::restd

#include "restd/https_server.h"

#include <openssl/ssl.h>

#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "restd/connection_table.h"
#include "restd/refusal_log.h"
#include "restd/request_framing.h"
#include "services/common/log.h"
#include "restd/restd_metrics.h"
#include "services/tls/offloaded_handshake.h"

namespace edge::restd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Limit = ConnectionTable::Limit;
using Severity = RefusalLog::Severity;

// The TLS close_notify exchange, and the lingering close after a plain-HTTP answer.
constexpr std::chrono::seconds kShutdownTimeout{2};
// What a TLS connection must start with: a handshake record (RFC 8446 section 5.1).
constexpr unsigned char kTlsHandshakeRecord = 0x16;
constexpr size_t kReadChunk = 4096;

std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

std::string Millis(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

Response Plain(http::status status, unsigned version, const std::string& message) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = absl::StrCat("{\"error\": \"", message, "\"}");
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// The stages a deadline can end, for the log.
enum class Deadline { kHandshake, kHeader, kBody, kKeepAlive };

}  // namespace

class HttpsServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(HttpsServerOptions options, PeerHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        table_({options_.max_clients, options_.max_pending_handshakes,
                options_.max_connections_per_address}),
        handshakers_(static_cast<size_t>(options_.handshake_threads)),
        io_(std::make_unique<asio::io_context>()),
        workers_(static_cast<size_t>(options_.workers)) {
    acceptor_.emplace(*io_);
    summary_timer_.emplace(*io_);
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
    SummarizeRefusals();
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
    handshakers_.Stop();  // Its handshakes wait in io_'s reactor: stop, do not wait.
    workers_.join();
    acceptor_.reset();
    summary_timer_.reset();
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
      self->StartSession(std::move(socket));
      self->Accept();
    });
  }

  // Repeats of a refusal are summed up once per window, so that the last ones of a flood
  // are reported even when nothing follows.
  void SummarizeRefusals() {
    summary_timer_->expires_after(Chrono(kRefusalLogWindow));
    summary_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->refusals_.EndWindow();
      self->SummarizeRefusals();
    });
  }

  void StartSession(tcp::socket socket);

  std::string LimitName(Limit limit) const {
    switch (limit) {
      case Limit::kMaxConnectionsPerAddress:
        return absl::StrCat("restd.max_connections_per_address (",
                            options_.max_connections_per_address, ")");
      case Limit::kMaxPendingHandshakes:
        return absl::StrCat("restd.max_pending_handshakes (", options_.max_pending_handshakes,
                            ")");
      case Limit::kMaxClients:
        return absl::StrCat("http_server.max_clients (", options_.max_clients, ")");
    }
    return "";
  }

  // Closes and logs what the table dropped to make room.
  void CloseDropped(const std::vector<ConnectionTable::Dropped>& dropped) {
    for (const ConnectionTable::Dropped& d : dropped) {
      if (d.connection) d.connection->CloseNow();
      if (options_.metrics) options_.metrics->Refused(LimitLabel(d.limit));
      std::string limit = LimitName(d.limit);
      std::string what;
      switch (d.limit) {
        case Limit::kMaxConnectionsPerAddress:
          what = "the oldest idle connection from " + d.address + ", to make room for a new one";
          break;
        case Limit::kMaxPendingHandshakes:
          what = "the oldest pending TLS handshake (from " + d.address + ")";
          break;
        case Limit::kMaxClients:
          what = "the connection waiting longest for a request (from " + d.address +
                 "), to make room for a new client";
          break;
      }
      refusals_.Note(limit, d.address, absl::StrCat("closed ", what, ": ", limit, " reached"));
    }
  }

  static const char* LimitLabel(Limit limit) {
    switch (limit) {
      case Limit::kMaxConnectionsPerAddress: return "max_connections_per_address";
      case Limit::kMaxPendingHandshakes: return "max_pending_handshakes";
      case Limit::kMaxClients: return "max_clients";
    }
    return "other";
  }

  void NoteRefused(Limit limit, const std::string& address) {
    if (options_.metrics) options_.metrics->Refused(LimitLabel(limit));
    std::string name = LimitName(limit);
    refusals_.Note(name, address,
                   limit == Limit::kMaxClients
                       ? absl::StrCat("refused a client from ", address, " with 503: ", name,
                                      " reached and every other client is in the middle of a "
                                      "request")
                       : absl::StrCat("refused a connection from ", address, ": ", name,
                                      " reached and each of them is in the middle of a request"));
  }

  void NoteDeadline(Deadline d, const std::string& address) {
    std::string limit, line;
    Severity severity = Severity::kWarning;
    switch (d) {
      case Deadline::kHandshake:
        limit = absl::StrCat("restd.handshake_timeout (", Millis(options_.handshake_timeout), ")");
        line = absl::StrCat("closed the connection from ", address,
                            ": no TLS handshake done within ", limit);
        break;
      case Deadline::kHeader:
        limit = absl::StrCat("restd.header_timeout (", Millis(options_.header_timeout), ")");
        line = absl::StrCat("closed the connection from ", address,
                            ": no complete request header within ", limit);
        break;
      case Deadline::kBody:
        limit = absl::StrCat("http_server.content_read_timeout (", Millis(options_.read_timeout),
                             ")");
        line = absl::StrCat("closed the connection from ", address,
                            ": request body or response not through within ", limit);
        break;
      case Deadline::kKeepAlive:
        limit = absl::StrCat("restd.keepalive_timeout (", Millis(options_.keepalive_timeout), ")");
        line = absl::StrCat("closed the idle keep-alive connection from ", address, " after ",
                            limit);
        severity = Severity::kInfo;  // Routine: clients are expected to reconnect.
        break;
    }
    if (options_.metrics && d != Deadline::kKeepAlive) {
      options_.metrics->Refused(d == Deadline::kHandshake ? "handshake_timeout"
                                : d == Deadline::kHeader  ? "header_timeout"
                                                          : "body_timeout");
    }
    refusals_.Note(limit, address, line, severity);
  }

  HttpsServerOptions options_;
  PeerHandler handler_;
  ConnectionTable table_;
  RefusalLog refusals_;
  // Before io_: the handlers io_ holds track work of the pool, so it must outlive them.
  tls::HandshakePool handshakers_;
  std::unique_ptr<asio::io_context> io_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> summary_timer_;
  asio::thread_pool workers_;
  std::vector<std::thread> threads_;
};

// One client connection: (first byte check, TLS handshake), then requests one after
// another. Every step runs on the connection's strand; every handler returns on error.
template <class Stream>
class HttpsServer::Impl::Session : public ConnectionTable::Closable,
                                   public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(std::shared_ptr<Impl> server, ConnectionTable::Id id, std::string address,
          std::unique_ptr<asio::ssl::context> ctx, Stream stream)
      : server_(std::move(server)), id_(id), address_(std::move(address)),
        ctx_(std::move(ctx)), stream_(std::move(stream)), handshake_(server_->handshakers_) {}
  ~Session() override { server_->table_.Close(id_); }

  void Run() {
    if (!server_->table_.Attach(id_, this->weak_from_this())) return;  // Dropped already.
    if constexpr (kTls) {
      // One deadline for the first byte and the whole handshake.
      Lowest().expires_after(Chrono(server_->options_.handshake_timeout));
      DoDetectTls();
    } else {
      AdmitClient();
    }
  }

  // The table dropped this connection to make room: close it on its own strand.
  void CloseNow() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      // Where the stream may be touched: on the handshake pool while a handshake runs there.
      self->handshake_.Close(self->stream_.get_executor(), [self] {
        self->Lowest().close();  // Cancels its timer too; pending operations end aborted.
      });
    });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Before the handshake: a TLS client's first byte starts a handshake record; anything else
  // (plain HTTP above all) gets an answer it can read instead of a failed handshake.
  void DoDetectTls() {
    Lowest().async_read_some(
        buffer_.prepare(kReadChunk),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          self->OnDetectTls(ec, n);
        });
  }

  void OnDetectTls(beast::error_code ec, size_t n) {
    if (server_->options_.metrics) server_->options_.metrics->Handshake(!ec);
    if (ec) return EndedBy(ec, Deadline::kHandshake);
    buffer_.commit(n);
    auto* first = static_cast<const unsigned char*>(buffer_.data().data());
    if (*first != kTlsHandshakeRecord) return DoReadPlainRequest();
    DoHandshake();
  }

  void DoHandshake() {
    if constexpr (kTls) {
      // On the handshake pool: its trustd calls (the keyless Sign, a client certificate's
      // ValidatePeer) must not hold an I/O thread.
      handshake_.Start(stream_, asio::ssl::stream_base::server, buffer_.data(),
                       stream_.get_executor(),
                       [self = this->shared_from_this()](beast::error_code ec, size_t used) {
                         self->OnHandshake(ec, used);
                       });
    }
  }

  void OnHandshake(beast::error_code ec, size_t used) {
    // Scanners and refused client certificates end here too: nothing to log.
    if (ec) return EndedBy(ec, Deadline::kHandshake);
    // The bytes read before the handshake all precede the client's Finished, so the engine
    // takes them all; any left would be ciphertext, never to be read as a request.
    if (used != buffer_.size()) return;
    buffer_.consume(used);
    AdmitClient();
  }

  // Past the handshake: a client now, if max_clients allows.
  void AdmitClient() {
    ConnectionTable::Outcome o = server_->table_.HandshakeDone(id_);
    server_->CloseDropped(o.dropped);
    if (o.verdict == ConnectionTable::Verdict::kGone) return;
    if (o.verdict == ConnectionTable::Verdict::kRefused) {
      server_->NoteRefused(o.limit, address_);
      Response res = Plain(http::status::service_unavailable, 11,
                           absl::StrCat(server_->LimitName(o.limit),
                                        " reached: every client is in the middle of a request; "
                                        "retry"));
      res.set(http::field::retry_after, "1");
      return Write(std::move(res));
    }
    DoReadHeader();
  }

  // Between keep-alive requests: the first byte may take the keep-alive time.
  void DoAwaitRequest() {
    if (buffer_.size() > 0) return DoReadHeader();  // Pipelined: already here.
    Lowest().expires_after(Chrono(server_->options_.keepalive_timeout));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->EndedBy(ec, Deadline::kKeepAlive);
                              self->buffer_.commit(n);
                              self->DoReadHeader();
                            });
  }

  void DoReadHeader() {
    parser_.emplace();
    parser_->body_limit(server_->options_.body_limit);
    Lowest().expires_after(Chrono(server_->options_.header_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Fail(ec, Deadline::kHeader);
    if (!server_->table_.RequestStarted(id_)) return;  // Dropped meanwhile to make room.
    const auto& header = parser_->get();
    if (absl::Status framing = CheckRequestFraming(header); !framing.ok()) {
      return RefuseFraming(framing);
    }
    Lowest().expires_after(Chrono(server_->options_.read_timeout));
    // Refuse an announced oversized body before it is sent.
    auto length = parser_->content_length();
    if (length && *length > server_->options_.body_limit) {
      return Fail(http::error::body_limit, Deadline::kBody);
    }
    auto expect = header.find(http::field::expect);
    if (expect != header.end() && beast::iequals(expect->value(), "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     header.version());
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return;
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Fail(ec, Deadline::kBody);
                       self->Dispatch(self->parser_->release());
                     });
  }

  // A request whose length cannot be trusted: answered, then the connection is closed
  // without reading another byte, so that nothing after it runs as a second request.
  void RefuseFraming(const absl::Status& framing) {
    std::string coding = TransferEncodingValue(parser_->get());
    server_->refusals_.Note(
        "request framing (RFC 9112)", address_,
        absl::StrCat("refused a request from ", address_, " with ",
                     static_cast<int>(HttpStatusForFraming(framing)), ": ", framing.message(),
                     coding.empty() ? "" : absl::StrCat("; Transfer-Encoding \"",
                                                        EscapeForLog(coding), "\"")));
    Write(Plain(HttpStatusForFraming(framing), 11, std::string(framing.message())));
  }

  void Fail(beast::error_code ec, Deadline stage) {
    if (ec == beast::error::timeout) return server_->NoteDeadline(stage, address_);
    if (absl::Status framing = FramingErrorFromParser(ec); !framing.ok()) {
      return RefuseFraming(framing);
    }
    if (ec == http::error::body_limit) {
      Write(Plain(http::status::payload_too_large, 11,
                  absl::StrCat("request body over ", server_->options_.body_limit,
                               " bytes (restd.max_body_bytes)")));
    } else if (ec == http::error::header_limit || ec == http::error::bad_method ||
               ec == http::error::bad_target || ec == http::error::bad_version ||
               ec == http::error::bad_field || ec == http::error::bad_value ||
               ec == http::error::bad_line_ending || ec == http::error::bad_obs_fold) {
      Write(Plain(http::status::bad_request, 11, "malformed HTTP request"));
    }
    // Closed connections, or dropped to make room: nothing to answer.
  }

  // A stage ended without a request: a deadline (logged), or the peer went away.
  void EndedBy(beast::error_code ec, Deadline stage) {
    if (ec == beast::error::timeout) server_->NoteDeadline(stage, address_);
  }

  void Dispatch(Request request) {
    auto self = this->shared_from_this();
    Lowest().expires_never();
    auto req = std::make_shared<Request>(std::move(request));
    asio::post(server_->workers_, [self, req] {
      Reply reply = self->server_->handler_(*req, self->address_);
      asio::post(self->stream_.get_executor(), [self, reply = std::move(reply)]() mutable {
        self->WriteAfter(reply.hold, std::move(reply.response));
      });
    });
  }

  // Writes `res` once `hold` has passed, on a timer of this connection's strand.
  void WriteAfter(absl::Duration hold, Response res) {
    if (hold <= absl::ZeroDuration()) return Write(std::move(res));
    auto self = this->shared_from_this();
    auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(), Chrono(hold));
    auto owned = std::make_shared<Response>(std::move(res));
    timer->async_wait([self, timer, owned](beast::error_code ec) {
      if (ec) return;
      self->Write(std::move(*owned));
    });
  }

  void Write(Response res) {
    auto owned = std::make_shared<Response>(std::move(res));
    Lowest().expires_after(Chrono(server_->options_.read_timeout));
    http::async_write(stream_, *owned, [self = this->shared_from_this(), owned](
                                           beast::error_code ec, size_t) {
      if (ec) return self->EndedBy(ec, Deadline::kBody);
      if (!owned->keep_alive()) return self->Close();
      if (!self->server_->table_.RequestFinished(self->id_)) return;
      self->DoAwaitRequest();
    });
  }

  void Close() {
    if constexpr (kTls) {
      Lowest().expires_after(kShutdownTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  // Plain HTTP on the TLS port: read its header (within what is left of the handshake
  // deadline), answer in plain HTTP, close.
  void DoReadPlainRequest() {
    plain_parser_.emplace();
    http::async_read_header(Lowest(), buffer_, *plain_parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->OnPlainRequest(ec);
                            });
  }

  void OnPlainRequest(beast::error_code ec) {
    if (ec == beast::error::timeout) return server_->NoteDeadline(Deadline::kHandshake, address_);
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
    // A parse error too gets the answer: whatever this is, it is not TLS.
    beast::error_code ignored;
    tcp::endpoint local = Lowest().socket().local_endpoint(ignored);
    std::string host = local.address().is_v6() ? absl::StrCat("[", local.address().to_string(), "]")
                                               : local.address().to_string();
    std::string url = absl::StrCat("https://", host, ":", local.port(), "/");
    server_->refusals_.Note("plain HTTP on the HTTPS port", address_,
                            absl::StrCat("answered plain HTTP from ", address_,
                                         " on the HTTPS port with 400 (use ", url, ")"));
    auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, 11);
    res->set(http::field::content_type, "text/plain");
    res->body() = absl::StrCat("this port speaks HTTPS: use ", url, "\n");
    res->keep_alive(false);
    res->prepare_payload();
    http::async_write(Lowest(), *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return;
                        beast::error_code ignored;
                        self->Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->Lowest().expires_after(kShutdownTimeout);
                        self->DrainThenClose();
                      });
  }

  // A lingering close: what the peer still sends is read and dropped until it closes (or
  // kShutdownTimeout), so that closing with unread data does not reset the connection
  // before the peer has read the answer.
  void DrainThenClose() {
    buffer_.clear();
    Lowest().async_read_some(buffer_.prepare(kReadChunk),
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return;
                               self->DrainThenClose();
                             });
  }

  std::shared_ptr<Impl> server_;
  const ConnectionTable::Id id_;
  const std::string address_;
  std::unique_ptr<asio::ssl::context> ctx_;
  Stream stream_;
  tls::OffloadedHandshake handshake_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::empty_body>> plain_parser_;
};

void HttpsServer::Impl::StartSession(tcp::socket socket) {
  beast::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;  // Gone already.
  std::string address = peer.address().to_string();
  std::shared_ptr<SSL_CTX> native;
  if (options_.tls) {
    native = options_.tls_context ? options_.tls_context() : nullptr;
    if (!native) {
      refusals_.Note("no server identity", address,
                     absl::StrCat("refused a connection from ", address,
                                  ": no server identity from trustd yet"));
      return;  // The socket closes with it.
    }
  }
  ConnectionTable::Outcome admitted = table_.Open(address);
  CloseDropped(admitted.dropped);
  if (admitted.verdict != ConnectionTable::Verdict::kAdmitted) {
    NoteRefused(admitted.limit, address);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);  // Small TLS records must not wait on ACKs.
  if (!options_.tls) {
    std::make_shared<Session<beast::tcp_stream>>(shared_from_this(), admitted.id,
                                                 std::move(address), nullptr,
                                                 beast::tcp_stream(std::move(socket)))
        ->Run();
    return;
  }
  SSL_CTX_up_ref(native.get());
  auto ctx = std::make_unique<asio::ssl::context>(native.get());
  auto* raw = ctx.get();
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  std::make_shared<Session<TlsStream>>(shared_from_this(), admitted.id, std::move(address),
                                       std::move(ctx),
                                       TlsStream(beast::tcp_stream(std::move(socket)), *raw))
      ->Run();
}

HttpsServer::HttpsServer(HttpsServerOptions options, Handler handler)
    : HttpsServer(std::move(options),
                  PeerHandler([handler = std::move(handler)](const Request& r, const std::string&) {
                    return Reply{handler(r)};
                  })) {}
HttpsServer::HttpsServer(HttpsServerOptions options, PeerHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}
HttpsServer::~HttpsServer() { Stop(); }
absl::StatusOr<int> HttpsServer::Start() { return impl_->Start(); }
void HttpsServer::Stop() {
  if (impl_) impl_->Stop();
  impl_.reset();
}

}  // namespace edge::restd

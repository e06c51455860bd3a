#include "edged/platform_session.h"

#include <openssl/ssl.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "services/alwayson/chunking.h"
#include "services/common/log.h"

namespace edge::edged {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using alwayson::Code;
using alwayson::Message;

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

// Refused chunks logged one by one per msg_timeout window (one line per request id); the
// rest are summed up in one line when the window ends.
constexpr size_t kMaxLoggedChunkRefusals = 64;

// One WebSocket connection, plain or over TLS.
class Conn {
 public:
  using WriteHandler = std::function<void(beast::error_code)>;
  using ReadHandler = std::function<void(beast::error_code, size_t)>;
  virtual ~Conn() = default;
  virtual tcp::socket& socket() = 0;
  virtual beast::tcp_stream& lowest() = 0;
  virtual SSL* ssl() = 0;  // Null for a plain connection.
  virtual void TlsHandshake(WriteHandler h) = 0;
  // Handshake timeout, permessage-deflate, and the largest message accepted.
  virtual void Configure(std::chrono::milliseconds handshake_timeout, bool deflate,
                         size_t read_max) = 0;
  virtual void WsHandshake(const std::string& host, WriteHandler h) = 0;
  virtual void Write(const std::string& data, WriteHandler h) = 0;
  virtual void Read(ReadHandler h) = 0;
  virtual void Ping(WriteHandler h) = 0;
  virtual void OnControl(std::function<void(websocket::frame_type)> f) = 0;
  virtual std::string CloseReason() = 0;

  beast::flat_buffer buffer;
  std::deque<std::string> queue;
  bool writing = false;
};

template <class Next>
class ConnT : public Conn {
 public:
  template <class... Args>
  explicit ConnT(std::unique_ptr<asio::ssl::context> ctx, Args&&... args)
      : ctx_(std::move(ctx)), ws_(std::forward<Args>(args)...) {}

  tcp::socket& socket() override { return beast::get_lowest_layer(ws_).socket(); }
  beast::tcp_stream& lowest() override { return beast::get_lowest_layer(ws_); }
  SSL* ssl() override {
    if constexpr (std::is_same_v<Next, beast::tcp_stream>) {
      return nullptr;
    } else {
      return ws_.next_layer().native_handle();
    }
  }
  void TlsHandshake(WriteHandler h) override {
    if constexpr (std::is_same_v<Next, beast::tcp_stream>) {
      h({});
    } else {
      ws_.next_layer().async_handshake(asio::ssl::stream_base::client, std::move(h));
    }
  }
  void Configure(std::chrono::milliseconds handshake_timeout, bool deflate,
                 size_t read_max) override {
    ws_.set_option(websocket::stream_base::timeout{handshake_timeout,
                                                   websocket::stream_base::none(), false});
    if (deflate) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    ws_.read_message_max(read_max);
  }
  void WsHandshake(const std::string& host, WriteHandler h) override {
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "edged");
    }));
    ws_.binary(true);
    ws_.async_handshake(host, "/Thingworx/WS", std::move(h));
  }
  void Write(const std::string& data, WriteHandler h) override {
    ws_.async_write(asio::buffer(data), [h = std::move(h)](beast::error_code ec, size_t) {
      h(ec);
    });
  }
  void Read(ReadHandler h) override { ws_.async_read(buffer, std::move(h)); }
  void Ping(WriteHandler h) override { ws_.async_ping({}, std::move(h)); }
  void OnControl(std::function<void(websocket::frame_type)> f) override {
    ws_.control_callback(
        [f = std::move(f)](websocket::frame_type kind, beast::string_view) { f(kind); });
  }
  std::string CloseReason() override {
    const websocket::close_reason& r = ws_.reason();
    if (r.code == websocket::close_code::none) return "";
    return absl::StrCat("closed by the platform (", static_cast<int>(r.code),
                        r.reason.empty() ? "" : " ", std::string(r.reason.data(), r.reason.size()), ")");
  }

 private:
  std::unique_ptr<asio::ssl::context> ctx_;  // Outlives the stream that uses it.
  websocket::stream<Next> ws_;
};

}  // namespace

absl::string_view StateName(SessionStatus::State state) {
  switch (state) {
    case SessionStatus::State::kDisconnected: return "DISCONNECTED";
    case SessionStatus::State::kConnecting: return "CONNECTING";
    case SessionStatus::State::kConnected: return "CONNECTED";
  }
  return "?";
}

class PlatformSession::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(SessionOptions options, SessionCallbacks callbacks)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        work_(asio::make_work_guard(io_)),
        resolver_(io_),
        retry_timer_(io_),
        tick_timer_(io_),
        reassembler_(NewReassembler()) {
    if (!options_.jitter) {
      options_.jitter = [rng = std::make_shared<std::mt19937_64>(std::random_device{}())] {
        return std::uniform_real_distribution<double>(0, 1)(*rng);
      };
    }
  }

  void Start() {
    thread_ = std::thread([self = shared_from_this()] { self->io_.run(); });
    Post([self = shared_from_this()] {
      self->Tick();
      self->Connect();
    });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    Post([self = shared_from_this()] {
      self->stopping_ = true;
      self->Drop("edged is stopping", /*reconnect=*/false);
      self->resolver_.cancel();
      self->retry_timer_.cancel();
      self->tick_timer_.cancel();
      self->work_.reset();  // run() returns once the cancelled handlers have run.
    });
    thread_.join();
    {
      absl::MutexLock lock(&post_mu_);
      stopped_ = true;
    }
    // What was posted before `stopped_` was set runs now: a late Call still gets its answer
    // (kUnavailable), and no handler is left holding this object.
    io_.restart();
    io_.poll();
  }

  // Runs `fn` on the I/O thread; false (and `fn` dropped) once the session has stopped.
  template <class Fn>
  bool Post(Fn&& fn) {
    absl::MutexLock lock(&post_mu_);
    if (stopped_) return false;
    asio::post(io_, std::forward<Fn>(fn));
    return true;
  }

  void Call(Code method, alwayson::RequestBody body, Done done) {
    auto shared_done = std::make_shared<Done>(std::move(done));
    bool posted = Post([self = shared_from_this(), method, body = std::move(body),
                        shared_done]() mutable {
      Done done = std::move(*shared_done);
      if (!self->online_) {
        done(absl::UnavailableError(self->OfflineReason()));
        return;
      }
      uint32_t id = self->NextId();
      self->Send(Message::Request(method, id, self->session_id_, std::move(body)), std::move(done));
    });
    if (!posted) (*shared_done)(absl::UnavailableError("edged is stopping"));
  }

  void Respond(uint32_t request_id, Code status, alwayson::ResponseBody body) {
    Post([self = shared_from_this(), request_id, status, body = std::move(body)] {
      if (!self->conn_ || !self->authenticated_) return;  // That session is gone.
      self->Send(Message::Response(status, request_id, self->session_id_, body), nullptr);
    });
  }

  void Bind(std::vector<std::string> names, bool unbind) {
    Post([self = shared_from_this(), names = std::move(names), unbind] {
      if (self->online_) self->SendBind(names, unbind, nullptr);
    });
  }

  bool online() const {
    absl::MutexLock lock(&mu_);
    return status_.state == SessionStatus::State::kConnected;
  }

  SessionStatus status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  struct Pending {
    Done done;
    Clock::time_point deadline;
  };

  uint32_t NextId() {
    if (++next_id_ == 0) next_id_ = 1;
    return next_id_;
  }

  const config::WsServer& server() const {
    return options_.servers[server_index_ % options_.servers.size()];
  }
  std::string ServerName() const { return absl::StrCat(server().host, ":", server().port); }

  std::string OfflineReason() const {
    return absl::StrCat("not connected to the platform",
                        last_error_.empty() ? "" : absl::StrCat(" (", last_error_, ")"));
  }

  void SetState(SessionStatus::State state) {
    absl::MutexLock lock(&mu_);
    status_.state = state;
    status_.server = ServerName();
    if (state != SessionStatus::State::kConnected) status_.bound.clear();
  }

  // --- Connecting -------------------------------------------------------------------------

  void Connect() {
    if (stopping_) return;
    if (options_.servers.empty()) {
      Drop("no ws_servers configured", /*reconnect=*/false);
      return;
    }
    uint64_t gen = ++gen_;
    SetState(SessionStatus::State::kConnecting);
    LogInfo(absl::StrCat("connecting to ", ServerName(), options_.tls ? "" : " (no TLS)"));
    resolver_.async_resolve(
        server().host, std::to_string(server().port),
        [self = shared_from_this(), gen](beast::error_code ec, tcp::resolver::results_type r) {
          if (gen != self->gen_) return;
          if (ec) {
            self->Drop(absl::StrCat("cannot resolve ", self->server().host, ": ", ec.message()));
            return;
          }
          self->OnResolved(gen, r);
        });
  }

  void OnResolved(uint64_t gen, const tcp::resolver::results_type& results) {
    std::shared_ptr<Conn> conn;
    if (options_.tls) {
      std::shared_ptr<SSL_CTX> native = options_.tls_context ? options_.tls_context() : nullptr;
      if (!native) {
        Drop("no TLS context: trustd has not provided the platform client identity yet");
        return;
      }
      SSL_CTX_up_ref(native.get());  // The asio context takes this reference.
      auto ctx = std::make_unique<asio::ssl::context>(native.get());
      auto* raw = ctx.get();
      conn = std::make_shared<ConnT<beast::ssl_stream<beast::tcp_stream>>>(std::move(ctx), io_,
                                                                          *raw);
      tls::ExpectServer(conn->ssl(), server().host);
    } else {
      conn = std::make_shared<ConnT<beast::tcp_stream>>(nullptr, io_);
    }
    conn_ = conn;
    conn->lowest().expires_after(Ms(options_.ws.connect_timeout));
    conn->lowest().async_connect(results, [self = shared_from_this(), gen, conn](
                                           beast::error_code ec, const tcp::endpoint&) {
      if (gen != self->gen_) return;
      if (ec) {
        self->Drop(absl::StrCat("cannot connect to ", self->ServerName(), ": ",
                                ec == beast::error::timeout ? "timed out (connect_timeout)"
                                                            : ec.message()));
        return;
      }
      beast::error_code ignored;
      conn->socket().set_option(tcp::no_delay(true), ignored);
      conn->TlsHandshake([self, gen, conn](beast::error_code ec) {
        if (gen != self->gen_) return;
        if (ec) {
          self->Drop(self->TlsFailure(conn.get(), ec));
          return;
        }
        self->UpgradeToWebSocket(gen, conn);
      });
    });
  }

  std::string TlsFailure(Conn* conn, beast::error_code ec) {
    if (conn->ssl() != nullptr) {
      std::optional<trust::Decision> d = tls::LastDecision(conn->ssl());
      if (d && !d->allowed) return absl::StrCat("platform certificate refused: ", d->Summary());
    }
    return absl::StrCat("TLS handshake with ", ServerName(), " failed: ",
                        ec == beast::error::timeout ? "timed out (connect_timeout)"
                                                    : ec.message());
  }

  void UpgradeToWebSocket(uint64_t gen, std::shared_ptr<Conn> conn) {
    conn->lowest().expires_never();
    // A chunk is at most the peer's chunk size; whole messages are bounded by max_msg_size.
    // Beast applies the limit to the inflated size, so deflate cannot get past it either.
    conn->Configure(Ms(options_.ws.connect_timeout), options_.ws.compression,
                    static_cast<size_t>(options_.ws.max_msg_size) + 64);
    conn->OnControl([self = shared_from_this(), gen](websocket::frame_type kind) {
      if (gen == self->gen_ && kind == websocket::frame_type::pong) self->awaiting_pong_ = false;
    });
    conn->WsHandshake(server().host, [self = shared_from_this(), gen, conn](beast::error_code ec) {
      if (gen != self->gen_) return;
      if (ec) {
        self->Drop(absl::StrCat("WebSocket upgrade at ", self->ServerName(),
                                "/Thingworx/WS failed: ", ec.message()));
        return;
      }
      LogInfo(absl::StrCat("connected to ", self->ServerName()));
      self->ReadLoop(gen, conn);
      self->Authenticate();
    });
  }

  void Authenticate() {
    absl::StatusOr<std::string> key = options_.app_key();
    if (!key.ok()) {
      Drop(absl::StrCat("cannot get the appKey from trustd: ", key.status().message()));
      return;
    }
    session_id_ = alwayson::kNoSession;
    Send(Message::Auth(NextId(), *key), [self = shared_from_this(), gen = gen_](
                                             absl::StatusOr<Message> answer) {
      if (gen != self->gen_ || !answer.ok()) return;  // Lost: Drop has said why.
      if (answer->header.code != Code::kSuccess) {
        LogError(absl::StrCat("authentication refused: check appKey (the platform answered ",
                              alwayson::CodeName(static_cast<uint8_t>(answer->header.code))
                                  .value_or("?"),
                              ")"));
        self->Drop("authentication refused: check appKey");
        return;
      }
      self->session_id_ = answer->header.session_id;
      self->authenticated_ = true;
      LogInfo(absl::StrCat("authenticated; session ", self->session_id_));
      std::vector<std::string> things = self->callbacks_.things ? self->callbacks_.things()
                                                                : std::vector<std::string>{};
      if (things.empty()) {
        self->GoOnline({});
        return;
      }
      self->SendBind(things, false, [self, gen](std::vector<std::string> bound) {
        if (gen == self->gen_) self->GoOnline(bound);
      });
    });
  }

  // Binds (or unbinds) `names` in as many messages as max_msg_size needs; `then` gets the
  // names whose message the platform confirmed, once every message is answered.
  void SendBind(const std::vector<std::string>& names, bool unbind,
                std::function<void(std::vector<std::string>)> then) {
    std::vector<std::vector<std::string>> groups =
        alwayson::SplitBindNames(names, static_cast<size_t>(options_.ws.max_msg_size));
    if (groups.empty()) {
      if (then) then({});
      return;
    }
    struct Outcome {
      size_t waiting;
      std::vector<std::string> confirmed;
    };
    auto outcome = std::make_shared<Outcome>(Outcome{groups.size(), {}});
    for (std::vector<std::string>& group : groups) {
      SendBindMessage(group, unbind, [outcome, then, group](bool ok) {
        if (ok) outcome->confirmed.insert(outcome->confirmed.end(), group.begin(), group.end());
        if (--outcome->waiting == 0 && then) then(std::move(outcome->confirmed));
      });
    }
  }

  void SendBindMessage(const std::vector<std::string>& names, bool unbind,
                       std::function<void(bool)> then) {
    Send(Message::Bind(NextId(), session_id_, names, unbind),
         [self = shared_from_this(), names, unbind, then](absl::StatusOr<Message> answer) {
           bool ok = answer.ok() && answer->header.code == Code::kSuccess;
           std::string what = absl::StrCat(unbind ? "unbind" : "bind", " of ",
                                            absl::StrJoin(names, ", "));
           if (ok) {
             LogInfo(absl::StrCat(unbind ? "unbound " : "bound ", names.size(), " Thing",
                                  names.size() == 1 ? "" : "s", ": ", absl::StrJoin(names, ", ")));
             absl::MutexLock lock(&self->mu_);
             auto& bound = self->status_.bound;
             for (const std::string& n : names) {
               auto it = std::find(bound.begin(), bound.end(), n);
               if (unbind && it != bound.end()) bound.erase(it);
               if (!unbind && it == bound.end()) bound.push_back(n);
             }
           } else if (answer.ok()) {
             auto* body = std::get_if<alwayson::ResponseBody>(&answer->body);
             LogError(absl::StrCat(
                 "platform refused the ", what, ": ",
                 alwayson::CodeName(static_cast<uint8_t>(answer->header.code)).value_or("?"),
                 body && body->reason ? absl::StrCat(" (", *body->reason, ")") : ""));
           } else {
             LogWarning(absl::StrCat(what, " not confirmed: ", answer.status().message()));
           }
           if (then) then(ok);
         });
  }

  void GoOnline(const std::vector<std::string>& bound) {
    online_ = true;
    attempts_ = 0;
    online_since_ = Clock::now();
    next_ping_ = Clock::now() + Ms(options_.ws.ping_rate);
    {
      absl::MutexLock lock(&mu_);
      status_.state = SessionStatus::State::kConnected;
      status_.bound = bound;
      status_.last_error.clear();
    }
    last_error_.clear();
    if (callbacks_.on_online) callbacks_.on_online();
  }

  // --- Reading and writing ----------------------------------------------------------------

  void ReadLoop(uint64_t gen, std::shared_ptr<Conn> conn) {
    conn->Read([self = shared_from_this(), gen, conn](beast::error_code ec, size_t) {
      if (gen != self->gen_) return;
      if (ec) {
        std::string closed = conn->CloseReason();
        self->Drop(absl::StrCat("connection to ", self->ServerName(), " lost: ",
                                closed.empty() ? ec.message() : closed));
        return;
      }
      std::string bytes = beast::buffers_to_string(conn->buffer.data());
      conn->buffer.consume(conn->buffer.size());
      if (absl::Status s = self->OnBytes(bytes); !s.ok()) {
        self->Drop(absl::StrCat("protocol error from ", self->ServerName(), ": ", s.message()));
        return;
      }
      if (gen == self->gen_) self->ReadLoop(gen, conn);
    });
  }

  absl::Status OnBytes(const std::string& bytes) {
    std::string whole;
    if (bytes.size() >= alwayson::kHeaderSize && bytes[14] == 1) {
      absl::StatusOr<std::optional<std::string>> done =
          reassembler_.Add(bytes, absl::Now());
      if (!done.ok()) {
        // Costs that message only: the connection, other messages and calls go on.
        LogRefusedChunk(bytes, done.status());
        return absl::OkStatus();
      }
      if (!done->has_value()) return absl::OkStatus();
      whole = std::move(**done);
    } else {
      whole = bytes;
    }
    absl::StatusOr<Message> message =
        alwayson::DecodeMessage(whole, alwayson::Limits{static_cast<size_t>(options_.ws.max_msg_size)});
    if (!message.ok()) return message.status();
    Code code = message->header.code;
    if (alwayson::IsResponse(code)) {
      auto it = pending_.find(message->header.request_id);
      if (it == pending_.end()) return absl::OkStatus();  // Late: its caller has timed out.
      Done done = std::move(it->second.done);
      pending_.erase(it);
      if (done) done(std::move(*message));
      return absl::OkStatus();
    }
    if (code == Code::kGet || code == Code::kPut || code == Code::kPost ||
        code == Code::kDelete) {
      if (callbacks_.on_request) {
        callbacks_.on_request(*message);
      } else {
        Send(Message::Response(Code::kNotImplemented, message->header.request_id, session_id_),
             nullptr);
      }
    }
    return absl::OkStatus();  // KEEP_ALIVE and anything else a platform may send: ignored.
  }

  // Chunks: whole messages of at most ws_connection.max_msg_size; what partial messages may
  // hold together is the Reassembler's default bound (a few times max_msg_size).
  alwayson::Reassembler NewReassembler() const {
    return alwayson::Reassembler(
        alwayson::Limits{static_cast<size_t>(options_.ws.max_msg_size)});
  }

  // The first refusal per request id is logged; a flood of chunks is not a flood of lines.
  void LogRefusedChunk(const std::string& chunk, const absl::Status& why) {
    uint32_t id = (static_cast<uint32_t>(static_cast<uint8_t>(chunk[2])) << 24) |
                  (static_cast<uint32_t>(static_cast<uint8_t>(chunk[3])) << 16) |
                  (static_cast<uint32_t>(static_cast<uint8_t>(chunk[4])) << 8) |
                  static_cast<uint32_t>(static_cast<uint8_t>(chunk[5]));
    if (refused_chunk_ids_.count(id) > 0) return;
    if (refused_chunk_ids_.size() >= kMaxLoggedChunkRefusals) {
      ++unlogged_chunk_refusals_;
      return;
    }
    refused_chunk_ids_.insert(id);
    LogWarning(absl::StrCat("chunk from ", ServerName(), " refused, its message dropped (",
                            "later refusals for this request id are not logged): ",
                            why.message()));
  }

  void Send(const Message& message, Done done) {
    absl::StatusOr<std::string> encoded = alwayson::EncodeMessage(message);
    absl::StatusOr<std::vector<std::string>> chunks =
        encoded.ok() ? alwayson::SplitIntoChunks(*encoded,
                                                 static_cast<size_t>(options_.ws.message_chunk_size),
                                                 options_.ws.compression)
                     : absl::StatusOr<std::vector<std::string>>(encoded.status());
    if (chunks.ok() && encoded->size() > static_cast<size_t>(options_.ws.max_msg_size)) {
      chunks = absl::InvalidArgumentError(absl::StrCat(
          "message of ", encoded->size(), " bytes exceeds ws_connection.max_msg_size (",
          options_.ws.max_msg_size, ")"));
    }
    if (!chunks.ok()) {
      if (done) done(chunks.status());
      return;
    }
    if (!conn_) {
      if (done) done(absl::UnavailableError(OfflineReason()));
      return;
    }
    if (done) {
      pending_[message.header.request_id] =
          Pending{std::move(done), Clock::now() + Ms(options_.ws.msg_timeout)};
    }
    for (std::string& c : *chunks) conn_->queue.push_back(std::move(c));
    Flush(gen_, conn_);
  }

  void Flush(uint64_t gen, std::shared_ptr<Conn> conn) {
    if (conn->writing || conn->queue.empty()) return;
    conn->writing = true;
    conn->Write(conn->queue.front(), [self = shared_from_this(), gen, conn](beast::error_code ec) {
      conn->writing = false;
      if (gen != self->gen_) return;
      if (ec) {
        self->Drop(absl::StrCat("cannot send to ", self->ServerName(), ": ", ec.message()));
        return;
      }
      conn->queue.pop_front();
      self->Flush(gen, conn);
    });
  }

  // --- Failure and the clock ---------------------------------------------------------------

  // Ends the current connection (if any): every request waiting for an answer fails, in the
  // order sent; then, unless stopping, a reconnection is scheduled.
  void Drop(const std::string& reason, bool reconnect = true,
            std::optional<std::chrono::milliseconds> delay = std::nullopt) {
    ++gen_;
    bool was_online = online_;
    online_ = false;
    authenticated_ = false;
    if (conn_) {
      beast::error_code ignored;
      conn_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      conn_->socket().close(ignored);
      conn_.reset();
    }
    last_error_ = reason;
    // Chunks of the old connection never complete on the next one.
    reassembler_ = NewReassembler();
    refused_chunk_ids_.clear();
    {
      absl::MutexLock lock(&mu_);
      status_.state = SessionStatus::State::kDisconnected;
      status_.bound.clear();
      status_.last_error = reason;
      if (was_online) ++status_.reconnects;
    }
    if (!stopping_) (delay ? LogInfo(reason) : LogWarning(reason));
    std::map<uint32_t, Pending> failed;
    failed.swap(pending_);
    for (auto& [id, p] : failed) {
      if (p.done) p.done(absl::UnavailableError(absl::StrCat("connection to the platform lost: ", reason)));
    }
    if (was_online && callbacks_.on_offline) callbacks_.on_offline();
    if (!reconnect || stopping_) return;
    std::chrono::milliseconds wait;
    if (delay) {
      wait = *delay;
    } else {
      ++attempts_;
      if (options_.ws.connect_retries >= 0 && attempts_ > options_.ws.connect_retries) {
        LogError(absl::StrCat("giving up after ", attempts_ - 1,
                              " failed attempts (ws_connection.connect_retries)"));
        return;
      }
      ++server_index_;  // Fall over to the next server.
      wait = Ms(options_.ws.connect_retry_interval) +
             Ms(static_cast<int64_t>(options_.jitter() * options_.ws.max_connect_delay));
    }
    retry_timer_.expires_after(wait);
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Connect();
    });
  }

  void Tick() {
    Clock::time_point now = Clock::now();
    // Requests without an answer in time.
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        Done done = std::move(it->second.done);
        it = pending_.erase(it);
        if (done) {
          done(absl::DeadlineExceededError(absl::StrCat(
              "no answer from the platform within ws_connection.msg_timeout (",
              options_.ws.msg_timeout, " ms)")));
        }
      } else {
        ++it;
      }
    }
    reassembler_.ExpireOlderThan(absl::Now() - absl::Milliseconds(options_.ws.msg_timeout));
    if (now >= refusal_window_end_) {
      if (unlogged_chunk_refusals_ > 0) {
        LogWarning(absl::StrCat(unlogged_chunk_refusals_, " more chunks of other requests from ",
                                ServerName(), " refused and not logged one by one"));
      }
      unlogged_chunk_refusals_ = 0;
      refused_chunk_ids_.clear();
      refusal_window_end_ = now + Ms(options_.ws.msg_timeout);
    }
    if (online_ && conn_) {
      if (awaiting_pong_ && now >= pong_deadline_) {
        Drop(absl::StrCat("no pong from ", ServerName(), " within ws_connection.pingpong_timeout (",
                          options_.ws.pingpong_timeout, " ms)"));
      } else if (!awaiting_pong_ && now >= next_ping_) {
        awaiting_pong_ = true;
        pong_deadline_ = now + Ms(options_.ws.pingpong_timeout);
        next_ping_ = now + Ms(options_.ws.ping_rate);
        conn_->Ping([](beast::error_code) {});  // A failed write shows up on the read side.
      }
    }
    const config::DutyCycle& duty = options_.duty;
    if (online_ && duty.connect_period > 0 && duty.duty_cycle < 100) {
      int64_t on_ms = duty.connect_period * duty.duty_cycle / 100;
      if (now - online_since_ >= Ms(on_ms)) {
        Drop(absl::StrCat("duty cycle: offline for ", duty.connect_period - on_ms, " ms"), true,
             Ms(duty.connect_period - on_ms));
      }
    }
    if (stopping_) return;
    tick_timer_.expires_after(std::chrono::milliseconds(50));
    tick_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Tick();
    });
  }

  SessionOptions options_;
  SessionCallbacks callbacks_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::resolver resolver_;
  asio::steady_timer retry_timer_;
  asio::steady_timer tick_timer_;
  std::thread thread_;

  // I/O thread only.
  uint64_t gen_ = 0;  // Bumped by every connection attempt and drop; stale handlers see it.
  std::shared_ptr<Conn> conn_;
  alwayson::Reassembler reassembler_;
  std::set<uint32_t> refused_chunk_ids_;  // Logged in this window; see LogRefusedChunk.
  uint64_t unlogged_chunk_refusals_ = 0;
  Clock::time_point refusal_window_end_;
  std::map<uint32_t, Pending> pending_;
  uint32_t next_id_ = 0;
  uint32_t session_id_ = alwayson::kNoSession;
  bool authenticated_ = false;
  bool online_ = false;
  bool stopping_ = false;
  bool awaiting_pong_ = false;
  Clock::time_point next_ping_, pong_deadline_, online_since_;
  size_t server_index_ = 0;
  int64_t attempts_ = 0;
  std::string last_error_;

  mutable absl::Mutex mu_;
  SessionStatus status_ ABSL_GUARDED_BY(mu_);
  absl::Mutex post_mu_;
  bool stopped_ ABSL_GUARDED_BY(post_mu_) = false;
};

PlatformSession::PlatformSession(SessionOptions options, SessionCallbacks callbacks)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(callbacks))) {}
PlatformSession::~PlatformSession() { Stop(); }
void PlatformSession::Start() { impl_->Start(); }
void PlatformSession::Stop() { impl_->Stop(); }
void PlatformSession::Call(Code method, alwayson::RequestBody body, Done done) {
  impl_->Call(method, std::move(body), std::move(done));
}
void PlatformSession::Respond(uint32_t request_id, Code status, alwayson::ResponseBody body) {
  impl_->Respond(request_id, status, std::move(body));
}
void PlatformSession::Bind(std::vector<std::string> names) { impl_->Bind(std::move(names), false); }
void PlatformSession::Unbind(std::vector<std::string> names) {
  impl_->Bind(std::move(names), true);
}
bool PlatformSession::online() const { return impl_->online(); }
SessionStatus PlatformSession::status() const { return impl_->status(); }

}  // namespace edge::edged

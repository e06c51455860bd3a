#include "edged/platform_session.h"

#include <openssl/ssl.h>

#include <random>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "edged/edged_metrics.h"
#include "edged/reconnect_policy.h"
#include "edged/request_tracker.h"
#include "edged/ws_connection.h"
#include "services/alwayson/chunking.h"
#include "services/alwayson/message_summary.h"
#include "services/common/log.h"

namespace edge::edged {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using alwayson::Code;
using alwayson::Message;

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

// Refused chunks logged one by one per msg_timeout window (one line per request id); the
// rest are summed up in one line when the window ends.
constexpr size_t kMaxLoggedChunkRefusals = 64;

const char* KindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kAuth: return "AUTH";
    case RequestKind::kBind: return "BIND";
    case RequestKind::kCall: return "request";
  }
  return "request";
}

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
        tick_timer_(io_),
        reassembler_(NewReassembler()),
        policy_(ReconnectOptions{Ms(options_.ws.connect_retry_interval),
                                 Ms(options_.ws.max_connect_delay),
                                 options_.max_reconnect_delay},
                options_.jitter ? options_.jitter : RandomJitter()) {}

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
      self->tick_timer_.cancel();
      self->work_.reset();  // run() returns once the cancelled handlers have run.
    });
    thread_.join();
    // A preparation still asking trustd ends on its own; what it posts is dropped below.
    prepare_.join();
    handshakes_.Stop();
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
      uint32_t id = self->tracker_.NextId();
      self->Send(Message::Request(method, id, self->session_id_, std::move(body)),
                 RequestKind::kCall, std::move(done));
    });
    if (!posted) (*shared_done)(absl::UnavailableError("edged is stopping"));
  }

  void Respond(uint32_t request_id, Code status, alwayson::ResponseBody body) {
    Post([self = shared_from_this(), request_id, status, body = std::move(body)] {
      if (!self->conn_ || !self->authenticated_) return;  // That session is gone.
      self->Send(Message::Response(status, request_id, self->session_id_, body),
                 RequestKind::kCall, nullptr);
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
  // What a connection needs from trustd, asked off the I/O thread.
  struct Prepared {
    absl::StatusOr<std::string> app_key;
    std::shared_ptr<SSL_CTX> tls;
    absl::StatusOr<std::string> proxy_password;
  };

  Clock::time_point Now() const { return options_.now ? options_.now() : Clock::now(); }
  // The same instant for what measures time in absl (the chunk reassembler, which only
  // compares instants).
  absl::Time AbslNow() const {
    return absl::UnixEpoch() + absl::FromChrono(Now().time_since_epoch());
  }

  bool proxied() const { return !options_.proxy.host.empty(); }
  std::string ProxyName() const {
    return absl::StrCat(options_.proxy.host, ":", options_.proxy.port);
  }

  static std::function<double()> RandomJitter() {
    return [rng = std::make_shared<std::mt19937_64>(std::random_device{}())] {
      return std::uniform_real_distribution<double>(0, 1)(*rng);
    };
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
    if (options_.metrics) options_.metrics->SetState(StateName(state));
    status_.server = ServerName();
    if (state != SessionStatus::State::kConnected) status_.bound.clear();
  }

  // --- Connecting -------------------------------------------------------------------------
  // Connect -> (off the I/O thread: the app key and the TLS context) -> resolve -> TCP ->
  // TLS (trustd judges the platform's chain) -> WebSocket upgrade -> AUTH -> BIND -> online.
  // Every step that fails, and every AUTH or BIND not answered within msg_timeout, ends in
  // Drop, which schedules the next attempt by the ReconnectPolicy.

  void Connect() {
    if (stopping_) return;
    if (options_.servers.empty()) {
      Drop("no ws_servers configured", /*reconnect=*/false);
      return;
    }
    uint64_t gen = ++gen_;
    SetState(SessionStatus::State::kConnecting);
    std::string what = absl::StrCat("connecting to ", ServerName(), options_.tls ? "" : " (no TLS)",
                                    proxied() ? absl::StrCat(" through the proxy ", ProxyName()) : "");
    policy_.failures() == 0 ? LogInfo(what) : LogDebug(what);
    // trustd's answers (RevealSecret, and whatever the TLS context needs) may be slow: they
    // are asked on a thread of their own, never on the I/O thread.
    asio::post(prepare_, [self = shared_from_this(), gen] {
      auto prepared = std::make_shared<Prepared>();
      prepared->app_key = self->options_.app_key
                              ? self->options_.app_key()
                              : absl::StatusOr<std::string>(absl::FailedPreconditionError("no app key source"));
      if (self->options_.tls && self->options_.tls_context) prepared->tls = self->options_.tls_context();
      prepared->proxy_password = std::string();
      if (self->proxied() && !self->options_.proxy.user.empty() && self->options_.proxy_password) {
        prepared->proxy_password = self->options_.proxy_password();
      }
      self->Post([self, gen, prepared] {
        if (gen == self->gen_) self->Resolve(gen, std::move(*prepared));
      });
    });
  }

  void Resolve(uint64_t gen, Prepared prepared) {
    if (!prepared.app_key.ok()) {
      const absl::Status& s = prepared.app_key.status();
      Drop(absl::StrCat(s.code() == absl::StatusCode::kUnavailable ||
                                s.code() == absl::StatusCode::kDeadlineExceeded
                            ? "trustd unreachable: cannot get the appKey ("
                            : "cannot get the appKey from trustd (",
                        s.message(), ")"));
      return;
    }
    if (options_.tls && !prepared.tls) {
      Drop("no TLS context: trustd has not provided the platform client identity yet");
      return;
    }
    if (!prepared.proxy_password.ok()) {
      Drop(absl::StrCat("cannot get proxy.password from trustd (",
                        prepared.proxy_password.status().message(), ")"));
      return;
    }
    auto state = std::make_shared<Prepared>(std::move(prepared));
    // Through a proxy, the proxy's name is resolved here and the platform's by the proxy.
    std::string host = proxied() ? options_.proxy.host : server().host;
    std::string port = std::to_string(proxied() ? options_.proxy.port : server().port);
    resolver_.async_resolve(
        host, port,
        [self = shared_from_this(), gen, state, host](beast::error_code ec,
                                                      tcp::resolver::results_type r) {
          if (gen != self->gen_) return;
          if (ec) {
            self->Drop(absl::StrCat("cannot resolve ", host, self->proxied() ? " (proxy.host)" : "",
                                    ": ", ec.message()));
            return;
          }
          self->OnResolved(gen, r, state);
        });
  }

  void OnResolved(uint64_t gen, const tcp::resolver::results_type& results,
                  std::shared_ptr<Prepared> prepared) {
    SSL_CTX* ctx = options_.tls ? prepared->tls.get() : nullptr;
    std::shared_ptr<WsConnection> conn = options_.new_connection
                                             ? options_.new_connection(io_, ctx, handshakes_)
                                             : NewWsConnection(io_, ctx, handshakes_);
    if (conn->ssl() != nullptr) tls::ExpectServer(conn->ssl(), server().host);
    conn_ = conn;
    if (proxied()) {
      ProxyRoute route{ProxyName(), ServerName(), options_.proxy.user, *prepared->proxy_password};
      conn->ConnectThroughProxy(results, std::move(route), Ms(options_.ws.connect_timeout),
                                [self = shared_from_this(), gen, conn, prepared](absl::Status s) {
        if (gen != self->gen_) return;
        if (!s.ok()) {
          self->Drop(absl::StrCat("cannot reach ", self->ServerName(), ": ", s.message()));
          return;
        }
        self->OnConnected(gen, conn, prepared);
      });
      return;
    }
    conn->Connect(results, Ms(options_.ws.connect_timeout),
                  [self = shared_from_this(), gen, conn, prepared](beast::error_code ec) {
      if (gen != self->gen_) return;
      if (ec) {
        self->Drop(absl::StrCat("cannot connect to ", self->ServerName(), ": ",
                                ec == beast::error::timeout ? "timed out (connect_timeout)"
                                                            : ec.message()));
        return;
      }
      self->OnConnected(gen, conn, prepared);
    });
  }

  // TCP to the platform (or a tunnel to it) is open: TLS, then the upgrade.
  void OnConnected(uint64_t gen, std::shared_ptr<WsConnection> conn,
                   std::shared_ptr<Prepared> prepared) {
    conn->TlsHandshake([self = shared_from_this(), gen, conn, prepared](beast::error_code ec) {
      if (gen != self->gen_) return;
      if (ec) {
        self->Drop(self->TlsFailure(conn.get(), ec));
        return;
      }
      self->UpgradeToWebSocket(gen, conn, prepared->app_key.value());
    });
  }

  std::string TlsFailure(WsConnection* conn, beast::error_code ec) {
    if (conn->ssl() != nullptr) {
      std::optional<trust::Decision> d = tls::LastDecision(conn->ssl());
      if (d && !d->allowed && d->reason == trust::Reason::kTrustdUnavailable) {
        return absl::StrCat("trustd unreachable: platform certificate of ", ServerName(),
                            " not judged (", d->detail, ")");
      }
      if (d && !d->allowed) return absl::StrCat("platform certificate refused: ", d->Summary());
    }
    return absl::StrCat("TLS handshake with ", ServerName(), " failed: ",
                        ec == beast::error::timeout ? "timed out (connect_timeout)"
                                                    : ec.message());
  }

  void UpgradeToWebSocket(uint64_t gen, std::shared_ptr<WsConnection> conn,
                          const std::string& app_key) {
    conn->OnPong([self = shared_from_this(), gen] {
      if (gen == self->gen_) self->awaiting_pong_ = false;
    });
    UpgradeRequest upgrade;
    upgrade.host = server().host;
    upgrade.app_key = app_key;
    upgrade.max_frame_size = options_.ws.message_chunk_size;
    upgrade.timeout = Ms(options_.ws.connect_timeout);
    upgrade.deflate = options_.ws.compression;
    upgrade.read_max = static_cast<size_t>(options_.ws.max_msg_size) + 64;
    conn->Upgrade(upgrade, [self = shared_from_this(), gen, conn, app_key](beast::error_code ec,
                                                                         int http_status) {
      if (gen != self->gen_) return;
      if (ec) {
        if (http_status == 401 || http_status == 403) {
          // The platform authenticated the upgrade by its appKey header, and refused it.
          self->Drop(absl::StrCat("authentication refused: check appKey (", self->ServerName(),
                                  " answered the WebSocket upgrade with HTTP ", http_status, ")"));
          return;
        }
        self->Drop(absl::StrCat("WebSocket upgrade at ", self->ServerName(), "/Thingworx/WS failed: ",
                                http_status > 0 ? absl::StrCat("HTTP ", http_status, " (")
                                                : std::string(),
                                ec.message(), http_status > 0 ? ")" : ""));
        return;
      }
      LogInfo(absl::StrCat("connected to ", self->ServerName()));
      self->ReadLoop(gen, conn);
      self->Authenticate(app_key);
    });
  }

  void Authenticate(const std::string& app_key) {
    session_id_ = alwayson::kNoSession;
    Send(Message::Auth(tracker_.NextId(), app_key), RequestKind::kAuth,
         [self = shared_from_this(), gen = gen_](absl::StatusOr<Message> answer) {
           // Lost, or not answered in time: Drop has said why, and a new attempt is due.
           if (gen != self->gen_ || !answer.ok()) return;
           if (answer->header.code != Code::kSuccess) {
             self->Drop(absl::StrCat(
                 "authentication refused: check appKey (the platform answered ",
                 alwayson::CodeName(static_cast<uint8_t>(answer->header.code)).value_or("?"),
                 ")"));
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
  // names whose message the platform confirmed, once every message is answered. A BIND the
  // platform does not answer within msg_timeout drops the connection (Tick), and the next
  // connection binds everything again.
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
    Send(Message::Bind(tracker_.NextId(), session_id_, names, unbind), RequestKind::kBind,
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
                 body && body->reason ? absl::StrCat(" (", LogSafe(*body->reason, 1024), ")") : ""));
           } else {
             return;  // Lost or timed out: the connection is dropped and binds again.
           }
           if (then) then(ok);
         });
  }

  void GoOnline(const std::vector<std::string>& bound) {
    online_ = true;
    if (policy_.failures() > 0) {
      LogInfo(absl::StrCat("online again after ", policy_.failures(), " failed attempt",
                           policy_.failures() == 1 ? "" : "s"));
    }
    policy_.Reset();
    online_since_ = Now();
    next_ping_ = online_since_ + Ms(options_.ws.ping_rate);
    {
      absl::MutexLock lock(&mu_);
      status_.state = SessionStatus::State::kConnected;
      if (options_.metrics) options_.metrics->SetState(StateName(status_.state));
      status_.bound = bound;
      status_.last_error.clear();
    }
    last_error_.clear();
    if (callbacks_.on_online) callbacks_.on_online();
  }

  // --- Reading and writing ----------------------------------------------------------------

  void ReadLoop(uint64_t gen, std::shared_ptr<WsConnection> conn) {
    conn->ReadLoop([self = shared_from_this(), gen, conn](beast::error_code ec, std::string bytes) {
      if (gen != self->gen_) return;
      if (ec) {
        std::string closed = conn->CloseReason();
        self->Drop(absl::StrCat("connection to ", self->ServerName(), " lost: ",
                                closed.empty() ? ec.message() : closed));
        return;
      }
      if (absl::Status s = self->OnBytes(bytes); !s.ok()) {
        self->Drop(absl::StrCat("protocol error from ", self->ServerName(), ": ", s.message()));
      }
    });
  }

  absl::Status OnBytes(const std::string& bytes) {
    std::string whole;
    if (bytes.size() >= alwayson::kHeaderSize && bytes[14] == 1) {
      absl::StatusOr<std::optional<std::string>> done =
          reassembler_.Add(bytes, AbslNow());
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
    TraceMessage("received", *message, whole.size());
    if (options_.metrics) options_.metrics->Received(static_cast<uint8_t>(message->header.code));
    Code code = message->header.code;
    if (alwayson::IsResponse(code)) {
      // Unknown: late (its caller has timed out) or never sent.
      if (std::optional<Done> done = tracker_.Take(message->header.request_id); done && *done) {
        (*done)(std::move(*message));
      }
      return absl::OkStatus();
    }
    if (code == Code::kGet || code == Code::kPut || code == Code::kPost ||
        code == Code::kDelete) {
      if (callbacks_.on_request) {
        callbacks_.on_request(*message);
      } else {
        Send(Message::Response(Code::kNotImplemented, message->header.request_id, session_id_),
             RequestKind::kCall, nullptr);
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

  // Sends `message`; with `done`, waits for its answer as a request of `kind`.
  void Send(const Message& message, RequestKind kind, Done done) {
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
      Clock::time_point sent = Now();
      if (options_.metrics) {
        // Run by the tracker, which this object owns, on the I/O thread.
        done = [this, sent, done = std::move(done)](absl::StatusOr<Message> answer) {
          if (answer.ok()) {
            options_.metrics->RequestDuration(std::chrono::duration<double>(Now() - sent).count());
          }
          done(std::move(answer));
        };
      }
      tracker_.Add(message.header.request_id, kind, sent + Ms(options_.ws.msg_timeout),
                   std::move(done));
    }
    if (options_.metrics) options_.metrics->Sent(static_cast<uint8_t>(message.header.code));
    TraceMessage("sent", message, encoded->size(), chunks->size());
    for (std::string& c : *chunks) conn_->Send(std::move(c));
  }

  // ws_connection.verbose: each message at TRACE, as MessageSummary says it (never a value
  // or the app key).
  void TraceMessage(absl::string_view direction, const Message& message, size_t bytes,
                    size_t chunks = 1) const {
    if (!options_.ws.verbose || !LogEnabled(LogLevel::kTrace)) return;
    LogTrace(absl::StrCat(direction, " ", alwayson::MessageSummary(message), " (", bytes,
                          " bytes", chunks > 1 ? absl::StrCat(" in ", chunks, " chunks") : "",
                          direction == "sent" ? " to " : " from ", ServerName(), ")"));
  }

  // --- Failure and the clock ---------------------------------------------------------------

  // Ends the current connection (if any): every request waiting for an answer fails, in the
  // order sent; then, unless stopping, the next attempt is scheduled (Tick makes it): after
  // `delay` (the duty cycle's planned pause) or as the ReconnectPolicy says.
  void Drop(const std::string& reason, bool reconnect = true,
            std::optional<std::chrono::milliseconds> delay = std::nullopt) {
    ++gen_;
    next_attempt_.reset();
    bool was_online = online_;
    online_ = false;
    authenticated_ = false;
    awaiting_pong_ = false;
    if (conn_) {
      conn_->Close();
      conn_.reset();
    }
    last_error_ = reason;
    // Chunks of the old connection never complete on the next one.
    reassembler_ = NewReassembler();
    refused_chunk_ids_.clear();
    {
      absl::MutexLock lock(&mu_);
      status_.state = SessionStatus::State::kDisconnected;
      if (options_.metrics) options_.metrics->SetState(StateName(status_.state));
      status_.bound.clear();
      status_.last_error = reason;
      if (was_online) ++status_.reconnects;
    }
    std::chrono::milliseconds wait{0};
    if (!stopping_ && reconnect && options_.metrics) options_.metrics->Reconnect(reason);
    if (!stopping_ && reconnect) {
      if (delay) {
        wait = *delay;
        LogInfo(reason);
      } else {
        wait = policy_.Failed(Now(), reason);
        std::optional<std::string> warning = policy_.Warning();
        warning ? LogWarning(*warning)
                : LogDebug(absl::StrCat(reason, " (attempt ", policy_.failures(), ")"));
      }
    } else if (!stopping_) {
      LogWarning(reason);
    }
    for (RequestTracker::Expired& p : tracker_.TakeAll()) {
      if (p.done) {
        p.done(absl::UnavailableError(absl::StrCat("connection to the platform lost: ", reason)));
      }
    }
    if (was_online && callbacks_.on_offline) callbacks_.on_offline();
    if (!reconnect || stopping_) return;
    if (!delay) {
      if (options_.ws.connect_retries >= 0 && policy_.failures() > options_.ws.connect_retries) {
        LogError(absl::StrCat("giving up after ", policy_.failures(),
                              " failed attempts (ws_connection.connect_retries)"));
        return;
      }
      ++server_index_;  // Fall over to the next server.
      LogDebug(absl::StrCat("next attempt in ", wait.count(), " ms"));
    }
    next_attempt_ = Now() + wait;
  }

  // Every `tick`: deadlines, pings, the duty cycle and the next attempt, all by Now().
  void Tick() {
    Clock::time_point now = Now();
    // Requests without an answer in time. An AUTH or a BIND leaves the session in no
    // defined state: the connection is dropped (its other requests fail with it) and the
    // next one starts over; a call fails on its own.
    std::optional<std::string> drop;
    for (RequestTracker::Expired& e : tracker_.TakeExpired(now)) {
      std::string why = absl::StrCat("no answer to ", KindName(e.kind), " from ", ServerName(),
                                     " within ws_connection.msg_timeout (",
                                     options_.ws.msg_timeout, " ms)");
      if (e.kind != RequestKind::kCall && !drop) drop = why;
      if (e.done) e.done(absl::DeadlineExceededError(why));
    }
    if (drop) Drop(*drop);
    reassembler_.ExpireOlderThan(AbslNow() - absl::Milliseconds(options_.ws.msg_timeout));
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
        conn_->Ping();  // A failed write shows up on the read side.
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
    if (next_attempt_ && now >= *next_attempt_) {
      next_attempt_.reset();
      Connect();
    }
    tick_timer_.expires_after(options_.tick);
    tick_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Tick();
    });
  }

  SessionOptions options_;
  SessionCallbacks callbacks_;
  // Before io_: the handlers io_ holds track work of the pool, so it must outlive them.
  tls::HandshakePool handshakes_{1};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::resolver resolver_;
  asio::steady_timer tick_timer_;
  std::thread thread_;
  asio::thread_pool prepare_{1};  // Asks trustd before each connection; see Connect.

  // I/O thread only.
  uint64_t gen_ = 0;  // Bumped by every connection attempt and drop; stale handlers see it.
  std::shared_ptr<WsConnection> conn_;
  alwayson::Reassembler reassembler_;
  std::set<uint32_t> refused_chunk_ids_;  // Logged in this window; see LogRefusedChunk.
  uint64_t unlogged_chunk_refusals_ = 0;
  Clock::time_point refusal_window_end_;
  RequestTracker tracker_;
  ReconnectPolicy policy_;
  uint32_t session_id_ = alwayson::kNoSession;
  bool authenticated_ = false;
  bool online_ = false;
  bool stopping_ = false;
  bool awaiting_pong_ = false;
  Clock::time_point next_ping_, pong_deadline_, online_since_;
  std::optional<Clock::time_point> next_attempt_;  // Set by Drop; Tick connects then.
  size_t server_index_ = 0;
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

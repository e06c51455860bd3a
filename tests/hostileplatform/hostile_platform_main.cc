// hostile_platform: an AlwaysOn platform that lies, for testing edged (and restd behind it)
// against a malicious peer. It accepts edged over WebSocket + TLS like platformsim, answers
// AUTH with SUCCESS and a session id, every BIND and every request of edged's with SUCCESS,
// records what edged sends, and on command sends what a hostile platform would: chunks whose
// headers lie, requests with hostile names, raw bytes.
//
//   hostile_platform --cert platform.pem --key platform.key [--listen 127.0.0.1:0]
//                    [--control 127.0.0.1:0] [--ready-file ports.json]
//
// The control interface is HTTP on loopback, one request at a time; each command answers
// when it is done, and every command is bounded by count and time:
//   POST /chunk-flood {"declared_count": 65535, "chunk_size_field": 16, "chunks": 1200,
//                      "slice_bytes": 1048576, "request_id": 9000, "request_ids": 1,
//                      "thing": "Pump1", "max_seconds": 60}
//        `chunks` chunks of a GET to `thing`; chunk i goes to request id request_id +
//        i % request_ids with chunk number i / request_ids + 1; each declares
//        `declared_count` chunks of `chunk_size_field` bytes and carries `slice_bytes` bytes.
//        Sent as fast as the socket takes them, until all are sent or max_seconds passed.
//        -> {"sent": N, "complete": bool, "seconds": S}
//   POST /request {"thing", "characteristic": "Properties"|"Services"|"Events",
//                  "method": "GET"|"PUT"|"POST"|"DELETE", "name", "params": <JSON
//                  infotable>, "thing_hex", "name_hex" (bytes a JSON string cannot hold,
//                  instead of thing/name), "timeout_ms" (default 10000)}
//        -> {"status": "SUCCESS"|"BAD_REQUEST"|..., "reason", "content"}, or
//           {"status": "TIMEOUT"|"NOT_CONNECTED"|"CONNECTION_LOST"}
//   POST /silence {"auth": true, "bind": false}
//        From now on AUTH (BIND) messages are recorded ("unanswered": true) and never
//        answered, as a platform that accepts the WebSocket and then stalls.
//        -> {"auth", "bind"}
//   POST /answers {"status": "INTERNAL_SERVER_ERROR", "reason_bytes": 10240}
//        From now on every request of edged's is answered with that status and a reason of
//        that many bytes (0: none); {"status": "SUCCESS"} is the default; {"status": "NONE"}:
//        requests are recorded and never answered (a platform that stalls).
//        -> {"status", "reason_bytes"}
//   POST /raw {"hex": "01 55 ...", "repeat": N}   N binary WebSocket messages of those bytes
//        -> {"sent": N}
//   GET  /records   what edged sent, oldest first (at most 20000): "kind" (connected, auth,
//                   bind, unbind, request, answer, keep_alive, bad_chunk, undecodable,
//                   closed), "conn", "request_id", "code", "size", "thing", "name",
//                   "reason" (answers), "things" (BIND), "error"
//   GET  /status    {"connected", "session", "bound": [...], "connections": WebSocket
//                   connections accepted so far}
// The app key edged sends is never recorded or logged (only the claim names are).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "services/alwayson/chunking.h"
#include "services/alwayson/json_infotable.h"
#include "services/alwayson/message.h"
#include "services/alwayson/primitives.h"
#include "services/common/log.h"
#include "services/json/json.h"
#include "tests/platformsim/control_server.h"
#include "tests/platformsim/server_tls.h"

namespace edge::hostileplatform {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = ::edge::json;
using tcp = asio::ip::tcp;
using alwayson::Code;
using alwayson::Message;
using platformsim::ControlRequest;
using platformsim::ControlResponse;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxRecords = 20000;
constexpr size_t kMaxQueued = 4096;      // Messages waiting to be written on one connection.
constexpr size_t kChunkSize = 8192;      // Our own (honest) large requests are split to this.
constexpr size_t kMaxReadBytes = 2 << 20;

struct Options {
  std::string listen = "127.0.0.1:0";
  std::string control = "127.0.0.1:0";
  std::string cert, key, ready_file;
};

json::Value Str(std::string s) { return json::Value::String(std::move(s)); }
json::Value Num(double d) { return json::Value::Number(d); }
std::string NameOf(Code code) {
  return std::string(alwayson::CodeName(static_cast<uint8_t>(code)).value_or("?"));
}

// Produces the next message of a stream of sends, or nullopt when the stream is over.
using Producer = std::function<std::optional<std::string>()>;
// Called once when a stream is over, with how many of its messages were written.
using StreamDone = std::function<void(uint64_t sent)>;

class Platform;

// One edge connection: TLS, the WebSocket upgrade, then binary messages both ways. Lives on
// the I/O thread; the Platform holds it while it is open.
class EdgeSession : public std::enable_shared_from_this<EdgeSession> {
 public:
  EdgeSession(Platform& platform, tcp::socket socket, asio::ssl::context& ctx, uint64_t id)
      : platform_(platform), ws_(std::move(socket), ctx), id_(id) {}

  void Start() { do_handshake(); }
  // Closes the connection; a running stream ends.
  void Close() { Fail("close", asio::error::operation_aborted); }
  // Queues one message; false when the connection is closed or kMaxQueued are waiting.
  bool Send(std::string bytes);
  // Writes what `next` produces, one message after another (queued messages first), until it
  // returns nullopt or the connection fails; then calls `done`. False when a stream runs.
  bool Stream(Producer next, StreamDone done);

  uint64_t id() const { return id_; }
  uint32_t session = 0;
  bool authenticated = false;
  alwayson::Reassembler reassembler{alwayson::Limits{}};

 private:
  void do_handshake();
  void on_handshake(beast::error_code ec);
  void on_accept(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec, size_t);
  void do_write();
  void on_write(beast::error_code ec, size_t);
  void EndStream();
  void Fail(const char* what, beast::error_code ec);

  Platform& platform_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  const uint64_t id_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::string writing_msg_;  // The message being written (the buffer must outlive the write).
  bool writing_ = false;
  bool writing_streamed_ = false;
  bool closed_ = false;
  Producer producer_;
  StreamDone stream_done_;
  uint64_t stream_sent_ = 0;
};

// What a request down to edged names; see /request.
struct Order {
  Code method = Code::kGet;
  alwayson::RequestBody body;
  std::chrono::milliseconds timeout{10000};
};

// What /chunk-flood sends; see the top of this file.
struct FloodPlan {
  uint16_t declared_count = 65535;
  uint16_t chunk_size_field = 16;
  uint64_t chunks = 1200;
  size_t slice_bytes = 1 << 20;
  uint32_t request_id = 9000;
  uint32_t request_ids = 1;
  std::string thing = "Pump1";
  std::chrono::milliseconds max_time{60000};
};

class Platform {
 public:
  explicit Platform(Options options)
      : options_(std::move(options)), ssl_(asio::ssl::context::tls_server), acceptor_(io_) {}

  absl::Status Init() {
    if (absl::Status s = platformsim::LoadServerIdentity(ssl_, options_.cert, options_.key);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<tcp::endpoint> ep = platformsim::ParseEndpoint(options_.listen);
    if (!ep.ok()) return absl::InvalidArgumentError(absl::StrCat("--listen: ", ep.status().message()));
    if (!ep->address().is_loopback()) {
      return absl::InvalidArgumentError("--listen: a hostile platform listens on loopback only");
    }
    beast::error_code ec;
    acceptor_.open(ep->protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("--listen ", options_.listen, ": ", ec.message()));
    return absl::OkStatus();
  }

  asio::io_context& io() { return io_; }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void do_accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto session = std::make_shared<EdgeSession>(*this, std::move(socket), ssl_, ++next_conn_);
        open_[session->id()] = session;
        session->Start();
      }
      do_accept();
    });
  }

  // --- I/O thread: what edged does ---------------------------------------------------------

  void OnOpen(EdgeSession& s) {
    ++connections_;
    Record({{"kind", Str("connected")}, {"conn", Num(s.id())}});
  }

  void OnClosed(EdgeSession& s, const std::string& why) {
    Record({{"kind", Str("closed")}, {"conn", Num(s.id())}, {"error", Str(why)}});
    if (current_.get() == &s) {
      current_.reset();
      bound_.clear();
      for (auto& [id, answer] : pending_) {
        answer->set_value(json::Value::MakeObject({{"status", Str("CONNECTION_LOST")}}));
      }
      pending_.clear();
    }
    open_.erase(s.id());  // The handler that failed still holds `s`.
  }

  void OnMessage(EdgeSession& s, std::string bytes) {
    size_t size = bytes.size();
    if (size >= alwayson::kHeaderSize && bytes[14] == 1) {
      absl::StatusOr<std::optional<std::string>> whole = s.reassembler.Add(bytes, absl::Now());
      if (!whole.ok()) {
        Record({{"kind", Str("bad_chunk")}, {"conn", Num(s.id())}, {"size", Num(size)},
                {"error", Str(std::string(whole.status().message()))}});
        return;
      }
      if (!whole->has_value()) return;
      bytes = std::move(**whole);
    }
    absl::StatusOr<Message> m = alwayson::DecodeMessage(bytes, alwayson::Limits{});
    if (!m.ok()) {
      Record({{"kind", Str("undecodable")}, {"conn", Num(s.id())}, {"size", Num(size)},
              {"error", Str(std::string(m.status().message()))}});
      return;
    }
    json::Object r{{"conn", Num(s.id())}, {"request_id", Num(m->header.request_id)},
                   {"code", Str(NameOf(m->header.code))}, {"size", Num(size)}};
    if (auto* auth = std::get_if<alwayson::AuthBody>(&m->body)) {
      OnAuth(s, *m, *auth, std::move(r));
    } else if (auto* bind = std::get_if<alwayson::BindBody>(&m->body)) {
      OnBind(s, *m, *bind, std::move(r));
    } else if (auto* answer = std::get_if<alwayson::ResponseBody>(&m->body)) {
      OnAnswer(*m, *answer, std::move(r));
    } else if (auto* req = std::get_if<alwayson::RequestBody>(&m->body)) {
      r.insert(r.begin(), {"kind", Str("request")});
      r.emplace_back("thing", Str(req->entity_name));
      r.emplace_back("characteristic", Num(req->characteristic));
      r.emplace_back("name", Str(req->characteristic_name));
      Record(std::move(r));
      if (never_answer_) return;
      alwayson::ResponseBody answer;
      if (!answer_reason_.empty()) answer.reason = answer_reason_;
      absl::StatusOr<std::string> bytes = alwayson::EncodeMessage(
          Message::Response(answer_code_, m->header.request_id, s.session, std::move(answer)));
      absl::StatusOr<std::vector<std::string>> chunks =
          bytes.ok() ? alwayson::SplitIntoChunks(*bytes, kChunkSize, false)
                     : absl::StatusOr<std::vector<std::string>>(bytes.status());
      if (!chunks.ok()) {
        LogWarning(absl::StrCat("cannot encode an answer: ", chunks.status().message()));
        return;
      }
      for (std::string& c : *chunks) s.Send(std::move(c));
    } else {
      r.insert(r.begin(), {"kind", Str("keep_alive")});
      Record(std::move(r));
    }
  }

  // --- Control thread: what the test asks for ----------------------------------------------

  json::Value Request(const Order& order) {
    auto answer = std::make_shared<std::promise<json::Value>>();
    std::future<json::Value> done = answer->get_future();
    uint32_t id = OnIo([&]() -> uint32_t {
      if (!current_ || !current_->authenticated) return 0;
      uint32_t request_id = ++next_request_;
      absl::StatusOr<std::string> bytes = alwayson::EncodeMessage(
          Message::Request(order.method, request_id, current_->session, order.body));
      absl::StatusOr<std::vector<std::string>> chunks =
          bytes.ok() ? alwayson::SplitIntoChunks(*bytes, kChunkSize, false)
                     : absl::StatusOr<std::vector<std::string>>(bytes.status());
      if (!chunks.ok()) {
        answer->set_value(json::Value::MakeObject(
            {{"error", Str(absl::StrCat("cannot encode: ", chunks.status().message()))}}));
        return request_id;
      }
      pending_[request_id] = answer;
      for (std::string& c : *chunks) current_->Send(std::move(c));
      return request_id;
    });
    if (id == 0) return json::Value::MakeObject({{"status", Str("NOT_CONNECTED")}});
    if (done.wait_for(order.timeout) != std::future_status::ready) {
      OnIo([&] { return pending_.erase(id); });
      return json::Value::MakeObject({{"status", Str("TIMEOUT")}});
    }
    return done.get();
  }

  // From now on, AUTH (and BIND) messages are recorded but never answered.
  json::Value Silence(bool auth, bool bind) {
    return OnIo([&] {
      silent_auth_ = auth;
      silent_bind_ = bind;
      return json::Value::MakeObject(
          {{"auth", json::Value::Bool(auth)}, {"bind", json::Value::Bool(bind)}});
    });
  }

  // edged's requests are recorded and never answered from now on (until AnswerWith).
  json::Value NeverAnswer() {
    return OnIo([&] {
      never_answer_ = true;
      return json::Value::MakeObject({{"status", Str("NONE")}});
    });
  }

  // How edged's requests are answered from now on: `code` with a reason of `reason_bytes`
  // bytes (none when 0).
  json::Value AnswerWith(Code code, uint64_t reason_bytes) {
    std::string reason;
    if (reason_bytes > 0) {
      reason = "the platform refused this request: ";
      while (reason.size() < reason_bytes) absl::StrAppend(&reason, "reason ", reason.size(), "; ");
      reason.resize(reason_bytes);
    }
    return OnIo([&] {
      never_answer_ = false;
      answer_code_ = code;
      answer_reason_ = std::move(reason);
      return json::Value::MakeObject({{"status", Str(NameOf(code))},
                                      {"reason_bytes", Num(answer_reason_.size())}});
    });
  }

  json::Value ChunkFlood(const FloodPlan& plan) {
    Clock::time_point start = Clock::now();
    std::optional<uint64_t> sent = RunStream(
        [&](uint32_t session) { return FloodProducer(plan, session, start + plan.max_time); },
        plan.max_time);
    if (!sent) return json::Value::MakeObject({{"status", Str("NOT_CONNECTED")}});
    LogInfo(absl::StrCat("chunk flood: ", *sent, " of ", plan.chunks, " chunks of ",
                         plan.slice_bytes, " bytes sent"));
    return json::Value::MakeObject(
        {{"sent", Num(*sent)}, {"complete", json::Value::Bool(*sent == plan.chunks)},
         {"seconds", Num(std::chrono::duration<double>(Clock::now() - start).count())}});
  }

  json::Value Raw(std::string bytes, uint64_t repeat) {
    std::optional<uint64_t> sent = RunStream(
        [&](uint32_t) -> Producer {
          auto left = std::make_shared<uint64_t>(repeat);
          return [bytes, left]() -> std::optional<std::string> {
            if (*left == 0) return std::nullopt;
            --*left;
            return bytes;
          };
        },
        std::chrono::seconds(60));
    if (!sent) return json::Value::MakeObject({{"status", Str("NOT_CONNECTED")}});
    return json::Value::MakeObject({{"sent", Num(*sent)}});
  }

  json::Value Status() {
    return OnIo([&] {
      json::Array bound;
      for (const std::string& t : bound_) bound.push_back(Str(t));
      bool connected = current_ && current_->authenticated;
      return json::Value::MakeObject({{"connected", json::Value::Bool(connected)},
                                      {"session", Num(connected ? current_->session : 0)},
                                      {"bound", json::Value::MakeArray(std::move(bound))},
                                      {"connections", Num(connections_)}});
    });
  }

  std::string Records() {
    absl::MutexLock lock(&mu_);
    return json::Write(json::Value::MakeArray(records_));
  }

 private:
  void OnAuth(EdgeSession& s, const Message& m, const alwayson::AuthBody& auth, json::Object r) {
    json::Array claims;  // Names only: the value is the app key.
    for (const auto& [name, value] : auth.claims) claims.push_back(Str(name));
    r.insert(r.begin(), {"kind", Str("auth")});
    r.emplace_back("claims", json::Value::MakeArray(std::move(claims)));
    if (silent_auth_) {
      r.emplace_back("unanswered", json::Value::Bool(true));
      Record(std::move(r));
      return;
    }
    Record(std::move(r));
    s.session = ++next_session_;
    s.authenticated = true;
    current_ = open_[s.id()];
    bound_.clear();
    LogInfo(absl::StrCat("edge connection ", s.id(), " authenticated: session ", s.session));
    s.Send(Encode(Message::Response(Code::kSuccess, m.header.request_id, s.session)));
  }

  void OnBind(EdgeSession& s, const Message& m, const alwayson::BindBody& bind, json::Object r) {
    bool unbind = m.header.code == Code::kUnbind;
    json::Array names;
    for (const std::string& n : bind.names) {
      names.push_back(Str(n));
      if (current_.get() != &s || silent_bind_) continue;
      if (unbind) {
        bound_.erase(n);
      } else {
        bound_.insert(n);
      }
    }
    r.insert(r.begin(), {"kind", Str(unbind ? "unbind" : "bind")});
    r.emplace_back("things", json::Value::MakeArray(std::move(names)));
    if (silent_bind_) r.emplace_back("unanswered", json::Value::Bool(true));
    Record(std::move(r));
    if (silent_bind_) return;
    s.Send(Encode(Message::Response(Code::kSuccess, m.header.request_id, s.session)));
  }

  void OnAnswer(const Message& m, const alwayson::ResponseBody& body, json::Object r) {
    r.insert(r.begin(), {"kind", Str("answer")});
    if (body.reason) r.emplace_back("reason", Str(*body.reason));
    Record(std::move(r));
    auto it = pending_.find(m.header.request_id);
    if (it == pending_.end()) return;
    json::Object out{{"status", Str(NameOf(m.header.code))}};
    if (body.reason) out.emplace_back("reason", Str(*body.reason));
    if (body.content) {
      absl::StatusOr<json::Value> content = json::Parse(alwayson::InfoTableToJson(*body.content));
      if (content.ok()) out.emplace_back("content", std::move(*content));
    }
    it->second->set_value(json::Value::MakeObject(std::move(out)));
    pending_.erase(it);
  }

  // Chunks of a GET whose count and size fields say what `plan` says, whatever their slices
  // hold. One template; each chunk is a copy with its request id and number written in.
  static Producer FloodProducer(const FloodPlan& plan, uint32_t session,
                                Clock::time_point deadline) {
    alwayson::Writer w;
    alwayson::Header header;
    header.code = Code::kGet;
    header.session_id = session;
    header.multipart = true;
    (void)alwayson::EncodeHeader(w, header);
    w.U16(0);  // Chunk number, written per chunk.
    w.U16(plan.declared_count);
    w.U16(plan.chunk_size_field);
    w.U8(static_cast<uint8_t>(alwayson::EntityType::kThing));
    w.String(plan.thing);
    w.Raw(std::string(plan.slice_bytes, 'x'));
    auto chunk = std::make_shared<const std::string>(w.Take());
    auto next = std::make_shared<uint64_t>(0);
    return [plan, deadline, chunk, next]() -> std::optional<std::string> {
      if (*next >= plan.chunks || Clock::now() >= deadline) return std::nullopt;
      uint64_t i = (*next)++;
      uint32_t id = plan.request_id + static_cast<uint32_t>(i % plan.request_ids);
      uint16_t number = static_cast<uint16_t>(i / plan.request_ids + 1);
      std::string c = *chunk;
      for (int b = 0; b < 4; ++b) c[2 + b] = static_cast<char>(id >> (24 - 8 * b));
      c[15] = static_cast<char>(number >> 8);
      c[16] = static_cast<char>(number);
      return c;
    };
  }

  // Runs a stream on the current connection and waits for its end; nullopt when edged is
  // not connected. `make` gets the session id for the messages it produces.
  std::optional<uint64_t> RunStream(const std::function<Producer(uint32_t)>& make,
                                    std::chrono::milliseconds max_time) {
    auto finished = std::make_shared<std::promise<uint64_t>>();
    std::future<uint64_t> done = finished->get_future();
    std::shared_ptr<EdgeSession> on = OnIo([&]() -> std::shared_ptr<EdgeSession> {
      if (!current_ || !current_->authenticated) return nullptr;
      bool started = current_->Stream(make(current_->session),
                                      [finished](uint64_t sent) { finished->set_value(sent); });
      return started ? current_ : nullptr;
    });
    if (!on) return std::nullopt;
    // The producer stops at its own deadline; a write that edged never takes (it stopped
    // reading) ends with the connection.
    if (done.wait_for(max_time + std::chrono::seconds(10)) != std::future_status::ready) {
      LogWarning(absl::StrCat("edge connection ", on->id(), ": a stream did not end in time; closing"));
      OnIo([&] {
        on->Close();
        return true;
      });
    }
    return done.get();
  }

  // Runs `fn` on the I/O thread and returns its result.
  template <class Fn>
  auto OnIo(Fn fn) -> decltype(fn()) {
    std::promise<decltype(fn())> result;
    std::future<decltype(fn())> done = result.get_future();
    asio::post(io_, [&] { result.set_value(fn()); });
    return done.get();
  }

  static std::string Encode(const Message& m) {
    absl::StatusOr<std::string> bytes = alwayson::EncodeMessage(m);
    return bytes.ok() ? *bytes : std::string();
  }

  void Record(json::Object record) {
    absl::MutexLock lock(&mu_);
    if (records_.size() >= kMaxRecords) return;
    record.insert(record.begin(), {"seq", Num(records_.size() + 1)});
    records_.push_back(json::Value::MakeObject(std::move(record)));
  }

  Options options_;
  asio::io_context io_;
  asio::ssl::context ssl_;
  tcp::acceptor acceptor_;

  // I/O thread only.
  std::map<uint64_t, std::shared_ptr<EdgeSession>> open_;
  std::shared_ptr<EdgeSession> current_;  // The last one that authenticated, while open.
  std::set<std::string> bound_;           // Bound on current_.
  std::map<uint32_t, std::shared_ptr<std::promise<json::Value>>> pending_;
  uint64_t next_conn_ = 0;
  uint64_t connections_ = 0;
  uint32_t next_session_ = 0x2000;
  uint32_t next_request_ = 0;
  Code answer_code_ = Code::kSuccess;  // How edged's requests are answered (/answers).
  bool never_answer_ = false;          // /answers {"status": "NONE"}.
  bool silent_auth_ = false;           // AUTH (BIND) recorded, never answered (/silence).
  bool silent_bind_ = false;
  std::string answer_reason_;

  absl::Mutex mu_;
  json::Array records_ ABSL_GUARDED_BY(mu_);
};

// --- EdgeSession ---------------------------------------------------------------------------

void EdgeSession::do_handshake() {
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
  ws_.next_layer().async_handshake(
      asio::ssl::stream_base::server,
      beast::bind_front_handler(&EdgeSession::on_handshake, shared_from_this()));
}

void EdgeSession::on_handshake(beast::error_code ec) {
  if (ec) return Fail("TLS handshake", ec);
  beast::get_lowest_layer(ws_).expires_never();
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.read_message_max(kMaxReadBytes);
  ws_.binary(true);
  ws_.async_accept(beast::bind_front_handler(&EdgeSession::on_accept, shared_from_this()));
}

void EdgeSession::on_accept(beast::error_code ec) {
  if (ec) return Fail("WebSocket upgrade", ec);
  LogInfo(absl::StrCat("edge connection ", id_, " open"));
  platform_.OnOpen(*this);
  do_read();
}

void EdgeSession::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&EdgeSession::on_read, shared_from_this()));
}

void EdgeSession::on_read(beast::error_code ec, size_t) {
  if (ec) return Fail("read", ec);
  std::string bytes = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  platform_.OnMessage(*this, std::move(bytes));
  if (!closed_) do_read();
}

bool EdgeSession::Send(std::string bytes) {
  if (closed_ || queue_.size() >= kMaxQueued) return false;
  queue_.push_back(std::move(bytes));
  do_write();
  return true;
}

bool EdgeSession::Stream(Producer next, StreamDone done) {
  if (closed_ || producer_) return false;
  producer_ = std::move(next);
  stream_done_ = std::move(done);
  stream_sent_ = 0;
  do_write();
  return true;
}

void EdgeSession::do_write() {
  if (writing_ || closed_) return;
  if (!queue_.empty()) {
    writing_msg_ = std::move(queue_.front());
    queue_.pop_front();
    writing_streamed_ = false;
  } else if (producer_) {
    std::optional<std::string> next = producer_();
    if (!next) return EndStream();
    writing_msg_ = std::move(*next);
    writing_streamed_ = true;
  } else {
    return;
  }
  writing_ = true;
  ws_.async_write(asio::buffer(writing_msg_),
                  beast::bind_front_handler(&EdgeSession::on_write, shared_from_this()));
}

void EdgeSession::on_write(beast::error_code ec, size_t) {
  writing_ = false;
  if (ec) return Fail("write", ec);
  if (writing_streamed_) ++stream_sent_;
  do_write();
}

void EdgeSession::EndStream() {
  StreamDone done = std::move(stream_done_);
  producer_ = nullptr;
  stream_done_ = nullptr;
  if (done) done(stream_sent_);
}

void EdgeSession::Fail(const char* what, beast::error_code ec) {
  if (closed_) return;
  closed_ = true;
  EndStream();
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);
  std::string why = absl::StrCat(what, ": ", ec.message());
  LogInfo(absl::StrCat("edge connection ", id_, " closed (", why, ")"));
  platform_.OnClosed(*this, why);
}

// --- The control interface -----------------------------------------------------------------

// Bytes from hex digits (spaces allowed between them); kInvalidArgument naming `field`.
absl::StatusOr<std::string> FromHex(const std::string& field, const std::string& text) {
  std::string digits = absl::StrReplaceAll(text, {{" ", ""}});
  if (digits.size() % 2 != 0 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected pairs of hex digits"));
  }
  return absl::HexStringToBytes(digits);
}

// The arguments of one control request, each checked against its bounds.
class Args {
 public:
  explicit Args(const json::Value& v) : v_(v) {}

  absl::StatusOr<uint64_t> Count(const char* field, uint64_t fallback, uint64_t min,
                                 uint64_t max) const {
    const json::Value* f = v_.Find(field);
    if (f == nullptr) return fallback;
    if (!f->is_number() || f->number() < static_cast<double>(min) ||
        f->number() > static_cast<double>(max) || f->number() != static_cast<uint64_t>(f->number())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": expected a whole number from ", min, " to ", max));
    }
    return static_cast<uint64_t>(f->number());
  }

  // `field` as a string, or `field`_hex as hex digits, or `fallback`.
  absl::StatusOr<std::string> Bytes(const std::string& field, const std::string& fallback) const {
    if (const json::Value* hex = v_.Find(field + "_hex")) {
      if (!hex->is_string()) return absl::InvalidArgumentError(field + "_hex: expected a string");
      return FromHex(field + "_hex", hex->str());
    }
    const json::Value* f = v_.Find(field);
    if (f == nullptr) return fallback;
    if (!f->is_string()) return absl::InvalidArgumentError(field + ": expected a string");
    return f->str();
  }

  const json::Value* Find(const char* field) const { return v_.Find(field); }

 private:
  const json::Value& v_;
};

absl::StatusOr<FloodPlan> ParseFlood(const Args& a) {
  FloodPlan p;
  absl::StatusOr<uint64_t> declared = a.Count("declared_count", p.declared_count, 0, 65535);
  absl::StatusOr<uint64_t> size = a.Count("chunk_size_field", p.chunk_size_field, 0, 65535);
  absl::StatusOr<uint64_t> chunks = a.Count("chunks", p.chunks, 1, 200000);
  absl::StatusOr<uint64_t> slice = a.Count("slice_bytes", p.slice_bytes, 0, kMaxReadBytes);
  absl::StatusOr<uint64_t> id = a.Count("request_id", p.request_id, 1, 0xFFFF0000u);
  absl::StatusOr<uint64_t> ids = a.Count("request_ids", p.request_ids, 1, 10000);
  absl::StatusOr<uint64_t> seconds = a.Count("max_seconds", 60, 1, 300);
  absl::StatusOr<std::string> thing = a.Bytes("thing", p.thing);
  for (const absl::Status& s : {declared.status(), size.status(), chunks.status(), slice.status(),
                                id.status(), ids.status(), seconds.status(), thing.status()}) {
    if (!s.ok()) return s;
  }
  p.declared_count = static_cast<uint16_t>(*declared);
  p.chunk_size_field = static_cast<uint16_t>(*size);
  p.chunks = *chunks;
  p.slice_bytes = *slice;
  p.request_id = static_cast<uint32_t>(*id);
  p.request_ids = static_cast<uint32_t>(*ids);
  p.max_time = std::chrono::seconds(*seconds);
  p.thing = *thing;
  if ((p.chunks + p.request_ids - 1) / p.request_ids > 65535) {
    return absl::InvalidArgumentError("chunks / request_ids: at most 65535 chunk numbers per request id");
  }
  return p;
}

absl::StatusOr<Order> ParseOrder(const Args& a) {
  Order o;
  absl::StatusOr<std::string> thing = a.Bytes("thing", "");
  absl::StatusOr<std::string> name = a.Bytes("name", "");
  absl::StatusOr<std::string> method = a.Bytes("method", "GET");
  absl::StatusOr<std::string> characteristic = a.Bytes("characteristic", "Properties");
  absl::StatusOr<uint64_t> timeout = a.Count("timeout_ms", 10000, 1, 60000);
  for (const absl::Status& s : {thing.status(), name.status(), method.status(),
                                characteristic.status(), timeout.status()}) {
    if (!s.ok()) return s;
  }
  static const std::map<std::string, Code> kMethods = {
      {"GET", Code::kGet}, {"PUT", Code::kPut}, {"POST", Code::kPost}, {"DELETE", Code::kDelete}};
  static const std::map<std::string, uint8_t> kCharacteristics = {
      {"Properties", 1}, {"Services", 2}, {"Events", 3}};
  auto m = kMethods.find(*method);
  auto c = kCharacteristics.find(*characteristic);
  if (m == kMethods.end()) return absl::InvalidArgumentError("method: expected GET, PUT, POST or DELETE");
  if (c == kCharacteristics.end()) {
    return absl::InvalidArgumentError("characteristic: expected Properties, Services or Events");
  }
  o.method = m->second;
  o.body.entity_name = *thing;
  o.body.characteristic = c->second;
  o.body.characteristic_name = *name;
  o.timeout = std::chrono::milliseconds(*timeout);
  if (const json::Value* params = a.Find("params"); params != nullptr && params->is_object()) {
    absl::StatusOr<alwayson::InfoTable> t = alwayson::InfoTableFromJson(json::Write(*params));
    if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("params: ", t.status().message()));
    o.body.params = std::move(*t);
  }
  return o;
}

ControlResponse Answer(const ControlRequest& req, const json::Value& v) {
  return platformsim::JsonAnswer(req, http::status::ok, json::Write(v));
}

ControlResponse Refuse(const ControlRequest& req, const absl::Status& s) {
  return platformsim::JsonAnswer(
      req, http::status::bad_request,
      json::Write(json::Value::MakeObject({{"error", Str(std::string(s.message()))}})));
}

ControlResponse HandleControl(Platform& platform, const ControlRequest& req) {
  std::string target(req.target());
  if (req.method() == http::verb::get && target == "/records") {
    return platformsim::JsonAnswer(req, http::status::ok, platform.Records());
  }
  if (req.method() == http::verb::get && target == "/status") return Answer(req, platform.Status());
  if (req.method() != http::verb::post) {
    return platformsim::JsonAnswer(req, http::status::not_found, R"({"error": "unknown control request"})");
  }
  absl::StatusOr<json::Value> body = json::Parse(req.body().empty() ? "{}" : req.body());
  if (!body.ok() || !body->is_object()) {
    return Refuse(req, absl::InvalidArgumentError("expected a JSON object"));
  }
  Args args(*body);
  if (target == "/chunk-flood") {
    absl::StatusOr<FloodPlan> plan = ParseFlood(args);
    return plan.ok() ? Answer(req, platform.ChunkFlood(*plan)) : Refuse(req, plan.status());
  }
  if (target == "/request") {
    absl::StatusOr<Order> order = ParseOrder(args);
    return order.ok() ? Answer(req, platform.Request(*order)) : Refuse(req, order.status());
  }
  if (target == "/silence") {
    const json::Value* auth = args.Find("auth");
    const json::Value* bind = args.Find("bind");
    if ((auth && !auth->is_bool()) || (bind && !bind->is_bool())) {
      return Refuse(req, absl::InvalidArgumentError("auth, bind: expected true or false"));
    }
    return Answer(req, platform.Silence(auth && auth->boolean(), bind && bind->boolean()));
  }
  if (target == "/answers") {
    absl::StatusOr<std::string> status = args.Bytes("status", "SUCCESS");
    absl::StatusOr<uint64_t> reason_bytes = args.Count("reason_bytes", 0, 0, 1 << 20);
    if (!status.ok()) return Refuse(req, status.status());
    if (!reason_bytes.ok()) return Refuse(req, reason_bytes.status());
    if (*status == "NONE") return Answer(req, platform.NeverAnswer());
    for (int c = 0x40; c <= 0xFF; ++c) {
      if (alwayson::CodeName(static_cast<uint8_t>(c)) == absl::string_view(*status)) {
        return Answer(req, platform.AnswerWith(static_cast<Code>(c), *reason_bytes));
      }
    }
    return Refuse(req, absl::InvalidArgumentError(
                           "status: expected a response code name (SUCCESS, BAD_REQUEST, ...)"));
  }
  if (target == "/raw") {
    const json::Value* hex = args.Find("hex");
    absl::StatusOr<std::string> bytes = hex != nullptr && hex->is_string()
                                            ? FromHex("hex", hex->str())
                                            : absl::InvalidArgumentError("hex: expected a string");
    absl::StatusOr<uint64_t> repeat = args.Count("repeat", 1, 1, 100000);
    if (!bytes.ok()) return Refuse(req, bytes.status());
    if (!repeat.ok()) return Refuse(req, repeat.status());
    return Answer(req, platform.Raw(*bytes, *repeat));
  }
  return platformsim::JsonAnswer(req, http::status::not_found, R"({"error": "unknown control request"})");
}

int Main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v = i + 1 < argc ? argv[++i] : "";
    if (a == "--listen") options.listen = v;
    else if (a == "--control") options.control = v;
    else if (a == "--cert") options.cert = v;
    else if (a == "--key") options.key = v;
    else if (a == "--ready-file") options.ready_file = v;
    else {
      std::cerr << "hostile_platform: unknown argument \"" << a << "\"\n";
      return 2;
    }
  }
  if (options.cert.empty() || options.key.empty()) {
    std::cerr << "usage: hostile_platform --cert PEM --key PEM [--listen IP:PORT] "
                 "[--control IP:PORT] [--ready-file FILE]\n";
    return 2;
  }
  Platform platform(options);
  if (absl::Status s = platform.Init(); !s.ok()) {
    std::cerr << "hostile_platform: " << s.message() << "\n";
    return 1;
  }
  absl::StatusOr<tcp::endpoint> control_ep = platformsim::ParseEndpoint(options.control);
  if (!control_ep.ok() || !control_ep->address().is_loopback()) {
    std::cerr << "hostile_platform: --control: expected a loopback HOST:PORT\n";
    return 1;
  }
  asio::io_context control_io;
  tcp::acceptor control(control_io, *control_ep);
  platform.do_accept();
  std::thread io([&] { platform.io().run(); });
  std::thread ctl([&] {
    platformsim::ServeControl(control,
                              [&](const ControlRequest& req) { return HandleControl(platform, req); });
  });
  std::string ready = absl::StrCat(R"({"ws": )", platform.port(), R"(, "control": )",
                                   control.local_endpoint().port(), "}");
  if (!options.ready_file.empty()) {
    if (absl::Status s = platformsim::WriteReadyFile(options.ready_file, ready); !s.ok()) {
      std::cerr << "hostile_platform: --ready-file: " << s.message() << "\n";
      return 1;
    }
  }
  LogInfo(absl::StrCat("hostile platform: AlwaysOn on port ", platform.port(),
                       "; control on http://127.0.0.1:", control.local_endpoint().port()));
  io.join();
  ctl.join();
  return 0;
}

}  // namespace
}  // namespace edge::hostileplatform

int main(int argc, char** argv) {
  edge::SetLogName("hostile_platform");
  signal(SIGPIPE, SIG_IGN);
  return edge::hostileplatform::Main(argc, argv);
}

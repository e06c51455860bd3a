// platformsim: a small AlwaysOn platform for the tests and the demo. Speaks the protocol of
// shared/specs/alwayson-protocol.md over WebSocket + TLS with the same codec as edged:
// answers AUTH (refusing unknown app keys and closing), records BINDs, property writes,
// events and service calls, serves property reads from what was written, and sends
// requests down to bound Things when asked.
//
//   platformsim --listen 127.0.0.1:0 --cert cert.pem --key key.pem --app-key KEY \
//               --control 127.0.0.1:0 --ready-file ports.json [--journal records.jsonl]
//               [--require-appkey-header] [--property THING/PROPERTY=TYPE ...]
//
// --property declares a property as a Thing's shape on a real platform does: it reads as
// the type's zero value until written, and a write of a value of another base type is
// refused with BAD_REQUEST naming both types (a real platform refuses what it cannot
// convert). Types: STRING, NUMBER, INTEGER, BOOLEAN, DATETIME. Undeclared properties take
// whatever is written.
//
// With --require-appkey-header the WebSocket upgrade itself must carry a known app key in
// its `appKey` header (else HTTP 401), as a platform that authenticates the upgrade does.
//
// The control interface is HTTP on loopback:
//   GET  /records               every record so far, as a JSON array
//   GET  /records.txt           the same, one line each, for people
//   GET  /status                connections, bound Things, duplicates dropped
//   POST /call   {"thing", "method": "GET"|"PUT"|"POST", "characteristic": "Properties"|
//                 "Services"|"Events", "name", "params": <JSON infotable>}
//                -> {"status": "SUCCESS", "reason": ..., "content": <JSON infotable>}
//   POST /drop                  closes every edge connection (to test reconnection)
//   POST /refuse {"ms": N}      closes every connection and refuses new ones for N ms
//   POST /transfer {"direction": "put"|"get", "thing", "path" (on the edge: "/in/a.bin"),
//                 "repository" (default SystemRepository), "repository_path" ("/a.bin"),
//                 "block_size", "stop_after_blocks", "then": "cancel"|"abandon"|"drop"}
//                -> {"status": "COMPLETED"|"FAILED"|"CANCELLED"|"ABANDONED"|"DROPPED",
//                    "message", "tid", "md5", "bytes", "failed_service", "failed_status"}
//                a platform-driven file transfer (shared/specs/alwayson-file-transfer.md
//                section 6) between --repository DIR/<repository>/ and a bound Thing.
//
// With --repository DIR, an edge's Copy on FileTransferSubsystem (section 3) is carried out
// the same way, asynchronously; each transfer's outcome is recorded as a "transfer" record.
//
// A message carrying an `edge-msg-id` header that was seen before is answered SUCCESS and
// recorded once: what a platform that de-duplicates does. With --journal, records survive
// a restart of the simulator (and so does de-duplication).
#include <openssl/ssl.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/alwayson/chunking.h"
#include "services/json/json.h"
#include "services/alwayson/json_infotable.h"
#include "services/alwayson/message.h"
#include "services/common/log.h"
#include "tests/platformsim/control_server.h"
#include "tests/platformsim/file_transfers.h"
#include "tests/platformsim/server_tls.h"

namespace edge::platformsim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = ::edge::json;
using tcp = asio::ip::tcp;
using alwayson::Code;
using alwayson::Message;

struct Options {
  std::string listen = "127.0.0.1:0";
  std::string control = "127.0.0.1:0";
  std::string cert, key, ready_file, journal, repository;
  std::set<std::string> app_keys;
  size_t chunk_size = 8192;
  size_t max_msg_size = 1048576;
  // Refuse a WebSocket upgrade whose appKey header is not a known app key, with HTTP 401,
  // as a platform that authenticates the upgrade itself does.
  bool require_appkey_header = false;
  std::vector<std::pair<std::string, alwayson::BaseType>> declared;  // "Thing/prop", type.
};

// The zero value of a --property type; nullopt for a type the flag does not take.
std::optional<alwayson::Value> ZeroOf(alwayson::BaseType type) {
  using alwayson::BaseType;
  using alwayson::Value;
  switch (type) {
    case BaseType::kString: return Value::String("");
    case BaseType::kNumber: return Value::Number(0);
    case BaseType::kInteger: return Value::Integer(0);
    case BaseType::kBoolean: return Value::Boolean(false);
    case BaseType::kDatetime: return Value::Datetime(0);
    default: return std::nullopt;
  }
}

json::Value Str(std::string s) { return json::Value::String(std::move(s)); }
json::Value Num(double d) { return json::Value::Number(d); }

json::Value TableJson(const alwayson::InfoTable& t) {
  absl::StatusOr<json::Value> v = json::Parse(alwayson::InfoTableToJson(t));
  return v.ok() ? *v : json::Value{};
}

class Platform;

// One edge connection.
class EdgeConn : public std::enable_shared_from_this<EdgeConn> {
 public:
  EdgeConn(Platform* platform, tcp::socket socket, asio::ssl::context& ctx, uint64_t id)
      : platform_(platform), ws_(std::move(socket), ctx), id_(id),
        reassembler_(alwayson::Limits{1048576}) {}
  void Start();
  void Upgrade();
  void Send(const Message& m);
  void Close();
  uint64_t id() const { return id_; }
  uint32_t session() const { return session_; }
  void set_session(uint32_t s) { session_ = s; }
  bool authenticated() const { return authenticated_; }
  void set_authenticated() { authenticated_ = true; }

 private:
  void Read();
  void Flush();
  void Finish();

  Platform* platform_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  uint64_t id_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> upgrade_;
  http::response<http::string_body> refusal_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closed_ = false;
  alwayson::Reassembler reassembler_;
  uint32_t session_ = 0;
  bool authenticated_ = false;
};

class Platform {
 public:
  explicit Platform(Options options)
      : options_(std::move(options)),
        ssl_(asio::ssl::context::tls_server),
        acceptor_(io_),
        files_(options_.repository,
               [this](const std::string& thing, const std::string& service,
                      alwayson::InfoTable params) {
                 alwayson::RequestBody body;
                 body.entity_name = thing;
                 body.characteristic = static_cast<uint8_t>(alwayson::Characteristic::kServices);
                 body.characteristic_name = service;
                 if (!params.fields.empty()) body.params = std::move(params);
                 return Send(thing, Code::kPost, std::move(body));
               },
               [this] { Drop(std::chrono::milliseconds(0)); }) {}

  absl::Status Init() {
    if (absl::Status s = LoadServerIdentity(ssl_, options_.cert, options_.key); !s.ok()) return s;
    beast::error_code ec;
    auto ep = ParseEndpoint(options_.listen);
    if (!ep.ok()) return absl::InvalidArgumentError(absl::StrCat("--listen: ", ep.status().message()));
    acceptor_.open(ep->protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(*ep, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("--listen ", options_.listen, ": ", ec.message()));
    acceptor_.listen();
    LoadJournal();
    // The EMS test URL: /Thingworx/Things/SystemRepository/Properties/name.
    properties_["SystemRepository/name"] =
        alwayson::InfoTable::SingleValue("name", alwayson::Value::String("SystemRepository"));
    for (const auto& [key, type] : options_.declared) {
      properties_[key] = alwayson::InfoTable::SingleValue(key.substr(key.find('/') + 1),
                                                          *ZeroOf(type));
      declared_[key] = type;
    }
    return absl::OkStatus();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  asio::io_context& io() { return io_; }

  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        if (std::chrono::steady_clock::now() < refuse_until_) {
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          auto conn = std::make_shared<EdgeConn>(this, std::move(socket), ssl_, ++next_conn_);
          conns_[conn->id()] = conn;
          conn->Start();
        }
      }
      Accept();
    });
  }

  void Gone(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    std::shared_ptr<EdgeConn> conn = it->second;
    conns_.erase(it);
    for (auto b = bound_.begin(); b != bound_.end();) {
      b = b->second == id ? bound_.erase(b) : std::next(b);
    }
    for (auto p = calls_.begin(); p != calls_.end();) {
      if (p->second.conn == id) {
        p->second.done.set_value(Reply{"CONNECTION_LOST"});
        p = calls_.erase(p);
      } else {
        ++p;
      }
    }
    LogInfo(absl::StrCat("edge connection ", id, " closed"));
  }

  // I/O thread: a whole message from an edge.
  void OnMessage(EdgeConn* conn, const Message& m) {
    Code code = m.header.code;
    if (code == Code::kAuth) {
      const auto& auth = std::get<alwayson::AuthBody>(m.body);
      std::string key;
      for (const auto& [name, value] : auth.claims) {
        if (name == "appKey") key = value;
      }
      bool ok = options_.app_keys.count(key) > 0;
      Record({{"kind", Str("auth")}, {"accepted", json::Value::Bool(ok)}, {"conn", Num(conn->id())}});
      if (!ok) {
        LogWarning(absl::StrCat("edge connection ", conn->id(), ": unknown appKey; refused"));
        Message r = Message::Response(Code::kUnauthorized, m.header.request_id, alwayson::kNoSession);
        conn->Send(r);
        conn->Close();
        return;
      }
      conn->set_session(++next_session_);
      conn->set_authenticated();
      LogInfo(absl::StrCat("edge connection ", conn->id(), " authenticated: session ", conn->session()));
      conn->Send(Message::Response(Code::kSuccess, m.header.request_id, conn->session()));
      return;
    }
    if (!conn->authenticated() || m.header.session_id != conn->session()) {
      conn->Send(Message::Response(Code::kUnauthorized, m.header.request_id, conn->session()));
      conn->Close();
      return;
    }
    if (alwayson::IsResponse(code)) {
      auto it = calls_.find(m.header.request_id);
      if (it == calls_.end()) return;
      const auto& body = std::get<alwayson::ResponseBody>(m.body);
      Reply reply{std::string(alwayson::CodeName(static_cast<uint8_t>(code)).value_or("?")),
                  body.reason.value_or(""), body.content};
      it->second.done.set_value(std::move(reply));
      calls_.erase(it);
      return;
    }
    if (code == Code::kBind || code == Code::kUnbind) {
      const auto& b = std::get<alwayson::BindBody>(m.body);
      json::Array names;
      for (const std::string& n : b.names) {
        names.push_back(Str(n));
        if (code == Code::kBind) {
          bound_[n] = conn->id();
        } else {
          bound_.erase(n);
        }
      }
      Record({{"kind", Str(code == Code::kBind ? "bind" : "unbind")},
              {"things", json::Value::MakeArray(std::move(names))}, {"conn", Num(conn->id())}});
      conn->Send(Message::Response(Code::kSuccess, m.header.request_id, conn->session()));
      return;
    }
    if (code == Code::kKeepAlive) return;
    const auto& req = std::get<alwayson::RequestBody>(m.body);
    std::string msg_id;
    for (const auto& [name, value] : req.headers) {
      if (name == "edge-msg-id") msg_id = value;
    }
    if (code == Code::kPut && req.characteristic == 1 && req.params &&
        req.params->fields.size() == 1) {
      auto d = declared_.find(absl::StrCat(req.entity_name, "/", req.characteristic_name));
      if (d != declared_.end() && req.params->fields[0].base_type != d->second) {
        auto name = [](alwayson::BaseType t) {
          return std::string(alwayson::BaseTypeName(static_cast<uint8_t>(t)).value_or("?"));
        };
        Record({{"kind", Str("refused")}, {"thing", Str(req.entity_name)},
                {"name", Str(req.characteristic_name)}, {"msgId", Str(msg_id)}});
        alwayson::ResponseBody body;
        body.reason = absl::StrCat("property \"", req.characteristic_name, "\" of Thing \"",
                                   req.entity_name, "\" is ", name(d->second), "; a ",
                                   name(req.params->fields[0].base_type),
                                   " cannot be written to it");
        conn->Send(Message::Response(Code::kBadRequest, m.header.request_id, conn->session(), body));
        return;
      }
    }
    if (!msg_id.empty() && code != Code::kGet && !seen_.insert(msg_id).second) {
      ++duplicates_;
      conn->Send(Message::Response(Code::kSuccess, m.header.request_id, conn->session()));
      return;
    }
    if (req.entity_type == static_cast<uint8_t>(alwayson::EntityType::kSubsystem) &&
        req.entity_name == "FileTransferSubsystem" && req.characteristic_name == "Copy") {
      Copy(conn, m.header.request_id, req, msg_id);
      return;
    }
    std::string thing = req.entity_name;
    std::string key = absl::StrCat(thing, "/", req.characteristic_name);
    if (code == Code::kGet && req.characteristic == 1 && req.characteristic_name.empty()) {
      // Every property of the Thing, as one row.
      alwayson::InfoTable all;
      all.rows.emplace_back();
      for (const auto& [k, table] : properties_) {
        if (k.rfind(thing + "/", 0) != 0 || table.fields.empty() || table.rows.empty()) continue;
        all.fields.push_back(table.fields[0]);
        all.rows[0].push_back(table.rows[0][0]);
      }
      Record({{"kind", Str("read")}, {"thing", Str(thing)}, {"name", Str("")}});
      alwayson::ResponseBody body;
      body.content = std::move(all);
      conn->Send(Message::Response(Code::kSuccess, m.header.request_id, conn->session(), body));
      return;
    }
    if (code == Code::kGet && req.characteristic == 1) {
      auto it = properties_.find(key);
      Record({{"kind", Str("read")}, {"thing", Str(thing)}, {"name", Str(req.characteristic_name)}});
      if (it == properties_.end()) {
        alwayson::ResponseBody body;
        body.reason = absl::StrCat("Thing \"", thing, "\" has no property \"", req.characteristic_name, "\" written yet");
        conn->Send(Message::Response(Code::kNotFound, m.header.request_id, conn->session(), body));
      } else {
        alwayson::ResponseBody body;
        body.content = it->second;
        conn->Send(Message::Response(Code::kSuccess, m.header.request_id, conn->session(), body));
      }
      return;
    }
    std::string kind = req.characteristic == 1 ? "write" : req.characteristic == 2 ? "service" : "event";
    json::Object rec{{"kind", Str(kind)}, {"thing", Str(thing)}, {"name", Str(req.characteristic_name)},
                     {"msgId", Str(msg_id)}};
    if (req.params) {
      rec.emplace_back("params", TableJson(*req.params));
      if (kind == "write" && req.params->fields.size() == 1 && req.params->rows.size() == 1) {
        rec.emplace_back("baseType", Str(std::string(alwayson::BaseTypeName(static_cast<uint8_t>(req.params->fields[0].base_type)).value_or("?"))));
        rec.emplace_back("value", alwayson::ValueToJson(req.params->rows[0][0]));
        properties_[key] = *req.params;
      }
    }
    Record(std::move(rec));
    alwayson::ResponseBody body;
    if (kind == "service") {
      body.content = alwayson::InfoTable::SingleValue("result", alwayson::Value::String("ok"));
    }
    conn->Send(Message::Response(Code::kSuccess, m.header.request_id, conn->session(), body));
  }

  // Control thread: a request down to a bound Thing; waits for the answer.
  std::string Call(const json::Value& request) {
    auto field = [&](const char* name) -> std::string {
      const json::Value* v = request.Find(name);
      return v && v->is_string() ? v->str() : "";
    };
    std::string thing = field("thing"), name = field("name");
    std::string method = field("method").empty() ? "GET" : field("method");
    std::string characteristic = field("characteristic").empty() ? "Properties" : field("characteristic");
    Code code = method == "PUT" ? Code::kPut : method == "POST" ? Code::kPost : method == "DELETE" ? Code::kDelete : Code::kGet;
    alwayson::RequestBody body;
    body.entity_name = thing;
    body.characteristic = characteristic == "Services" ? 2 : characteristic == "Events" ? 3 : 1;
    body.characteristic_name = name;
    if (const json::Value* p = request.Find("params"); p && p->is_object()) {
      absl::StatusOr<alwayson::InfoTable> t = alwayson::InfoTableFromJson(json::Write(*p));
      if (!t.ok()) return json::Write(json::Value::MakeObject({{"error", Str(std::string(t.status().message()))}}));
      body.params = std::move(*t);
    }
    Reply reply = Send(thing, code, std::move(body));
    json::Object out{{"status", Str(reply.status)}};
    if (!reply.reason.empty()) out.emplace_back("reason", Str(reply.reason));
    if (reply.content) out.emplace_back("content", TableJson(*reply.content));
    return json::Write(json::Value::MakeObject(std::move(out)));
  }

  // Any thread but the I/O thread: one request down to a bound Thing, and its answer.
  Reply Send(const std::string& thing, Code code, alwayson::RequestBody body) {
    auto done = std::make_shared<std::promise<Reply>>();
    std::future<Reply> answer = done->get_future();
    asio::post(io_, [this, thing, code, body = std::move(body), done]() mutable {
      auto b = bound_.find(thing);
      auto conn = b == bound_.end() ? nullptr : conns_[b->second];
      if (!conn) {
        done->set_value(Reply{"NOT_BOUND"});
        return;
      }
      uint32_t id = ++next_request_;
      calls_.emplace(id, PendingCall{conn->id(), std::move(*done)});
      conn->Send(Message::Request(code, id, conn->session(), body));
    });
    if (answer.wait_for(std::chrono::seconds(15)) != std::future_status::ready) {
      return Reply{"TIMEOUT"};
    }
    return answer.get();
  }

  // Control thread: POST /transfer.
  std::string Transfer(const json::Value& request) {
    TransferRequest r = TransferFromJson(request);
    return ResultJson(files_.Run(r));
  }

  std::string Records() {
    absl::MutexLock lock(&mu_);
    return json::Write(json::Value::MakeArray(records_));
  }

  // One line per record, for people: "write Pump1.Temperature = 21.5 (NUMBER)".
  std::string RecordLines() {
    absl::MutexLock lock(&mu_);
    std::string out;
    auto str = [](const json::Value& r, const char* key) {
      const json::Value* v = r.Find(key);
      return v == nullptr ? std::string() : v->is_string() ? v->str() : json::Write(*v);
    };
    for (const json::Value& r : records_) {
      absl::StrAppend(&out, str(r, "kind"));
      if (r.Find("thing")) absl::StrAppend(&out, " ", str(r, "thing"), ".", str(r, "name"));
      if (r.Find("things")) absl::StrAppend(&out, " ", str(r, "things"));
      if (r.Find("value")) absl::StrAppend(&out, " = ", str(r, "value"), " (", str(r, "baseType"), ")");
      if (r.Find("accepted")) absl::StrAppend(&out, r.Find("accepted")->boolean() ? " accepted" : " refused");
      out += "\n";
    }
    return out;
  }

  std::string Status() {
    std::promise<std::string> p;
    asio::post(io_, [&] {
      json::Array bound;
      for (const auto& [thing, conn] : bound_) bound.push_back(Str(thing));
      p.set_value(json::Write(json::Value::MakeObject(
          {{"connections", Num(conns_.size())},
           {"bound", json::Value::MakeArray(std::move(bound))},
           {"duplicates", Num(duplicates_)}})));
    });
    return p.get_future().get();
  }

  int Drop(std::chrono::milliseconds refuse_for) {
    std::promise<int> p;
    asio::post(io_, [&] {
      refuse_until_ = std::chrono::steady_clock::now() + refuse_for;
      int n = static_cast<int>(conns_.size());
      auto conns = conns_;
      for (auto& [id, c] : conns) c->Close();
      LogInfo(absl::StrCat("dropped ", n, " edge connection(s)",
                           refuse_for.count() ? absl::StrCat("; refusing new ones for ", refuse_for.count(), " ms") : ""));
      p.set_value(n);
    });
    return p.get_future().get();
  }

  const Options& options() const { return options_; }

 private:
  struct PendingCall {
    uint64_t conn;
    std::promise<Reply> done;
  };

  static TransferRequest TransferFromJson(const json::Value& request) {
    auto field = [&](const char* name) -> std::string {
      const json::Value* v = request.Find(name);
      return v && v->is_string() ? v->str() : "";
    };
    auto number = [&](const char* name, int64_t otherwise) -> int64_t {
      const json::Value* v = request.Find(name);
      return v && v->is_number() ? static_cast<int64_t>(v->number()) : otherwise;
    };
    TransferRequest r;
    r.put = field("direction") != "get";
    r.thing = field("thing");
    r.edge_path = field("path");
    if (!field("repository").empty()) r.repository = field("repository");
    r.repository_path = field("repository_path");
    r.tid = field("tid");
    r.block_size = number("block_size", 0);
    r.stop_after_blocks = number("stop_after_blocks", -1);
    r.then = field("then");
    return r;
  }

  static std::string ResultJson(const TransferResult& t) {
    return json::Write(json::Value::MakeObject(
        {{"status", Str(t.status)}, {"message", Str(t.message)}, {"tid", Str(t.tid)},
         {"md5", Str(t.md5)}, {"bytes", Num(static_cast<double>(t.bytes))},
         {"failed_service", Str(t.failed_service)}, {"failed_status", Str(t.failed_status)}}));
  }

  // I/O thread: an edge's Copy (section 3). The transfer runs on a thread of its own, as a
  // platform drives it; asynchronous copies are answered at once with the job, synchronous
  // ones once the transfer is over (state VALIDATED when it completed).
  void Copy(EdgeConn* conn, uint32_t request_id, const alwayson::RequestBody& req,
            const std::string& msg_id) {
    auto param = [&](const char* name) -> const alwayson::Value* {
      if (!req.params || req.params->rows.empty()) return nullptr;
      for (size_t i = 0; i < req.params->fields.size() && i < req.params->rows[0].size(); ++i) {
        if (req.params->fields[i].name == name) return &req.params->rows[0][i];
      }
      return nullptr;
    };
    auto text = [&](const char* name) {
      const alwayson::Value* v = param(name);
      return v && alwayson::IsStringType(v->type()) ? v->str() : std::string();
    };
    auto refuse = [&](Code status, std::string why) {
      alwayson::ResponseBody body;
      body.reason = std::move(why);
      Record({{"kind", Str("copy")}, {"refused", Str(*body.reason)}, {"msgId", Str(msg_id)}});
      conn->Send(Message::Response(status, request_id, conn->session(), body));
    };
    const alwayson::Value* async = param("async");
    if (async == nullptr || async->type() != alwayson::BaseType::kBoolean) {
      return refuse(Code::kBadRequest, "Copy: expected the parameter async, a BOOLEAN");
    }
    TransferRequest r;
    std::string source_repo = text("sourceRepo"), target_repo = text("targetRepo");
    auto join = [](const std::string& dir, const std::string& file) {
      return absl::StrCat(dir, dir.empty() || dir.back() == '/' ? "" : "/", file);
    };
    if (bound_.count(target_repo) > 0 && bound_.count(source_repo) == 0) {
      r.put = true;
      r.thing = target_repo;
      r.repository = source_repo;
      r.edge_path = join(text("targetPath"), text("targetFile"));
      r.repository_path = join(text("sourcePath"), text("sourceFile"));
    } else if (bound_.count(source_repo) > 0 && bound_.count(target_repo) == 0) {
      r.put = false;
      r.thing = source_repo;
      r.repository = target_repo;
      r.edge_path = join(text("sourcePath"), text("sourceFile"));
      r.repository_path = join(text("targetPath"), text("targetFile"));
    } else {
      return refuse(Code::kBadRequest,
                    absl::StrCat("Copy: exactly one of sourceRepo \"", source_repo.substr(0, 100),
                                 "\" and targetRepo \"", target_repo.substr(0, 100),
                                 "\" must be a bound edge Thing"));
    }
    absl::StatusOr<std::string> local = files_.RepositoryFile(r.repository, r.repository_path);
    if (!local.ok()) return refuse(Code::kBadRequest, std::string(local.status().message()));
    if (r.put && ::access(local->c_str(), R_OK) != 0) {
      return refuse(Code::kNotFound, absl::StrCat(r.repository, ":", r.repository_path,
                                                  ": no such file in the repository"));
    }
    r.tid = absl::StrCat("copy-", ++next_copy_);
    Record({{"kind", Str("copy")}, {"tid", Str(r.tid)}, {"thing", Str(r.thing)},
            {"direction", Str(r.put ? "put" : "get")}, {"path", Str(r.edge_path)},
            {"repository_path", Str(r.repository_path)}, {"msgId", Str(msg_id)}});
    bool is_async = async->boolean();
    uint64_t conn_id = conn->id();
    uint32_t session = conn->session();
    if (is_async) {
      alwayson::ResponseBody body;
      body.content = JobOf(r.tid, "QUEUED");
      conn->Send(Message::Response(Code::kSuccess, request_id, session, body));
    }
    std::thread([this, r, is_async, conn_id, request_id, session] {
      TransferResult result = files_.Run(r);
      json::Object rec{{"kind", Str("transfer")}, {"tid", Str(r.tid)}, {"thing", Str(r.thing)},
                       {"direction", Str(r.put ? "put" : "get")}, {"path", Str(r.edge_path)},
                       {"status", Str(result.status)}, {"md5", Str(result.md5)},
                       {"bytes", Num(static_cast<double>(result.bytes))},
                       {"message", Str(result.message)}};
      Record(std::move(rec));
      if (is_async) return;
      asio::post(io_, [this, r, result, conn_id, request_id, session] {
        auto c = conns_.find(conn_id);
        if (c == conns_.end()) return;
        alwayson::ResponseBody body;
        body.content = JobOf(r.tid, result.status == "COMPLETED" ? "VALIDATED" : "ERROR");
        c->second->Send(Message::Response(Code::kSuccess, request_id, session, body));
      });
    }).detach();
  }

  static alwayson::InfoTable JobOf(const std::string& tid, const std::string& state) {
    return alwayson::InfoTable::OneRow(
        {{"transferId", alwayson::Value::String(tid)}, {"state", alwayson::Value::String(state)}});
  }

  void Record(json::Object record) {
    absl::MutexLock lock(&mu_);
    record.insert(record.begin(), {"seq", Num(records_.size() + 1)});
    // When it was received: Unix time in microseconds (benchmarks measure latency with it).
    record.insert(record.begin() + 1, {"t_us", Num(absl::ToUnixMicros(absl::Now()))});
    json::Value v = json::Value::MakeObject(std::move(record));
    if (!options_.journal.empty()) {
      std::ofstream(options_.journal, std::ios::app) << json::Write(v) << "\n";
    }
    records_.push_back(std::move(v));
  }

  void LoadJournal() {
    if (options_.journal.empty()) return;
    std::ifstream in(options_.journal);
    std::string line;
    while (std::getline(in, line)) {
      absl::StatusOr<json::Value> v = json::Parse(line);
      if (!v.ok()) continue;  // A torn last line from a kill.
      if (const json::Value* id = v->Find("msgId"); id && id->is_string() && !id->str().empty()) {
        seen_.insert(id->str());
      }
      records_.push_back(std::move(*v));
    }
  }

  Options options_;
  asio::io_context io_;
  asio::ssl::context ssl_;
  tcp::acceptor acceptor_;
  std::chrono::steady_clock::time_point refuse_until_{};

  // I/O thread only.
  std::map<uint64_t, std::shared_ptr<EdgeConn>> conns_;
  std::map<std::string, uint64_t> bound_;  // Thing -> connection.
  std::map<std::string, alwayson::InfoTable> properties_;
  std::map<std::string, alwayson::BaseType> declared_;  // --property.
  std::map<uint32_t, PendingCall> calls_;
  std::set<std::string> seen_;
  uint64_t next_conn_ = 0;
  uint32_t next_session_ = 0x1000;
  uint32_t next_request_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t next_copy_ = 0;

  absl::Mutex mu_;
  json::Array records_ ABSL_GUARDED_BY(mu_);
  FileTransfers files_;  // Its calls go through Send: declared (and built) after the rest.
};

void EdgeConn::Start() {
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
  ws_.next_layer().async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
    if (ec) {
      LogWarning(absl::StrCat("edge connection ", self->id_, ": TLS handshake failed: ", ec.message()));
      self->platform_->Gone(self->id_);
      return;
    }
    beast::get_lowest_layer(self->ws_).expires_never();
    self->ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    self->ws_.set_option(pmd);
    self->ws_.read_message_max(self->platform_->options().max_msg_size + 64);
    self->ws_.binary(true);
    self->Upgrade();
  });
}

// Reads the upgrade request first, so that its appKey header can be judged before the
// WebSocket is accepted.
void EdgeConn::Upgrade() {
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
  http::async_read(ws_.next_layer(), buffer_, upgrade_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) {
      LogWarning(absl::StrCat("edge connection ", self->id_, ": no upgrade request: ", ec.message()));
      self->platform_->Gone(self->id_);
      return;
    }
    beast::get_lowest_layer(self->ws_).expires_never();
    std::string key(self->upgrade_["appKey"]);
    std::string frame(self->upgrade_["Max-Frame-Size"]);
    if (self->platform_->options().require_appkey_header &&
        self->platform_->options().app_keys.count(key) == 0) {
      LogWarning(absl::StrCat("edge connection ", self->id_, ": upgrade refused, ",
                              key.empty() ? "no appKey header" : "unknown appKey header"));
      self->refusal_ = http::response<http::string_body>(http::status::unauthorized, self->upgrade_.version());
      self->refusal_.set(http::field::content_type, "text/plain");
      self->refusal_.body() = "unknown appKey\n";
      self->refusal_.keep_alive(false);
      self->refusal_.prepare_payload();
      http::async_write(self->ws_.next_layer(), self->refusal_, [self](beast::error_code, size_t) {
        self->Finish();
      });
      return;
    }
    self->ws_.async_accept(self->upgrade_, [self, frame](beast::error_code ec) {
      if (ec) {
        LogWarning(absl::StrCat("edge connection ", self->id_, ": WebSocket upgrade failed: ", ec.message()));
        self->platform_->Gone(self->id_);
        return;
      }
      LogInfo(absl::StrCat("edge connection ", self->id_, " open (Max-Frame-Size ",
                           frame.empty() ? "not sent" : LogSafe(frame, 32), ")"));
      self->Read();
    });
  });
}

void EdgeConn::Read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) {
      self->platform_->Gone(self->id_);
      return;
    }
    std::string bytes = beast::buffers_to_string(self->buffer_.data());
    self->buffer_.consume(self->buffer_.size());
    std::string whole = bytes;
    if (bytes.size() >= alwayson::kHeaderSize && bytes[14] == 1) {
      auto done = self->reassembler_.Add(bytes, absl::Now());
      if (!done.ok()) {
        LogWarning(absl::StrCat("edge connection ", self->id_, ": bad chunk: ", done.status().message()));
        self->Close();
        return;
      }
      if (!done->has_value()) {
        self->Read();
        return;
      }
      whole = std::move(**done);
    }
    alwayson::Limits limits{self->platform_->options().max_msg_size};
    // The vendor's client pads an error response with zero bytes after its body.
    limits.allow_response_zero_padding = true;
    auto m = alwayson::DecodeMessage(whole, limits);
    if (!m.ok()) {
      LogWarning(absl::StrCat("edge connection ", self->id_, ": bad message: ", m.status().message()));
      self->Close();
      return;
    }
    self->platform_->OnMessage(self.get(), *m);
    if (!self->closed_) self->Read();
  });
}

void EdgeConn::Send(const Message& m) {
  auto encoded = alwayson::EncodeMessage(m);
  if (!encoded.ok()) return;
  auto chunks = alwayson::SplitIntoChunks(*encoded, platform_->options().chunk_size, true);
  if (!chunks.ok()) return;
  for (auto& c : *chunks) queue_.push_back(std::move(c));
  Flush();
}

void EdgeConn::Flush() {
  if (writing_) return;
  if (queue_.empty()) {
    if (closed_) Finish();
    return;
  }
  writing_ = true;
  ws_.async_write(asio::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
    self->writing_ = false;
    if (ec) {
      self->Finish();
      return;
    }
    self->queue_.pop_front();
    self->Flush();
  });
}

// Closes once what is queued (an UNAUTHORIZED, say) has been sent.
void EdgeConn::Close() {
  if (closed_) return;
  closed_ = true;
  Flush();
}

// Closes the socket; its pending calls fail (CONNECTION_LOST) and it no longer counts as a
// connection, at once.
void EdgeConn::Finish() {
  platform_->Gone(id_);
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

// The control interface (see the top of this file).
ControlResponse HandleControl(Platform& platform, const ControlRequest& req) {
  std::string target(req.target());
  if (req.method() == http::verb::get && target == "/records") {
    return JsonAnswer(req, http::status::ok, platform.Records());
  }
  if (req.method() == http::verb::get && target == "/records.txt") {
    ControlResponse res = JsonAnswer(req, http::status::ok, platform.RecordLines());
    res.set(http::field::content_type, "text/plain");
    return res;
  }
  if (req.method() == http::verb::get && target == "/status") {
    return JsonAnswer(req, http::status::ok, platform.Status());
  }
  if (req.method() == http::verb::post && target == "/call") {
    absl::StatusOr<json::Value> body = json::Parse(req.body());
    if (!body.ok() || !body->is_object()) {
      return JsonAnswer(req, http::status::bad_request, R"({"error": "expected a JSON object"})");
    }
    return JsonAnswer(req, http::status::ok, platform.Call(*body));
  }
  if (req.method() == http::verb::post && target == "/transfer") {
    absl::StatusOr<json::Value> body = json::Parse(req.body());
    if (!body.ok() || !body->is_object()) {
      return JsonAnswer(req, http::status::bad_request, R"({"error": "expected a JSON object"})");
    }
    return JsonAnswer(req, http::status::ok, platform.Transfer(*body));
  }
  if (req.method() == http::verb::post && (target == "/drop" || target == "/refuse")) {
    int64_t ms = 0;
    if (absl::StatusOr<json::Value> body = json::Parse(req.body()); body.ok() && body->is_object()) {
      if (const json::Value* v = body->Find("ms"); v && v->is_number()) ms = static_cast<int64_t>(v->number());
    }
    return JsonAnswer(req, http::status::ok,
                      absl::StrCat(R"({"dropped": )", platform.Drop(std::chrono::milliseconds(ms)), "}"));
  }
  return JsonAnswer(req, http::status::not_found, R"({"error": "unknown control request"})");
}

int Main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--listen") options.listen = value();
    else if (a == "--control") options.control = value();
    else if (a == "--cert") options.cert = value();
    else if (a == "--key") options.key = value();
    else if (a == "--app-key") options.app_keys.insert(value());
    else if (a == "--ready-file") options.ready_file = value();
    else if (a == "--journal") options.journal = value();
    else if (a == "--repository") options.repository = value();
    else if (a == "--chunk-size") options.chunk_size = std::stoul(value());
    else if (a == "--require-appkey-header") options.require_appkey_header = true;
    else if (a == "--property") {
      std::string p = value();
      size_t slash = p.find('/'), eq = p.find('=');
      std::optional<alwayson::BaseType> type =
          eq == std::string::npos ? std::nullopt : alwayson::BaseTypeFromName(p.substr(eq + 1));
      if (slash == 0 || slash == std::string::npos || eq == std::string::npos || eq < slash + 2 ||
          !type || !ZeroOf(*type)) {
        std::cerr << "platformsim: --property \"" << p << "\": expected THING/PROPERTY=TYPE "
                     "with TYPE one of STRING, NUMBER, INTEGER, BOOLEAN, DATETIME\n";
        return 2;
      }
      options.declared.emplace_back(p.substr(0, eq), *type);
    } else {
      std::cerr << "platformsim: unknown argument \"" << a << "\"\n";
      return 2;
    }
  }
  if (options.cert.empty() || options.key.empty() || options.app_keys.empty()) {
    std::cerr << "usage: platformsim --cert PEM --key PEM --app-key KEY [--listen IP:PORT] "
                 "[--control IP:PORT] [--ready-file FILE] [--journal FILE] [--repository DIR] "
                 "[--require-appkey-header] "
                 "[--property THING/PROPERTY=TYPE ...]\n";
    return 2;
  }
  Platform platform(options);
  if (absl::Status s = platform.Init(); !s.ok()) {
    std::cerr << "platformsim: " << s.message() << "\n";
    return 1;
  }
  auto control_ep = ParseEndpoint(options.control);
  if (!control_ep.ok()) {
    std::cerr << "platformsim: --control: " << control_ep.status().message() << "\n";
    return 1;
  }
  asio::io_context control_io;
  tcp::acceptor control(control_io, *control_ep);
  platform.Accept();
  std::thread io([&] { platform.io().run(); });
  std::thread ctl([&] {
    ServeControl(control, [&](const ControlRequest& req) { return HandleControl(platform, req); });
  });
  std::string ready = absl::StrCat(R"({"ws": )", platform.port(), R"(, "control": )",
                                   control.local_endpoint().port(), "}");
  if (!options.ready_file.empty()) {
    if (absl::Status s = WriteReadyFile(options.ready_file, ready); !s.ok()) {
      std::cerr << "platformsim: --ready-file: " << s.message() << "\n";
      return 1;
    }
  }
  LogInfo(absl::StrCat("listening for AlwaysOn on wss://", options.listen.substr(0, options.listen.rfind(':')),
                       ":", platform.port(), "/Thingworx/WS; control on http://127.0.0.1:",
                       control.local_endpoint().port()));
  io.join();
  ctl.join();
  return 0;
}

}  // namespace
}  // namespace edge::platformsim

int main(int argc, char** argv) {
  edge::SetLogName("platformsim");
  signal(SIGPIPE, SIG_IGN);
  return edge::platformsim::Main(argc, argv);
}

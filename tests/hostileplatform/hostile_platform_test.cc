// edged (and restd behind it) against a platform that lies: hostile_platform floods edged
// with chunks whose headers lie, sends requests with names built to break out of the REST
// call restd makes to an auto_bind endpoint, and sends messages the protocol does not allow.
// Every case checks that edged refuses what it must, stays within its memory, and serves a
// normal request afterwards.
#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/json/json.h"
#include "tests/hostileplatform/hostile_platform_process.h"
#include "tests/testing/curl.h"
#include "tests/testing/edge_stack.h"
#include "tests/testing/subprocess.h"

namespace edge {
namespace {

namespace v1 = ::edge::v1;
namespace json = ::edge::json;
using testing::EdgeStack;
using testing::HostilePlatformProcess;
using testing::StackConfig;
using testing::WaitFor;

json::Value Str(std::string s) { return json::Value::String(std::move(s)); }
json::Value Num(double d) { return json::Value::Number(d); }

// What edged may hold at most while a platform floods it (VmHWM, the peak resident set):
// its own baseline plus the Reassembler's bound (4 x max_msg_size) and a few buffers.
constexpr int64_t kEdgedPeakKb = 150 * 1024;

// A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); -1 when it cannot be read.
int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, field + ":")) continue;
    int64_t kb = -1;
    std::string number(absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(field.size() + 1)), " kB"));
    return absl::SimpleAtoi(number, &kb) ? kb : -1;
  }
  return -1;
}

// Lines of `log` that contain every one of `words`.
int CountLines(const std::string& log, const std::vector<std::string>& words) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = true;
    for (const std::string& w : words) all = all && absl::StrContains(line, w);
    n += all ? 1 : 0;
  }
  return n;
}

std::string Hex(uint32_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) absl::StrAppend(&out, absl::Hex((v >> (8 * i)) & 0xFF, absl::kZeroPad2));
  return out;
}

// An AlwaysOn header as hex: version 1, `code`, `request_id`, endpoint 0, `session`, multipart.
std::string HeaderHex(uint8_t code, uint32_t request_id, uint32_t session, bool multipart) {
  return absl::StrCat("01", Hex(code, 1), Hex(request_id, 4), "00000000", Hex(session, 4),
                      multipart ? "01" : "00");
}

// A local service that serves `thing` through edged's Serve stream and answers every
// platform request with SUCCESS and one row: the request's name (or "value") = 7.
class LocalThing {
 public:
  LocalThing(v1::EdgeService::Stub* stub, const std::string& thing)
      : stream_(stub->Serve(&context_)) {
    v1::ServeMessage reg;
    reg.mutable_register_()->add_things(thing);
    stream_->Write(reg);
    reader_ = std::thread([this] {
      v1::PlatformRequest request;
      while (stream_->Read(&request)) {  // Ends with the stream.
        v1::ServeMessage answer;
        answer.mutable_answer()->set_id(request.id());
        answer.mutable_answer()->set_status(v1::SUCCESS);
        v1::InfoTable* t = answer.mutable_answer()->mutable_content();
        std::string name = request.name().empty() ? "value" : request.name();
        v1::FieldDefinition* f = t->add_fields();
        f->set_name(name);
        f->set_base_type(v1::NUMBER);
        v1::Value* v = t->add_rows()->add_values();
        v->set_base_type(v1::NUMBER);
        v->set_number_value(7);
        stream_->Write(answer);
      }
    });
  }
  ~LocalThing() {
    context_.TryCancel();
    reader_.join();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ServeMessage, v1::PlatformRequest>> stream_;
  std::thread reader_;
};

class HostilePlatformTest : public ::testing::Test {
 protected:
  // The hostile platform, trustd and edged; with `restd`, also restd and an HTTPS edge
  // endpoint (logging every request it gets) behind the auto_bind Thing "Lsr1".
  void StartStack(bool restd, const std::string& ws_connection = "",
                  const std::string& edged_extra = "") {
    auto platform = HostilePlatformProcess::Start(stack_.dir(), stack_.dir() + "/platform.pem",
                                                  stack_.dir() + "/platform.key");
    ASSERT_TRUE(platform.ok()) << platform.status();
    platform_ = std::move(*platform);
    StackConfig config;
    config.platform_port = platform_->ws_port();
    config.edged_extra = edged_extra;
    if (!ws_connection.empty()) config.ws_connection = ws_connection;
    if (restd) {
      absl::StatusOr<int> endpoint = stack_.StartEndpoint(
          "platform.pem", "platform.key", "lsr", "lsr secret", 0, {"--log-requests"});
      ASSERT_TRUE(endpoint.ok()) << endpoint.status();
      endpoint_port_ = *endpoint;
      stack_.WriteFile("rest-ca.pem", stack_.root().Pem());
      rest_port_ = EdgeStack::FreePort();
      config.http_server = stack_.RestHttpServer(rest_port_);
      config.auto_bind = absl::StrCat(
          "auto_bind:\n  - name: Lsr1\n    host: localhost\n    port: ", *endpoint,
          "\n    protocol: https\n    user: lsr\n    password: \"", stack_.Seal("lsr secret"),
          "\"\n    timeout: 5000\n");
      config.extra = "restd:\n  health_check_interval: 500\n";
    } else {
      config.auto_bind = "";
    }
    absl::Status s = stack_.WriteConfig(config);
    if (s.ok()) s = stack_.StartTrustd();
    if (s.ok()) s = stack_.StartEdged();
    if (s.ok() && restd) s = stack_.StartRestd();
    ASSERT_TRUE(s.ok()) << s;
    stub_ = stack_.EdgeStub();
  }

  json::Value Status() {
    absl::StatusOr<json::Value> s = platform_->Status();
    return s.ok() ? *s : json::Value{};
  }
  double Connections() {
    json::Value status = Status();
    const json::Value* n = status.Find("connections");
    return n ? n->number() : -1;
  }
  // edged is connected to the platform and has bound `thing` there.
  bool Bound(const std::string& thing) {
    json::Value s = Status();
    const json::Value* connected = s.Find("connected");
    const json::Value* bound = s.Find("bound");
    if (!connected || !connected->boolean() || !bound) return false;
    for (const json::Value& t : bound->array()) {
      if (t.str() == thing) return true;
    }
    return false;
  }
  bool WaitBound(const std::string& thing) {
    bool ok = WaitFor([&] { return Bound(thing); }, absl::Seconds(20));
    if (!ok) ADD_FAILURE() << thing << " not bound:\n" << stack_.edged()->Log();
    return ok;
  }

  // One platform request; `name_hex` instead of `name` for bytes JSON cannot carry.
  json::Value Ask(const std::string& thing, const std::string& characteristic,
                  const std::string& method, const std::string& name,
                  const std::string& name_hex = "") {
    json::Object args{{"thing", Str(thing)}, {"characteristic", Str(characteristic)},
                      {"method", Str(method)}};
    if (name_hex.empty()) {
      args.emplace_back("name", Str(name));
    } else {
      args.emplace_back("name_hex", Str(name_hex));
    }
    absl::StatusOr<json::Value> answer = platform_->Request(json::Value::MakeObject(std::move(args)));
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *answer : json::Value{};
  }
  // An answer for a failure message, cut short (a hostile name may be long).
  static std::string Brief(const json::Value& answer) {
    std::string s = json::Write(answer);
    return s.size() > 400 ? s.substr(0, 400) + "..." : s;
  }
  static std::string StatusOf(const json::Value& answer) {
    const json::Value* s = answer.Find("status");
    return s && s->is_string() ? s->str() : json::Write(answer);
  }

  EdgeStack stack_;
  std::unique_ptr<HostilePlatformProcess> platform_;
  std::unique_ptr<v1::EdgeService::Stub> stub_;
  int endpoint_port_ = 0;
  int rest_port_ = 0;
};

// Report item 2: a platform that declared 65,535 chunks and sent 1,200 chunks of 1 MB each
// took edged to 1.26 GB.
TEST_F(HostilePlatformTest, ChunkFloodIsRefusedWithinBoundedMemoryAndTheSessionGoesOn) {
  // msg_timeout (after which partial messages are dropped) longer than the flood lasts, so
  // that only the Reassembler's bounds can keep edged small, however slow this machine is;
  // a long pong timeout, so that a busy machine moving a gigabyte is not taken for a dead peer.
  StartStack(false,
             "  msg_timeout: 120000\n  connect_retry_interval: 200\n  max_connect_delay: 100\n"
             "  ping_rate: 2000\n  pingpong_timeout: 20000\n");
  LocalThing valve(stub_.get(), "Valve7");
  ASSERT_TRUE(WaitBound("Valve7"));

  struct Flood {
    const char* what;
    json::Value plan;
  };
  const std::vector<Flood> floods = {
      {"65535 chunks of 16 bytes declared, 1200 slices of 1 MiB sent",
       json::Value::MakeObject({{"declared_count", Num(65535)}, {"chunk_size_field", Num(16)},
                                {"chunks", Num(1200)}, {"slice_bytes", Num(1048576)},
                                {"request_id", Num(9000)}, {"thing", Str("Valve7")}})},
      // Every chunk within its declared size, but 300 messages of 127 chunks each (310 MB)
      // never completed: the bound on partial messages must hold.
      {"300 partial messages of well-formed 8 KiB chunks",
       json::Value::MakeObject({{"declared_count", Num(128)}, {"chunk_size_field", Num(8192)},
                                {"chunks", Num(300 * 127)}, {"slice_bytes", Num(8192 - 21 - 8)},
                                {"request_id", Num(20000)}, {"request_ids", Num(300)},
                                {"thing", Str("Valve7")}})},
  };
  for (const Flood& flood : floods) {
    SCOPED_TRACE(flood.what);
    int refusals_before = CountLines(stack_.edged()->Log(), {"chunk", "refused"});
    absl::StatusOr<json::Value> sent = platform_->ChunkFlood(flood.plan);
    ASSERT_TRUE(sent.ok()) << sent.status();
    ASSERT_NE(sent->Find("sent"), nullptr) << json::Write(*sent);
    EXPECT_GT(sent->Find("sent")->number(), 0) << json::Write(*sent);
    // edged may have closed the connection on the flood (then it reconnects); if it stayed
    // connected it must have taken every chunk.
    std::cerr << flood.what << ": " << json::Write(*sent) << "\n";

    // The refusal names the limit, in one line per request id, not one per chunk.
    EXPECT_TRUE(WaitFor(
        [&] { return CountLines(stack_.edged()->Log(), {"chunk", "refused"}) > refusals_before; },
        absl::Seconds(30)))
        << stack_.edged()->Log();
    int refusals = CountLines(stack_.edged()->Log(), {"chunk", "refused"}) - refusals_before;
    EXPECT_LT(refusals, sent->Find("sent")->number() / 10) << "not one line per chunk";

    // Connected (or connected again), and a normal request is answered.
    ASSERT_TRUE(WaitBound("Valve7"));
    json::Value answer = Ask("Valve7", "Properties", "GET", "Temperature");
    ASSERT_EQ(StatusOf(answer), "SUCCESS") << Brief(answer);
    EXPECT_EQ(answer.Find("content")->Find("rows")->array()[0].Find("Temperature")->number(), 7);

    ASSERT_TRUE(stack_.edged()->Running()) << stack_.edged()->Log();
    int64_t peak = ProcStatusKb(stack_.edged()->pid(), "VmHWM");
    int64_t now = ProcStatusKb(stack_.edged()->pid(), "VmRSS");
    std::cerr << flood.what << ": edged VmHWM " << peak << " kB, VmRSS " << now << " kB\n";
#if defined(__SANITIZE_ADDRESS__)
    // ASan's shadow memory and quarantine make resident sizes meaningless.
#else
    EXPECT_GT(peak, 0);
    EXPECT_LT(peak, kEdgedPeakKb) << "edged's peak resident set (VmHWM) during the flood";
    EXPECT_LT(now, kEdgedPeakKb);
#endif
  }
}

// Report item 3: a platform request whose property or service name holds CR/LF or "../" was
// copied raw into the request line restd sends to the auto_bind endpoint; a smuggled request
// reached the endpoint with its Basic credentials, and ../../../../admin passed through.
// edged refuses names that break the ThingWorx naming rules with BAD_REQUEST (and a reason),
// and restd puts a name into the path as one percent-encoded segment.
class HostileNameTest : public HostilePlatformTest {
 protected:
  struct Hostile {
    const char* what;
    const char* characteristic;
    const char* method;
    std::string name;
    std::string name_hex;  // Instead of `name`: bytes a JSON string cannot carry.
  };

  // The stack with restd and the endpoint behind "Lsr1", and one legitimate read answered.
  void StartAutoBind() {
    StartStack(true);
    ASSERT_TRUE(stack_.edged()->WaitForLog("serves Lsr1", absl::Seconds(20)))
        << stack_.edged()->Log() << stack_.restd()->Log();
    ASSERT_TRUE(WaitBound("Lsr1"));
    json::Value first;
    ASSERT_TRUE(WaitFor(
        [&] {
          first = Ask("Lsr1", "Properties", "GET", "Temperature");
          return StatusOf(first) == "SUCCESS";
        },
        absl::Seconds(20)))
        << Brief(first) << stack_.restd()->Log();
  }

  void ExpectRefused(const std::vector<Hostile>& cases) {
    for (const Hostile& c : cases) {
      SCOPED_TRACE(c.what);
      json::Value answer = Ask("Lsr1", c.characteristic, c.method, c.name, c.name_hex);
      const json::Value* reason = answer.Find("reason");
      std::cerr << c.what << ": " << StatusOf(answer) << " ("
                << (reason ? reason->str().substr(0, 200) : "no reason") << ")\n";
      EXPECT_EQ(StatusOf(answer), "BAD_REQUEST") << Brief(answer);
      EXPECT_TRUE(reason != nullptr && !reason->str().empty()) << Brief(answer);
      // Refused by edged, not by the endpoint's HTTP parser after the bytes reached it
      // (restd's reason then names the endpoint: "https://localhost:PORT answered 400").
      EXPECT_FALSE(reason != nullptr &&
                   absl::StrContains(reason->str(), absl::StrCat("localhost:", endpoint_port_)))
          << "the request reached the endpoint: " << Brief(answer);
    }
  }

  // What the endpoint got ("METHOD TARGET", from --log-requests), each checked against
  // `allowed` ("GET /" is restd's health check).
  std::set<std::string> ExpectOnlyAllowedRequests(std::set<std::string> allowed) {
    allowed.insert("GET /");
    std::string log = stack_.endpoint()->Log();
    std::set<std::string> seen;
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      size_t at = line.find("request: ");
      if (at == absl::string_view::npos) continue;
      absl::string_view request = line.substr(at + 9);
      request = request.substr(0, request.rfind(" (Authorization: "));
      seen.insert(std::string(request));
      EXPECT_TRUE(allowed.count(std::string(request)) > 0)
          << "the endpoint got a request it was never meant to: " << line.substr(0, 400);
    }
    EXPECT_FALSE(absl::StrContains(log, "admin")) << log.substr(0, 4000);
    return seen;
  }
};

TEST_F(HostileNameTest, NamesThatBreakOutOfThePathAreRefusedAndNeverReachTheEndpoint) {
  StartAutoBind();
  ExpectRefused({
      {"a smuggled second request", "Properties", "GET",
       "Temp HTTP/1.1\r\nHost: x\r\n\r\nGET /admin", ""},
      {"a path out of the Thing (property)", "Properties", "GET", "../../../../admin", ""},
      {"a path out of the Thing (service)", "Services", "POST", "../../../../admin", ""},
      {"a slash", "Properties", "GET", "a/b", ""},
      {"an injected header", "Properties", "PUT", "Temp\nX: y", ""},
      {"a bare CR", "Services", "POST", "Flush\rGET /admin", ""},
      {"a NUL", "Properties", "GET", std::string("Temp\0admin", 10), ""},
      {"a 300-character name", "Properties", "GET", std::string(300, 'T'), ""},
  });

  // Legitimate names still work; a space is percent-encoded on the wire to the endpoint.
  json::Value flush = Ask("Lsr1", "Services", "POST", "Flush");
  EXPECT_EQ(StatusOf(flush), "SUCCESS") << Brief(flush);
  json::Value inlet = Ask("Lsr1", "Properties", "GET", "Inlet Temp");
  EXPECT_EQ(StatusOf(inlet), "SUCCESS") << Brief(inlet);
  const json::Value* rows = inlet.Find("content") ? inlet.Find("content")->Find("rows") : nullptr;
  EXPECT_TRUE(rows != nullptr && rows->array().size() == 1 &&
              rows->array()[0].Find("Inlet Temp") != nullptr)
      << Brief(inlet);

  std::set<std::string> seen = ExpectOnlyAllowedRequests({
      "GET /Thingworx/Things/Lsr1/Properties/Temperature",
      "POST /Thingworx/Things/Lsr1/Services/Flush",
      "GET /Thingworx/Things/Lsr1/Properties/Inlet%20Temp",
  });
  EXPECT_TRUE(seen.count("GET /Thingworx/Things/Lsr1/Properties/Inlet%20Temp") > 0)
      << stack_.endpoint()->Log();
  EXPECT_TRUE(stack_.edged()->Running());
  EXPECT_TRUE(stack_.restd()->Running());
}

// A name that is not UTF-8 cannot even cross edged's gRPC Serve stream (proto3 strings are
// UTF-8): edged must refuse it before that, and the auto_bind Thing stays served.
TEST_F(HostileNameTest, NamesThatAreNotUtf8AreRefusedAndTheAutoBindThingStaysServed) {
  StartAutoBind();
  ExpectRefused({
      {"invalid UTF-8", "Properties", "GET", "", "54656d70ff"},
      {"an overlong UTF-8 slash", "Services", "POST", "", "2e2ec0af61646d696e"},
  });
  json::Value again = Ask("Lsr1", "Properties", "GET", "Temperature");
  EXPECT_EQ(StatusOf(again), "SUCCESS") << Brief(again) << stack_.edged()->Log()
                                        << stack_.restd()->Log();
  ExpectOnlyAllowedRequests({"GET /Thingworx/Things/Lsr1/Properties/Temperature"});
  EXPECT_TRUE(stack_.edged()->Running());
  EXPECT_TRUE(stack_.restd()->Running());
}

// A platform that accepts the WebSocket and never answers AUTH kept edged in CONNECTING
// forever; one that never answers BIND took edged online with nothing bound. Each request
// kind has a deadline (msg_timeout): an AUTH or BIND past it drops the connection, and edged
// connects again after the retry delay.
TEST_F(HostilePlatformTest, AnAuthOrABindNeverAnsweredDropsTheConnectionAndEdgedTriesAgain) {
  StartStack(false, "  msg_timeout: 1000\n  connect_retry_interval: 200\n  max_connect_delay: 100\n");
  LocalThing valve(stub_.get(), "Valve7");
  ASSERT_TRUE(WaitBound("Valve7"));
  auto edged_status = [&] {
    grpc::ClientContext context;
    v1::StatusResponse status;
    EXPECT_TRUE(stub_->Status(&context, v1::StatusRequest(), &status).ok());
    return status;
  };
  struct Stall {
    const char* what;
    bool auth, bind;
    const char* logged;
  };
  for (const Stall& stall : {Stall{"AUTH never answered", true, false, "no answer to AUTH from "},
                             Stall{"BIND never answered", false, true, "no answer to BIND from "}}) {
    SCOPED_TRACE(stall.what);
    ASSERT_TRUE(platform_->Silence(stall.auth, stall.bind).ok());
    double before = Connections();
    absl::Time start = absl::Now();
    // An empty message is a protocol error: edged connects again, into the stall (if it is
    // already between connections, it gets there by itself).
    ASSERT_TRUE(platform_->Raw("").ok());
    bool went_online = false;
    std::string said;  // edged's last error that names the stall (each attempt is DEBUG).
    // Two more connections: a stalled one was dropped at its deadline, and edged came back.
    EXPECT_TRUE(WaitFor(
        [&] {
          v1::StatusResponse status = edged_status();
          went_online = went_online || status.state() == v1::StatusResponse::CONNECTED;
          if (absl::StrContains(status.last_error(), stall.logged)) said = status.last_error();
          return Connections() >= before + 2 && !said.empty();
        },
        absl::Seconds(20)))
        << stack_.edged()->Log();
    absl::Duration took = absl::Now() - start;
    std::cerr << stall.what << ": two connections in " << took << "\n";
    // msg_timeout (1 s) plus two retry delays (at most 0.3 s each, 0.9 s once backed off),
    // with room for a slow machine.
    EXPECT_LT(took, absl::Seconds(8));
    EXPECT_TRUE(absl::StrContains(said, "within ws_connection.msg_timeout (1000 ms)")) << said;
    if (stall.bind) {
      EXPECT_FALSE(went_online) << "online with nothing bound";
    }
  }
  // The platform answers again: edged binds and serves.
  ASSERT_TRUE(platform_->Silence(false, false).ok());
  ASSERT_TRUE(WaitBound("Valve7"));
  json::Value answer = Ask("Valve7", "Properties", "GET", "Temperature");
  EXPECT_EQ(StatusOf(answer), "SUCCESS") << Brief(answer);
  EXPECT_TRUE(stack_.edged()->Running());
}

// A platform that stops answering must not let local callers pile up calls in edged without
// bound: past edged.max_calls_in_flight a call is refused at once, naming the key; each
// waiting call ends at msg_timeout (queued), and then calls are taken again.
TEST_F(HostilePlatformTest, CallsWaitingForAStalledPlatformAreBoundedByMaxCallsInFlight) {
  StartStack(false, "  msg_timeout: 3000\n  connect_retry_interval: 200\n  max_connect_delay: 100\n",
             "  max_calls_in_flight: 4\n");
  LocalThing valve(stub_.get(), "Valve7");
  ASSERT_TRUE(WaitBound("Valve7"));
  ASSERT_TRUE(platform_->Answers("NONE", 0).ok());
  auto write = [&](int i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WritePropertyRequest request;
    request.set_thing("Valve7");
    request.set_property("Setpoint");
    request.mutable_value()->set_base_type(v1::NUMBER);
    request.mutable_value()->set_number_value(i);
    v1::Delivery delivery;
    grpc::Status s = stub_->WriteProperty(&context, request, &delivery);
    return std::make_pair(s, delivery);
  };
  auto requests_seen = [&] {
    absl::StatusOr<json::Value> records = platform_->Records();
    int n = 0;
    if (!records.ok() || !records->is_array()) return 0;
    for (const json::Value& r : records->array()) {
      const json::Value* kind = r.Find("kind");
      const json::Value* name = r.Find("name");
      if (kind && kind->str() == "request" && name && name->str() == "Setpoint") ++n;
    }
    return n;
  };
  std::vector<std::future<std::pair<grpc::Status, v1::Delivery>>> waiting;
  for (int i = 0; i < 4; ++i) waiting.push_back(std::async(std::launch::async, write, i));
  ASSERT_TRUE(WaitFor([&] { return requests_seen() >= 4; }, absl::Seconds(10)));
  auto [refused, unused] = write(99);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "edged.max_calls_in_flight"))
      << refused.error_message();
  EXPECT_EQ(requests_seen(), 4) << "the refused write reached the platform";
  // The four end at msg_timeout, queued (the platform may have them; the replay carries the
  // same edge-msg-id).
  for (auto& w : waiting) {
    auto [status, delivery] = w.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(delivery.outcome(), v1::Delivery::QUEUED);
  }
  // Room again: the next write is taken (queued behind the four, or delivered).
  ASSERT_TRUE(platform_->Answers("SUCCESS", 0).ok());
  auto [again, delivery] = write(100);
  EXPECT_TRUE(again.ok()) << again.error_message();
  EXPECT_TRUE(stack_.edged()->Running());
}

// Report item 6: an edged error text over 8 KB (a 10 KB reason from the platform, a
// 4,000-character Thing name) made restd drop its whole gRPC connection to edged, the Serve
// stream included: 363 of 374 platform calls failed in 10 s. Error texts are bounded before
// they become a gRPC status (services/common/status_mapping.h), so no error can tear down
// the channel, and the platform's calls through restd's Serve stream go on meanwhile.
TEST_F(HostileNameTest, LongErrorTextsNeverTearDownRestdsChannelToEdged) {
  StartAutoBind();
  absl::StatusOr<json::Value> set = platform_->Answers("INTERNAL_SERVER_ERROR", 10240);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_NE(set->Find("reason_bytes"), nullptr) << json::Write(*set);

  // The platform calls the auto_bind Thing (through edged and restd's Serve stream) while
  // restd's clients get the platform's long errors.
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failed{0};
  std::string first_failure;
  std::thread platform_calls([&] {
    while (!stop) {
      json::Value answer = Ask("Lsr1", "Properties", "GET", "Temperature");
      ++calls;
      if (StatusOf(answer) != "SUCCESS" && failed++ == 0) first_failure = Brief(answer);
    }
  });

  const std::string user = absl::StrCat(testing::kStackRestUser, ":", testing::kStackRestPassword);
  const std::string ca = stack_.dir() + "/rest-ca.pem";
  auto get = [&](const std::string& path) {
    return testing::Curl(stack_.dir(),
                         {"-u", user, absl::StrCat("https://localhost:", rest_port_, path)}, ca);
  };
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    testing::CurlResult r = get("/Thingworx/Things/Pump1/Properties/Temperature");
    // The platform's refusal, as a 5xx with its reason cut short.
    EXPECT_GE(r.code, 500) << r.body.substr(0, 400) << r.curl_error;
    EXPECT_TRUE(absl::StrContains(r.body, "the platform refused this request"))
        << r.body.substr(0, 400);
    EXPECT_LT(r.body.size(), 4096u) << "the error is bounded";
  }
  const std::string long_name(4000, 'P');
  testing::CurlResult named = get(absl::StrCat("/Thingworx/Things/", long_name, "/Properties/Temperature"));
  EXPECT_GE(named.code, 400) << named.body.substr(0, 400) << named.curl_error;
  EXPECT_LT(named.code, 500) << named.body.substr(0, 400);
  EXPECT_LT(named.body.size(), 4096u) << "the error is bounded";

  // restd still reaches edged on the same channel, and the platform's calls went on.
  ASSERT_TRUE(platform_->Answers("SUCCESS", 0).ok());
  testing::CurlResult ok = get("/Thingworx/Things/Pump1/Properties/Temperature");
  EXPECT_EQ(ok.code, 200) << ok.body.substr(0, 400) << ok.curl_error;
  stop = true;
  platform_calls.join();
  std::cerr << "platform calls during the long errors: " << calls << ", failed: " << failed << "\n";
  EXPECT_GT(calls, 0);
  EXPECT_EQ(failed, 0) << first_failure << stack_.restd()->Log();
  // One registration of Lsr1 in all: the Serve stream was never torn down and set up again.
  EXPECT_EQ(CountLines(stack_.edged()->Log(), {"serves Lsr1"}), 1) << stack_.edged()->Log();
  EXPECT_TRUE(stack_.edged()->Running());
  EXPECT_TRUE(stack_.restd()->Running());
}

// Messages the protocol does not allow: edged answers what it can (a Thing it does not
// serve: NOT_FOUND), ignores what the spec lets it ignore, drops the connection once on a
// protocol error, and never crashes or reconnects in a loop.
TEST_F(HostilePlatformTest, ProtocolAbuseIsAnsweredOrSurvived) {
  StartStack(false);
  LocalThing valve(stub_.get(), "Valve7");
  ASSERT_TRUE(WaitBound("Valve7"));

  json::Value ghost = Ask("Ghost", "Properties", "GET", "Temperature");
  EXPECT_EQ(StatusOf(ghost), "NOT_FOUND") << Brief(ghost);
  ASSERT_NE(ghost.Find("reason"), nullptr) << Brief(ghost);
  EXPECT_TRUE(absl::StrContains(ghost.Find("reason")->str(), "no local service serves Thing \"Ghost\""))
      << Brief(ghost);

  struct Abuse {
    const char* what;
    std::function<std::string(uint32_t session)> hex;
    bool reconnects;      // A protocol error: edged closes and connects again, once.
    const char* logged;   // In edged's log afterwards; "" for nothing in particular.
  };
  const std::vector<Abuse> cases = {
      {"a message with an unknown code (0x55)",
       [](uint32_t s) { return HeaderHex(0x55, 100, s, false) + "00ff"; }, true,
       "protocol error"},
      {"a truncated header (7 bytes)", [](uint32_t) { return std::string("01010000006500"); },
       true, "protocol error"},
      {"an empty message", [](uint32_t) { return std::string(); }, true, "protocol error"},
      {"a chunk that ends inside its chunk fields",
       [](uint32_t s) { return HeaderHex(0x01, 102, s, true) + "0001"; }, false, "refused"},
      {"a chunk numbered above its count",
       [](uint32_t s) { return HeaderHex(0x01, 103, s, true) + "000500020100" + "0a0656616c766537" + "00"; },
       false, "refused"},
      {"a KEEP_ALIVE", [](uint32_t s) { return HeaderHex(0x1F, 104, s, false); }, false, ""},
      {"an answer to a request edged never sent",
       [](uint32_t s) { return HeaderHex(0x40, 0x7FFF0001, s, false) + "00ff"; }, false, ""},
  };
  int reconnects = 0;
  for (const Abuse& c : cases) {
    SCOPED_TRACE(c.what);
    double connections = Connections();
    json::Value status = Status();
    const json::Value* session = status.Find("session");
    ASSERT_NE(session, nullptr) << json::Write(status);
    int logged_before = *c.logged ? CountLines(stack_.edged()->Log(), {c.logged}) : 0;
    absl::StatusOr<json::Value> sent =
        platform_->Raw(c.hex(static_cast<uint32_t>(session->number())));
    ASSERT_TRUE(sent.ok()) << sent.status();
    ASSERT_NE(sent->Find("sent"), nullptr) << json::Write(*sent);
    if (c.reconnects) {
      ++reconnects;
      EXPECT_TRUE(WaitFor([&] { return Connections() == connections + 1 && Bound("Valve7"); },
                          absl::Seconds(20)))
          << stack_.edged()->Log();
    }
    // A normal request is answered; it comes after the abuse on the same stream.
    json::Value answer = Ask("Valve7", "Properties", "GET", "Pressure");
    EXPECT_EQ(StatusOf(answer), "SUCCESS") << Brief(answer) << stack_.edged()->Log();
    EXPECT_EQ(Connections(), connections + (c.reconnects ? 1 : 0)) << stack_.edged()->Log();
    if (*c.logged) {
      EXPECT_GT(CountLines(stack_.edged()->Log(), {c.logged}), logged_before)
          << stack_.edged()->Log();
    }
    ASSERT_TRUE(stack_.edged()->Running()) << stack_.edged()->Log();
  }
  // One connection per protocol error, and no more.
  EXPECT_EQ(Connections(), 1 + reconnects);
  // The app key went to the platform in AUTH and nowhere else.
  absl::StatusOr<json::Value> records = platform_->Records();
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_FALSE(absl::StrContains(json::Write(*records), testing::kStackAppKey));
  EXPECT_FALSE(absl::StrContains(platform_->process().Log(), testing::kStackAppKey));
  EXPECT_FALSE(absl::StrContains(stack_.edged()->Log(), testing::kStackAppKey));
}

}  // namespace
}  // namespace edge

// edged benchmark: property writes per second through edged to the platform simulator, the
// latency from the local gRPC call to the simulator's receipt (p50/p99), and edged's
// resident memory idle and after the load; beside the same writes from a minimal direct
// client (the codec over one WebSocket + TLS + permessage-deflate to the same simulator: no
// gRPC, no offline store, no trustd), in the same run.
//   bazel run -c opt //bench:edged_bench
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <deque>
#include <map>
#include <future>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/alwayson/message.h"
#include "tests/testing/edge_stack.h"

namespace edge {
namespace {

namespace v1 = ::edge::v1;
namespace json = ::edge::json;

long RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// The yardstick: one WebSocket to the simulator, AUTH, then property writes, each answered
// by the platform. Callers on any thread share the connection; its own thread writes in
// order and hands each answer to the caller that waits for it.
class DirectClient {
 public:
  ~DirectClient() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Connect(int port, const std::string& ca_file, const std::string& app_key) {
    beast::error_code ec;
    ctx_.set_verify_mode(asio::ssl::verify_peer);
    ctx_.load_verify_file(ca_file, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(ca_file, ": ", ec.message()));
    SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), "localhost");
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true), ec);
    if (!ec) ws_.next_layer().handshake(asio::ssl::stream_base::client, ec);
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws_.set_option(pmd);
    ws_.set_option(websocket::stream_base::decorator([app_key](websocket::request_type& req) {
      req.set("appKey", app_key);
    }));
    if (!ec) ws_.handshake("localhost", "/Thingworx/WS", ec);
    if (ec) return absl::UnavailableError(absl::StrCat("direct client: ", ec.message()));
    ws_.binary(true);
    absl::StatusOr<std::string> auth = alwayson::EncodeMessage(alwayson::Message::Auth(1, app_key));
    ws_.write(asio::buffer(*auth), ec);
    beast::flat_buffer buffer;
    if (!ec) ws_.read(buffer, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("direct client AUTH: ", ec.message()));
    absl::StatusOr<alwayson::Message> answer =
        alwayson::DecodeMessage(beast::buffers_to_string(buffer.data()), alwayson::Limits{});
    if (!answer.ok() || answer->header.code != alwayson::Code::kSuccess) {
      return absl::PermissionDeniedError("direct client: AUTH refused");
    }
    session_ = answer->header.session_id;
    Read();
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  // One write of Pump1.`property`; true when the platform answered SUCCESS.
  bool Write(const std::string& property, double value) {
    std::promise<bool> answered;
    std::future<bool> result = answered.get_future();
    asio::post(io_, [&] {
      uint32_t id = ++next_id_;
      alwayson::RequestBody body;
      body.entity_name = "Pump1";
      body.characteristic_name = property;
      body.params = alwayson::InfoTable::SingleValue(property, alwayson::Value::Number(value));
      absl::StatusOr<std::string> bytes = alwayson::EncodeMessage(
          alwayson::Message::Request(alwayson::Code::kPut, id, session_, std::move(body)));
      if (!bytes.ok()) return answered.set_value(false);
      waiting_[id] = &answered;
      queue_.push_back(std::move(*bytes));
      Flush();
    });
    return result.get();
  }

 private:
  void Read() {
    ws_.async_read(buffer_, [this](beast::error_code ec, size_t) {
      if (ec) {
        for (auto& [id, p] : waiting_) p->set_value(false);
        waiting_.clear();
        return;
      }
      absl::StatusOr<alwayson::Message> m =
          alwayson::DecodeMessage(beast::buffers_to_string(buffer_.data()), alwayson::Limits{});
      buffer_.consume(buffer_.size());
      if (m.ok()) {
        auto it = waiting_.find(m->header.request_id);
        if (it != waiting_.end()) {
          it->second->set_value(m->header.code == alwayson::Code::kSuccess);
          waiting_.erase(it);
        }
      }
      Read();
    });
  }

  void Flush() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    ws_.async_write(asio::buffer(queue_.front()), [this](beast::error_code, size_t) {
      writing_ = false;
      queue_.pop_front();
      Flush();
    });
  }

  asio::io_context io_;
  asio::ssl::context ctx_{asio::ssl::context::tls_client};
  websocket::stream<beast::ssl_stream<tcp::socket>> ws_{io_, ctx_};
  beast::flat_buffer buffer_;
  uint32_t session_ = 0, next_id_ = 1;
  std::map<uint32_t, std::promise<bool>*> waiting_;  // io_'s thread only.
  std::deque<std::string> queue_;
  bool writing_ = false;
  std::thread thread_;
};

// `callers` threads making `per_caller` writes each with `write`; writes per second.
template <class WriteFn>
double Rate(int callers, int per_caller, WriteFn write, int* failures) {
  std::atomic<int> failed{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_caller; ++i) {
        if (!write(t, t * per_caller + i)) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  *failures = failed.load();
  return callers * per_caller / absl::ToDoubleSeconds(absl::Now() - start);
}

bool WriteOne(v1::EdgeService::Stub& stub, const std::string& property, double value) {
  grpc::ClientContext context;
  v1::WritePropertyRequest req;
  req.set_thing("Pump1");
  req.set_property(property);
  req.mutable_value()->set_base_type(v1::NUMBER);
  req.mutable_value()->set_number_value(value);
  v1::Delivery out;
  return stub.WriteProperty(&context, req, &out).ok() && out.outcome() == v1::Delivery::DELIVERED;
}

int Run() {
  testing::EdgeStack stack;
  testing::StackConfig config;
  config.ws_connection = "  msg_timeout: 10000\n  compression: true\n";
  absl::Status s = stack.StartSim();
  if (s.ok()) s = stack.WriteConfig(config);
  if (s.ok()) s = stack.StartTrustd();
  if (s.ok()) s = stack.StartEdged();
  if (!s.ok()) {
    std::fprintf(stderr, "stack did not start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  auto stub = stack.EdgeStub();
  if (!testing::WaitFor(
          [&] {
            grpc::ClientContext c;
            v1::StatusResponse st;
            return stub->Status(&c, v1::StatusRequest(), &st).ok() &&
                   st.state() == v1::StatusResponse::CONNECTED;
          },
          absl::Seconds(20))) {
    std::fprintf(stderr, "edged did not connect\n%s\n", stack.edged()->Log().c_str());
    return 1;
  }
  absl::SleepFor(absl::Seconds(1));
  long idle_rss = RssKb(stack.edged()->pid());

  // Sequential: one caller, each write answered by the platform before the next.
  constexpr int kSequential = 3000;
  for (int i = 0; i < 200; ++i) WriteOne(*stub, "Warmup", i);
  std::vector<int64_t> sent_us(kSequential);
  std::vector<double> call_us;
  absl::Time start = absl::Now();
  int failures = 0;
  for (int i = 0; i < kSequential; ++i) {
    absl::Time t = absl::Now();
    sent_us[i] = absl::ToUnixMicros(t);
    if (!WriteOne(*stub, "Seq", i)) ++failures;
    call_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
  }
  double seq_rate = kSequential / absl::ToDoubleSeconds(absl::Now() - start);

  // Parallel: 8 callers at once.
  constexpr int kThreads = 8, kPerThread = 1000;
  std::atomic<int> par_failures{0};
  start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto own = stack.EdgeStub();
      for (int i = 0; i < kPerThread; ++i) {
        if (!WriteOne(*own, "Par", t * kPerThread + i)) ++par_failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  double par_rate = kThreads * kPerThread / absl::ToDoubleSeconds(absl::Now() - start);
  long loaded_rss = RssKb(stack.edged()->pid());

  // What gRPC alone costs: edged's Status call over the same socket (no platform, no store,
  // no session). A write through edged is a gRPC call plus the platform's round trip, so
  // these rates bound what any gRPC front can reach against the direct client.
  std::vector<std::unique_ptr<v1::EdgeService::Stub>> stubs;
  for (int t = 0; t < kThreads; ++t) stubs.push_back(stack.EdgeStub());
  auto status_call = [&](int t, int) {
    grpc::ClientContext c;
    v1::StatusResponse st;
    return stubs[t]->Status(&c, v1::StatusRequest(), &st).ok();
  };
  int status_failures = 0;
  double status_seq = Rate(1, kSequential, status_call, &status_failures);
  double status_par = Rate(kThreads, kPerThread, status_call, &status_failures);

  // The same writes from the direct client, on its own connection to the same simulator.
  DirectClient direct;
  if (absl::Status c = direct.Connect(stack.sim()->ws_port(), stack.dir() + "/ca.pem",
                                      testing::kStackAppKey);
      !c.ok()) {
    std::fprintf(stderr, "%s\n", std::string(c.message()).c_str());
    return 1;
  }
  for (int i = 0; i < 200; ++i) direct.Write("DirectWarmup", i);
  int direct_seq_failures = 0, direct_par_failures = 0;
  double direct_seq = Rate(1, kSequential, [&](int, int i) { return direct.Write("DirectSeq", i); },
                           &direct_seq_failures);
  double direct_par = Rate(kThreads, kPerThread,
                           [&](int, int i) { return direct.Write("DirectPar", i); },
                           &direct_par_failures);

  // Receipt latency: the simulator's receive time minus the moment the call was made.
  auto records = stack.sim()->Records();
  std::vector<double> receipt_us;
  if (records.ok()) {
    for (const json::Value& r : testing::RecordsOfKind(*records, "write")) {
      if (r.Find("name")->str() != "Seq") continue;
      int i = static_cast<int>(r.Find("value")->number());
      receipt_us.push_back(r.Find("t_us")->number() - static_cast<double>(sent_us[i]));
    }
  }

  std::printf("edged benchmark (one run; trustd, edged and platformsim on this machine, TLS 1.3 "
              "+ permessage-deflate)\n");
  std::printf("%-52s %8.0f /s   (%d failed)\n", "property writes, 1 caller (answered each)",
              seq_rate, failures);
  std::printf("%-52s %8.0f /s   (%d failed)\n", "property writes, 8 callers", par_rate,
              par_failures.load());
  std::printf("%-52s p50 %7.1f us   p99 %7.1f us\n", "gRPC call -> simulator receipt",
              Percentile(receipt_us, 0.5), Percentile(receipt_us, 0.99));
  std::printf("%-52s p50 %7.1f us   p99 %7.1f us\n", "gRPC call -> platform answer (round trip)",
              Percentile(call_us, 0.5), Percentile(call_us, 0.99));
  std::printf("%-52s %8.0f /s   (%d failed)\n", "direct client, 1 caller (answered each)",
              direct_seq, direct_seq_failures);
  std::printf("%-52s %8.0f /s   (%d failed)\n", "direct client, 8 callers", direct_par,
              direct_par_failures);
  std::printf("%-52s %8.0f /s   (%d failed)\n", "gRPC alone (Status, no platform), 1 caller",
              status_seq, status_failures);
  std::printf("%-52s %8.0f /s\n", "gRPC alone (Status, no platform), 8 callers", status_par);
  std::printf("edged/direct: 1 caller %.2f (target >= 0.70), 8 callers %.2f (target >= 0.90)\n",
              direct_seq > 0 ? seq_rate / direct_seq : 0, direct_par > 0 ? par_rate / direct_par : 0);
  // One caller: a write waits for a gRPC round trip and a platform round trip in turn, so
  // its rate is at most 1 / (1/status + 1/direct); as a share of the direct client's rate:
  std::printf("bound for any gRPC front, 1 caller: %.2f of the direct client's rate\n",
              status_seq > 0 && direct_seq > 0 ? status_seq / (status_seq + direct_seq) : 0);
  std::printf("%-52s %8ld kB\n", "edged RSS, idle (connected, 1 Thing bound)", idle_rss);
  std::printf("%-52s %8ld kB\n", "edged RSS after the load", loaded_rss);
  std::printf("(%zu receipts matched of %d sequential writes)\n", receipt_us.size(), kSequential);
  return 0;
}

}  // namespace
}  // namespace edge

int main() { return edge::Run(); }

// edged benchmark: property writes per second through edged to the platform simulator, the
// latency from the local gRPC call to the simulator's receipt (p50/p99), and edged's
// resident memory idle and after the load.
//   bazel run -c opt //bench:edged_bench
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "proto/edge/v1/edge.grpc.pb.h"
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
  std::printf("%-52s %8ld kB\n", "edged RSS, idle (connected, 1 Thing bound)", idle_rss);
  std::printf("%-52s %8ld kB\n", "edged RSS after the load", loaded_rss);
  std::printf("(%zu receipts matched of %d sequential writes)\n", receipt_us.size(), kSequential);
  return 0;
}

}  // namespace
}  // namespace edge

int main() { return edge::Run(); }

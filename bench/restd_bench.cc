// restd benchmark, one run with wrk: HTTPS keep-alive requests per second and p99 latency
// for a property read through restd (Basic auth checked by trustd, the value read from the
// platform through edged), beside nginx serving the same JSON over TLS with Basic auth on the
// same certificate, both on one worker; then new TLS handshakes per second (Connection: close)
// for restd (keyless: trustd signs) beside nginx (key in process); then keep-alive requests on
// open connections while 20 clients make new handshakes, with trustd at full speed and with
// every trustd answer 200 ms late (a proxy on trustd's socket, tests/testing/delay_proxy.h).
//   bazel run -c opt //bench:restd_bench
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <algorithm>
#include <regex>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/common/file_util.h"
#include "tests/testing/edge_stack.h"

namespace edge {
namespace {

struct WrkResult {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  long errors = 0;
  std::string raw;
};

double ToMs(const std::string& value, const std::string& unit) {
  double v = std::atof(value.c_str());
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  return v;
}

// What the shell command `cmd` prints on standard output.
std::string Output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (p) ::pclose(p);
  return out;
}

WrkResult Wrk(const std::string& url, const std::string& auth, int connections,
              bool new_connection_each) {
  std::string cmd = absl::StrCat("wrk -t1 -c", connections, " -d8s --latency --timeout 10s -H ",
                                 "'Authorization: Basic ", auth, "' ",
                                 new_connection_each ? "-H 'Connection: close' " : "", url, " 2>&1");
  WrkResult r;
  r.raw = Output(cmd);
  std::smatch m;
  if (std::regex_search(r.raw, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) r.rps = std::atof(m[1].str().c_str());
  if (std::regex_search(r.raw, m, std::regex(R"(50%\s+([0-9.]+)(us|ms|s))"))) r.p50_ms = ToMs(m[1], m[2]);
  if (std::regex_search(r.raw, m, std::regex(R"(99%\s+([0-9.]+)(us|ms|s))"))) r.p99_ms = ToMs(m[1], m[2]);
  if (std::regex_search(r.raw, m, std::regex(R"(Non-2xx or 3xx responses:\s+(\d+))"))) r.errors += std::atol(m[1].str().c_str());
  if (std::regex_search(r.raw, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    r.errors += std::atol(m[1].str().c_str()) + std::atol(m[4].str().c_str());
  }
  return r;
}

// Full TLS handshakes per second from `clients` `openssl s_time -new` processes at once for
// 8 s (each handshake new: no resumption, so each needs trustd's Sign; wrk reuses sessions).
double NewHandshakes(int port, int clients) {
  std::string cmd = absl::StrCat(
      "for i in $(seq ", clients, "); do openssl s_time -connect 127.0.0.1:", port,
      " -new -time 8 2>/dev/null | grep 'real seconds' & done; wait");
  std::string out = Output(cmd);
  double total = 0;
  std::smatch m;
  std::string rest = out;
  while (std::regex_search(rest, m, std::regex(R"((\d+) connections in (\d+) real seconds)"))) {
    total += std::atof(m[1].str().c_str()) / std::max(1.0, std::atof(m[2].str().c_str()));
    rest = m.suffix();
  }
  return total;
}

int Run() {
  if (std::system("command -v wrk >/dev/null && command -v nginx >/dev/null") != 0) {
    std::fprintf(stderr, "restd_bench needs wrk and nginx (deploy/setup.sh installs them)\n");
    return 1;
  }
  testing::EdgeStack stack;
  int port = testing::EdgeStack::FreePort();
  testing::StackConfig config;
  config.http_server = stack.RestHttpServer(port) + "  max_clients: 64\n";
  config.extra =
      "restd:\n  io_threads: 1\n  max_connections_per_address: 64\n  max_pending_handshakes: 256\n";
  absl::Status s = stack.StartSim();
  if (s.ok()) s = stack.WriteConfig(config);
  if (s.ok()) s = stack.StartTrustd();
  // edged and restd reach trustd through a proxy that can delay its answers.
  testing::DelayProxy* slow_trustd = nullptr;
  if (s.ok()) {
    absl::StatusOr<testing::DelayProxy*> proxy = stack.SlowTrustd();
    if (proxy.ok()) {
      slow_trustd = *proxy;
    } else {
      s = proxy.status();
    }
  }
  if (s.ok()) s = stack.StartEdged();
  if (s.ok()) s = stack.StartRestd();
  if (!s.ok()) {
    std::fprintf(stderr, "stack did not start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  // The value the reads return, written once through edged.
  auto edge = stack.EdgeStub();
  testing::WaitFor([&] {
    grpc::ClientContext c;
    ::edge::v1::WritePropertyRequest w;
    w.set_thing("Pump1");
    w.set_property("Temperature");
    w.mutable_value()->set_base_type(::edge::v1::NUMBER);
    w.mutable_value()->set_number_value(21.5);
    ::edge::v1::Delivery d;
    return edge->WriteProperty(&c, w, &d).ok() && d.outcome() == ::edge::v1::Delivery::DELIVERED;
  }, absl::Seconds(20));
  std::string path = "/Thingworx/Things/Pump1/Properties/Temperature";
  std::string auth = absl::Base64Escape(
      absl::StrCat(testing::kStackRestUser, ":", testing::kStackRestPassword));
  std::string restd_url = absl::StrCat("https://127.0.0.1:", port, path);

  // nginx: the same JSON, the same certificate and key, Basic auth, one worker.
  std::string dir = stack.dir();
  std::string body = "{\"dataShape\":{\"fieldDefinitions\":{\"Temperature\":{\"name\":\"Temperature\","
                     "\"description\":\"\",\"baseType\":\"NUMBER\",\"aspects\":{}}}},"
                     "\"rows\":[{\"Temperature\":21.5}]}";
  ::mkdir((dir + "/www" + "/Thingworx").c_str(), 0755);
  std::system(absl::StrCat("mkdir -p ", dir, "/www/Thingworx/Things/Pump1/Properties").c_str());
  std::ofstream(dir + "/www" + path) << body;
  std::ofstream(dir + "/nginx.pass") << testing::kStackKeyPassphrase << "\n";
  std::system(absl::StrCat("printf '%s:%s\\n' ", testing::kStackRestUser,
                           " \"$(openssl passwd -apr1 '", testing::kStackRestPassword, "')\" > ",
                           dir, "/htpasswd").c_str());
  int nginx_port = testing::EdgeStack::FreePort();
  std::ofstream(dir + "/nginx.conf") << absl::StrCat(
      "worker_processes 1;\nuser root;\ndaemon off;\npid ", dir, "/nginx.pid;\n",
      "error_log ", dir, "/nginx.error.log;\nevents { worker_connections 1024; }\n",
      "http {\n  access_log off;\n  default_type application/json;\n",
      "  server {\n    listen 127.0.0.1:", nginx_port, " ssl;\n",
      "    ssl_certificate ", dir, "/restd.pem;\n    ssl_certificate_key ", dir, "/restd.key;\n",
      "    ssl_password_file ", dir, "/nginx.pass;\n",
      "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache off;\n    ssl_session_tickets off;\n",
      "    keepalive_requests 1000000;\n",
      "    auth_basic \"EMS\";\n    auth_basic_user_file ", dir, "/htpasswd;\n",
      "    root ", dir, "/www;\n  }\n}\n");
  auto nginx = testing::Subprocess::Start({"/usr/sbin/nginx", "-p", dir, "-c", dir + "/nginx.conf"},
                                          dir + "/nginx.log");
  std::string nginx_url = absl::StrCat("https://127.0.0.1:", nginx_port, path);
  if (!nginx.ok() || !testing::WaitFor([&] {
        return std::system(absl::StrCat("curl -skf -o /dev/null -H 'Authorization: Basic ", auth,
                                        "' ", nginx_url).c_str()) == 0;
      }, absl::Seconds(10))) {
    std::fprintf(stderr, "nginx did not serve: %s\n", ReadFile(dir + "/nginx.error.log").value_or("").c_str());
    return 1;
  }
  if (std::system(absl::StrCat("curl -skf -o /dev/null -H 'Authorization: Basic ", auth, "' ",
                               restd_url).c_str()) != 0) {
    std::fprintf(stderr, "restd did not serve %s\n", restd_url.c_str());
    return 1;
  }

  WrkResult rk = Wrk(restd_url, auth, 16, false);
  WrkResult nk = Wrk(nginx_url, auth, 16, false);
  WrkResult rh = Wrk(restd_url, auth, 8, true);
  WrkResult nh = Wrk(nginx_url, auth, 8, true);
  // Keep-alive requests while 20 clients make full handshakes (no resumption), at once.
  auto under_handshakes = [&](WrkResult* keepalive, double* handshakes) {
    std::thread h([&] { *handshakes = NewHandshakes(port, 20); });
    *keepalive = Wrk(restd_url, auth, 16, false);
    h.join();
  };
  WrkResult rk_fast, rk_slow;
  double rh_fast = 0, rh_slow = 0;
  under_handshakes(&rk_fast, &rh_fast);
  slow_trustd->set_delay(absl::Milliseconds(200));
  under_handshakes(&rk_slow, &rh_slow);
  slow_trustd->set_delay(absl::ZeroDuration());

  std::printf("restd benchmark (one run, wrk -t1, 8 s each; both servers on one I/O worker, the "
              "same certificate; restd reads through edged from the platform simulator)\n");
  auto row = [](const char* what, const WrkResult& r) {
    std::printf("%-44s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   errors %ld\n", what, r.rps,
                r.p50_ms, r.p99_ms, r.errors);
  };
  row("restd  keep-alive GET property (16 conns)", rk);
  row("nginx  keep-alive GET same JSON (16 conns)", nk);
  row("restd  new TLS handshake per request (8)", rh);
  row("nginx  new TLS handshake per request (8)", nh);
  std::printf("restd/nginx: keep-alive %.0f%%, handshakes %.0f%%\n",
              nk.rps > 0 ? 100 * rk.rps / nk.rps : 0, nh.rps > 0 ? 100 * rh.rps / nh.rps : 0);
  std::printf("\nwhile 20 clients make full handshakes (openssl s_time -new), trustd at full "
              "speed and then 200 ms late:\n");
  row("restd  keep-alive (16), trustd full speed", rk_fast);
  std::printf("%-44s %9.0f handshakes/s\n", "restd  full handshakes (20), trustd full speed",
              rh_fast);
  row("restd  keep-alive (16), trustd 200 ms late", rk_slow);
  std::printf("%-44s %9.0f handshakes/s\n", "restd  full handshakes (20), trustd 200 ms late",
              rh_slow);
  // The open connections' rate while 20 handshakes wait on a slow trustd, against the same
  // keep-alive run with nothing else going on (with trustd at full speed the handshakes'
  // own CPU competes on this machine's 2 cores, so that row is not the yardstick).
  std::printf("keep-alive while 20 handshakes wait on trustd 200 ms late / keep-alive alone: "
              "%.2f (target >= 0.90)\n",
              rk.rps > 0 ? rk_slow.rps / rk.rps : 0);
  if (rk.rps == 0 || nk.rps == 0) std::printf("wrk output:\n%s\n%s\n", rk.raw.c_str(), nk.raw.c_str());
  return 0;
}

}  // namespace
}  // namespace edge

int main() { return edge::Run(); }

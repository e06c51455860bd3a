// trustd benchmark: ValidatePeer latency and throughput over the Unix socket (cached and
// uncached 3-certificate chains) beside the engine in-process, and TLS 1.3 handshakes per
// second with the keyless key (signatures by trustd) beside a local key.
//   bazel run -c opt //bench:trustd_bench
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/tls/keyless_key.h"
#include "services/tls/trustd_tls.h"
#include "services/trust/chain_validator.h"
#include "services/trust/key_signer.h"
#include "services/trustd_client/trustd_client.h"
#include "tests/pki/test_pki.h"
#include "tests/pki/test_policy.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tls_handshake.h"

namespace edge {
namespace {

using testing::CertSpec;
using testing::TestCert;
using testing::TestPki;

struct Stats {
  double p50_us, p99_us, per_second;
};

Stats Measure(int n, const std::function<void(int)>& op) {
  std::vector<double> us;
  us.reserve(n);
  absl::Time start = absl::Now();
  for (int i = 0; i < n; ++i) {
    absl::Time t = absl::Now();
    op(i);
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
  }
  double total = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100], n / total};
}

void Print(const char* name, const Stats& s) {
  std::printf("%-44s p50 %8.1f us   p99 %8.1f us   %9.0f /s\n", name, s.p50_us, s.p99_us,
              s.per_second);
}

// A TLS server context with `key` for `leaf`, sending the intermediate as the keyless
// context does (the chain as configured), so that contexts differ only in their key.
SSL_CTX* ServerContext(X509* leaf, EVP_PKEY* key, X509* intermediate) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, leaf);
  SSL_CTX_use_PrivateKey(ctx, key);
  SSL_CTX_add1_chain_cert(ctx, intermediate);
  return ctx;
}

// The machine's busy share of all its cores since the previous call (from /proc/stat).
double BusyShare() {
  static long long last_busy = 0, last_total = 0;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long busy = 0, total = 0, ticks = 0;
  stat >> cpu;
  for (int i = 0; i < 8 && stat >> ticks; ++i) {
    total += ticks;
    if (i != 3 && i != 4) busy += ticks;  // Neither idle nor iowait.
  }
  double share = total > last_total ? double(busy - last_busy) / double(total - last_total) : 0;
  last_busy = busy;
  last_total = total;
  return share;
}

// Full TLS 1.3 handshakes over socketpairs, `parallel` at a time (as a server with several
// I/O threads sees them); returns handshakes per second. The server side, which signs, runs
// on each loop's long-lived thread, as a daemon's I/O thread would.
double HandshakeRate(SSL_CTX* server_ctx, absl::Duration duration, int parallel = 1) {
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
  std::atomic<int> done{0};
  absl::Time start = absl::Now();
  absl::Time end = start + duration;
  std::vector<std::thread> loops;
  for (int p = 0; p < parallel; ++p) {
    loops.emplace_back([&] {
      while (absl::Now() < end) {
        if (testing::Handshake(server_ctx, client_ctx).server_ok) ++done;
      }
    });
  }
  for (std::thread& t : loops) t.join();
  double rate = done / absl::ToDoubleSeconds(absl::Now() - start);
  SSL_CTX_free(client_ctx);
  return rate;
}

int Main() {
  ::signal(SIGPIPE, SIG_IGN);
  TestPki pki;
  TestCert root = pki.Root("Bench Root");
  TestCert ica = pki.Issue(root, CertSpec::Ca("Bench Intermediate"));
  TestCert leaf = pki.Issue(ica, CertSpec::Server("platform.bench"));
  CertSpec rsa_spec = CertSpec::Server("platform.bench");
  rsa_spec.key_type = testing::KeyType::kRsa2048;
  TestCert rsa_leaf = pki.Issue(ica, rsa_spec);
  std::vector<std::string> chain = {leaf.Der(), ica.Der(), root.Der()};

  std::string dir = testing::ShortTempDir();
  std::string socket = dir + "/trustd.sock";
  pki.WriteFile("ca.pem", root.Pem());
  std::ofstream(dir + "/restd.pem") << leaf.Pem() << ica.Pem();
  std::ofstream(dir + "/restd.key") << leaf.KeyPem();
  ::chmod((dir + "/restd.key").c_str(), 0600);
  std::ofstream(dir + "/client.pem") << rsa_leaf.Pem() << ica.Pem();
  std::ofstream(dir + "/client.key") << rsa_leaf.KeyPem();
  ::chmod((dir + "/client.key").c_str(), 0600);
  std::ofstream(dir + "/config.yaml")
      << "ws_servers: [{host: platform.bench, port: 443}]\nappKey: \"k\"\n"
      << "http_server: {certificate: restd.pem, private_key: restd.key, user: a, password: p}\n"
      << "certificates: {cert_chain: " << pki.dir() << "/ca.pem, client_cert: client.pem, "
      << "key_file: client.key}\n"
      << "trustd: {socket: " << socket << ", master_key_file: " << dir << "/master.key}\n";
  auto trustd = testing::Subprocess::Start(
      {testing::Runfile("trustd/trustd"), "--config", dir + "/config.yaml"}, dir + "/trustd.log");
  if (!trustd.ok() || !(*trustd)->WaitForLog("serving", absl::Seconds(20))) {
    std::fprintf(stderr, "trustd did not start\n");
    return 1;
  }
  auto client = std::shared_ptr<trust::TrustdClient>(trust::TrustdClient::Create({socket}));

  std::printf("trustd benchmark (%d cores); one client, calls in sequence\n\n",
              static_cast<int>(std::thread::hardware_concurrency()));
  constexpr int kCalls = 3000;
  for (int i = 0; i < 200; ++i) client->ValidatePeer(chain, trust::Purpose::kPlatform, "platform.bench", "");
  Stats cached = Measure(kCalls, [&](int) {
    client->ValidatePeer(chain, trust::Purpose::kPlatform, "platform.bench", "");
  });
  // gRPC's own round trip over the same socket, for scale: the standard health check.
  Stats health = Measure(kCalls, [&](int) { (void)client->Health(); });
  std::vector<std::vector<std::string>> fresh;
  for (int i = 0; i < kCalls; ++i) {
    fresh.push_back({pki.Issue(ica, CertSpec::Server("platform.bench")).Der(), ica.Der(), root.Der()});
  }
  Stats uncached = Measure(kCalls, [&](int i) {
    client->ValidatePeer(fresh[i], trust::Purpose::kPlatform, "platform.bench", "");
  });

  std::unique_ptr<trust::ChainValidator> engine =
      testing::ValidatorTrusting(root, trust::Purpose::kPlatform);
  Stats in_process = Measure(kCalls, [&](int) {
    engine->Validate(chain, trust::Purpose::kPlatform, "platform.bench", absl::Now());
  });

  std::string key_id = client->GetIdentity(::trust::v1::REST_SERVER)->key_id();
  std::string digest(32, 'd');
  auto cpu_ms = [pid = (*trustd)->pid()] {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 1; i <= 15 && stat >> field; ++i) {
      if (i == 14) utime = std::stol(field);
      if (i == 15) stime = std::stol(field);
    }
    return (utime + stime) * 1000.0 / sysconf(_SC_CLK_TCK);
  };
  double cpu_before = cpu_ms();
  Stats sign = Measure(kCalls, [&](int) { (void)client->Sign(key_id, ::trust::v1::ECDSA_SHA256, digest); });
  double trustd_cpu_per_sign_us = (cpu_ms() - cpu_before) * 1000.0 / kCalls;

  Print("health Check over the socket (gRPC alone)", health);
  Print("ValidatePeer over the socket, cached", cached);
  Print("ValidatePeer over the socket, uncached", uncached);
  Print("engine in-process (no cache, no socket)", in_process);
  Print("Sign over the socket (ECDSA P-256)", sign);
  std::printf("trustd CPU per Sign: %.0f us\n", trustd_cpu_per_sign_us);
  std::printf("target: cached p50 < 150 us: %s\n\n", cached.p50_us < 150 ? "met" : "NOT met");

  SSL_CTX* ec_local = ServerContext(leaf.cert(), leaf.key(), ica.cert());
  tls::IdentityContext keyless(client, ::trust::v1::REST_SERVER, [](SSL_CTX*) {});
  if (!keyless.Refresh().ok()) {
    std::fprintf(stderr, "GetIdentity failed\n");
    return 1;
  }
  // The shim alone: a keyless key whose signer signs in-process (no trustd, no socket).
  struct InProcessSigner : tls::RemoteSigner {
    EVP_PKEY* key;
    absl::StatusOr<std::string> Sign(::trust::v1::SignatureAlgorithm a, absl::string_view in) override {
      return trust::SignWithKey(key, a, in);
    }
  };
  auto in_process_signer = std::make_shared<InProcessSigner>();
  in_process_signer->key = leaf.key();
  SSL_CTX* shim = ServerContext(
      leaf.cert(), tls::MakeKeylessKey(leaf.cert(), in_process_signer)->get(), ica.cert());
  std::printf("shim only (keyless key, in-process signer): %.0f /s\n", HandshakeRate(shim, absl::Seconds(2)));
  SSL_CTX_free(shim);

  struct TimingSigner : tls::RemoteSigner {
    std::shared_ptr<tls::RemoteSigner> inner;
    std::vector<double> us;
    absl::StatusOr<std::string> Sign(::trust::v1::SignatureAlgorithm a, absl::string_view in) override {
      absl::Time t = absl::Now();
      auto r = inner->Sign(a, in);
      us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
      return r;
    }
  };
  auto timing = std::make_shared<TimingSigner>();
  timing->inner = std::make_shared<tls::TrustdSigner>(client, key_id);
  SSL_CTX* timed =
      ServerContext(leaf.cert(), tls::MakeKeylessKey(leaf.cert(), timing)->get(), ica.cert());
  std::printf("keyless, timed: %.0f /s\n", HandshakeRate(timed, absl::Seconds(2)));
  std::sort(timing->us.begin(), timing->us.end());
  std::printf("  Sign inside handshakes: p50 %.1f us p99 %.1f us (%zu)\n", timing->us[timing->us.size() / 2],
              timing->us[timing->us.size() * 99 / 100], timing->us.size());
  SSL_CTX_free(timed);

  SSL_CTX* rsa_local = ServerContext(rsa_leaf.cert(), rsa_leaf.key(), ica.cert());
  tls::IdentityContext rsa_keyless(client, ::trust::v1::PLATFORM_CLIENT, [](SSL_CTX*) {});
  if (!rsa_keyless.Refresh().ok()) {
    std::fprintf(stderr, "GetIdentity (RSA) failed\n");
    return 1;
  }
  struct Case {
    const char* key;
    SSL_CTX* local;
    SSL_CTX* keyless;
  };
  for (const Case& c : {Case{"EC P-256", ec_local, keyless.Current().get()},
                        Case{"RSA-2048 (PSS)", rsa_local, rsa_keyless.Current().get()}}) {
    for (int parallel : {1, 4}) {
      std::vector<double> local_rates, keyless_rates, local_busy, keyless_busy;
      for (int round = 0; round < 3; ++round) {  // Interleaved, so drift hits both alike.
        BusyShare();
        local_rates.push_back(HandshakeRate(c.local, absl::Seconds(2), parallel));
        local_busy.push_back(BusyShare());
        keyless_rates.push_back(HandshakeRate(c.keyless, absl::Seconds(2), parallel));
        keyless_busy.push_back(BusyShare());
      }
      std::sort(local_busy.begin(), local_busy.end());
      std::sort(keyless_busy.begin(), keyless_busy.end());
      std::sort(local_rates.begin(), local_rates.end());
      std::sort(keyless_rates.begin(), keyless_rates.end());
      double ratio = keyless_rates[1] / local_rates[1];
      std::printf("TLS 1.3 handshakes/s, %s, %d at a time, median of 3 x 2 s:\n", c.key, parallel);
      std::printf("  local key   %8.0f /s   (machine %3.0f%% busy)\n"
                  "  keyless key %8.0f /s   (machine %3.0f%% busy; signatures by trustd)\n",
                  local_rates[1], 100 * local_busy[1], keyless_rates[1], 100 * keyless_busy[1]);
      std::printf("  keyless / local = %.0f%% (target: at least 70%%: %s)\n", ratio * 100,
                  ratio >= 0.7 ? "met" : "NOT met");
    }
  }
  SSL_CTX_free(ec_local);
  SSL_CTX_free(rsa_local);
  return 0;
}

}  // namespace
}  // namespace edge

int main() { return edge::Main(); }

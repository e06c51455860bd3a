// trustd benchmark: the engine's uncached decision in-process beside plain OpenSSL on the
// same chain and store, the most expensive x509-limbo case, ValidatePeer latency and
// throughput over the Unix socket (cached and uncached 3-certificate chains), and TLS 1.3
// handshakes per second with the keyless key (signatures by trustd) beside a local key.
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
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/file_util.h"
#include "services/tls/keyless_key.h"
#include "services/tls/trustd_tls.h"
#include "services/trust/chain_validator.h"
#include "services/trust/key_signer.h"
#include "services/trustd_client/trustd_client.h"
#include "tests/pki/test_pki.h"
#include "tests/pki/test_policy.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tls_handshake.h"
#include "trustd/limbo.h"

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

// Plain OpenSSL on a peer's chain, as a TLS client that checks the host name does it: d2i
// of the sent certificates, then X509_verify_cert with X509_STRICT, the ssl_server purpose
// and the host, against `store`. Returns whether it verified.
bool PlainOpenSslVerify(X509_STORE* store, const std::vector<std::string>& chain_der,
                        const char* host) {
  std::vector<UniqueX509> certs;
  for (const std::string& der : chain_der) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    certs.emplace_back(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!certs.back()) return false;
  }
  UniqueX509Stack untrusted(sk_X509_new_null());
  for (size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted.get(), certs[i].get());
  UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store, certs[0].get(), untrusted.get()) != 1) return false;
  X509_STORE_CTX_set_default(ctx.get(), "ssl_server");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set1_host(param, host, 0);
  bool ok = X509_verify_cert(ctx.get()) == 1;
  // The stack holds no references of its own (pushed, not up-ref'd): let the certificates
  // free themselves.
  sk_X509_zero(untrusted.get());
  return ok;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The engine's uncached decision beside plain OpenSSL, one call of each in turn so that
// the machine's drift hits both alike. Each call gets a new leaf under the same
// intermediate (a new peer): nothing about the leaf can be remembered.
void CompareEngineWithPlainOpenSsl(TestPki& pki, const TestCert& root, const TestCert& ica) {
  constexpr int kCalls = 2000;
  std::vector<std::vector<std::string>> chains;
  for (int i = 0; i < kCalls; ++i) {
    chains.push_back({pki.Issue(ica, CertSpec::Server("platform.bench")).Der(), ica.Der(),
                      root.Der()});
  }
  std::unique_ptr<trust::ChainValidator> engine =
      testing::ValidatorTrusting(root, trust::Purpose::kPlatform);
  UniqueX509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root.cert());
  // Warm-up: the engine remembers the intermediate's signature from here on, as it would
  // after the first peer under it.
  std::vector<std::string> warm = {pki.Issue(ica, CertSpec::Server("platform.bench")).Der(),
                                   ica.Der(), root.Der()};
  for (int i = 0; i < 50; ++i) {
    engine->Validate(warm, trust::Purpose::kPlatform, "platform.bench", absl::Now());
    PlainOpenSslVerify(store.get(), warm, "platform.bench");
  }
  std::vector<double> engine_us, plain_us, same_us;
  int engine_allowed = 0, plain_ok = 0;
  for (int i = 0; i < kCalls; ++i) {
    absl::Time t = absl::Now();
    engine_allowed +=
        engine->Validate(chains[i], trust::Purpose::kPlatform, "platform.bench", absl::Now())
            .allowed;
    engine_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
    t = absl::Now();
    plain_ok += PlainOpenSslVerify(store.get(), chains[i], "platform.bench");
    plain_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
    t = absl::Now();
    engine->Validate(warm, trust::Purpose::kPlatform, "platform.bench", absl::Now());
    same_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
  }
  double engine_p50 = Median(engine_us), plain_p50 = Median(plain_us);
  std::printf("Uncached decision, 3-certificate chain (EC P-256), a new leaf each call, "
              "median of %d:\n", kCalls);
  std::printf("  engine in-process (path building, RFC 5280, web-PKI profile) %8.1f us  "
              "(%d/%d allowed)\n", engine_p50, engine_allowed, kCalls);
  std::printf("  plain OpenSSL (d2i + X509_verify_cert, X509_STRICT, host)    %8.1f us  "
              "(%d/%d verified)\n", plain_p50, plain_ok, kCalls);
  std::printf("  engine / plain OpenSSL = %.2f (target: at most 1.0: %s)\n",
              engine_p50 / plain_p50, engine_p50 <= plain_p50 ? "met" : "NOT met");
  std::printf("  engine, the same chain again (every signature remembered)    %8.1f us\n\n",
              Median(same_us));
}

// The most expensive case of the x509-limbo suite: each case's decision time is the median
// of a few runs of the whole file.
void LimboWorstCase() {
  auto json = ReadFile(testing::Runfile("tests/limbo/limbo.json"));
  if (!json.ok()) {
    std::printf("limbo: %s\n\n", std::string(json.status().message()).c_str());
    return;
  }
  constexpr int kRuns = 5;
  std::map<std::string, std::vector<double>> us;
  double total_ms = 0;
  for (int run = 0; run < kRuns; ++run) {
    auto results = trustd::RunLimboCases(*json);
    if (!results.ok()) return;
    for (const trustd::LimboResult& r : *results) {
      us[r.id].push_back(absl::ToDoubleMicroseconds(r.decision_time));
      total_ms += absl::ToDoubleMilliseconds(r.decision_time) / kRuns;
    }
  }
  std::string worst;
  double worst_us = -1;
  std::vector<double> medians;
  for (auto& [id, v] : us) {
    double m = Median(v);
    medians.push_back(m);
    if (m > worst_us) {
      worst_us = m;
      worst = id;
    }
  }
  std::printf("x509-limbo, %zu cases, decision time (median of %d runs): per case p50 %.1f us, "
              "all cases %.1f ms\n", us.size(), kRuns, Median(medians), total_ms);
  std::printf("  most expensive case: %s, %.1f us\n\n", worst.c_str(), worst_us);
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

  std::printf("trustd benchmark (%d cores)\n\n",
              static_cast<int>(std::thread::hardware_concurrency()));
  CompareEngineWithPlainOpenSsl(pki, root, ica);
  LimboWorstCase();

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

  std::printf("Over trustd's socket: one client, calls in sequence\n");
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
  Stats in_process = Measure(kCalls, [&](int i) {
    engine->Validate(fresh[i], trust::Purpose::kPlatform, "platform.bench", absl::Now());
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
  Print("engine in-process (new leaf, no socket)", in_process);
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

// EdgeStack: the stack's daemons as real processes in one temporary directory, for
// integration tests and benchmarks: a development PKI on disk, a sealed app key, the
// platform simulator, trustd and edged (restd joins later), all on loopback and Unix
// sockets.
//
//   EdgeStack stack;
//   ASSERT_TRUE(stack.StartSim().ok());
//   ASSERT_TRUE(stack.WriteConfig({}).ok());
//   ASSERT_TRUE(stack.StartTrustd().ok());
//   ASSERT_TRUE(stack.StartEdged().ok());
//   auto edge = stack.EdgeStub();
#ifndef TESTS_TESTING_EDGE_STACK_H_
#define TESTS_TESTING_EDGE_STACK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/trust/master_key.h"
#include "tests/pki/test_pki.h"
#include "tests/platformsim/platformsim_process.h"
#include "tests/testing/delay_proxy.h"
#include "tests/testing/subprocess.h"

namespace edge::testing {

inline constexpr char kStackAppKey[] = "edge-app-key-0001";
inline constexpr char kStackMasterKey[] = "0123456789abcdef0123456789abcdef";
inline constexpr char kStackKeyPassphrase[] = "restd key pass";
inline constexpr char kStackRestUser[] = "admin";
inline constexpr char kStackRestPassword[] = "rest pass 42";

struct StackConfig {
  std::string platform_host = "localhost";
  int store_kb = 0;  // offline_msg_store.max_size; 0: the default.
  std::string ws_connection =
      "  msg_timeout: 3000\n  connect_retry_interval: 200\n  max_connect_delay: 100\n"
      "  ping_rate: 2000\n  pingpong_timeout: 2000\n";
  std::string http_server = "http_server:\n  ssl: false\n  authenticate: false\n";
  std::string auto_bind = "auto_bind:\n  - name: Pump1\n";
  std::string certificates = "certificates:\n  cert_chain: ca.pem\n";
  std::string extra;  // More top-level YAML (groups not written above).
  // More keys of the trustd and edged groups (each line indented by two spaces).
  std::string trustd_extra;
  std::string edged_extra;
  // ws_servers entries before the simulator's (e.g. a dead one, for fall-over).
  std::string servers_before;
  // The platform's WebSocket port when the platform is another process than the simulator
  // (tests/hostileplatform); 0: the simulator's, which must have been started.
  int platform_port = 0;
};

class EdgeStack {
 public:
  // Mints root, intermediate, the platform certificate (localhost) and restd's
  // (localhost, key encrypted with kStackKeyPassphrase in restd.key).
  EdgeStack();

  const std::string& dir() const { return dir_; }
  TestPki& pki() { return pki_; }
  const TestCert& root() const { return root_; }
  const TestCert& ica() const { return ica_; }
  const TestCert& platform() const { return platform_; }
  const TestCert& rest() const { return rest_; }
  std::string Seal(const std::string& plaintext) const;
  // Writes dir/name atomically (temporary file and rename), as operators' tooling does.
  void WriteFile(const std::string& name, const std::string& content, int mode = 0644) const;

  // The simulator, serving dir/cert and dir/key; `port` 0 for any. It refuses a WebSocket
  // upgrade without `app_key` in its appKey header unless `require_appkey_header` is false
  // (then only the AUTH message is judged). `properties`: declared properties
  // ("Thing/Prop=NUMBER", platformsim --property). Its file repositories are under
  // dir/repository/<Thing>/.
  absl::Status StartSim(const std::string& cert = "platform.pem",
                        const std::string& key = "platform.key",
                        const std::string& app_key = kStackAppKey, int port = 0,
                        bool require_appkey_header = true,
                        const std::vector<std::string>& properties = {});
  absl::Status WriteConfig(const StackConfig& config);
  absl::Status StartTrustd();
  // After StartTrustd, before the daemons that should use it: trustd's socket moves aside
  // and a DelayProxy takes its path, so that every trustd answer can be made late
  // (set_delay on the result; no delay until then). The stack owns the proxy.
  absl::StatusOr<DelayProxy*> SlowTrustd();
  // edged, logging to dir/`log_name`; `wrapper` runs before it (as for restd).
  absl::Status StartEdged(const std::string& log_name = "edged.log",
                          const std::vector<std::string>& wrapper = {});
  // The running edged, handed over, so that a test can start another beside it.
  std::unique_ptr<Subprocess> TakeEdged() { return std::move(edged_); }
  // restd; `wrapper` runs before it (e.g. {"strace", "-f", "-o", "trace"}).
  absl::Status StartRestd(const std::vector<std::string>& wrapper = {});
  // The edge endpoint (an LSR stand-in) on `port` (0: a free one); HTTPS when `cert` is set.
  // `extra_args` go to it as they are (e.g. {"--log-requests"}). Returns its port.
  absl::StatusOr<int> StartEndpoint(const std::string& cert, const std::string& key,
                                    const std::string& user = "",
                                    const std::string& password = "", int port = 0,
                                    const std::vector<std::string>& extra_args = {});

  // The http_server group for restd on `port`: TLS with restd.pem/restd.key, Basic
  // authentication with kStackRestUser/kStackRestPassword (sealed).
  std::string RestHttpServer(int port) const;
  // A port that was free a moment ago.
  static int FreePort();

  PlatformSimProcess* sim() { return sim_.get(); }
  Subprocess* trustd() { return trustd_.get(); }
  Subprocess* edged() { return edged_.get(); }
  Subprocess* restd() { return restd_.get(); }
  Subprocess* endpoint() { return endpoint_.get(); }
  void StopSim() { sim_.reset(); }
  std::string config_path() const { return dir_ + "/config.yaml"; }
  std::string edged_socket() const { return dir_ + "/edged.sock"; }
  std::string trustd_socket() const { return dir_ + "/trustd.sock"; }

  std::unique_ptr<::edge::v1::EdgeService::Stub> EdgeStub() const;

 private:
  TestPki pki_;
  std::string dir_;
  TestCert root_, ica_, platform_, rest_;
  trust::MasterKey key_;
  std::unique_ptr<PlatformSimProcess> sim_;
  std::unique_ptr<DelayProxy> trustd_proxy_;  // Outlives the daemons that use it.
  std::unique_ptr<Subprocess> trustd_, edged_, restd_, endpoint_;
};

}  // namespace edge::testing

#endif  // TESTS_TESTING_EDGE_STACK_H_

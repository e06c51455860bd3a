// Edged: the whole daemon as one object. Its parts are members declared in the order they
// depend on one another (each uses only parts above it), so they are destroyed in reverse:
//
//   metrics -> trustd client -> TLS contexts (client identity or plain) -> identity watch
//   -> offline store -> caller policy -> Unix socket listener -> file service
//   -> EdgeServiceImpl
//   -> PlatformSession -> Delivery -> gRPC server
//
// Callbacks handed to the session capture `this`: Stop() (also run by the destructor)
// stops the session before any member is destroyed, so they never outlive what they use.
//
//   absl::StatusOr<std::unique_ptr<Edged>> edged = Edged::Create(config, config_path);
//   if (!edged.ok()) { std::cerr << edged.status().message() << "\n"; return 1; }
//   (*edged)->Start();
//   AwaitTerminationSignal();
//   (*edged)->Stop();
#ifndef EDGED_EDGED_H_
#define EDGED_EDGED_H_

#include <grpcpp/grpcpp.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "edged/delivery.h"
#include "edged/edge_service.h"
#include "edged/edged_metrics.h"
#include "edged/file_service.h"
#include "edged/offline_store.h"
#include "edged/platform_session.h"
#include "services/config/config.h"
#include "services/metrics/metrics_server.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"
#include "services/tls/trustd_tls.h"
#include "services/trustd_client/trustd_client.h"

namespace edge::edged {

class Edged {
 public:
  // Every part built from `config` (checked already: startup_checks). An error's message
  // is what the operator reads on stderr: what failed and "edged: not started".
  static absl::StatusOr<std::unique_ptr<Edged>> Create(const config::Config& config,
                                                       const std::string& config_path);
  ~Edged();

  // The gRPC server on the socket, then the platform session.
  absl::Status Start();
  // In reverse: no new local callers, the calls in flight get 2 s, then the session and the
  // identity watch. Idempotent.
  void Stop();

 private:
  explicit Edged(config::Config config) : config_(std::move(config)) {}
  absl::Status Build(const std::string& config_path);

  const config::Config config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<EdgedMetrics> metrics_;           // Counted whether served or not.
  std::unique_ptr<metrics::MetricsServer> metrics_server_;  // Null: edged.metrics unset.
  std::shared_ptr<trust::TrustdClient> trustd_;
  std::shared_ptr<tls::PeerValidator> validator_;
  std::unique_ptr<tls::IdentityContext> identity_;  // Mutual TLS: follows trustd's rotations.
  std::shared_ptr<SSL_CTX> plain_;                  // TLS without a client certificate.
  std::unique_ptr<trust::TrustWatch> identity_watch_;
  std::unique_ptr<OfflineStore> store_;             // Null: offline_msg_store disabled.
  std::shared_ptr<const local_rpc::CallerPolicy> callers_;
  std::unique_ptr<local_rpc::UdsListener> listener_;
  std::unique_ptr<FileService> files_;              // Null: no file.virtual_dirs.
  std::vector<std::string> auto_bind_;
  std::unique_ptr<EdgeServiceImpl> service_;
  std::unique_ptr<PlatformSession> session_;
  std::unique_ptr<Delivery> delivery_;
  std::unique_ptr<grpc::Server> server_;
  bool stopped_ = false;
};

}  // namespace edge::edged

#endif  // EDGED_EDGED_H_

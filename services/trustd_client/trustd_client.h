// TrustdClient: how edged, restd and trustctl ask trustd. Every call has a deadline; the
// channel reconnects by itself; and every failure to get an answer is a refusal:
// ValidatePeer returns a denying Decision (TRUSTD_UNAVAILABLE), CheckPassword an error the
// caller must treat as "no", Sign an error that fails the handshake.
//
//   auto trustd = TrustdClient::Create({.socket_path = "/run/edge/trustd.sock"});
//   Decision d = trustd->ValidatePeer(chain_der, Purpose::kPlatform, "platform.example",
//                                     "platform.example:443");
//
// Thread-safe: calls may be made concurrently from any thread.
#ifndef SERVICES_TRUSTD_CLIENT_TRUSTD_CLIENT_H_
#define SERVICES_TRUSTD_CLIENT_TRUSTD_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/trust/v1/trust.grpc.pb.h"
#include "services/trust/decision.h"

namespace edge::trust {

namespace v1 = ::trust::v1;

struct TrustdClientOptions {
  std::string socket_path = "/run/edge/trustd.sock";
  absl::Duration deadline = absl::Seconds(2);  // Per call.
};

// A running WatchTrust subscription; stops (and joins its thread) when destroyed.
class TrustWatch {
 public:
  ~TrustWatch();

 private:
  friend class TrustdClient;
  TrustWatch() = default;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

class TrustdClient {
 public:
  static std::unique_ptr<TrustdClient> Create(TrustdClientOptions options);

  // Never fails: when trustd cannot answer in time the Decision denies, with reason
  // TRUSTD_UNAVAILABLE and a detail that says why.
  Decision ValidatePeer(const std::vector<std::string>& chain_der, Purpose purpose,
                        const std::string& peer_name, const std::string& endpoint);

  absl::StatusOr<v1::Identity> GetIdentity(v1::Role role);
  absl::StatusOr<std::string> Sign(const std::string& key_id, v1::SignatureAlgorithm algorithm,
                                   absl::string_view input);
  // An error means "not checked": the caller must refuse the request.
  absl::StatusOr<bool> CheckPassword(const std::string& realm, const std::string& user,
                                     const std::string& password);
  absl::StatusOr<std::string> RevealSecret(const std::string& name);
  absl::StatusOr<std::string> Seal(const std::string& plaintext);
  // "SERVING" when trustd answers the standard health check.
  absl::StatusOr<std::string> Health();

  // Calls `on_snapshot` from a thread of its own with every TrustSnapshot, resubscribing
  // after a lost connection (the first snapshot after a reconnect is the full state).
  std::unique_ptr<TrustWatch> Watch(std::function<void(const v1::TrustSnapshot&)> on_snapshot);

  const std::string& target() const { return target_; }

 private:
  TrustdClient(TrustdClientOptions options);
  absl::Status ToStatus(const grpc::Status& status, absl::string_view method) const;
  // One unary call with the deadline; errors name the method and the socket.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::TrustService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                     Response*),
      const Request& request, absl::string_view name) const;

  TrustdClientOptions options_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TrustService::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUSTD_CLIENT_TRUSTD_CLIENT_H_

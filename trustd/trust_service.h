// TrustServiceImpl: trust.v1.TrustService over the current TrustState. Every call is
// authorised by the caller's Unix credentials (CallerPolicy) before anything else; a
// refusal is PERMISSION_DENIED and a log line naming uid, pid and method.
//
// The state is swapped atomically by Reload (rotation): calls in flight finish on the state
// they started with; Sign also accepts the key ids of the previous state, so a handshake
// that began just before a rotation completes. WatchTrust streams a full snapshot at once
// and one after every swap. Thread-safe.
//
// Hostile local callers (anyone who can open the socket may call ValidatePeer) are
// bounded: a ValidatePeer request by the limits below (INVALID_ARGUMENT naming the field and
// the limit), what a decision keeps by the trust engine's own bounds (decision.h) and the
// decision cache in entries and bytes.
#ifndef TRUSTD_TRUST_SERVICE_H_
#define TRUSTD_TRUST_SERVICE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "proto/trust/v1/trust.grpc.pb.h"
#include "services/trust/decision_cache.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"
#include "trustd/trust_state.h"

namespace edge::trustd {

using local_rpc::CallerPolicy;
using local_rpc::PeerCredentials;
using local_rpc::PeerRegistry;

// What anyone who can open trustd's socket may call (its mode and group decide who can):
// a verdict on a peer, sealing a secret, and the trust material's public snapshot.
inline const std::set<std::string>& OpenTrustdMethods() {
  static const std::set<std::string> kOpen = {"ValidatePeer", "Seal", "WatchTrust"};
  return kOpen;
}

// The CallerPolicy of trustd's configuration (trustd.callers, names resolved to ids).
absl::StatusOr<CallerPolicy> TrustdCallerPolicy(const config::Config& config);

// What a ValidatePeerRequest may hold. Real TLS chains are 2-5 certificates of 1-2 KB; these
// leave a wide margin and still bound what one request costs trustd (it is parsed, copied
// and judged in memory).
inline constexpr size_t kMaxChainCertificates = 16;          // chain_der entries.
inline constexpr size_t kMaxCertificateBytes = 64 * 1024;    // Each chain_der entry.
inline constexpr size_t kMaxChainBytes = 512 * 1024;         // All chain_der entries together.
inline constexpr size_t kMaxPeerNameBytes = 253;             // A DNS name (RFC 1035).
inline constexpr size_t kMaxEndpointBytes = 512;             // "host:port", for logs.

// The gRPC server's limit on any request message (SetMaxReceiveMessageSize): the largest
// ValidatePeerRequest the limits above accept, plus room for its field tags and lengths. A
// request within the limits is never refused by gRPC, so callers get the INVALID_ARGUMENT
// that names the field; a larger message is refused by gRPC (RESOURCE_EXHAUSTED, "Received
// message larger than max") before trustd parses it. No other request comes near.
inline constexpr int kMaxRequestMessageBytes =
    static_cast<int>(kMaxChainBytes + kMaxPeerNameBytes + kMaxEndpointBytes + 1024);

// OK when `request` is within the limits above; otherwise INVALID_ARGUMENT naming the field,
// what it holds and the limit ("chain_der: 40 certificates, at most 16").
grpc::Status CheckValidatePeerRequest(const ::trust::v1::ValidatePeerRequest& request);

// The decision cache: at most this many decisions and bytes (DecisionCache::EntryBytes). A
// typical decision (3 certificates) is charged about 2 KB, so some 8,000 of them fit in the
// bytes, far more peers than a gateway talks to; the largest a bounded decision can be (20
// certificates, 16 warnings, every name and sentence at its limit: 58 KB) fit 280 times.
inline constexpr size_t kDecisionCacheEntries = 10000;
inline constexpr size_t kDecisionCacheBytes = 16 << 20;

// The hot paths of handshakes (ValidatePeer, Sign, CheckPassword) use gRPC's callback API:
// they run on gRPC's own threads without a hand-off to a worker thread, which halves the
// latency a handshake waits for. The others are ordinary synchronous methods.
using TrustServiceBase = ::trust::v1::TrustService::WithCallbackMethod_ValidatePeer<
    ::trust::v1::TrustService::WithCallbackMethod_Sign<
        ::trust::v1::TrustService::WithCallbackMethod_CheckPassword<
            ::trust::v1::TrustService::Service>>>;

class TrustServiceImpl final : public TrustServiceBase {
 public:
  using Clock = std::function<absl::Time()>;

  TrustServiceImpl(std::shared_ptr<const TrustState> state, CallerPolicy callers,
                   const PeerRegistry* peers, Clock clock = absl::Now);

  // Makes `state` current (a rotation) and wakes every WatchTrust stream.
  void Swap(std::shared_ptr<const TrustState> state, CallerPolicy callers);
  std::shared_ptr<const TrustState> state() const;
  // Ends every WatchTrust stream (at shutdown).
  void Shutdown();

  grpc::ServerUnaryReactor* ValidatePeer(grpc::CallbackServerContext* context,
                                 const ::trust::v1::ValidatePeerRequest* request,
                                 ::trust::v1::Decision* response) override;
  grpc::Status GetIdentity(grpc::ServerContext* context,
                           const ::trust::v1::GetIdentityRequest* request,
                           ::trust::v1::Identity* response) override;
  grpc::ServerUnaryReactor* Sign(grpc::CallbackServerContext* context,
                                 const ::trust::v1::SignRequest* request,
                                 ::trust::v1::SignResponse* response) override;
  grpc::ServerUnaryReactor* CheckPassword(grpc::CallbackServerContext* context,
                                 const ::trust::v1::CheckPasswordRequest* request,
                                 ::trust::v1::CheckPasswordResponse* response) override;
  grpc::Status RevealSecret(grpc::ServerContext* context,
                            const ::trust::v1::RevealSecretRequest* request,
                            ::trust::v1::RevealSecretResponse* response) override;
  grpc::Status Seal(grpc::ServerContext* context, const ::trust::v1::SealRequest* request,
                    ::trust::v1::SealResponse* response) override;
  grpc::Status WatchTrust(grpc::ServerContext* context,
                          const ::trust::v1::WatchTrustRequest* request,
                          grpc::ServerWriter<::trust::v1::TrustSnapshot>* writer) override;

 private:
  // The policy and states in force, taken together so that one call sees one generation.
  struct View {
    std::shared_ptr<const CallerPolicy> callers;
    std::shared_ptr<const TrustState> state;
    std::shared_ptr<const TrustState> previous;  // May be null.
  };
  View Current() const;

  // The caller's credentials when it may call `method`; PERMISSION_DENIED otherwise.
  grpc::Status Authorize(grpc::ServerContextBase* context, absl::string_view method,
                         PeerCredentials* caller) const;
  grpc::Status DoValidatePeer(grpc::ServerContextBase* context,
                              const ::trust::v1::ValidatePeerRequest* request,
                              ::trust::v1::Decision* response);
  grpc::Status DoSign(grpc::ServerContextBase* context, const ::trust::v1::SignRequest* request,
                      ::trust::v1::SignResponse* response);
  grpc::Status DoCheckPassword(grpc::ServerContextBase* context,
                               const ::trust::v1::CheckPasswordRequest* request,
                               ::trust::v1::CheckPasswordResponse* response);

  const PeerRegistry* peers_;
  Clock clock_;
  trust::DecisionCache cache_{kDecisionCacheEntries, kDecisionCacheBytes};
  mutable absl::Mutex mu_;
  std::shared_ptr<const TrustState> state_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TrustState> previous_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const CallerPolicy> callers_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace edge::trustd

#endif  // TRUSTD_TRUST_SERVICE_H_

// TrustServiceImpl: trust.v1.TrustService over the current TrustState. Every call is
// authorised by the caller's Unix credentials (CallerPolicy) before anything else; a
// refusal is PERMISSION_DENIED and a log line naming uid, pid and method.
//
// The state is swapped atomically by Reload (rotation): calls in flight finish on the state
// they started with; Sign also accepts the key ids of the previous state, so a handshake
// that began just before a rotation completes. WatchTrust streams a full snapshot at once
// and one after every swap. Thread-safe.
//
// Hostile local callers (anyone who can open the socket may call ValidatePeer and
// WatchTrust) are bounded: a ValidatePeer request by the limits below (INVALID_ARGUMENT
// naming the field and the limit), what a decision keeps by the trust engine's own bounds
// (decision.h) and the decision cache in entries and bytes; WatchTrust streams hold no
// thread (callback API) and are limited per uid and in all (RESOURCE_EXHAUSTED).
//
// The service must outlive the grpc::Server it is registered with; call Shutdown before
// the server's own Shutdown so that every WatchTrust stream finishes.
#ifndef TRUSTD_TRUST_SERVICE_H_
#define TRUSTD_TRUST_SERVICE_H_

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/trust/v1/trust.grpc.pb.h"
#include "services/trust/decision_cache.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"
#include "trustd/trust_state.h"

namespace edge::trustd {

class TrustdMetrics;

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

// WatchTrust streams open at once, per caller uid and in all. A stream holds no thread but
// a call, its buffers and one snapshot in flight; each daemon needs one or two, so a uid
// that wants more is misbehaving. A stream over a limit is refused with RESOURCE_EXHAUSTED.
inline constexpr int kMaxWatchStreamsPerUid = 64;
inline constexpr int kMaxWatchStreams = 1024;
// Refusals of WatchTrust are logged at most once per this interval (with the number
// refused since the last line), so that a flood of refusals is not a flood of log lines.
inline constexpr absl::Duration kWatchRefusalLogInterval = absl::Seconds(10);

// The hot paths of handshakes (ValidatePeer, Sign, CheckPassword) use gRPC's callback API:
// they run on gRPC's own threads without a hand-off to a worker thread, which halves the
// latency a handshake waits for. WatchTrust does too, so that an open stream holds no
// thread (a synchronous stream held one for its whole life: 3,000 streams, 3,000 threads).
// The others are ordinary synchronous methods.
using TrustServiceBase = ::trust::v1::TrustService::WithCallbackMethod_ValidatePeer<
    ::trust::v1::TrustService::WithCallbackMethod_Sign<
        ::trust::v1::TrustService::WithCallbackMethod_CheckPassword<
            ::trust::v1::TrustService::WithCallbackMethod_WatchTrust<
                ::trust::v1::TrustService::Service>>>>;

class TrustServiceImpl final : public TrustServiceBase {
 public:
  using Clock = std::function<absl::Time()>;

  TrustServiceImpl(std::shared_ptr<const TrustState> state, CallerPolicy callers,
                   const PeerRegistry* peers, Clock clock = absl::Now);

  ~TrustServiceImpl() override;

  // Before serving: decisions, signatures and denied callers are counted there (must
  // outlive the service).
  void set_metrics(TrustdMetrics* metrics) { metrics_ = metrics; }

  // Makes `state` current (a rotation) and offers its snapshot to every WatchTrust stream.
  void Swap(std::shared_ptr<const TrustState> state, CallerPolicy callers);
  std::shared_ptr<const TrustState> state() const;
  // Finishes every WatchTrust stream (UNAVAILABLE "trustd is stopping") and refuses new
  // ones (at shutdown). The streams' last callbacks run on gRPC's threads afterwards; the
  // server's Shutdown waits for them.
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
  grpc::ServerWriteReactor<::trust::v1::TrustSnapshot>* WatchTrust(
      grpc::CallbackServerContext* context,
      const ::trust::v1::WatchTrustRequest* request) override;

 private:
  class Watch;  // One WatchTrust stream; trust_service.cc.

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

  // Counts `watch` as a stream of `caller` and sets `snapshot` to the current one when the
  // limits allow it and trustd is not stopping; else the status to refuse it with
  // (RESOURCE_EXHAUSTED, logged; UNAVAILABLE).
  grpc::Status AdmitWatch(Watch* watch, const PeerCredentials& caller,
                          std::shared_ptr<const ::trust::v1::TrustSnapshot>* snapshot);
  // One log line for a refused stream, at most one per kWatchRefusalLogInterval (the
  // next one says how many were not logged).
  void LogWatchRefusal(const PeerCredentials& caller, const std::string& refusal)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_mu_);
  // Called by an admitted stream of `uid` once gRPC is done with it: it no longer counts.
  void ForgetWatch(Watch* watch, uid_t uid);
  // True the first time a decision accepting the leaf `leaf_sha256` with warnings (a
  // self-signed certificate under certificates.allow_self_signed, a trustd.policy
  // relaxation) is to be logged: once per certificate, not on every decision. Remembers
  // kMaxWarnedLeaves of them, the oldest forgotten first.
  bool FirstAcceptanceWarning(const std::string& leaf_sha256);

  // The master key for Seal: the state's (valid while the caller holds `state`), or one
  // this trustd created on the first Seal when its configuration needed none (nothing
  // sealed, no key yet; set once, kept for the service's life). Null, with `refusal`, when
  // neither.
  const trust::MasterKey* SealingKey(const TrustState& state, grpc::Status* refusal);

  const PeerRegistry* peers_;
  Clock clock_;
  TrustdMetrics* metrics_ = nullptr;
  absl::Mutex seal_mu_;
  std::optional<trust::MasterKey> created_key_ ABSL_GUARDED_BY(seal_mu_);
  trust::DecisionCache cache_{kDecisionCacheEntries, kDecisionCacheBytes};
  static constexpr size_t kMaxWarnedLeaves = 4096;
  absl::Mutex warned_mu_;
  std::set<std::string> warned_ ABSL_GUARDED_BY(warned_mu_);
  std::deque<std::string> warned_oldest_first_ ABSL_GUARDED_BY(warned_mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const TrustState> state_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TrustState> previous_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const CallerPolicy> callers_ ABSL_GUARDED_BY(mu_);
  // state_'s snapshot, made once per generation for every stream.
  std::shared_ptr<const ::trust::v1::TrustSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);

  // The streams, under a mutex of their own so that offering a snapshot to every stream
  // never delays another call. Lock order: watch_mu_ first; mu_ (AdmitWatch reads the
  // snapshot) and a stream's own mutex (Swap and Shutdown reach every stream) may be taken
  // while holding it, never the other way round. Holding watch_mu_ also keeps every stream
  // in watches_ alive: a stream leaves it in ForgetWatch before it is deleted.
  mutable absl::Mutex watch_mu_;
  std::set<Watch*> watches_ ABSL_GUARDED_BY(watch_mu_);
  std::map<uid_t, int> watches_by_uid_ ABSL_GUARDED_BY(watch_mu_);
  bool shutdown_ ABSL_GUARDED_BY(watch_mu_) = false;
  absl::Time last_refusal_log_ ABSL_GUARDED_BY(watch_mu_) = absl::InfinitePast();
  int refusals_unlogged_ ABSL_GUARDED_BY(watch_mu_) = 0;
};

}  // namespace edge::trustd

#endif  // TRUSTD_TRUST_SERVICE_H_

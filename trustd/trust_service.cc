#include "trustd/trust_service.h"

#include <grp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pwd.h>

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/finished_call.h"
#include "services/common/log.h"
#include "services/common/status_mapping.h"
#include "services/local_rpc/authorize.h"
#include "services/trust/key_signer.h"
#include "services/trust/sealed_secret.h"
#include "proto/trust/v1/decision_proto.h"
#include "trustd/trustd_metrics.h"

namespace edge::trustd {
namespace {

namespace v1 = ::trust::v1;

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::REST_SERVER: return "rest_server";
    case v1::PLATFORM_CLIENT: return "platform_client";
    default: return "unknown";
  }
}

// Equal in time independent of where the strings differ, and of their lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// The steps of CheckValidatePeerRequest, each returning the failure it found.
grpc::Status CheckCertificateCount(const v1::ValidatePeerRequest& request) {
  size_t n = static_cast<size_t>(request.chain_der_size());
  if (n <= kMaxChainCertificates) return grpc::Status::OK;
  return InvalidArgument(
      absl::StrCat("chain_der: ", n, " certificates, at most ", kMaxChainCertificates));
}

grpc::Status CheckEachCertificateSize(const v1::ValidatePeerRequest& request) {
  for (int i = 0; i < request.chain_der_size(); ++i) {
    size_t bytes = request.chain_der(i).size();
    if (bytes > kMaxCertificateBytes) {
      return InvalidArgument(absl::StrCat("chain_der[", i, "]: ", bytes, " bytes, at most ",
                                          kMaxCertificateBytes, " per certificate"));
    }
  }
  return grpc::Status::OK;
}

grpc::Status CheckChainSize(const v1::ValidatePeerRequest& request) {
  size_t total = 0;
  for (const std::string& der : request.chain_der()) total += der.size();
  if (total <= kMaxChainBytes) return grpc::Status::OK;
  return InvalidArgument(
      absl::StrCat("chain_der: ", total, " bytes in all, at most ", kMaxChainBytes));
}

grpc::Status CheckPeerName(const v1::ValidatePeerRequest& request) {
  size_t bytes = request.peer_name().size();
  if (bytes <= kMaxPeerNameBytes) return grpc::Status::OK;
  return InvalidArgument(absl::StrCat("peer_name: ", bytes, " bytes, at most ",
                                      kMaxPeerNameBytes, " (a DNS name or an IP address)"));
}

grpc::Status CheckEndpoint(const v1::ValidatePeerRequest& request) {
  size_t bytes = request.endpoint().size();
  if (bytes <= kMaxEndpointBytes) return grpc::Status::OK;
  return InvalidArgument(
      absl::StrCat("endpoint: ", bytes, " bytes, at most ", kMaxEndpointBytes));
}

// The user trustd runs as, for the command that fixes a directory it cannot create.
std::string OwnUserName() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : std::to_string(::geteuid());
}

}  // namespace

absl::StatusOr<CallerPolicy> TrustdCallerPolicy(const config::Config& config) {
  return local_rpc::CallerPolicyFromConfig(config.trustd.callers, "trustd", OpenTrustdMethods());
}

grpc::Status CheckValidatePeerRequest(const v1::ValidatePeerRequest& request) {
  using Check = grpc::Status (*)(const v1::ValidatePeerRequest&);
  // The count first: it is the cheapest and the one a flood of certificates breaks.
  for (Check check : {CheckCertificateCount, CheckEachCertificateSize, CheckChainSize,
                      CheckPeerName, CheckEndpoint}) {
    grpc::Status status = check(request);
    if (!status.ok()) return status;
  }
  return grpc::Status::OK;
}

// One WatchTrust stream, on gRPC's callback API: it holds no thread, only what it is
// writing. At most one write is in flight; snapshots offered meanwhile are coalesced to the
// latest (a reader that falls behind gets the newest state, never a queue of old ones), and
// a snapshot whose generation is not newer than the last one offered is dropped.
//
// Owned by gRPC from WatchTrust's return until OnDone, which deletes it. Reactions (gRPC
// threads) and Offer/Stop (Swap, Shutdown) run concurrently, serialized by mu_. gRPC runs
// the reactions of a reactor like this one (not "inlineable") on its executor, never inside
// StartWrite or Finish (grpcpp/impl/codegen/server_callback_handlers.h), so both may be
// called with mu_ held, and OnDone may take the service's watch_mu_ (which Swap holds while
// it calls Offer).
class TrustServiceImpl::Watch final : public grpc::ServerWriteReactor<v1::TrustSnapshot> {
 public:
  explicit Watch(TrustServiceImpl* service) : service_(service) {}

  // Counted by the service for `uid` from now on: OnDone tells it when gRPC is done.
  void MarkAdmitted(uid_t uid) {
    absl::MutexLock lock(&mu_);
    admitted_ = true;
    uid_ = uid;
  }

  // Writes `snapshot` now, or after the write in flight; a later Offer replaces it.
  void Offer(std::shared_ptr<const v1::TrustSnapshot> snapshot) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    if (offered_any_ && snapshot->generation() <= offered_generation_) return;
    offered_any_ = true;
    offered_generation_ = snapshot->generation();
    if (in_flight_) {
      next_ = std::move(snapshot);
      return;
    }
    WriteLocked(std::move(snapshot));
  }

  // Ends the stream with `status` (after the write in flight, if any). Idempotent: the
  // first status wins.
  void Stop(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    in_flight_.reset();
    if (!ok) {
      // The stream is gone (cancelled, connection lost): nothing more can be written.
      FinishLocked(grpc::Status::CANCELLED);
    }
    if (finishing_) {
      if (deferred_finish_) {
        Finish(*std::move(deferred_finish_));
        deferred_finish_.reset();
      }
      return;
    }
    if (next_) WriteLocked(std::move(next_));
  }

  void OnCancel() override { Stop(grpc::Status::CANCELLED); }

  void OnDone() override {
    bool admitted;
    uid_t uid;
    {
      absl::MutexLock lock(&mu_);
      admitted = admitted_;
      uid = uid_;
    }
    if (admitted) service_->ForgetWatch(this, uid);
    delete this;
  }

 private:
  void WriteLocked(std::shared_ptr<const v1::TrustSnapshot> snapshot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = std::move(snapshot);  // Kept alive until OnWriteDone.
    next_.reset();
    StartWrite(in_flight_.get());
  }

  // Finish may not overlap a write: with one in flight, it is called from OnWriteDone.
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    next_.reset();
    if (in_flight_) {
      deferred_finish_ = std::move(status);
      return;
    }
    Finish(std::move(status));
  }

  TrustServiceImpl* const service_;
  absl::Mutex mu_;
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;
  uid_t uid_ ABSL_GUARDED_BY(mu_) = 0;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool offered_any_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t offered_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const v1::TrustSnapshot> in_flight_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const v1::TrustSnapshot> next_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> deferred_finish_ ABSL_GUARDED_BY(mu_);
};

TrustServiceImpl::TrustServiceImpl(std::shared_ptr<const TrustState> state, CallerPolicy callers,
                                   const PeerRegistry* peers, Clock clock)
    : peers_(peers),
      clock_(std::move(clock)),
      state_(std::move(state)),
      callers_(std::make_shared<const CallerPolicy>(std::move(callers))),
      snapshot_(std::make_shared<const v1::TrustSnapshot>(state_->Snapshot())) {}

TrustServiceImpl::~TrustServiceImpl() {
  // gRPC deletes every stream (OnDone) before the server it was registered with is gone,
  // and the server must be gone before this service: none may be left.
  absl::MutexLock lock(&watch_mu_);
  if (!watches_.empty()) {
    LogError(absl::StrCat(watches_.size(), " WatchTrust streams are still open as the "
                          "service goes away: the gRPC server must be shut down first"));
  }
}

void TrustServiceImpl::Swap(std::shared_ptr<const TrustState> state, CallerPolicy callers) {
  // Built once here, shared by every stream.
  auto snapshot = std::make_shared<const v1::TrustSnapshot>(state->Snapshot());
  {
    absl::MutexLock lock(&mu_);
    previous_ = std::move(state_);
    state_ = std::move(state);
    callers_ = std::make_shared<const CallerPolicy>(std::move(callers));
    snapshot_ = snapshot;
  }
  absl::MutexLock lock(&watch_mu_);
  for (Watch* watch : watches_) watch->Offer(snapshot);
}

TrustServiceImpl::View TrustServiceImpl::Current() const {
  absl::MutexLock lock(&mu_);
  return View{callers_, state_, previous_};
}

std::shared_ptr<const TrustState> TrustServiceImpl::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void TrustServiceImpl::Shutdown() {
  absl::MutexLock lock(&watch_mu_);
  shutdown_ = true;
  for (Watch* watch : watches_) {
    watch->Stop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "trustd is stopping"));
  }
}

grpc::Status TrustServiceImpl::Authorize(grpc::ServerContextBase* context, absl::string_view method,
                                         PeerCredentials* caller) const {
  static const PeerRegistry kNoPeers;
  absl::StatusOr<PeerCredentials> creds = local_rpc::AuthorizeCaller(
      peers_ != nullptr ? *peers_ : kNoPeers, *Current().callers, context->peer(), method,
      "trustd");
  if (!creds.ok()) {
    if (metrics_ && absl::IsPermissionDenied(creds.status())) {
      metrics_->DeniedCaller(std::string(method));
    }
    return ToGrpcStatus(creds.status());
  }
  *caller = *creds;
  return grpc::Status::OK;
}

grpc::Status TrustServiceImpl::DoValidatePeer(grpc::ServerContextBase* context,
                                            const v1::ValidatePeerRequest* request,
                                            v1::Decision* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "ValidatePeer", &caller);
  if (!auth.ok()) return auth;
  trust::Purpose purpose;
  if (!trust::FromProto(request->purpose(), &purpose)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "purpose: expected PLATFORM, EDGE or CLIENT");
  }
  grpc::Status within_limits = CheckValidatePeerRequest(*request);
  if (!within_limits.ok()) return within_limits;
  std::shared_ptr<const TrustState> state = this->state();
  std::vector<std::string> chain(request->chain_der().begin(), request->chain_der().end());
  absl::Time now = clock_();
  std::string key =
      trust::DecisionCache::Key(chain, purpose, request->peer_name(), state->generation());
  std::optional<trust::Decision> decision = cache_.Lookup(key, now);
  bool cached = decision.has_value();
  if (!decision) {
    decision = state->validator().Validate(chain, purpose, request->peer_name(), now);
    cache_.Insert(key, *decision, now);
    const std::string& peer =
        request->endpoint().empty() ? request->peer_name() : request->endpoint();
    if (!decision->allowed) {
      LogWarning(absl::StrCat("refused ", trust::PurposeName(purpose), " peer ", peer, ": ",
                              decision->Summary()));
    } else if (!decision->warnings.empty() && FirstAcceptanceWarning(decision->leaf_sha256)) {
      for (const std::string& w : decision->warnings) {
        LogWarning(absl::StrCat("accepted ", trust::PurposeName(purpose), " peer ", peer,
                                ": ", w));
      }
    }
  }
  if (metrics_) metrics_->Decision(purpose, *decision, cached);
  *response = trust::ToProto(*decision);
  return grpc::Status::OK;
}

bool TrustServiceImpl::FirstAcceptanceWarning(const std::string& leaf_sha256) {
  absl::MutexLock lock(&warned_mu_);
  if (!warned_.insert(leaf_sha256).second) return false;
  warned_oldest_first_.push_back(leaf_sha256);
  if (warned_oldest_first_.size() > kMaxWarnedLeaves) {
    warned_.erase(warned_oldest_first_.front());
    warned_oldest_first_.pop_front();
  }
  return true;
}

grpc::ServerUnaryReactor* TrustServiceImpl::ValidatePeer(grpc::CallbackServerContext* context,
                                                        const v1::ValidatePeerRequest* request,
                                                        v1::Decision* response) {
  return Finished(context, DoValidatePeer(context, request, response));
}

grpc::ServerUnaryReactor* TrustServiceImpl::Sign(grpc::CallbackServerContext* context,
                                                const v1::SignRequest* request,
                                                v1::SignResponse* response) {
  return Finished(context, DoSign(context, request, response));
}

grpc::ServerUnaryReactor* TrustServiceImpl::CheckPassword(grpc::CallbackServerContext* context,
                                                         const v1::CheckPasswordRequest* request,
                                                         v1::CheckPasswordResponse* response) {
  return Finished(context, DoCheckPassword(context, request, response));
}

grpc::Status TrustServiceImpl::GetIdentity(grpc::ServerContext* context,
                                           const v1::GetIdentityRequest* request,
                                           v1::Identity* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "GetIdentity", &caller);
  if (!auth.ok()) return auth;
  auto [callers, state, previous] = Current();
  std::string role = RoleName(request->role());
  if (!callers->AllowsRole(caller, role)) {
    LogAudit(absl::StrCat("denied GetIdentity(", role, ") to ", callers->Describe(caller)));
    if (metrics_) metrics_->DeniedCaller("GetIdentity");
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("identity ", role, " is not allowed for uid ", caller.uid));
  }
  const v1::TrustSnapshot snapshot = state->Snapshot();
  for (const v1::Identity& id : snapshot.identities()) {
    if (id.role() == request->role()) {
      *response = id;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no identity ", role, " is configured"));
}

grpc::Status TrustServiceImpl::DoSign(grpc::ServerContextBase* context, const v1::SignRequest* request,
                                    v1::SignResponse* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "Sign", &caller);
  if (!auth.ok()) return auth;
  auto [callers, state, previous] = Current();
  const RoleIdentity* id = state->IdentityForKeyId(request->key_id());
  if (id == nullptr && previous) id = previous->IdentityForKeyId(request->key_id());
  if (id == nullptr) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no key with id \"", request->key_id(),
                                     "\"; it may have been rotated: ask GetIdentity again"));
  }
  if (!callers->AllowsRole(caller, id->name)) {
    LogAudit(absl::StrCat("denied Sign with ", id->name, " to ", callers->Describe(caller)));
    if (metrics_) metrics_->DeniedCaller("Sign");
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("signing with ", id->name, " is not allowed for uid ",
                                     caller.uid));
  }
  absl::Time started = absl::Now();
  auto signature = trust::SignWithKey(id->identity.key.get(), request->algorithm(), request->input());
  if (metrics_) metrics_->SignDuration(absl::ToDoubleSeconds(absl::Now() - started));
  if (!signature.ok()) return ToGrpcStatus(signature.status());
  response->set_signature(*std::move(signature));
  return grpc::Status::OK;
}

grpc::Status TrustServiceImpl::DoCheckPassword(grpc::ServerContextBase* context,
                                             const v1::CheckPasswordRequest* request,
                                             v1::CheckPasswordResponse* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "CheckPassword", &caller);
  if (!auth.ok()) return auth;
  if (request->realm() != "rest_server") {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "realm: expected \"rest_server\"");
  }
  std::shared_ptr<const TrustState> state = this->state();
  const std::string* password = state->Secret("http_server/password");
  const std::string& user = state->config().http_server.user;
  // Both comparisons always run: the time taken says nothing about which one failed.
  bool user_ok = ConstantTimeEquals(request->user(), user);
  bool password_ok = ConstantTimeEquals(request->password(), password ? *password : "");
  response->set_ok(user_ok & password_ok & (password != nullptr) & !user.empty());
  return grpc::Status::OK;
}

grpc::Status TrustServiceImpl::RevealSecret(grpc::ServerContext* context,
                                            const v1::RevealSecretRequest* request,
                                            v1::RevealSecretResponse* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "RevealSecret", &caller);
  if (!auth.ok()) return auth;
  auto [callers, state, previous] = Current();
  const std::string& name = request->name();
  bool revealable = name == "app_key" || name == "proxy/password" ||
                    (absl::StartsWith(name, "auto_bind/") && absl::EndsWith(name, "/password"));
  if (!revealable || !callers->AllowsSecret(caller, name)) {
    LogAudit(absl::StrCat("denied RevealSecret(", name, ") to ", callers->Describe(caller)));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("secret \"", name, "\" is not allowed for uid ", caller.uid));
  }
  const std::string* secret = state->Secret(name);
  if (secret == nullptr) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no secret \"", name, "\" is configured"));
  }
  response->set_plaintext(*secret);
  return grpc::Status::OK;
}

const trust::MasterKey* TrustServiceImpl::SealingKey(const TrustState& state,
                                                     grpc::Status* refusal) {
  if (state.master_key() != nullptr) return state.master_key();
  absl::MutexLock lock(&seal_mu_);
  if (created_key_) return &*created_key_;
  // Issue 11: trustd creates what it owns on first use when the parent allows it: the key's
  // directory 0700 and the key 0600 (never a new top-level directory; MakeDirectories).
  // The next reload loads the same file.
  const std::string& file = state.config().trustd.master_key_file;
  absl::StatusOr<trust::MasterKey> key = trust::MasterKey::LoadOrCreate(file);
  if (!key.ok()) {
    std::string dir = DirName(file);
    std::string user = OwnUserName();
    *refusal = grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("trustd has no master key and cannot create one: ", key.status().message(),
                     "; as root, run `install -d -m 0700 -o ", user, " ", dir,
                     "` (or point trustd.master_key_file at a directory ", user,
                     " owns) and seal again"));
    LogWarning(absl::StrCat("Seal refused: ", refusal->error_message()));
    return nullptr;
  }
  LogInfo(absl::StrCat("created the master key ", file, " (0600) on the first Seal"));
  created_key_ = *std::move(key);
  return &*created_key_;
}

grpc::Status TrustServiceImpl::Seal(grpc::ServerContext* context, const v1::SealRequest* request,
                                    v1::SealResponse* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "Seal", &caller);
  if (!auth.ok()) return auth;
  std::shared_ptr<const TrustState> state = this->state();
  grpc::Status refusal;
  const trust::MasterKey* key = SealingKey(*state, &refusal);
  if (key == nullptr) return refusal;
  response->set_sealed(trust::Seal(*key, request->plaintext()));
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::TrustSnapshot>* TrustServiceImpl::WatchTrust(
    grpc::CallbackServerContext* context, const v1::WatchTrustRequest* /*request*/) {
  auto* watch = new Watch(this);
  PeerCredentials caller;
  grpc::Status status = Authorize(context, "WatchTrust", &caller);
  std::shared_ptr<const v1::TrustSnapshot> snapshot;
  if (status.ok()) status = AdmitWatch(watch, caller, &snapshot);
  if (!status.ok()) {
    watch->Stop(std::move(status));
  } else {
    // A Swap since AdmitWatch has offered a newer one already; then this one is dropped.
    watch->Offer(std::move(snapshot));
  }
  return watch;
}

grpc::Status TrustServiceImpl::AdmitWatch(Watch* watch, const PeerCredentials& caller,
                                          std::shared_ptr<const v1::TrustSnapshot>* snapshot) {
  absl::MutexLock lock(&watch_mu_);
  if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "trustd is stopping");
  int& mine = watches_by_uid_[caller.uid];
  std::string refusal;
  if (mine >= kMaxWatchStreamsPerUid) {
    refusal = absl::StrCat("WatchTrust: ", mine, " streams already open for uid ", caller.uid,
                           " (limit ", kMaxWatchStreamsPerUid, " per uid)");
  } else if (static_cast<int>(watches_.size()) >= kMaxWatchStreams) {
    refusal = absl::StrCat("WatchTrust: ", watches_.size(), " streams already open in all (limit ",
                           kMaxWatchStreams, ")");
  }
  if (!refusal.empty()) {
    if (mine == 0) watches_by_uid_.erase(caller.uid);
    LogWatchRefusal(caller, refusal);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, refusal);
  }
  ++mine;
  watches_.insert(watch);
  watch->MarkAdmitted(caller.uid);
  {
    absl::MutexLock state_lock(&mu_);
    *snapshot = snapshot_;
  }
  return grpc::Status::OK;
}

void TrustServiceImpl::LogWatchRefusal(const PeerCredentials& caller,
                                       const std::string& refusal) {
  absl::Time now = absl::Now();
  if (now - last_refusal_log_ < kWatchRefusalLogInterval) {
    ++refusals_unlogged_;
    return;
  }
  std::string more =
      refusals_unlogged_ == 0
          ? ""
          : absl::StrCat(" (and ", refusals_unlogged_, " more refused since the last line)");
  LogWarning(absl::StrCat("refused WatchTrust to ", Current().callers->Describe(caller), ": ",
                          refusal, more));
  last_refusal_log_ = now;
  refusals_unlogged_ = 0;
}

void TrustServiceImpl::ForgetWatch(Watch* watch, uid_t uid) {
  absl::MutexLock lock(&watch_mu_);
  if (watches_.erase(watch) == 0) return;
  auto it = watches_by_uid_.find(uid);
  if (it != watches_by_uid_.end() && --it->second <= 0) watches_by_uid_.erase(it);
}

}  // namespace edge::trustd

#include "trustd/trust_service.h"

#include <grp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pwd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/status_mapping.h"
#include "services/local_rpc/authorize.h"
#include "services/trust/key_signer.h"
#include "services/trust/sealed_secret.h"
#include "proto/trust/v1/decision_proto.h"

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

// A callback-API unary method whose work is already done: finish it with `status`.
grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
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

TrustServiceImpl::TrustServiceImpl(std::shared_ptr<const TrustState> state, CallerPolicy callers,
                                   const PeerRegistry* peers, Clock clock)
    : peers_(peers),
      clock_(std::move(clock)),
      state_(std::move(state)),
      callers_(std::make_shared<const CallerPolicy>(std::move(callers))) {}

void TrustServiceImpl::Swap(std::shared_ptr<const TrustState> state, CallerPolicy callers) {
  absl::MutexLock lock(&mu_);
  previous_ = std::move(state_);
  state_ = std::move(state);
  callers_ = std::make_shared<const CallerPolicy>(std::move(callers));
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
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

grpc::Status TrustServiceImpl::Authorize(grpc::ServerContextBase* context, absl::string_view method,
                                         PeerCredentials* caller) const {
  static const PeerRegistry kNoPeers;
  absl::StatusOr<PeerCredentials> creds = local_rpc::AuthorizeCaller(
      peers_ != nullptr ? *peers_ : kNoPeers, *Current().callers, context->peer(), method,
      "trustd");
  if (!creds.ok()) return ToGrpcStatus(creds.status());
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
  if (!decision) {
    decision = state->validator().Validate(chain, purpose, request->peer_name(), now);
    cache_.Insert(key, *decision, now);
    if (!decision->allowed) {
      LogWarning(absl::StrCat("refused ", trust::PurposeName(purpose), " peer ",
                              request->endpoint().empty() ? request->peer_name()
                                                          : request->endpoint(),
                              ": ", decision->Summary()));
    }
  }
  *response = trust::ToProto(*decision);
  return grpc::Status::OK;
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
    LogWarning(absl::StrCat("denied GetIdentity(", role, ") to ", callers->Describe(caller)));
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
    LogWarning(absl::StrCat("denied Sign with ", id->name, " to ", callers->Describe(caller)));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("signing with ", id->name, " is not allowed for uid ",
                                     caller.uid));
  }
  auto signature = trust::SignWithKey(id->identity.key.get(), request->algorithm(), request->input());
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
  bool revealable = name == "app_key" || (absl::StartsWith(name, "auto_bind/") &&
                                          absl::EndsWith(name, "/password"));
  if (!revealable || !callers->AllowsSecret(caller, name)) {
    LogWarning(absl::StrCat("denied RevealSecret(", name, ") to ", callers->Describe(caller)));
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

grpc::Status TrustServiceImpl::Seal(grpc::ServerContext* context, const v1::SealRequest* request,
                                    v1::SealResponse* response) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "Seal", &caller);
  if (!auth.ok()) return auth;
  std::shared_ptr<const TrustState> state = this->state();
  if (state->master_key() == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "trustd has no master key");
  }
  response->set_sealed(trust::Seal(*state->master_key(), request->plaintext()));
  return grpc::Status::OK;
}

grpc::Status TrustServiceImpl::WatchTrust(grpc::ServerContext* context,
                                          const v1::WatchTrustRequest* /*request*/,
                                          grpc::ServerWriter<v1::TrustSnapshot>* writer) {
  PeerCredentials caller;
  grpc::Status auth = Authorize(context, "WatchTrust", &caller);
  if (!auth.ok()) return auth;
  uint64_t sent = 0;
  bool first = true;
  for (;;) {
    std::shared_ptr<const TrustState> state;
    {
      absl::MutexLock lock(&mu_);
      auto changed = [this, sent, first]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutdown_ || first || state_->generation() != sent;
      };
      // Wake up now and then to notice a cancelled stream.
      while (!mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(250))) {
        if (context->IsCancelled()) return grpc::Status::CANCELLED;
      }
      if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "trustd is stopping");
      state = state_;
    }
    first = false;
    sent = state->generation();
    if (!writer->Write(state->Snapshot())) return grpc::Status::CANCELLED;
  }
}

}  // namespace edge::trustd

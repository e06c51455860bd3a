#include "services/trustd_client/trustd_client.h"

#include "absl/strings/str_cat.h"
#include "proto/trust/v1/decision_proto.h"
#include "services/common/status_mapping.h"
#include "services/common/unary_call.h"

namespace edge::trust {

TrustWatch::~TrustWatch() {
  stop_ = true;
  {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<TrustdClient> TrustdClient::Create(TrustdClientOptions options) {
  return std::unique_ptr<TrustdClient>(new TrustdClient(std::move(options)));
}

TrustdClient::TrustdClient(TrustdClientOptions options)
    : options_(std::move(options)), target_(absl::StrCat("unix:", options_.socket_path)) {
  grpc::ChannelArguments args;
  // trustd is local: when it restarts, find it again quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Calls are idempotent questions to a local process: a failure is reported, not retried
  // (and the retry machinery's buffering is measurable in every handshake).
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  channel_ = grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::TrustService::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
}

absl::Status TrustdClient::ToStatus(const grpc::Status& status, absl::string_view method) const {
  return FromGrpcStatus(status, absl::StrCat("trustd ", method, " (", options_.socket_path, ")"));
}

template <typename Request, typename Response>
absl::StatusOr<Response> TrustdClient::Call(
    grpc::Status (v1::TrustService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                   Response*),
    const Request& request, absl::string_view name) const {
  return UnaryCall(*stub_, method, request, options_.deadline,
                   [this, name](const grpc::Status& s) { return ToStatus(s, name); });
}

Decision TrustdClient::ValidatePeer(const std::vector<std::string>& chain_der, Purpose purpose,
                                    const std::string& peer_name, const std::string& endpoint) {
  v1::ValidatePeerRequest request;
  request.set_purpose(ToProto(purpose));
  for (const std::string& der : chain_der) request.add_chain_der(der);
  request.set_peer_name(peer_name);
  request.set_endpoint(endpoint);
  absl::StatusOr<v1::Decision> response =
      Call(&v1::TrustService::Stub::ValidatePeer, request, "ValidatePeer");
  if (!response.ok()) {
    Decision d;
    d.allowed = false;
    d.reason = Reason::kTrustdUnavailable;
    d.detail = std::string(response.status().message());
    d.hint = "trustd must be running and this process allowed on its socket; no peer is "
             "accepted until it answers";
    return d;
  }
  return FromProto(*response);
}

absl::StatusOr<v1::Identity> TrustdClient::GetIdentity(v1::Role role) {
  v1::GetIdentityRequest request;
  request.set_role(role);
  return Call(&v1::TrustService::Stub::GetIdentity, request, "GetIdentity");
}

absl::StatusOr<std::string> TrustdClient::Sign(const std::string& key_id,
                                               v1::SignatureAlgorithm algorithm,
                                               absl::string_view input) {
  v1::SignRequest request;
  request.set_key_id(key_id);
  request.set_algorithm(algorithm);
  request.set_input(std::string(input));
  absl::StatusOr<v1::SignResponse> response = Call(&v1::TrustService::Stub::Sign, request, "Sign");
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_signature());
}

absl::StatusOr<bool> TrustdClient::CheckPassword(const std::string& realm,
                                                 const std::string& user,
                                                 const std::string& password) {
  v1::CheckPasswordRequest request;
  request.set_realm(realm);
  request.set_user(user);
  request.set_password(password);
  absl::StatusOr<v1::CheckPasswordResponse> response =
      Call(&v1::TrustService::Stub::CheckPassword, request, "CheckPassword");
  if (!response.ok()) return response.status();
  return response->ok();
}

absl::StatusOr<std::string> TrustdClient::RevealSecret(const std::string& name) {
  v1::RevealSecretRequest request;
  request.set_name(name);
  absl::StatusOr<v1::RevealSecretResponse> response =
      Call(&v1::TrustService::Stub::RevealSecret, request, "RevealSecret");
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_plaintext());
}

absl::StatusOr<std::string> TrustdClient::Seal(const std::string& plaintext) {
  v1::SealRequest request;
  request.set_plaintext(plaintext);
  absl::StatusOr<v1::SealResponse> response = Call(&v1::TrustService::Stub::Seal, request, "Seal");
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_sealed());
}

absl::StatusOr<std::string> TrustdClient::Health() {
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> response = UnaryCall(
      *health_, &grpc::health::v1::Health::Stub::Check, grpc::health::v1::HealthCheckRequest(),
      options_.deadline, [this](const grpc::Status& s) { return ToStatus(s, "health check"); });
  if (!response.ok()) return response.status();
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response->status());
}

std::unique_ptr<TrustWatch> TrustdClient::Watch(
    std::function<void(const v1::TrustSnapshot&)> on_snapshot) {
  std::unique_ptr<TrustWatch> watch(new TrustWatch());
  TrustWatch* w = watch.get();
  w->thread_ = std::thread([this, w, on_snapshot = std::move(on_snapshot)] {
    absl::Duration backoff = absl::Milliseconds(100);
    while (!w->stop_) {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      {
        absl::MutexLock lock(&w->mu_);
        if (w->stop_) break;
        w->context_ = &context;
      }
      auto reader = stub_->WatchTrust(&context, v1::WatchTrustRequest());
      v1::TrustSnapshot snapshot;
      bool got_any = false;
      while (reader->Read(&snapshot)) {
        got_any = true;
        on_snapshot(snapshot);
      }
      reader->Finish();
      {
        absl::MutexLock lock(&w->mu_);
        w->context_ = nullptr;
      }
      if (got_any) backoff = absl::Milliseconds(100);
      // Wait before resubscribing, waking early when stopped.
      absl::Time until = absl::Now() + backoff;
      while (!w->stop_ && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
      backoff = std::min(backoff * 2, absl::Seconds(2));
    }
  });
  return watch;
}

}  // namespace edge::trust

#include "services/trustd_client/trustd_client.h"

#include "absl/strings/str_cat.h"
#include "services/trustd_client/decision_proto.h"

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

void TrustdClient::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
}

absl::Status TrustdClient::ToStatus(const grpc::Status& status, absl::string_view method) const {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("trustd ", method, " (", options_.socket_path,
                                   "): ", status.error_message()));
}

Decision TrustdClient::ValidatePeer(const std::vector<std::string>& chain_der, Purpose purpose,
                                    const std::string& peer_name, const std::string& endpoint) {
  v1::ValidatePeerRequest request;
  request.set_purpose(ToProto(purpose));
  for (const std::string& der : chain_der) request.add_chain_der(der);
  request.set_peer_name(peer_name);
  request.set_endpoint(endpoint);
  v1::Decision response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = stub_->ValidatePeer(&context, request, &response);
  if (!status.ok()) {
    Decision d;
    d.allowed = false;
    d.reason = Reason::kTrustdUnavailable;
    d.detail = std::string(ToStatus(status, "ValidatePeer").message());
    d.hint = "trustd must be running and this process allowed on its socket; no peer is "
             "accepted until it answers";
    return d;
  }
  return FromProto(response);
}

absl::StatusOr<v1::Identity> TrustdClient::GetIdentity(v1::Role role) {
  v1::GetIdentityRequest request;
  request.set_role(role);
  v1::Identity response;
  grpc::ClientContext context;
  SetDeadline(&context);
  absl::Status status = ToStatus(stub_->GetIdentity(&context, request, &response), "GetIdentity");
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<std::string> TrustdClient::Sign(const std::string& key_id,
                                               v1::SignatureAlgorithm algorithm,
                                               absl::string_view input) {
  v1::SignRequest request;
  request.set_key_id(key_id);
  request.set_algorithm(algorithm);
  request.set_input(std::string(input));
  v1::SignResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  absl::Status status = ToStatus(stub_->Sign(&context, request, &response), "Sign");
  if (!status.ok()) return status;
  return std::move(*response.mutable_signature());
}

absl::StatusOr<bool> TrustdClient::CheckPassword(const std::string& realm,
                                                 const std::string& user,
                                                 const std::string& password) {
  v1::CheckPasswordRequest request;
  request.set_realm(realm);
  request.set_user(user);
  request.set_password(password);
  v1::CheckPasswordResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  absl::Status status =
      ToStatus(stub_->CheckPassword(&context, request, &response), "CheckPassword");
  if (!status.ok()) return status;
  return response.ok();
}

absl::StatusOr<std::string> TrustdClient::RevealSecret(const std::string& name) {
  v1::RevealSecretRequest request;
  request.set_name(name);
  v1::RevealSecretResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  absl::Status status =
      ToStatus(stub_->RevealSecret(&context, request, &response), "RevealSecret");
  if (!status.ok()) return status;
  return std::move(*response.mutable_plaintext());
}

absl::StatusOr<std::string> TrustdClient::Seal(const std::string& plaintext) {
  v1::SealRequest request;
  request.set_plaintext(plaintext);
  v1::SealResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  absl::Status status = ToStatus(stub_->Seal(&context, request, &response), "Seal");
  if (!status.ok()) return status;
  return std::move(*response.mutable_sealed());
}

absl::StatusOr<std::string> TrustdClient::Health() {
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  absl::Status status = ToStatus(health_->Check(&context, request, &response), "health check");
  if (!status.ok()) return status;
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
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

#include "services/trustd_client/trustd_client.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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

// One SignStream, shared: requests are written under a lock, a reader thread hands each
// response to the caller waiting for its id. A broken stream fails every waiting call and
// is reopened by the next one.
class SignStreamer {
 public:
  SignStreamer(v1::TrustService::Stub* stub, std::string target)
      : stub_(stub), target_(std::move(target)) {}

  ~SignStreamer() {
    std::shared_ptr<Stream> stream;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      stream = stream_;
    }
    if (stream) stream->context.TryCancel();
    if (reader_.joinable()) reader_.join();
  }

  absl::StatusOr<std::string> Sign(v1::SignRequest request, absl::Duration timeout) {
    auto waiter = std::make_shared<Waiter>();
    std::shared_ptr<Stream> stream;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::UnavailableError("trustd client is stopping");
      if (!stream_ || stream_->broken) Open();
      stream = stream_;
      request.set_id(++next_id_);
      pending_[request.id()] = waiter;
    }
    bool written;
    {
      absl::MutexLock lock(&stream->write_mu);
      written = !stream->broken && stream->rw->Write(request);
    }
    if (!written) Fail(stream, absl::UnavailableError("the signing stream to trustd is closed"));
    if (!waiter->done.WaitForNotificationWithTimeout(timeout)) {
      absl::MutexLock lock(&mu_);
      pending_.erase(request.id());
      return absl::DeadlineExceededError(
          absl::StrCat("trustd Sign (", target_, "): no answer within ", absl::FormatDuration(timeout)));
    }
    return waiter->result;
  }

 private:
  struct Waiter {
    absl::Notification done;
    absl::StatusOr<std::string> result = absl::UnknownError("no answer");
  };
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::SignRequest, v1::SignResponse>> rw;
    absl::Mutex write_mu;
    std::atomic<bool> broken{false};
  };

  void Open() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reader_.joinable()) {
      // The previous stream's reader has ended (it marked the stream broken on its way out).
      mu_.Unlock();
      reader_.join();
      mu_.Lock();
    }
    auto stream = std::make_shared<Stream>();
    stream->rw = stub_->SignStream(&stream->context);
    stream_ = stream;
    reader_ = std::thread([this, stream] { Read(stream); });
  }

  void Read(std::shared_ptr<Stream> stream) {
    v1::SignResponse response;
    while (stream->rw->Read(&response)) {
      std::shared_ptr<Waiter> waiter;
      {
        absl::MutexLock lock(&mu_);
        auto it = pending_.find(response.id());
        if (it == pending_.end()) continue;  // Timed out meanwhile.
        waiter = it->second;
        pending_.erase(it);
      }
      if (response.error_code() != 0) {
        waiter->result = absl::Status(static_cast<absl::StatusCode>(response.error_code()),
                                      absl::StrCat("trustd Sign (", target_,
                                                   "): ", response.error_message()));
      } else {
        waiter->result = std::move(*response.mutable_signature());
      }
      waiter->done.Notify();
    }
    {
      absl::MutexLock lock(&stream->write_mu);
      stream->rw->WritesDone();
    }
    grpc::Status status = stream->rw->Finish();
    Fail(stream, status.ok() ? absl::UnavailableError("trustd ended the signing stream")
                             : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                            status.error_message()));
  }

  // Marks `stream` broken and fails every call waiting on it with `why` (its code kept:
  // PERMISSION_DENIED stays PERMISSION_DENIED).
  void Fail(const std::shared_ptr<Stream>& stream, const absl::Status& why) {
    stream->broken = true;
    std::map<uint64_t, std::shared_ptr<Waiter>> waiting;
    {
      absl::MutexLock lock(&mu_);
      if (stream_ != stream) return;
      waiting.swap(pending_);
    }
    for (auto& [id, waiter] : waiting) {
      waiter->result = absl::Status(why.code(), absl::StrCat("trustd Sign (", target_, "): ",
                                                             why.message()));
      waiter->done.Notify();
    }
  }

  v1::TrustService::Stub* stub_;
  std::string target_;
  absl::Mutex mu_;
  std::shared_ptr<Stream> stream_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<Waiter>> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

TrustdClient::~TrustdClient() = default;

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
  streamer_ = std::make_unique<SignStreamer>(stub_.get(), options_.socket_path);
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
  return streamer_->Sign(std::move(request), options_.deadline);
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

#include "edged/delivery.h"

#include <future>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "edged/edged_metrics.h"
#include "services/common/log.h"
#include "services/common/status_mapping.h"

namespace edge::edged {
namespace {

using alwayson::Code;
using alwayson::Message;

absl::StatusCode CodeFor(Code status) {
  switch (status) {
    case Code::kBadRequest:
    case Code::kBadOption:
    case Code::kNotAcceptable:
    case Code::kUnsupportedContentFormat: return absl::StatusCode::kInvalidArgument;
    case Code::kUnauthorized:
    case Code::kForbidden: return absl::StatusCode::kPermissionDenied;
    case Code::kNotFound: return absl::StatusCode::kNotFound;
    case Code::kMethodNotAllowed:
    case Code::kNotImplemented: return absl::StatusCode::kUnimplemented;
    case Code::kPreconditionFailed: return absl::StatusCode::kFailedPrecondition;
    case Code::kEntityTooLarge: return kPayloadTooLarge;
    case Code::kServiceUnavailable:
    case Code::kBadGateway: return absl::StatusCode::kUnavailable;
    case Code::kGatewayTimeout: return absl::StatusCode::kDeadlineExceeded;
    default: return absl::StatusCode::kInternal;
  }
}

absl::string_view Name(Code code) {
  return alwayson::CodeName(static_cast<uint8_t>(code)).value_or("?");
}

// " (the session's last error)", or "" when there is none.
std::string OfflineDetail(const std::string& last_error) {
  return last_error.empty() ? "" : absl::StrCat(" (", last_error, ")");
}

// A session failure that leaves the message's fate unknown or unsent: queue it.
bool Retryable(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

}  // namespace

absl::Status PlatformRefusal(const Message& answer, absl::string_view what) {
  const auto* body = std::get_if<alwayson::ResponseBody>(&answer.body);
  std::string reason = body && body->reason && !body->reason->empty()
                           ? absl::StrCat(": ", *body->reason) : "";
  return absl::Status(CodeFor(answer.header.code),
                      absl::StrCat("the platform answered ", Name(answer.header.code), " to the ",
                                   what, reason));
}

std::string Describe(Code method, const alwayson::RequestBody& body) {
  std::string target = absl::StrCat(body.entity_name, ".", body.characteristic_name);
  switch (static_cast<alwayson::Characteristic>(body.characteristic)) {
    case alwayson::Characteristic::kProperties:
      return absl::StrCat(method == Code::kGet ? "read of " : "write of ", target);
    case alwayson::Characteristic::kServices: return absl::StrCat("call of ", target);
    case alwayson::Characteristic::kEvents: return absl::StrCat("event ", target);
  }
  return absl::StrCat(Name(method), " ", target);
}

Delivery::Delivery(PlatformSession* session, OfflineStore* store, EdgedMetrics* metrics)
    : session_(session), store_(store), metrics_(metrics), id_prefix_(std::random_device{}() ^
                                                   (uint64_t{std::random_device{}()} << 32)) {
  if (store_ != nullptr) {
    CountStore();
    writer_ = std::thread([this] { WriterLoop(); });
    replay_ = std::thread([this] { ReplayLoop(); });
  }
}

Delivery::~Delivery() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  // The writer finishes every append handed to it first: nothing accepted is lost.
  if (writer_.joinable()) writer_.join();
  if (replay_.joinable()) replay_.join();
}

uint64_t Delivery::queue_depth() const { return store_ ? store_->size() : 0; }

void Delivery::CountStore() {
  if (metrics_) metrics_->StoreHolds(store_->size(), store_->bytes());
}

void Delivery::OnOnline() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void Delivery::QueueLocked(Code method, alwayson::RequestBody body, Done done) {
  appends_.push_back([this, method, body = std::move(body), done = std::move(done)] {
    absl::StatusOr<std::string> bytes =
        alwayson::EncodeMessage(Message::Request(method, 0, 0, body));
    absl::StatusOr<uint64_t> seq = bytes.ok() ? store_->Append(*bytes)
                                              : absl::StatusOr<uint64_t>(bytes.status());
    if (!seq.ok()) {
      LogError(absl::StrCat("refused the ", Describe(method, body), ": ", seq.status().message()));
      done(seq.status());
      return;
    }
    if (metrics_) metrics_->Queued();
    CountStore();
    done(Outcome{true, std::nullopt, store_->size()});
  });
}

void Delivery::WriterLoop() {
  while (true) {
    std::function<void()> append;
    {
      absl::MutexLock lock(&mu_);
      appending_ = false;
      mu_.Await(absl::Condition(
          +[](Delivery* d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return d->stop_ || !d->appends_.empty();
          },
          this));
      if (appends_.empty()) return;  // Stopping, and every append is done.
      append = std::move(appends_.front());
      appends_.pop_front();
      appending_ = true;
    }
    append();  // The store has its own lock; mu_ is free for Submit and the session.
    absl::MutexLock lock(&mu_);
    wake_ = true;
  }
}

void Delivery::Submit(Code method, alwayson::RequestBody body, bool queueable, Done done) {
  queueable = queueable && store_ != nullptr;
  absl::Status refusal;
  {
    absl::MutexLock lock(&mu_);
    body.headers.emplace_back(kMessageIdHeader,
                              absl::StrFormat("%016x-%d", id_prefix_, ++next_id_));
    bool appending = appending_ || !appends_.empty();
    bool direct = session_->online() && !replaying_ && !appending &&
                  (store_ == nullptr || store_->size() == 0);
    if (!direct && queueable && !stop_) {
      QueueLocked(method, std::move(body), std::move(done));
      return;
    }
    if (!direct) refusal = queueable ? absl::UnavailableError("edged is stopping")
                                     : absl::UnavailableError(absl::StrCat(
                                           "the platform is unreachable",
                                           OfflineDetail(session_->status().last_error),
                                           store_ == nullptr
                                               ? " and offline_msg_store is disabled"
                                               : ""));
  }
  if (!refusal.ok()) {
    done(std::move(refusal));
    return;
  }
  std::string what = Describe(method, body);
  // The answer, or the call's failure when it is worth queueing (lost or timed out): the
  // queueing then goes to the writer, never onto the session's thread.
  alwayson::RequestBody kept = queueable ? body : alwayson::RequestBody{};
  session_->Call(method, std::move(body),
                 [this, method, kept = std::move(kept), queueable, what = std::move(what),
                  done = std::move(done)](absl::StatusOr<Message> r) mutable {
    if (r.ok()) {
      if (r->header.code != Code::kSuccess) {
        done(PlatformRefusal(*r, what));
        return;
      }
      Outcome out;
      if (auto* rb = std::get_if<alwayson::ResponseBody>(&r->body)) {
        out.result = std::move(rb->content);
      }
      out.queue_depth = queue_depth();
      done(std::move(out));
      return;
    }
    if (!queueable || !Retryable(r.status())) {
      done(r.status());
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!stop_) {
        QueueLocked(method, std::move(kept), std::move(done));
        return;
      }
    }
    done(r.status());
  });
}

void Delivery::ReplayLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Wake on OnOnline or a new record; re-check now and then for a session that came up.
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](Delivery* d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                 return d->stop_ || d->wake_;
                               },
                               this),
                           absl::Milliseconds(200));
      if (stop_) return;
      wake_ = false;
      if (store_->size() == 0 || !session_->online()) continue;
      replaying_ = true;
    }
    uint64_t replayed = 0;
    while (true) {
      std::optional<OfflineStore::Record> next = store_->Front();
      if (!next) break;
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
      }
      absl::StatusOr<Message> stored = alwayson::DecodeMessage(next->payload, {});
      const auto* body = stored.ok() ? std::get_if<alwayson::RequestBody>(&stored->body) : nullptr;
      if (body == nullptr) {
        LogError(absl::StrCat("offline store record ", next->seq,
                              " is not a request; removed: ",
                              stored.ok() ? "wrong kind" : stored.status().message()));
        (void)store_->Ack(next->seq);
        continue;
      }
      std::promise<absl::StatusOr<Message>> done;
      std::future<absl::StatusOr<Message>> answer = done.get_future();
      session_->Call(stored->header.code, *body,
                     [&done](absl::StatusOr<Message> r) { done.set_value(std::move(r)); });
      absl::StatusOr<Message> r = answer.get();
      if (!r.ok()) break;  // Lost again: the rest waits for the next session.
      if (r->header.code != Code::kSuccess) {
        LogError(absl::StrCat(PlatformRefusal(*r, Describe(stored->header.code, *body)).message(),
                              " (sent from the offline store; removed from it)"));
      }
      if (absl::Status s = store_->Ack(next->seq); !s.ok()) {
        LogError(absl::StrCat("offline store: ", s.message()));
        break;
      }
      ++replayed;
      if (metrics_) metrics_->Replayed();
      CountStore();
    }
    absl::MutexLock lock(&mu_);
    replaying_ = false;  // Direct sends stay off anyway while records wait (size() > 0).
    if (store_->size() == 0 && replayed > 0) {
      LogInfo(absl::StrCat(replayed, replayed == 1 ? " message" : " messages",
                           " queued while offline, replayed"));
    }
  }
}

}  // namespace edge::edged

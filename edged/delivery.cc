#include "edged/delivery.h"

#include <future>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

Delivery::Delivery(PlatformSession* session, OfflineStore* store)
    : session_(session), store_(store), id_prefix_(std::random_device{}() ^
                                                   (uint64_t{std::random_device{}()} << 32)) {
  if (store_ != nullptr) replay_ = std::thread([this] { ReplayLoop(); });
}

Delivery::~Delivery() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (replay_.joinable()) replay_.join();
}

uint64_t Delivery::queue_depth() const { return store_ ? store_->size() : 0; }

void Delivery::OnOnline() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

uint64_t Delivery::TakeTicket() { return next_ticket_++; }

absl::StatusOr<Delivery::Outcome> Delivery::Queue(uint64_t ticket, Code method,
                                                  const alwayson::RequestBody& body) {
  absl::StatusOr<std::string> bytes =
      alwayson::EncodeMessage(Message::Request(method, 0, 0, body));
  struct MyTurn {
    const Delivery* d;
    uint64_t ticket;
    bool operator()() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return d->append_turn_ == ticket; }
  } my_turn{this, ticket};
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&my_turn));
  }
  // Only this thread appends now; the store has its own lock.
  absl::StatusOr<uint64_t> seq = bytes.ok() ? store_->Append(*bytes)
                                            : absl::StatusOr<uint64_t>(bytes.status());
  {
    absl::MutexLock lock(&mu_);
    ++append_turn_;
    if (seq.ok()) wake_ = true;
  }
  if (!seq.ok()) {
    LogError(absl::StrCat("refused the ", Describe(method, body), ": ", seq.status().message()));
    return seq.status();
  }
  return Outcome{true, std::nullopt, store_->size()};
}

absl::StatusOr<Delivery::Outcome> Delivery::Submit(Code method, alwayson::RequestBody body,
                                                   bool queueable) {
  queueable = queueable && store_ != nullptr;
  std::optional<uint64_t> ticket;  // Set: the request goes into the store.
  {
    absl::MutexLock lock(&mu_);
    body.headers.emplace_back(kMessageIdHeader,
                              absl::StrFormat("%016x-%d", id_prefix_, ++next_id_));
    bool appending = append_turn_ != next_ticket_;
    bool direct = session_->online() && !replaying_ && !appending &&
                  (store_ == nullptr || store_->size() == 0);
    if (!direct) {
      if (!queueable) {
        SessionStatus st = session_->status();
        return absl::UnavailableError(absl::StrCat(
            "the platform is unreachable",
            st.last_error.empty() ? "" : absl::StrCat(" (", st.last_error, ")"),
            store_ == nullptr ? " and offline_msg_store is disabled" : ""));
      }
      ticket = TakeTicket();
    }
  }
  if (!ticket) {
    // The answer, or the call's failure when it is worth queueing (lost or timed out): the
    // queueing then happens here, on the caller's thread, never on the session's.
    struct Answer {
      absl::StatusOr<Outcome> outcome;
      bool lost = false;
    };
    auto result = std::make_shared<std::promise<Answer>>();
    std::future<Answer> answer = result->get_future();
    std::string what = Describe(method, body);
    session_->Call(method, body, [result, queueable, what](absl::StatusOr<Message> r) {
      if (r.ok()) {
        if (r->header.code != Code::kSuccess) {
          result->set_value(Answer{PlatformRefusal(*r, what)});
          return;
        }
        Outcome out;
        if (const auto* rb = std::get_if<alwayson::ResponseBody>(&r->body)) out.result = rb->content;
        result->set_value(Answer{std::move(out)});
        return;
      }
      result->set_value(Answer{r.status(), queueable && Retryable(r.status())});
    });
    Answer a = answer.get();
    // The store's size is read here: its lock may be held through an fsync.
    if (a.outcome.ok()) a.outcome->queue_depth = queue_depth();
    if (!a.lost) return std::move(a.outcome);
    absl::MutexLock lock(&mu_);
    ticket = TakeTicket();
  }
  return Queue(*ticket, method, body);
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

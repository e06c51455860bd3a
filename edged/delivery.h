// Delivery: how a write, event or service call from a local caller reaches the platform, and
// what happens when it cannot. Online, with nothing queued, a message goes straight to the
// session and the caller gets the platform's answer. Otherwise (offline, messages already
// waiting, or the connection lost before the answer) it is appended to the offline store
// and the caller is told it was queued; after every (re)connection the store is replayed in
// order, each message removed only once the platform has answered it.
//
// Every message carries an `edge-msg-id` request header, the same on every attempt, so a
// platform that sees a message twice (answer lost with the connection) can drop the copy.
//
// Thread-safe. Submit never blocks its caller's thread: its `done` runs on the session's I/O
// thread when the platform answers, or on the delivery's store writer once the message is
// in the offline store (appends and fsyncs happen there, one at a time, in order).
#ifndef EDGED_DELIVERY_H_
#define EDGED_DELIVERY_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "edged/offline_store.h"
#include "edged/platform_session.h"
#include "services/alwayson/message.h"

namespace edge::edged {

inline constexpr char kMessageIdHeader[] = "edge-msg-id";

// The platform's refusal as a Status: NOT_FOUND -> kNotFound, BAD_REQUEST -> kInvalidArgument,
// UNAUTHORIZED/FORBIDDEN -> kPermissionDenied, GATEWAY_TIMEOUT -> kDeadlineExceeded,
// SERVICE_UNAVAILABLE -> kUnavailable, ... The message names the status and its reason.
absl::Status PlatformRefusal(const alwayson::Message& answer, absl::string_view what);

// "write of Pump1.Temperature", "event Pump1.Alarm", "call of Pump1.Reset", ...
std::string Describe(alwayson::Code method, const alwayson::RequestBody& body);

class Delivery {
 public:
  struct Outcome {
    bool queued = false;
    std::optional<alwayson::InfoTable> result;  // The platform's content, when delivered.
    uint64_t queue_depth = 0;
  };

  // `store` may be null (offline_msg_store.enabled false): nothing is queued then.
  // `metrics` may be null; else it must outlive the Delivery.
  Delivery(PlatformSession* session, OfflineStore* store, EdgedMetrics* metrics = nullptr);
  ~Delivery();

  using Done = std::function<void(absl::StatusOr<Outcome>)>;

  // `queueable`: writes, events and service calls; reads are not (kUnavailable offline).
  // `done` runs exactly once, and must not block (it runs on the session's I/O thread or
  // the store writer): with the platform's answer, the queued outcome, or the refusal.
  void Submit(alwayson::Code method, alwayson::RequestBody body, bool queueable, Done done);
  // The session is up: replay what is queued.
  void OnOnline();
  uint64_t queue_depth() const;

 private:
  // Hands the request to the store writer, behind every append handed to it before: a slow
  // disk holds up only the writes queued behind it, never a direct send, the session's I/O
  // thread or a read. While appends wait, direct sends are off (nothing overtakes them).
  void QueueLocked(alwayson::Code method, alwayson::RequestBody body, Done done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriterLoop();
  void CountStore();  // The store's size and bytes into the metrics.
  void ReplayLoop();

  PlatformSession* session_;
  OfflineStore* store_;
  EdgedMetrics* metrics_;
  mutable absl::Mutex mu_;
  bool replaying_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t id_prefix_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Appends handed to the writer and not yet done, in order.
  std::deque<std::function<void()>> appends_ ABSL_GUARDED_BY(mu_);
  bool appending_ ABSL_GUARDED_BY(mu_) = false;  // The writer is in an append.
  std::thread writer_;
  std::thread replay_;
};

}  // namespace edge::edged

#endif  // EDGED_DELIVERY_H_

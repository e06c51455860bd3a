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
// Thread-safe; Submit blocks until the platform answers or the message is queued.
#ifndef EDGED_DELIVERY_H_
#define EDGED_DELIVERY_H_

#include <cstdint>
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
  Delivery(PlatformSession* session, OfflineStore* store);
  ~Delivery();

  // `queueable`: writes, events and service calls; reads are not (kUnavailable offline).
  absl::StatusOr<Outcome> Submit(alwayson::Code method, alwayson::RequestBody body,
                                 bool queueable);
  // The session is up: replay what is queued.
  void OnOnline();
  uint64_t queue_depth() const;

 private:
  // Takes the next append ticket; the caller then calls Queue with it, without mu_.
  uint64_t TakeTicket() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends (and fsyncs) the request to the store in ticket order, with mu_ released: a slow
  // disk holds up only the writes queued behind it, never Submit's direct sends, the
  // session's I/O thread or a read.
  absl::StatusOr<Outcome> Queue(uint64_t ticket, alwayson::Code method,
                                const alwayson::RequestBody& body) ABSL_LOCKS_EXCLUDED(mu_);
  void ReplayLoop();

  PlatformSession* session_;
  OfflineStore* store_;
  mutable absl::Mutex mu_;
  bool replaying_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t id_prefix_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Appends in flight keep direct sends off, so nothing sent directly overtakes a write
  // that is still on its way into the store.
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t append_turn_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread replay_;
};

}  // namespace edge::edged

#endif  // EDGED_DELIVERY_H_

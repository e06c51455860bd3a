// RequestTracker: the requests edged has sent to the platform and waits on: their ids, their
// deadlines, and failing them in the order they were sent. No I/O and no clock of its own
// (the caller passes `now`), so that PlatformSession's rules are tested without a network.
//
//   RequestTracker tracker;
//   uint32_t id = tracker.NextId();
//   tracker.Add(id, RequestKind::kAuth, now + msg_timeout, std::move(done));
//   if (auto done = tracker.Take(answer.header.request_id)) (*done)(answer);
//   for (RequestTracker::Expired& e : tracker.TakeExpired(now)) ...
//
// Not thread-safe: PlatformSession uses it from its I/O thread only.
#ifndef EDGED_REQUEST_TRACKER_H_
#define EDGED_REQUEST_TRACKER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "services/alwayson/message.h"

namespace edge::edged {

// What a request is for decides what its missing answer means: an AUTH or a BIND without
// an answer leaves the session in no defined state, so the connection is dropped; a call
// fails on its own.
enum class RequestKind { kAuth, kBind, kCall };

class RequestTracker {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(absl::StatusOr<alwayson::Message>)>;

  // Ids start after `last_id` (a test starts near the top of the id space).
  explicit RequestTracker(uint32_t last_id = 0) : last_id_(last_id) {}

  struct Expired {
    uint32_t id;
    RequestKind kind;
    Done done;
  };

  // A request id for the next request: never 0 and never one still waiting. Ids count up
  // and go round after 2^32 - 1.
  uint32_t NextId();
  // Waits for the answer to request `id` until `deadline`.
  void Add(uint32_t id, RequestKind kind, Clock::time_point deadline, Done done);
  // The waiter of `id`, no longer tracked; nullopt for an id that is not waiting (late:
  // already expired, or never sent).
  std::optional<Done> Take(uint32_t id);
  // Every request whose deadline is at or before `now`, no longer tracked, in the order
  // they were added.
  std::vector<Expired> TakeExpired(Clock::time_point now);
  // Every request, no longer tracked, in the order they were added.
  std::vector<Expired> TakeAll();

  size_t size() const { return by_id_.size(); }

 private:
  struct Entry {
    uint64_t order;
    RequestKind kind;
    Clock::time_point deadline;
    Done done;
  };
  std::vector<Expired> TakeIf(const std::function<bool(const Entry&)>& pred);

  std::map<uint32_t, Entry> by_id_;
  uint32_t last_id_;
  uint64_t next_order_ = 0;
};

}  // namespace edge::edged

#endif  // EDGED_REQUEST_TRACKER_H_

#include "edged/request_tracker.h"

#include <algorithm>
#include <utility>

namespace edge::edged {

uint32_t RequestTracker::NextId() {
  // At most size() ids are taken, far fewer than 2^32 - 1: this ends.
  do {
    if (++last_id_ == 0) last_id_ = 1;
  } while (by_id_.count(last_id_) > 0);
  return last_id_;
}

void RequestTracker::Add(uint32_t id, RequestKind kind, Clock::time_point deadline, Done done) {
  by_id_[id] = Entry{next_order_++, kind, deadline, std::move(done)};
}

std::optional<RequestTracker::Done> RequestTracker::Take(uint32_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  Done done = std::move(it->second.done);
  by_id_.erase(it);
  return done;
}

std::vector<RequestTracker::Expired> RequestTracker::TakeIf(
    const std::function<bool(const Entry&)>& pred) {
  std::vector<std::pair<uint64_t, Expired>> taken;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (pred(it->second)) {
      taken.push_back({it->second.order, Expired{it->first, it->second.kind, std::move(it->second.done)}});
      it = by_id_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(taken.begin(), taken.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Expired> out;
  out.reserve(taken.size());
  for (auto& t : taken) out.push_back(std::move(t.second));
  return out;
}

std::vector<RequestTracker::Expired> RequestTracker::TakeExpired(Clock::time_point now) {
  return TakeIf([now](const Entry& e) { return e.deadline <= now; });
}

std::vector<RequestTracker::Expired> RequestTracker::TakeAll() {
  return TakeIf([](const Entry&) { return true; });
}

}  // namespace edge::edged

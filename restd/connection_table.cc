#include "restd/connection_table.h"

#include <algorithm>

namespace edge::restd {
namespace {

ConnectionLimits AtLeastOne(ConnectionLimits l) {
  l.max_clients = std::max<size_t>(1, l.max_clients);
  l.max_pending_handshakes = std::max<size_t>(1, l.max_pending_handshakes);
  l.max_connections_per_address = std::max<size_t>(1, l.max_connections_per_address);
  return l;
}

}  // namespace

ConnectionTable::ConnectionTable(ConnectionLimits limits) : limits_(AtLeastOne(limits)) {}

void ConnectionTable::EnterPending(Id id, Entry& e) {
  e.stage = Stage::kPending;
  pending_.insert(id);
  addresses_[e.address].pending.insert(id);
}

void ConnectionTable::EnterWaiting(Id id, Entry& e) {
  if (e.stage == Stage::kPending) ++clients_;
  e.stage = Stage::kWaiting;
  e.waiting_since = next_waiting_++;
  waiting_.emplace(e.waiting_since, id);
  addresses_[e.address].waiting.emplace(e.waiting_since, id);
}

// Out of its stage's orders (it still counts for its address and as a client).
void ConnectionTable::LeaveStage(Id id, Entry& e) {
  Address& a = addresses_[e.address];
  switch (e.stage) {
    case Stage::kPending:
      pending_.erase(id);
      a.pending.erase(id);
      break;
    case Stage::kWaiting:
      waiting_.erase(e.waiting_since);
      a.waiting.erase(e.waiting_since);
      break;
    case Stage::kBusy:
      --busy_;
      break;
  }
}

void ConnectionTable::Remove(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  LeaveStage(id, e);
  if (e.stage != Stage::kPending) --clients_;
  auto a = addresses_.find(e.address);
  if (--a->second.count == 0) addresses_.erase(a);
  entries_.erase(it);
}

void ConnectionTable::Drop(Id id, Limit limit, std::vector<Dropped>* dropped) {
  Entry& e = entries_.at(id);
  dropped->push_back({e.connection.lock(), e.address, limit});
  Remove(id);
}

ConnectionTable::Outcome ConnectionTable::Open(const std::string& address) {
  absl::MutexLock lock(&mu_);
  Outcome out;
  auto a = addresses_.find(address);
  if (a != addresses_.end() && a->second.count >= limits_.max_connections_per_address) {
    // Room is made by this address's own idle connections, or not at all.
    Id victim;
    if (!a->second.pending.empty()) {
      victim = *a->second.pending.begin();
    } else if (!a->second.waiting.empty()) {
      victim = a->second.waiting.begin()->second;
    } else {
      out.verdict = Verdict::kRefused;
      out.limit = Limit::kMaxConnectionsPerAddress;
      return out;
    }
    Drop(victim, Limit::kMaxConnectionsPerAddress, &out.dropped);
  }
  out.id = ++next_id_;
  Entry& e = entries_[out.id];
  e.address = address;
  ++addresses_[address].count;
  EnterPending(out.id, e);
  if (pending_.size() > limits_.max_pending_handshakes) {
    Drop(*pending_.begin(), Limit::kMaxPendingHandshakes, &out.dropped);
  }
  return out;
}

bool ConnectionTable::Attach(Id id, std::weak_ptr<Closable> connection) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  it->second.connection = std::move(connection);
  return true;
}

ConnectionTable::Outcome ConnectionTable::HandshakeDone(Id id) {
  absl::MutexLock lock(&mu_);
  Outcome out;
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.stage != Stage::kPending) {
    out.verdict = Verdict::kGone;
    return out;
  }
  LeaveStage(id, it->second);
  EnterWaiting(id, it->second);
  if (clients_ <= limits_.max_clients) return out;
  Id longest = waiting_.begin()->second;
  if (longest != id) {
    Drop(longest, Limit::kMaxClients, &out.dropped);
    return out;
  }
  // Every other client is busy: refused, it stays pending (bounded as such) until closed.
  LeaveStage(id, it->second);
  --clients_;
  EnterPending(id, it->second);
  out.verdict = Verdict::kRefused;
  out.limit = Limit::kMaxClients;
  return out;
}

bool ConnectionTable::RequestStarted(Id id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.stage != Stage::kWaiting) return false;
  LeaveStage(id, it->second);
  it->second.stage = Stage::kBusy;
  ++busy_;
  return true;
}

bool ConnectionTable::RequestFinished(Id id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.stage != Stage::kBusy) return false;
  LeaveStage(id, it->second);
  EnterWaiting(id, it->second);
  return true;
}

void ConnectionTable::Close(Id id) {
  absl::MutexLock lock(&mu_);
  Remove(id);
}

ConnectionTable::Counts ConnectionTable::counts() const {
  absl::MutexLock lock(&mu_);
  return {pending_.size(), clients_, busy_};
}

size_t ConnectionTable::ConnectionsFrom(const std::string& address) const {
  absl::MutexLock lock(&mu_);
  auto a = addresses_.find(address);
  return a == addresses_.end() ? 0 : a->second.count;
}

}  // namespace edge::restd

#include "edged/file_copies.h"

#include <algorithm>

namespace edge::edged {

void FileCopies::Copy::Answered(absl::StatusOr<Delivery::Outcome> outcome) {
  absl::MutexLock lock(&mu_);
  answer_ = std::move(outcome);
}

void FileCopies::Copy::set_transfer_id(const std::string& tid) {
  absl::MutexLock lock(&mu_);
  tid_ = tid;
}

bool FileCopies::Copy::Matches(const TransferEvent& e) const {
  if (e.thing != thing_) return false;
  if (!tid_.empty()) return e.tid == tid_;
  return e.file == file_;  // One file is in one transfer at a time (section 6.4).
}

void FileCopies::Copy::Push(const TransferEvent& e) {
  // The first event found by the file names the transfer: the rest follow its id.
  if (tid_.empty() && !e.tid.empty()) tid_ = e.tid;
  // A block's progress replaces the one before it not yet read: bounded however many blocks.
  if (e.kind == TransferEvent::Kind::kProgress && !events_.empty() &&
      events_.back().kind == TransferEvent::Kind::kProgress) {
    events_.back() = e;
    return;
  }
  events_.push_back(e);
}

std::optional<FileCopies::Copy::Step> FileCopies::Copy::Next(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](Copy* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                              return c->answer_.has_value() || !c->events_.empty();
                            },
                            this),
                        deadline);
  if (answer_) {
    Step step = std::move(*answer_);
    answer_.reset();
    return step;
  }
  if (!events_.empty()) {
    Step step = events_.front();
    events_.pop_front();
    return step;
  }
  return std::nullopt;
}

std::shared_ptr<FileCopies::Copy> FileCopies::Follow(const std::string& thing,
                                                     const std::string& file) {
  auto copy = std::make_shared<Copy>(thing, file);
  absl::MutexLock lock(&mu_);
  copies_.push_back(copy);
  return copy;
}

void FileCopies::Forget(const std::shared_ptr<Copy>& copy) {
  absl::MutexLock lock(&mu_);
  copies_.erase(std::remove(copies_.begin(), copies_.end(), copy), copies_.end());
}

size_t FileCopies::size() const {
  absl::MutexLock lock(&mu_);
  return copies_.size();
}

void FileCopies::OnEvent(const TransferEvent& event) {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<Copy>& copy : copies_) {
    absl::MutexLock copy_lock(&copy->mu_);
    if (copy->Matches(event)) copy->Push(event);
  }
}

}  // namespace edge::edged

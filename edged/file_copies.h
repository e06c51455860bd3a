// FileCopies: the edge-initiated copies (EdgeService::CopyFile) waiting for the transfers
// the platform carries out for them. The platform answers Copy with a transfer id (or, for
// a copy replayed from the offline store, the answer goes to the store's replay), then
// drives the transfer through the file services; FileService reports each step as a
// TransferEvent, and each copy follows the events of its Thing's file, by transfer id once
// known.
//
//   FileCopies copies;
//   files.set_observer([&](const TransferEvent& e) { copies.OnEvent(e); });
//   auto copy = copies.Follow("Pump1", "logs/today.log");
//   copy->Answered(outcome);                     // From Delivery's done.
//   while (auto step = copy->Next(deadline)) ...  // Until kCompleted or kFailed.
//
// Thread-safe. OnEvent and Answered never block (they run on FileService's worker and the
// session's I/O thread).
#ifndef EDGED_FILE_COPIES_H_
#define EDGED_FILE_COPIES_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "edged/delivery.h"
#include "edged/file_service.h"

namespace edge::edged {

class FileCopies {
 public:
  class Copy {
   public:
    Copy(std::string thing, std::string file) : thing_(std::move(thing)), file_(std::move(file)) {}

    // What the platform (or the offline store) made of the Copy request.
    void Answered(absl::StatusOr<Delivery::Outcome> outcome);
    // From now on, events match by this transfer id too.
    void set_transfer_id(const std::string& tid);

    // The next thing that happened: the answer (once) or an event. Nothing by `deadline`.
    using Step = std::variant<absl::StatusOr<Delivery::Outcome>, TransferEvent>;
    std::optional<Step> Next(absl::Time deadline);

   private:
    friend class FileCopies;
    bool Matches(const TransferEvent& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
    void Push(const TransferEvent& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

    const std::string thing_;
    const std::string file_;
    absl::Mutex mu_;
    std::string tid_ ABSL_GUARDED_BY(mu_);
    std::optional<absl::StatusOr<Delivery::Outcome>> answer_ ABSL_GUARDED_BY(mu_);
    std::deque<TransferEvent> events_ ABSL_GUARDED_BY(mu_);  // Progress coalesced.
  };

  std::shared_ptr<Copy> Follow(const std::string& thing, const std::string& file);
  void Forget(const std::shared_ptr<Copy>& copy);
  size_t size() const;

  void OnEvent(const TransferEvent& event);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Copy>> copies_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edge::edged

#endif  // EDGED_FILE_COPIES_H_

// ReconnectPolicy: how long edged waits before it connects again after a failed or lost
// connection, and what it says about it. No I/O and no clock of its own: the caller passes
// `now`, so that the rules are tested without a network.
//
// The wait (shared/specs/ems-config.md, ws_connection): the first kJitteredAttempts failures
// wait connect_retry_interval plus a random delay up to max_connect_delay (EMS's rule, so
// that a fleet does not reconnect in step); after that the interval doubles with every
// failure, up to edged.max_reconnect_delay (5 minutes unless configured), with the same
// random part. A successful bind resets it.
//
// The log: the first failure of an outage is a warning ("cannot connect to host:port:
// reason"), and so is the first failure of each other kind in the same outage (the kind is
// the reason's first two words: "cannot connect", "trustd unreachable:", "no answer", ...),
// so that a change of cause is never hidden; every other attempt is DEBUG, and at most once
// per kSummaryInterval a warning sums up ("still offline: 37 attempts, last error ...").
#ifndef EDGED_RECONNECT_POLICY_H_
#define EDGED_RECONNECT_POLICY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

namespace edge::edged {

struct ReconnectOptions {
  std::chrono::milliseconds retry_interval{10000};     // ws_connection.connect_retry_interval
  std::chrono::milliseconds max_connect_delay{10000};  // ws_connection.max_connect_delay
  std::chrono::milliseconds max_delay{300000};         // edged.max_reconnect_delay
};

class ReconnectPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kJitteredAttempts = 3;
  static constexpr std::chrono::minutes kSummaryInterval{1};

  // `jitter` returns the random part's fraction, 0..1.
  ReconnectPolicy(ReconnectOptions options, std::function<double()> jitter);

  // One more failed attempt at `now`, for `reason`. Returns the wait before the next one.
  std::chrono::milliseconds Failed(Clock::time_point now, const std::string& reason);
  // What to log for the failure just recorded: the warning of the first failure of an
  // outage or a summary that is due, else nullopt (log the attempt at DEBUG).
  std::optional<std::string> Warning() const { return warning_; }
  // Bound again: the next outage starts from the first wait and logs its first failure.
  void Reset();

  int64_t failures() const { return failures_; }

 private:
  ReconnectOptions options_;
  std::function<double()> jitter_;
  int64_t failures_ = 0;
  int64_t since_summary_ = 0;
  Clock::time_point last_warning_;
  std::optional<std::string> warning_;
  std::set<std::string> kinds_;  // Of this outage's failures; a handful.
};

}  // namespace edge::edged

#endif  // EDGED_RECONNECT_POLICY_H_

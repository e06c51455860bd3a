// restd's request authentication: HTTP Basic credentials (checked by trustd), the CSRF
// tokens EMS uses (`http_server.enable_csrf_tokens`, `csrf_token_rotation_period`), and the
// bookkeeping of failed logins (held answers, rate-limited log lines).
#ifndef RESTD_AUTH_H_
#define RESTD_AUTH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace edge::restd {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The credentials of an `Authorization: Basic ...` header value; nullopt when it is not
// Basic, not base64, or has no ':' (the user name ends at the first ':').
std::optional<BasicCredentials> ParseBasicAuthorization(absl::string_view header);

// At most kMaxLoggedUserNameBytes of a user name, for a log line: quoted, control
// characters, quotes, backslashes and bytes above 0x7E escaped (\x1b), "..." when shortened.
// A user name is not a secret, but it is the client's text: it must not forge log lines.
inline constexpr size_t kMaxLoggedUserNameBytes = 64;
std::string LoggableUserName(absl::string_view user);

// CSRF tokens: every response carries the current token (`x-csrf-token`); a modifying
// request must send the current or the previous one. Time is cut into rotation periods
// counted from construction (EMS counts csrf_token_rotation_period in minutes); a token is
// drawn for each period the first time it is asked for, and stays valid in that period and
// the next: at most two rotation periods after the start of its own, however rarely the
// tokens are asked for. Thread-safe.
class CsrfTokens {
 public:
  using Clock = std::function<absl::Time()>;
  // `rotation` must be positive (the config loader allows 1 minute and more); a smaller one
  // is taken as 1 second.
  explicit CsrfTokens(absl::Duration rotation, Clock clock = absl::Now);
  std::string Current();
  bool Valid(absl::string_view token);

 private:
  void RotateIfDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const absl::Duration rotation_;
  Clock clock_;
  const absl::Time start_;  // Period k is [start_ + k * rotation_, start_ + (k+1) * rotation_).
  absl::Mutex mu_;
  std::string current_ ABSL_GUARDED_BY(mu_);   // Drawn for period `period_`.
  std::string previous_ ABSL_GUARDED_BY(mu_);  // Drawn for period `period_ - 1`, or empty.
  int64_t period_ ABSL_GUARDED_BY(mu_) = 0;
};

// Remembers, for a short time, which credentials trustd accepted, by their SHA-256 and never
// in clear, so keep-alive clients do not cost a trustd call per request. Cleared when trustd's
// state changes (a rotated password). Thread-safe.
class CredentialCache {
 public:
  explicit CredentialCache(absl::Duration ttl) : ttl_(ttl) {}
  bool Accepted(const BasicCredentials& c, absl::Time now);
  void Remember(const BasicCredentials& c, absl::Time now);
  void Clear();

 private:
  static std::string Key(const BasicCredentials& c);
  const absl::Duration ttl_;
  absl::Mutex mu_;
  std::string key_ ABSL_GUARDED_BY(mu_);
  absl::Time until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// How failed logins are slowed and logged (restd's defaults; documented constants, not
// config keys). Per peer address: the first `free_failures` failures in a row are answered
// at once; then each 401 is held `first_delay`, doubling with every further failure up to
// `max_delay`. A success, or `quiet_reset` without a failure, starts the count again.
struct FailedLoginPolicy {
  int free_failures = 3;
  absl::Duration first_delay = absl::Milliseconds(100);
  absl::Duration max_delay = absl::Seconds(5);
  absl::Duration quiet_reset = absl::Minutes(5);
  // Addresses remembered; beyond this the one whose last failure is oldest is forgotten.
  size_t max_addresses = 4096;
  // Log lines per address and per minute, and for all addresses together; the failures
  // beyond them are counted and summed up in the address's next logged line.
  int logged_per_address_per_minute = 10;
  int logged_per_minute = 100;
};

// Failed Basic logins, per peer address: how long to hold each 401, and which to log. Only
// failures cost anything: a correct login is never held, whatever the address's count (it
// resets it). The hold is a delay before the answer is written, not a thread asleep (Reply
// in rest_api.h). While held, the answer keeps its connection, so the server's connection
// limits also bound the guesses in flight, even for a client that closes and reconnects
// instead of waiting: from one address at most restd.max_connections_per_address /
// max_delay per second at the cap. Thread-safe.
//
//   FailedLogins failed;
//   FailedLogins::Verdict v = failed.Failed("192.0.2.7", user, absl::Now());
//   if (v.log_line) LogWarning(*v.log_line);
//   return Reply{unauthorized, v.hold};
class FailedLogins {
 public:
  struct Verdict {
    absl::Duration hold = absl::ZeroDuration();  // Before the 401 is written.
    std::optional<std::string> log_line;         // Without the password, by construction.
  };

  explicit FailedLogins(FailedLoginPolicy policy = {}) : policy_(policy) {}

  // Records a failed login by `user` (as sent; logged escaped and shortened) from `address`.
  Verdict Failed(absl::string_view address, absl::string_view user, absl::Time now);
  // A correct login from `address`: its count starts again.
  void Succeeded(absl::string_view address);
  // Failed logins since start, every address (for metrics).
  uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  // Addresses with failures remembered (at most policy.max_addresses).
  size_t addresses() const;

 private:
  struct Entry {
    std::string address;
    int in_a_row = 0;
    absl::Time last_failure;
    absl::Time window_start;  // The minute logged_per_address_per_minute counts in.
    int logged_in_window = 0;
    uint64_t not_logged = 0;  // Since the last logged line.
  };
  using Entries = std::list<Entry>;  // Most recent failure first.

  absl::Duration HoldAfter(int in_a_row) const;
  Entry& Touch(absl::string_view address, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MayLog(Entry& e, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FailedLoginPolicy policy_;
  std::atomic<uint64_t> total_{0};
  mutable absl::Mutex mu_;
  Entries entries_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Entries::iterator> by_address_ ABSL_GUARDED_BY(mu_);
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int logged_in_window_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::restd

#endif  // RESTD_AUTH_H_

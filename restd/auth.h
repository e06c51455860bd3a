// restd's request authentication: HTTP Basic credentials (checked by trustd) and the CSRF
// tokens EMS uses (`http_server.enable_csrf_tokens`, `csrf_token_rotation_period`).
#ifndef RESTD_AUTH_H_
#define RESTD_AUTH_H_

#include <functional>
#include <optional>
#include <string>

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

}  // namespace edge::restd

#endif  // RESTD_AUTH_H_

#include "restd/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace edge::restd {

std::optional<BasicCredentials> ParseBasicAuthorization(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (header.size() < 6 || !absl::EqualsIgnoreCase(header.substr(0, 6), "basic ")) {
    return std::nullopt;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(header.substr(6)), &decoded)) {
    return std::nullopt;
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

std::string LoggableUserName(absl::string_view user) {
  std::string out =
      absl::StrCat("\"", absl::CHexEscape(user.substr(0, kMaxLoggedUserNameBytes)), "\"");
  if (user.size() > kMaxLoggedUserNameBytes) {
    absl::StrAppend(&out, " (its first ", kMaxLoggedUserNameBytes, " of ", user.size(), " bytes)");
  }
  return out;
}

namespace {
std::string RandomToken() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // No randomness: no tokens.
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}
}  // namespace

CsrfTokens::CsrfTokens(absl::Duration rotation, Clock clock)
    : rotation_(std::max(rotation, absl::Seconds(1))), clock_(std::move(clock)),
      start_(clock_()) {
  absl::MutexLock lock(&mu_);
  current_ = RandomToken();
}

void CsrfTokens::RotateIfDue() {
  absl::Duration since = clock_() - start_;
  int64_t period = since < absl::ZeroDuration() ? 0 : absl::IDivDuration(since, rotation_, &since);
  if (period <= period_) return;  // The same period (or a clock that went back: keep it).
  // The token of the period just before stays valid; one drawn earlier than that does not.
  previous_ = period == period_ + 1 ? current_ : std::string();
  current_ = RandomToken();
  period_ = period;
}

std::string CsrfTokens::Current() {
  absl::MutexLock lock(&mu_);
  RotateIfDue();
  return current_;
}

bool CsrfTokens::Valid(absl::string_view token) {
  absl::MutexLock lock(&mu_);
  RotateIfDue();
  auto same = [&](const std::string& t) {
    return !t.empty() && t.size() == token.size() &&
           CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0;
  };
  return same(current_) || same(previous_);
}

std::string CredentialCache::Key(const BasicCredentials& c) {
  std::string joined = c.user + '\0' + c.password;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  OPENSSL_cleanse(joined.data(), joined.size());
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

bool CredentialCache::Accepted(const BasicCredentials& c, absl::Time now) {
  std::string key = Key(c);
  absl::MutexLock lock(&mu_);
  return now < until_ && key_.size() == key.size() &&
         CRYPTO_memcmp(key_.data(), key.data(), key.size()) == 0;
}

void CredentialCache::Remember(const BasicCredentials& c, absl::Time now) {
  std::string key = Key(c);
  absl::MutexLock lock(&mu_);
  key_ = std::move(key);
  until_ = now + ttl_;
}

void CredentialCache::Clear() {
  absl::MutexLock lock(&mu_);
  key_.clear();
  until_ = absl::InfinitePast();
}

absl::Duration FailedLogins::HoldAfter(int in_a_row) const {
  int doublings = in_a_row - policy_.free_failures - 1;
  if (doublings < 0) return absl::ZeroDuration();
  if (doublings > 30) return policy_.max_delay;
  return std::min(policy_.first_delay * (int64_t{1} << doublings), policy_.max_delay);
}

FailedLogins::Entry& FailedLogins::Touch(absl::string_view address, absl::Time now) {
  std::string key(address);
  auto found = by_address_.find(key);
  if (found != by_address_.end()) {
    entries_.splice(entries_.begin(), entries_, found->second);
    Entry& e = entries_.front();
    if (now - e.last_failure >= policy_.quiet_reset) e.in_a_row = 0;
    return e;
  }
  entries_.push_front(Entry{key, 0, now, absl::InfinitePast(), 0, 0});
  by_address_.emplace(std::move(key), entries_.begin());
  while (entries_.size() > std::max<size_t>(policy_.max_addresses, 1)) {
    by_address_.erase(entries_.back().address);
    entries_.pop_back();
  }
  return entries_.front();
}

bool FailedLogins::MayLog(Entry& e, absl::Time now) {
  if (now - e.window_start >= absl::Minutes(1)) {
    e.window_start = now;
    e.logged_in_window = 0;
  }
  if (now - window_start_ >= absl::Minutes(1)) {
    window_start_ = now;
    logged_in_window_ = 0;
  }
  if (e.logged_in_window >= policy_.logged_per_address_per_minute ||
      logged_in_window_ >= policy_.logged_per_minute) {
    return false;
  }
  ++e.logged_in_window;
  ++logged_in_window_;
  return true;
}

FailedLogins::Verdict FailedLogins::Failed(absl::string_view address, absl::string_view user,
                                           absl::Time now) {
  total_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  Entry& e = Touch(address, now);
  if (e.in_a_row < std::numeric_limits<int>::max()) ++e.in_a_row;
  e.last_failure = now;
  Verdict v;
  v.hold = HoldAfter(e.in_a_row);
  if (!MayLog(e, now)) {
    ++e.not_logged;
    return v;
  }
  std::string line = absl::StrCat("failed login for user ", LoggableUserName(user), " from ",
                                  address.empty() ? "an unknown address" : address, ": ",
                                  e.in_a_row, " in a row");
  if (v.hold > absl::ZeroDuration()) {
    absl::StrAppend(&line, ", the 401 is held ", absl::FormatDuration(v.hold));
  }
  if (e.not_logged > 0) {
    absl::StrAppend(&line, "; ", e.not_logged, " failed logins from this address before this "
                    "one were not logged (at most ", policy_.logged_per_address_per_minute,
                    " lines per address and ", policy_.logged_per_minute,
                    " in all per minute)");
    e.not_logged = 0;
  } else if (e.logged_in_window == policy_.logged_per_address_per_minute) {
    absl::StrAppend(&line, "; further failures from this address in this minute are counted, "
                    "not logged");
  }
  v.log_line = std::move(line);
  return v;
}

void FailedLogins::Succeeded(absl::string_view address) {
  absl::MutexLock lock(&mu_);
  auto found = by_address_.find(std::string(address));
  if (found == by_address_.end()) return;
  entries_.erase(found->second);
  by_address_.erase(found);
}

size_t FailedLogins::addresses() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace edge::restd

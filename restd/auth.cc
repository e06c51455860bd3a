#include "restd/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

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

}  // namespace edge::restd

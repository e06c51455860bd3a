#include "trustd/acme_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/acme/acme_client.h"
#include "services/acme/acme_crypto.h"
#include "services/acme/challenge_server.h"
#include "services/common/file_util.h"
#include "services/common/host_port.h"
#include "services/common/log.h"
#include "services/common/openssl_util.h"
#include "services/config/validate.h"
#include "services/json/json.h"
#include "services/trust/sealed_secret.h"
#include "services/tls/peer_verifier.h"
#include "trustd/acme_paths.h"

namespace edge::trustd {
namespace {

namespace v1 = ::trust::v1;

constexpr const char* kRoles[] = {"rest_server", "platform_client"};
// How often the CA's renewalInfo is asked again (RFC 9773 section 4.3 lets the CA say more
// often with Retry-After; a gateway has no need to).
constexpr absl::Duration kRenewalInfoInterval = absl::Hours(6);

// The ACME server's certificate, judged by the generation in force (purpose acme).
class EngineValidator : public tls::PeerValidator {
 public:
  explicit EngineValidator(std::function<std::shared_ptr<const TrustState>()> state)
      : state_(std::move(state)) {}
  trust::Decision Validate(const std::vector<std::string>& chain_der, trust::Purpose purpose,
                           const std::string& peer_name) override {
    return state_()->validator().Validate(chain_der, purpose, peer_name, absl::Now());
  }

 private:
  std::function<std::shared_ptr<const TrustState>()> state_;
};

v1::Role RoleOf(const std::string& role) {
  return role == "rest_server" ? v1::REST_SERVER : v1::PLATFORM_CLIENT;
}

bool Covers(X509* leaf, const std::string& name) {
  if (IsIpLiteral(name)) return X509_check_ip_asc(leaf, name.c_str(), 0) == 1;
  return X509_check_host(leaf, name.data(), name.size(), X509_CHECK_FLAG_NO_WILDCARDS,
                         nullptr) == 1;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

json::Value TimeOrNull(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return json::Value();
  return json::Value::String(Rfc3339(t));
}

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status FsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("opening ", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno(absl::StrCat("fsync ", dir));
}

void RemoveTree(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink(absl::StrCat(dir, "/", name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

}  // namespace

AcmeManager::AcmeManager(AcmeManagerOptions options) : options_(std::move(options)) {}

AcmeManager::~AcmeManager() { Stop(); }

void AcmeManager::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AcmeManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AcmeManager::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

std::unique_ptr<acme::HttpsTransport> AcmeManager::Transport(const config::AcmeConfig& acme) {
  auto https = std::make_unique<acme::HttpsTransport>(
      std::make_shared<EngineValidator>(options_.state), absl::Milliseconds(acme.request_timeout));
  https->set_cancelled([this] { return Stopping(); });
  return https;
}

bool AcmeManager::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool AcmeManager::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void AcmeManager::Run() {
  for (;;) {
    std::shared_ptr<const TrustState> state = options_.state();
    absl::Time next = absl::InfiniteFuture();
    for (const char* role : kRoles) {
      next = std::min(next, Consider(state, role));
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (state->config().trustd.acme.enabled()) WriteStatus(state->config().trustd.acme);
    absl::MutexLock lock(&mu_);
    auto wake = [this] { return stopping_ || woken_; };
    absl::Duration wait = std::clamp(next - absl::Now(), absl::ZeroDuration(), absl::Hours(1));
    mu_.AwaitWithTimeout(absl::Condition(&wake), wait);
    if (stopping_) return;
    woken_ = false;
  }
}

absl::Time AcmeManager::Consider(const std::shared_ptr<const TrustState>& state,
                                 const std::string& role) {
  const config::Config& cfg = state->config();
  const config::AcmeConfig& acme = cfg.trustd.acme;
  if (!AcmeManages(cfg, role)) {
    status_.erase(role);
    return absl::InfiniteFuture();
  }
  RoleStatus& st = status_[role];
  st.role = role;
  st.names = config::AcmeNames(cfg, role == "rest_server");
  absl::Time now = absl::Now();
  const RoleIdentity* id = state->IdentityForRole(RoleOf(role));
  absl::Time due = now;
  std::string why;
  if (id == nullptr || !id->acme_issued) {
    why = "no certificate from the CA yet";
  } else {
    X509* leaf = id->identity.chain.front().get();
    st.not_after = Asn1TimeToTime(X509_get0_notAfter(leaf));
    st.certificate_sha256 = id->identity.leaf_sha256;
    std::vector<std::string> missing;
    for (const std::string& name : st.names) {
      if (!Covers(leaf, name)) missing.push_back(name);
    }
    if (!missing.empty()) {
      why = absl::StrCat("the certificate in force lacks ", absl::StrJoin(missing, ", "));
    } else {
      absl::Time not_before = Asn1TimeToTime(X509_get0_notBefore(leaf));
      absl::Duration lifetime = st.not_after - not_before;
      due = st.not_after - lifetime * acme.renew_when_remaining;
      // The CA's renewalInfo, when it has one, says when instead (RFC 9773 section 4.2:
      // a random time within the suggested window).
      if (st.ari_fingerprint != st.certificate_sha256 || now - st.ari_checked > kRenewalInfoInterval) {
        st.ari_fingerprint = st.certificate_sha256;
        st.ari_checked = now;
        st.ari_due.reset();
        std::unique_ptr<acme::HttpsTransport> https = Transport(acme);
        acme::AcmeClient client(https.get(), acme.directory_url, nullptr,
                                [this](absl::Duration d) { return Wait(d); });
        absl::StatusOr<std::optional<acme::RenewalWindow>> window = client.RenewalInfo(leaf);
        if (!window.ok()) {
          LogDebug(absl::StrCat("ACME: ", role, ": ", window.status().message(),
                                "; renewing by the lifetime instead"));
        } else if (window->has_value()) {
          std::mt19937_64 rng(std::random_device{}());
          double at = std::uniform_real_distribution<double>(0, 1)(rng);
          st.ari_due = (*window)->start + ((*window)->end - (*window)->start) * at;
        }
      }
      if (st.ari_due) due = *st.ari_due;
    }
  }
  // After a failure, the backoff; after a success that did not come into force (a reload
  // refused for another reason), no new order before retry_interval.
  if (st.failures > 0) due = std::max(due, st.next);
  if (!why.empty() && st.last_result == "ok") {
    due = std::max(due, st.last_attempt + absl::Milliseconds(acme.retry_interval));
  }
  if (now < due) {
    st.next = due;
    if (options_.metrics != nullptr) options_.metrics->AcmeNextRenewal(role, due);
    return due;
  }
  if (why.empty()) {
    why = st.ari_due ? "the CA's renewalInfo window has come (RFC 9773)"
                     : "its renewal time has come";
  }
  LogInfo(absl::StrCat("ACME: ordering a certificate for ", role, " (",
                       absl::StrJoin(st.names, ", "), "): ", why));
  st.last_attempt = now;
  absl::Status s = Order(state, role, &st);
  if (options_.metrics != nullptr) options_.metrics->AcmeRenewal(role, s.ok());
  if (s.ok()) {
    st.failures = 0;
    st.last_result = "ok";
    st.last_error.clear();
    st.problem_type.clear();
    st.next = absl::InfinitePast();
    WriteStatus(acme);
    if (options_.installed) options_.installed();
    return absl::Now();  // Look again with the generation that holds it.
  }
  ++st.failures;
  absl::Duration backoff = absl::Milliseconds(acme.retry_interval);
  for (int i = 1; i < st.failures && backoff < absl::Milliseconds(acme.max_retry_interval); ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, absl::Milliseconds(acme.max_retry_interval));
  st.next = now + backoff;
  st.last_result = "failed";
  st.last_error = std::string(s.message());
  if (options_.metrics != nullptr) options_.metrics->AcmeNextRenewal(role, st.next);
  LogError(absl::StrCat("ACME: the certificate for ", role, " was not renewed: ", s.message(),
                        "; ", id != nullptr ? "the certificate in force stays" : "no certificate yet",
                        "; next attempt in ", absl::FormatDuration(backoff), " (failure ",
                        st.failures, ")"));
  WriteStatus(acme);
  return st.next;
}

absl::Status AcmeManager::Order(const std::shared_ptr<const TrustState>& state,
                                const std::string& role, RoleStatus* st) {
  const config::AcmeConfig& acme = state->config().trustd.acme;
  const config::AcmeIdentityConfig& wanted = acme.identity(role);
  st->problem_type.clear();
  absl::StatusOr<UniqueEvpPkey> account = AccountKey(*state);
  if (!account.ok()) return account.status();
  std::unique_ptr<acme::HttpsTransport> https = Transport(acme);
  acme::AcmeClient client(https.get(), acme.directory_url, account->get(),
                          [this](absl::Duration d) { return Wait(d); });
  const std::string* eab_key = state->Secret("acme/eab_hmac_key");
  absl::Status s = client.Register(acme.contact, acme.eab_key_id, eab_key ? *eab_key : "");
  if (!s.ok()) {
    if (client.last_problem()) st->problem_type = client.last_problem()->type;
    return s;
  }
  const std::string& address =
      acme.challenge == "tls-alpn-01" ? acme.tls_alpn01_address : acme.http01_address;
  absl::StatusOr<HostPort> hp = ParseListenAddress(address, "trustd.acme");
  if (!hp.ok()) return hp.status();
  absl::StatusOr<std::unique_ptr<acme::ChallengeServer>> responder =
      acme::ChallengeServer::Start(acme.challenge, *hp);
  if (!responder.ok()) return responder.status();
  absl::StatusOr<UniqueEvpPkey> key = acme::GenerateKey(wanted.key_type);
  if (!key.ok()) return key.status();
  std::string replaces;
  if (const RoleIdentity* id = state->IdentityForRole(RoleOf(role)); id && id->acme_issued) {
    replaces = acme::AriCertId(id->identity.chain.front().get());
  }
  absl::StatusOr<std::string> chain = client.Obtain(st->names, key->get(), responder->get(),
                                                    replaces);
  responder->reset();  // The challenge port closes with the order.
  if (!chain.ok()) {
    if (client.last_problem()) st->problem_type = client.last_problem()->type;
    return chain.status();
  }
  // What the CA sent must be the certificate asked for before it replaces anything.
  absl::StatusOr<std::vector<UniqueX509>> certs = CertsFromPem(*chain, "the issued chain");
  if (!certs.ok()) return certs.status();
  X509* leaf = certs->front().get();
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key->get()) != 1) {
    return absl::FailedPreconditionError(
        "the CA issued a certificate for another key than the one in the CSR; not installed");
  }
  for (const std::string& name : st->names) {
    if (!Covers(leaf, name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the CA issued a certificate without ", name, ", which was ordered; not installed"));
    }
  }
  absl::StatusOr<std::string> key_pem = acme::PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  s = Install(acme, role, *chain, *key_pem);
  OPENSSL_cleanse(key_pem->data(), key_pem->size());
  if (!s.ok()) return s;
  LogInfo(absl::StrCat("ACME: installed a certificate for ", role, " (",
                       absl::StrJoin(st->names, ", "), "), valid until ",
                       Rfc3339(Asn1TimeToTime(X509_get0_notAfter(leaf))), ", SHA-256 ",
                       Sha256Fingerprint(leaf)));
  return absl::OkStatus();
}

absl::Status AcmeManager::Install(const config::AcmeConfig& acme, const std::string& role,
                                  const std::string& chain_pem, const std::string& key_pem) {
  std::string dir = AcmeRoleDirectory(acme, role);
  if (absl::Status s = MakeDirectories(dir, 0700); !s.ok()) return s;
  std::string name = absl::FormatTime("%Y%m%dT%H%M%E6S", absl::Now(), absl::UTCTimeZone());
  std::string sub = absl::StrCat(dir, "/", name);
  if (::mkdir(sub.c_str(), 0700) != 0) return Errno(absl::StrCat("creating ", sub));
  if (absl::Status s = WriteFileAtomically(sub + "/key.pem", key_pem, 0600); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomically(sub + "/chain.pem", chain_pem, 0644); !s.ok()) {
    return s;
  }
  if (absl::Status s = FsyncDirectory(sub); !s.ok()) return s;
  // The swap: a new symlink renamed over `current` (rename(2) is atomic), so a reader sees
  // the old pair or the new pair, never one file of each.
  char previous[256] = {0};
  ssize_t n = ::readlink((dir + "/current").c_str(), previous, sizeof(previous) - 1);
  std::string old = n > 0 ? std::string(previous, n) : "";
  std::string tmp = dir + "/current.new";
  ::unlink(tmp.c_str());
  if (::symlink(name.c_str(), tmp.c_str()) != 0) return Errno(absl::StrCat("linking ", tmp));
  if (::rename(tmp.c_str(), (dir + "/current").c_str()) != 0) {
    return Errno(absl::StrCat("renaming ", tmp));
  }
  if (absl::Status s = FsyncDirectory(dir); !s.ok()) return s;
  // Keep the one before as well (a roll back by hand); older ones go.
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
      std::string entry = e->d_name;
      if (entry == "." || entry == ".." || entry == "current" || entry == name || entry == old) {
        continue;
      }
      stale.push_back(entry);
    }
    ::closedir(d);
    for (const std::string& entry : stale) RemoveTree(absl::StrCat(dir, "/", entry));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueEvpPkey> AcmeManager::AccountKey(const TrustState& state) {
  const config::AcmeConfig& acme = state.config().trustd.acme;
  const trust::MasterKey* mk = state.master_key();
  if (mk == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trustd.acme: the ACME account key is kept sealed under the master key, and there is "
        "none (trustd.master_key_file ", state.config().trustd.master_key_file,
        "; its directory must exist)"));
  }
  std::string path = AcmeAccountKeyFile(acme);
  std::string what = absl::StrCat("the ACME account key ", path);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    absl::StatusOr<std::string> sealed = ReadFile(path);
    if (!sealed.ok()) return sealed.status();
    absl::StatusOr<std::string> pem = trust::Unseal(*mk, absl::StripTrailingAsciiWhitespace(*sealed), what);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<UniqueEvpPkey> key = acme::PrivateKeyFromPem(*pem, what);
    OPENSSL_cleanse(pem->data(), pem->size());
    return key;
  }
  if (absl::Status s = MakeDirectories(acme.state_directory, 0700); !s.ok()) return s;
  absl::StatusOr<UniqueEvpPkey> key = acme::GenerateKey("ec-p256");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> pem = acme::PrivateKeyToPem(key->get());
  if (!pem.ok()) return pem.status();
  std::string sealed = trust::Seal(*mk, *pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (absl::Status s = WriteFileAtomically(path, sealed + "\n", 0600); !s.ok()) return s;
  LogInfo(absl::StrCat("ACME: created the account key ", path, " (sealed under the master key)"));
  return key;
}

void AcmeManager::WriteStatus(const config::AcmeConfig& acme) {
  json::Array identities;
  for (const auto& [role, st] : status_) {
    json::Array names;
    for (const std::string& n : st.names) names.push_back(json::Value::String(n));
    identities.push_back(json::Value::MakeObject({
        {"role", json::Value::String(role)},
        {"names", json::Value::MakeArray(std::move(names))},
        {"not_after", TimeOrNull(st.not_after)},
        {"next_renewal", TimeOrNull(st.next)},
        {"last_attempt", TimeOrNull(st.last_attempt)},
        {"last_result", json::Value::String(st.last_result)},
        {"last_error", json::Value::String(st.last_error)},
        {"problem_type", json::Value::String(st.problem_type)},
        {"failures", json::Value::Number(st.failures)},
        {"certificate_sha256", json::Value::String(st.certificate_sha256)},
    }));
  }
  json::Value doc = json::Value::MakeObject(
      {{"directory_url", json::Value::String(acme.directory_url)},
       {"written", json::Value::String(Rfc3339(absl::Now()))},
       {"identities", json::Value::MakeArray(std::move(identities))}});
  if (absl::Status s = MakeDirectories(acme.state_directory, 0700); !s.ok()) return;
  if (absl::Status s = WriteFileAtomically(AcmeStatusFile(acme), json::Write(doc) + "\n", 0644);
      !s.ok()) {
    LogWarning(absl::StrCat("ACME: cannot write ", AcmeStatusFile(acme), ": ", s.message()));
  }
}

}  // namespace edge::trustd

// AcmeManager: trustd's thread that keeps the identities of trustd.acme issued and renewed.
// For each managed role (rest_server, platform_client) it orders a certificate when there
// is none from the CA yet, when the configured names are not all in it, or when its renewal
// time comes: the CA's renewalInfo window when offered (RFC 9773), else when
// `renew_when_remaining` of its lifetime is left. A new key is generated for every order
// and never leaves trustd; the chain and key are installed atomically in the state
// directory (acme_paths.h) and `installed` is called so that trustd loads a new generation
// (WatchTrust: restd and edged take the new identity for new connections; open ones stay).
// A failed order keeps what is in force, is logged with the CA's problem document and
// counted, and is retried after `retry_interval`, doubling up to `max_retry_interval`.
//
//   AcmeManager acme({.state = [&] { return service.state(); }, .installed = reload});
//   acme.Start();   // ... acme.Stop() before the service goes.
#ifndef TRUSTD_ACME_MANAGER_H_
#define TRUSTD_ACME_MANAGER_H_

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/acme/acme_http.h"
#include "trustd/trust_state.h"
#include "trustd/trustd_metrics.h"

namespace edge::trustd {

struct AcmeManagerOptions {
  // The generation in force (its configuration, validator, master key and identities).
  std::function<std::shared_ptr<const TrustState>()> state;
  // A certificate was installed: load a new generation. Called on the manager's thread.
  std::function<void()> installed;
  TrustdMetrics* metrics = nullptr;  // May be null.
};

class AcmeManager {
 public:
  explicit AcmeManager(AcmeManagerOptions options);
  ~AcmeManager();  // Stops.

  void Start();
  // Abandons a pending order (its challenge listener closes) and joins the thread.
  void Stop();
  // The configuration may have changed: look again now.
  void Wake();

 private:
  struct RoleStatus {
    std::string role;
    std::vector<std::string> names;
    absl::Time not_after = absl::InfinitePast();
    absl::Time next = absl::InfinitePast();   // The next order.
    absl::Time last_attempt = absl::InfinitePast();
    std::string last_result = "never";         // "ok", "failed" or "never".
    std::string last_error;
    std::string problem_type;
    int failures = 0;
    std::string certificate_sha256;
    // The CA's renewalInfo for that certificate, asked at `ari_checked`.
    std::string ari_fingerprint;
    absl::Time ari_checked = absl::InfinitePast();
    std::optional<absl::Time> ari_due;
  };

  void Run();
  // Looks at `role` and orders when due. Returns when it should be looked at next.
  absl::Time Consider(const std::shared_ptr<const TrustState>& state, const std::string& role);
  absl::Status Order(const std::shared_ptr<const TrustState>& state, const std::string& role,
                     RoleStatus* status);
  absl::Status Install(const config::AcmeConfig& acme, const std::string& role,
                       const std::string& chain_pem, const std::string& key_pem);
  // The account key, created and sealed on first use.
  absl::StatusOr<UniqueEvpPkey> AccountKey(const TrustState& state);
  void WriteStatus(const config::AcmeConfig& acme);
  // Sleeps up to `d`; false when stopping.
  bool Wait(absl::Duration d);
  bool Stopping();
  // HTTPS to the CA: judged by the generation in force, abandoned when stopping.
  std::unique_ptr<acme::HttpsTransport> Transport(const config::AcmeConfig& acme);

  AcmeManagerOptions options_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, RoleStatus> status_;  // The manager's thread only.
};

}  // namespace edge::trustd

#endif  // TRUSTD_ACME_MANAGER_H_

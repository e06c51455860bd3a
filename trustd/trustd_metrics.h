// TrustdMetrics: what trustd counts for Prometheus (services/metrics serves the registry on
// trustd.metrics.address). Labels take values from fixed sets (a purpose, a reason name, a
// method, a policy setting) or from the configuration (a certificate's description).
//
//   edge_trustd_decisions_total{purpose,result,reason}  every ValidatePeer answer
//   edge_trustd_decision_cache_hits_total               ... answered from the cache
//   edge_trustd_sign_duration_seconds                   keyless signatures
//   edge_trustd_certificate_expiry_seconds{certificate} seconds until notAfter (negative:
//                                                       expired); set about once a second
//   edge_trustd_relaxed_policy{setting}                 1 for each trustd.policy relaxation
//   edge_trustd_generation                              the trust material in force
//   edge_trustd_reloads_refused_total                   changed files refused
//   edge_trustd_denied_callers_total{method}            local callers refused
//   edge_trustd_acme_renewals_total{identity,result}    ACME orders: result ok or failed
//   edge_trustd_acme_next_renewal_timestamp_seconds{identity}  when the next order is due
//
// Thread-safe.
#ifndef TRUSTD_TRUSTD_METRICS_H_
#define TRUSTD_TRUSTD_METRICS_H_

#include <string>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/config/config.h"
#include "services/trust/decision.h"

namespace edge::trustd {

class TrustdMetrics {
 public:
  explicit TrustdMetrics(prometheus::Registry& registry);

  void Decision(trust::Purpose purpose, const trust::Decision& decision, bool cached);
  void SignDuration(double seconds) { sign_duration_.Observe(seconds); }
  void DeniedCaller(const std::string& method);
  void ReloadRefused() { reloads_refused_.Increment(); }
  // An ACME order for `identity` ("rest_server", "platform_client") ended.
  void AcmeRenewal(const std::string& identity, bool ok);
  void AcmeNextRenewal(const std::string& identity, absl::Time when);
  // A generation came into force, with its policy and its certificates.
  void Generation(uint64_t generation, const config::StrictPolicyConfig& policy,
                  std::vector<std::pair<std::string, absl::Time>> certificates, absl::Time now);
  // Seconds until expiry, as of `now`, of the certificates of the generation in force.
  void UpdateExpiry(absl::Time now);

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Counter& cache_hits_;
  prometheus::Histogram& sign_duration_;
  prometheus::Family<prometheus::Gauge>& expiry_;
  prometheus::Family<prometheus::Gauge>& relaxed_;
  prometheus::Gauge& generation_;
  prometheus::Counter& reloads_refused_;
  prometheus::Family<prometheus::Counter>& denied_;
  prometheus::Family<prometheus::Counter>& acme_renewals_;
  prometheus::Family<prometheus::Gauge>& acme_next_;

  absl::Mutex mu_;
  std::vector<std::pair<std::string, absl::Time>> certificates_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edge::trustd

#endif  // TRUSTD_TRUSTD_METRICS_H_

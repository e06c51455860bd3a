#include "trustd/trustd_metrics.h"

namespace edge::trustd {

TrustdMetrics::TrustdMetrics(prometheus::Registry& registry)
    : decisions_(prometheus::BuildCounter()
                     .Name("edge_trustd_decisions_total")
                     .Help("Peer certificate decisions, by purpose, result and reason.")
                     .Register(registry)),
      cache_hits_(prometheus::BuildCounter()
                      .Name("edge_trustd_decision_cache_hits_total")
                      .Help("Decisions answered from the decision cache.")
                      .Register(registry)
                      .Add({})),
      sign_duration_(prometheus::BuildHistogram()
                         .Name("edge_trustd_sign_duration_seconds")
                         .Help("Keyless signatures made for restd and edged.")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025, 0.05, 0.1})),
      expiry_(prometheus::BuildGauge()
                  .Name("edge_trustd_certificate_expiry_seconds")
                  .Help("Seconds until a certificate trustd holds expires (negative: expired).")
                  .Register(registry)),
      relaxed_(prometheus::BuildGauge()
                   .Name("edge_trustd_relaxed_policy")
                   .Help("1 for each trustd.policy relaxation of the strict policy in force.")
                   .Register(registry)),
      generation_(prometheus::BuildGauge()
                      .Name("edge_trustd_generation")
                      .Help("The generation of trust material in force (1 at start, +1 per "
                            "reload).")
                      .Register(registry)
                      .Add({})),
      reloads_refused_(prometheus::BuildCounter()
                           .Name("edge_trustd_reloads_refused_total")
                           .Help("Changed files refused; the last good generation stayed.")
                           .Register(registry)
                           .Add({})),
      denied_(prometheus::BuildCounter()
                  .Name("edge_trustd_denied_callers_total")
                  .Help("Local callers refused by trustd.callers, by method.")
                  .Register(registry)),
      acme_renewals_(prometheus::BuildCounter()
                         .Name("edge_trustd_acme_renewals_total")
                         .Help("ACME orders by identity and result (ok, failed).")
                         .Register(registry)),
      acme_next_(prometheus::BuildGauge()
                     .Name("edge_trustd_acme_next_renewal_timestamp_seconds")
                     .Help("When trustd next orders a certificate for the identity (Unix time).")
                     .Register(registry)) {}

void TrustdMetrics::AcmeRenewal(const std::string& identity, bool ok) {
  acme_renewals_.Add({{"identity", identity}, {"result", ok ? "ok" : "failed"}}).Increment();
}

void TrustdMetrics::AcmeNextRenewal(const std::string& identity, absl::Time when) {
  acme_next_.Add({{"identity", identity}}).Set(absl::ToDoubleSeconds(when - absl::UnixEpoch()));
}

void TrustdMetrics::Decision(trust::Purpose purpose, const trust::Decision& decision,
                             bool cached) {
  decisions_
      .Add({{"purpose", std::string(trust::PurposeName(purpose))},
            {"result", decision.allowed ? "allowed" : "refused"},
            {"reason", std::string(trust::ReasonName(decision.reason))}})
      .Increment();
  if (cached) cache_hits_.Increment();
}

void TrustdMetrics::DeniedCaller(const std::string& method) {
  denied_.Add({{"method", method}}).Increment();
}

void TrustdMetrics::Generation(uint64_t generation, const config::StrictPolicyConfig& policy,
                               std::vector<std::pair<std::string, absl::Time>> certificates,
                               absl::Time now) {
  generation_.Set(static_cast<double>(generation));
  const std::pair<const char*, bool> settings[] = {
      {"allow_sha1_signatures", policy.allow_sha1_signatures},
      {"allow_missing_eku", policy.allow_missing_eku},
      {"allow_missing_san", policy.allow_missing_san},
      {"allow_weak_keys", policy.allow_weak_keys},
      {"allow_v1_ca", policy.allow_v1_ca},
      {"allow_invalid_serial", policy.allow_invalid_serial},
      {"ignore_leaf_name_constraints", policy.ignore_leaf_name_constraints},
  };
  for (const auto& [name, on] : settings) relaxed_.Add({{"setting", name}}).Set(on ? 1 : 0);
  {
    absl::MutexLock lock(&mu_);
    // Certificates of the old generation that are gone are no longer reported.
    for (const auto& [what, not_after] : certificates_) {
      bool kept = false;
      for (const auto& c : certificates) kept = kept || c.first == what;
      if (!kept) expiry_.Remove(&expiry_.Add({{"certificate", what}}));
    }
    certificates_ = std::move(certificates);
  }
  UpdateExpiry(now);
}

void TrustdMetrics::UpdateExpiry(absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (const auto& [what, not_after] : certificates_) {
    expiry_.Add({{"certificate", what}}).Set(absl::ToDoubleSeconds(not_after - now));
  }
}

}  // namespace edge::trustd

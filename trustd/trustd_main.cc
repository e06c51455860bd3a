// trustd: the trust sidecar. Serves trust.v1.TrustService, grpc.health.v1 and server
// reflection on a Unix socket; reloads trust material when files change.
//   trustd --config /etc/edge/config.yaml
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "services/common/daemon.h"
#include "services/common/log.h"
#include "services/config/diagnostic.h"
#include "services/local_rpc/uds_listener.h"
#include "services/metrics/metrics_server.h"
#include "services/startup/startup_checks.h"
#include "trustd/acme_manager.h"
#include "trustd/file_watcher.h"
#include "trustd/trust_service.h"
#include "trustd/trust_state.h"
#include "trustd/trustd_metrics.h"

namespace edge::trustd {
namespace {

// Loads everything a generation needs: the checks trustctl check-config makes, in the same
// order and with the same lines (errors in the status, one per line; warnings logged).
absl::StatusOr<std::pair<std::shared_ptr<const TrustState>, CallerPolicy>> LoadGeneration(
    const std::string& config_path, uint64_t generation,
    const trust::ChainValidator::Caches& caches) {
  startup::CheckedConfig checked =
      startup::CheckConfigFile(config_path, {startup::Daemon::kTrustd});
  std::vector<std::string> errors;
  for (const config::Diagnostic& d : checked.diagnostics) {
    if (d.severity == config::Diagnostic::Severity::kError) errors.push_back(d.ToString());
  }
  // The logger is read at start only: the first generation's file holds its warnings too.
  if (errors.empty() && generation == 1) {
    if (absl::Status s = startup::ApplyLogger(checked.config.logger); !s.ok()) {
      errors.push_back(absl::StrCat("error: logger.publish_directory: ", s.message()));
    }
  }
  for (const config::Diagnostic& d : checked.diagnostics) {
    if (d.severity != config::Diagnostic::Severity::kError) LogWarning(d.ToLogMessage());
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  LoadOptions options;
  options.create_master_key = true;
  options.validator_caches = caches;
  auto state = TrustState::Load(checked.config, generation, options);
  if (!state.ok()) return state.status();
  for (const std::string& w : (*state)->warnings()) LogWarning(w);
  auto callers = TrustdCallerPolicy(checked.config);
  if (!callers.ok()) {  // Checked above; a user removed in between.
    return absl::Status(callers.status().code(),
                        absl::StrCat("error: ", callers.status().message()));
  }
  return std::make_pair(*std::move(state), *std::move(callers));
}

void WarnAboutExpiry(const TrustState& state, absl::Time now) {
  int days = static_cast<int>(state.config().trustd.expiry_warning_days);
  // An identity trustd renews from its ACME CA is renewed before it would warn; its
  // failures are logged by the ACME client (with the CA's reason) instead. Only its expiry
  // is still said.
  std::vector<std::string> renewed;
  for (auto role : {::trust::v1::REST_SERVER, ::trust::v1::PLATFORM_CLIENT}) {
    const RoleIdentity* id = state.IdentityForRole(role);
    if (id != nullptr && id->acme_issued) renewed.push_back(id->name + " certificate ");
  }
  for (const auto& [what, not_after] : state.Certificates()) {
    bool acme = std::any_of(renewed.begin(), renewed.end(), [&what = what](const std::string& p) {
      return absl::StartsWith(what, p);
    });
    if (acme && not_after >= now) continue;
    std::string when = absl::FormatTime("%Y-%m-%d", not_after, absl::UTCTimeZone());
    if (not_after < now) {
      LogError(absl::StrCat(what, " expired on ", when));
    } else if (not_after - now < absl::Hours(24 * days)) {
      LogWarning(absl::StrCat(what, " expires on ", when, " (in ",
                              absl::ToInt64Hours(not_after - now) / 24,
                              " days; trustd.expiry_warning_days is ", days, ")"));
    }
  }
}

int Run(const std::string& config_path) {
  // One set for every generation: the entries hold for exact certificates whatever the
  // policy, so what a rotation leaves in use stays remembered.
  trust::ChainValidator::Caches caches;
  caches.signatures = std::make_shared<trust::SignatureCache>(
      trust::ChainValidator::kDefaultSignatureEntries,
      trust::ChainValidator::kDefaultSignatureBytes);
  caches.certificates = std::make_shared<trust::CertificateCache>(
      trust::ChainValidator::kDefaultCertificateEntries,
      trust::ChainValidator::kDefaultCertificateBytes);
  auto first = LoadGeneration(config_path, 1, caches);
  if (!first.ok()) {
    std::cerr << first.status().message() << "\ntrustd: not started: fix " << config_path << "\n";
    return 1;
  }
  std::shared_ptr<const TrustState> state = first->first;
  const config::TrustdConfig& tc = state->config().trustd;
  auto listener = local_rpc::UdsListener::Listen(tc.socket, tc.socket_mode);
  if (!listener.ok()) {
    std::cerr << "error: trustd.socket: " << listener.status().message()
              << "\ntrustd: not started\n";
    return 1;
  }
  WarnAboutExpiry(*state, absl::Now());

  auto registry = std::make_shared<prometheus::Registry>();
  TrustdMetrics counters(*registry);
  counters.Generation(1, state->config().trustd.policy, state->Certificates(), absl::Now());
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::MetricsServer::Start(tc.metrics, "trustd.metrics", registry);
  if (!metrics_server.ok()) {
    std::cerr << "error: " << metrics_server.status().message() << "\ntrustd: not started\n";
    return 1;
  }

  TrustServiceImpl service(state, std::move(first->second), &(*listener)->registry());
  service.set_metrics(&counters);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  // No request to trustd is larger than the largest ValidatePeerRequest its limits accept:
  // gRPC refuses anything bigger before it is parsed (the default would be 4 MB).
  builder.SetMaxReceiveMessageSize(kMaxRequestMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "trustd: the gRPC server did not start\n";
    return 1;
  }
  (*listener)->Start(server.get());

  // Rotation: a changed file is loaded into a new generation; a bad one is refused and the
  // last good generation stays in force.
  absl::Mutex reload_mu;
  uint64_t generation = 1;
  std::unique_ptr<AcmeManager> acme;  // Set before the first reload can run.
  absl::Time last_expiry_check = absl::Now();
  auto reload = [&] {
    absl::MutexLock lock(&reload_mu);
    auto next = LoadGeneration(config_path, generation + 1, caches);
    if (!next.ok()) {
      // One line per problem, each saying ERROR once (the status has "error: ..." lines).
      counters.ReloadRefused();
      LogError(absl::StrCat("a changed file was refused; generation ", generation,
                            " stays in force"));
      for (absl::string_view line : absl::StrSplit(next.status().message(), '\n')) {
        if (!line.empty()) LogError(absl::StripPrefix(line, "error: "));
      }
      return;
    }
    ++generation;
    service.Swap(next->first, std::move(next->second));
    counters.Generation(generation, next->first->config().trustd.policy,
                       next->first->Certificates(), absl::Now());
    LogInfo(absl::StrCat("trust material reloaded: generation ", generation));
    WarnAboutExpiry(*next->first, absl::Now());
    if (acme) acme->Wake();
  };
  // trustd.acme: identities obtained and renewed from the ACME CA; each one installed is
  // loaded as a new generation like a rotated file.
  AcmeManagerOptions acme_options;
  acme_options.state = [&service] { return service.state(); };
  acme_options.installed = reload;
  acme_options.metrics = &counters;
  acme = std::make_unique<AcmeManager>(std::move(acme_options));
  acme->Start();
  auto tick = [&] {
    counters.UpdateExpiry(absl::Now());
    if (absl::Now() - last_expiry_check < absl::Hours(1)) return;
    last_expiry_check = absl::Now();
    WarnAboutExpiry(*service.state(), last_expiry_check);
  };
  auto watcher = FileWatcher::Start([&service] { return service.state()->Files(); }, reload, tick);
  if (!watcher.ok()) LogWarning(absl::StrCat("rotation disabled: ", watcher.status().message()));

  LogForce(absl::StrCat("serving trust.v1.TrustService on unix:", tc.socket, " (generation 1, ",
                        state->validator().policy().purposes.size(), " purposes, ",
                        state->Snapshot().identities_size(), " identities)"));
  AwaitTerminationSignal();
  acme->Stop();
  watcher = absl::StatusOr<std::unique_ptr<FileWatcher>>(nullptr);
  (*listener)->Stop();
  service.Shutdown();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  return 0;
}

}  // namespace
}  // namespace edge::trustd

constexpr char kSummary[] =
    "The trust sidecar: the only process that reads private keys, the master key and trust\n"
    "anchors. Serves trust.v1.TrustService (peer decisions, keyless signing, passwords,\n"
    "secrets), gRPC health and reflection on its Unix socket (trustd.socket); reloads trust\n"
    "material when its files change. The configuration is checked exactly as `trustctl\n"
    "check-config` checks it.\n";

int main(int argc, char** argv) {
  return edge::DaemonMain(argc, argv, "trustd", kSummary, edge::trustd::Run);
}

// edged: keeps the AlwaysOn session to the platform and serves the local edge API
// (edge.v1.EdgeService) on a Unix socket. Certificates, keys and the app key come from
// trustd; edged never reads them itself. The daemon is the Edged object (edged.h).
//   edged --config /etc/edge/config.yaml
#include <iostream>

#include "edged/edged.h"
#include "services/common/daemon.h"
#include "services/startup/startup_checks.h"

namespace edge::edged {
namespace {

int Run(const std::string& config_path) {
  // The checks trustctl check-config makes, with the same lines.
  startup::CheckedConfig checked =
      startup::CheckConfigFile(config_path, {startup::Daemon::kEdged});
  if (!startup::ReportAtStart(checked, "edged")) return 1;
  absl::StatusOr<std::unique_ptr<Edged>> edged = Edged::Create(checked.config, config_path);
  if (!edged.ok()) {
    std::cerr << edged.status().message() << "\n";
    return 1;
  }
  if (absl::Status s = (*edged)->Start(); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  AwaitTerminationSignal();
  (*edged)->Stop();
  return 0;
}

}  // namespace
}  // namespace edge::edged

constexpr char kSummary[] =
    "The platform connection: keeps the AlwaysOn session (ws_servers, appKey) with every peer\n"
    "judged by trustd, queues messages for an unreachable platform (offline_msg_store) and\n"
    "serves edge.v1.EdgeService on its Unix socket (edged.socket). The configuration is\n"
    "checked exactly as `trustctl check-config` checks it.\n";

int main(int argc, char** argv) {
  return edge::DaemonMain(argc, argv, "edged", kSummary, edge::edged::Run);
}

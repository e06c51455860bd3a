#include "services/metrics/metrics_server.h"

#include <exception>
#include <vector>

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "services/common/host_port.h"
#include "services/common/log.h"

namespace edge::metrics {
namespace {

absl::StatusOr<HostPort> Checked(const config::MetricsConfig& config, const std::string& field) {
  absl::StatusOr<HostPort> hp = ParseListenAddress(config.address, absl::StrCat(field, ".address"));
  if (!hp.ok()) return hp.status();
  if (!config.allow_public && !hp->loopback()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".address: ", config.address,
        " is not a loopback address; metrics are served on 127.0.0.1 or ::1 unless ", field,
        ".allow_public is true"));
  }
  return hp;
}

}  // namespace

absl::Status CheckAddress(const config::MetricsConfig& config, const std::string& field) {
  return Checked(config, field).status();
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const config::MetricsConfig& config, const std::string& field,
    std::shared_ptr<prometheus::Registry> registry) {
  if (config.address.empty()) return nullptr;
  absl::StatusOr<HostPort> hp = Checked(config, field);
  if (!hp.ok()) return hp.status();
  std::string bind = hp->ToString();
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    // Two threads and a request deadline: a scraper that stalls holds one thread for at
    // most 10 s, and no peer makes the endpoint start fifty.
    server->exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", bind, "num_threads", "2", "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(field, ".address: cannot serve metrics on ", bind,
                                               ": ", e.what(), " (is the port in use?)"));
  }
  server->exposer_->RegisterCollectable(registry);
  std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? hp->port : ports.front();
  server->url_ = hp->v6 ? absl::StrCat("http://[", hp->host, "]:", server->port_, "/metrics")
                        : absl::StrCat("http://", hp->host, ":", server->port_, "/metrics");
  LogInfo(absl::StrCat("metrics on ", server->url_));
  return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace edge::metrics

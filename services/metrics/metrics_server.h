// MetricsServer: a daemon's Prometheus endpoint (`<daemon>.metrics` in the config): the
// registry its metrics live in, served as the text exposition format at
// http://ADDRESS/metrics by prometheus-cpp's Exposer. Off unless an address is configured;
// a loopback address unless `allow_public` is set, because the figures tell an attacker
// what the gateway talks to and how it fails.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   EdgedMetrics metrics(*registry);            // Families, counted whether served or not.
//   absl::StatusOr<std::unique_ptr<MetricsServer>> server =
//       MetricsServer::Start(config.edged.metrics, "edged.metrics", registry);
//
// Names follow Prometheus' conventions: edge_<daemon>_<what>_<unit>, counters end in
// _total, durations are in seconds and sizes in bytes.
#ifndef SERVICES_METRICS_METRICS_SERVER_H_
#define SERVICES_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/config/config.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace edge::metrics {

// "127.0.0.1:9101" -> ok; kInvalidArgument naming `field` (e.g. "edged.metrics.address")
// and what was expected for anything else, and for an address that is not loopback unless
// `allow_public`. Resolves nothing: the host is an IP literal or "localhost".
absl::Status CheckAddress(const config::MetricsConfig& config, const std::string& field);

class MetricsServer {
 public:
  // Null (and OK) when config.address is empty; else serving, and "metrics on URL" logged.
  // An error names `field` and the address when it is refused or cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const config::MetricsConfig& config, const std::string& field,
      std::shared_ptr<prometheus::Registry> registry);
  ~MetricsServer();

  int port() const { return port_; }
  // "http://127.0.0.1:9101/metrics", for the log.
  const std::string& url() const { return url_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  std::string url_;
};

}  // namespace edge::metrics

#endif  // SERVICES_METRICS_METRICS_SERVER_H_

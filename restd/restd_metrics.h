// RestdMetrics: what restd counts for Prometheus (services/metrics serves the registry on
// restd.metrics.address). Labels take values from fixed sets (a route class, a method, a
// status code, a limit) or from the configured Things, never from a request's path.
//
//   edge_restd_requests_total{route,method,status}   route: properties, services,
//                                                    local_ems, edge_things, other
//   edge_restd_failed_logins_total
//   edge_restd_handshakes_total{result}              ok, failed
//   edge_restd_refused_connections_total{reason}     max_clients, max_pending_handshakes,
//                                                    max_connections_per_address,
//                                                    handshake_timeout, header_timeout,
//                                                    body_timeout
//   edge_restd_endpoint_up{thing}                    1 when the edge endpoint answered its
//                                                    last health check
//
// Thread-safe.
#ifndef RESTD_RESTD_METRICS_H_
#define RESTD_RESTD_METRICS_H_

#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "absl/strings/string_view.h"

namespace edge::restd {

class RestdMetrics {
 public:
  explicit RestdMetrics(prometheus::Registry& registry);

  // `target` is the request target ("/Thingworx/Things/Pump1/Properties/Temp?x=1").
  void Request(absl::string_view target, absl::string_view method, unsigned status);
  void FailedLogin() { failed_logins_.Increment(); }
  void Handshake(bool ok);
  void Refused(absl::string_view reason);
  void EndpointUp(const std::string& thing, bool up);

  // "properties", "services", "local_ems", "edge_things" or "other".
  static absl::string_view RouteOf(absl::string_view target);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Counter& failed_logins_;
  prometheus::Family<prometheus::Counter>& handshakes_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Gauge>& endpoint_up_;
};

}  // namespace edge::restd

#endif  // RESTD_RESTD_METRICS_H_

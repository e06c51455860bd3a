#include "restd/restd_metrics.h"

#include <vector>

#include "absl/strings/str_split.h"

namespace edge::restd {

RestdMetrics::RestdMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("edge_restd_requests_total")
                    .Help("REST requests answered, by route, method and HTTP status.")
                    .Register(registry)),
      failed_logins_(prometheus::BuildCounter()
                         .Name("edge_restd_failed_logins_total")
                         .Help("Requests refused for wrong or malformed credentials.")
                         .Register(registry)
                         .Add({})),
      handshakes_(prometheus::BuildCounter()
                      .Name("edge_restd_handshakes_total")
                      .Help("TLS handshakes with REST clients, by result (a failed one "
                            "includes a client certificate trustd refused).")
                      .Register(registry)),
      refused_(prometheus::BuildCounter()
                   .Name("edge_restd_refused_connections_total")
                   .Help("Connections refused or closed by a limit or a deadline.")
                   .Register(registry)),
      endpoint_up_(prometheus::BuildGauge()
                       .Name("edge_restd_endpoint_up")
                       .Help("1 when the Thing's edge endpoint answered its last health check.")
                       .Register(registry)) {
  for (const char* r : {"ok", "failed"}) handshakes_.Add({{"result", r}});
}

absl::string_view RestdMetrics::RouteOf(absl::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<absl::string_view> parts = absl::StrSplit(target, '/', absl::SkipEmpty());
  if (parts.size() < 4 || parts[0] != "Thingworx" || parts[1] != "Things") return "other";
  if (parts[2] == "LocalEms") {
    if (parts[3] == "Services" && parts.size() == 5 &&
        (parts[4] == "GetEdgeThings" || parts[4] == "AddEdgeThing" ||
         parts[4] == "RemoveEdgeThing")) {
      return "edge_things";
    }
    return "local_ems";
  }
  if (parts[3] == "Properties") return "properties";
  if (parts[3] == "Services") return "services";
  return "other";
}

void RestdMetrics::Request(absl::string_view target, absl::string_view method, unsigned status) {
  std::string m(method);
  if (m != "GET" && m != "PUT" && m != "POST" && m != "DELETE") m = "other";
  requests_
      .Add({{"route", std::string(RouteOf(target))}, {"method", m},
            {"status", std::to_string(status)}})
      .Increment();
}

void RestdMetrics::Handshake(bool ok) {
  handshakes_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

void RestdMetrics::Refused(absl::string_view reason) {
  refused_.Add({{"reason", std::string(reason)}}).Increment();
}

void RestdMetrics::EndpointUp(const std::string& thing, bool up) {
  endpoint_up_.Add({{"thing", thing}}).Set(up ? 1 : 0);
}

}  // namespace edge::restd

#include "edged/edged_metrics.h"

#include "gtest/gtest.h"

namespace edge::edged {
namespace {

TEST(EdgedMetricsTest, EachOfTheSessionsReasonsHasItsCauseAndAnythingElseIsOther) {
  struct Case {
    const char* reason;
    const char* cause;
  };
  // Reasons as platform_session.cc words them.
  for (const Case& c : {
           Case{"cannot connect to p:443: Connection refused", "connect_failed"},
           Case{"cannot resolve p (proxy.host): Host not found", "resolve_failed"},
           Case{"cannot reach p:443: proxy answered 407", "proxy_failed"},
           Case{"TLS handshake with p:443 failed: timed out", "tls_failed"},
           Case{"platform certificate refused: NAME_MISMATCH (...)", "certificate_refused"},
           Case{"trustd unreachable: platform certificate of p:443 not judged", "trustd_unreachable"},
           Case{"cannot get the appKey from trustd (NOT_FOUND)", "secret_unavailable"},
           Case{"WebSocket upgrade at p:443/Thingworx/WS failed: HTTP 404", "upgrade_failed"},
           Case{"authentication refused: check appKey", "auth_refused"},
           Case{"no answer to BIND from p:443 within ws_connection.msg_timeout", "no_answer"},
           Case{"no pong from p:443 within ws_connection.pingpong_timeout", "no_pong"},
           Case{"connection to p:443 lost: end of stream", "connection_lost"},
           Case{"protocol error from p:443: bad header", "protocol_error"},
           Case{"duty cycle: offline for 45000 ms", "duty_cycle"},
           Case{"no TLS context: trustd has not provided the identity yet", "no_identity"},
           Case{"something new", "other"},
           Case{"", "other"},
       }) {
    EXPECT_EQ(EdgedMetrics::CauseOf(c.reason), c.cause) << c.reason;
  }
}

TEST(EdgedMetricsTest, TheStateGaugeHasOneStateAtOne) {
  prometheus::Registry registry;
  EdgedMetrics metrics(registry);
  metrics.SetState("CONNECTED");
  int ones = 0;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != "edge_edged_connection_state") continue;
    EXPECT_EQ(f.metric.size(), 3u);
    for (const prometheus::ClientMetric& m : f.metric) {
      if (m.gauge.value == 1) {
        ++ones;
        EXPECT_EQ(m.label.at(0).value, "CONNECTED");
      }
    }
  }
  EXPECT_EQ(ones, 1);
}

}  // namespace
}  // namespace edge::edged

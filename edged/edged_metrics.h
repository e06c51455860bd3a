// EdgedMetrics: what edged counts for Prometheus (services/metrics serves the registry on
// edged.metrics.address). Every label takes a value from a fixed set (a state, a cause,
// a message code), so no peer can make the series grow.
//
//   edge_edged_connection_state{state}          1 for the session's state, 0 for the others
//   edge_edged_reconnects_total{cause}          connections lost or attempts failed, by cause
//   edge_edged_messages_sent_total{code}        AlwaysOn messages, by code (PUT, AUTH, ...)
//   edge_edged_messages_received_total{code}
//   edge_edged_request_duration_seconds         request sent -> platform's answer
//   edge_edged_offline_store_messages / _bytes  what the offline store holds
//   edge_edged_queued_messages_total            writes, events and calls queued offline
//   edge_edged_replayed_messages_total          ... and delivered from the store
//
// Thread-safe (prometheus-cpp's metrics are).
#ifndef EDGED_EDGED_METRICS_H_
#define EDGED_EDGED_METRICS_H_

#include <cstdint>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/strings/string_view.h"

namespace edge::edged {

class EdgedMetrics {
 public:
  explicit EdgedMetrics(prometheus::Registry& registry);

  // "DISCONNECTED", "CONNECTING" or "CONNECTED".
  void SetState(absl::string_view state);
  // `reason` as PlatformSession words it; counted under CauseOf(reason).
  void Reconnect(const std::string& reason);
  void Sent(uint8_t code);
  void Received(uint8_t code);
  void RequestDuration(double seconds) { request_duration_.Observe(seconds); }
  void StoreHolds(uint64_t messages, uint64_t bytes) {
    store_messages_.Set(static_cast<double>(messages));
    store_bytes_.Set(static_cast<double>(bytes));
  }
  void Queued() { queued_.Increment(); }
  void Replayed() { replayed_.Increment(); }

  // The cause of a dropped connection, from the reason's opening words: connect_failed,
  // resolve_failed, proxy_failed, tls_failed, certificate_refused, trustd_unreachable,
  // secret_unavailable, upgrade_failed, auth_refused, no_answer, no_pong, connection_lost,
  // protocol_error, duty_cycle, no_identity, other.
  static absl::string_view CauseOf(absl::string_view reason);

 private:
  prometheus::Family<prometheus::Gauge>& state_;
  prometheus::Family<prometheus::Counter>& reconnects_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Histogram& request_duration_;
  prometheus::Gauge& store_messages_;
  prometheus::Gauge& store_bytes_;
  prometheus::Counter& queued_;
  prometheus::Counter& replayed_;
};

}  // namespace edge::edged

#endif  // EDGED_EDGED_METRICS_H_

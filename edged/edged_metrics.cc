#include "edged/edged_metrics.h"

#include "absl/strings/match.h"
#include "services/alwayson/message.h"

namespace edge::edged {
namespace {

std::string CodeLabel(uint8_t code) {
  return std::string(alwayson::CodeName(code).value_or("UNKNOWN"));
}

}  // namespace

EdgedMetrics::EdgedMetrics(prometheus::Registry& registry)
    : state_(prometheus::BuildGauge()
                 .Name("edge_edged_connection_state")
                 .Help("1 for the state the platform session is in, 0 for the others.")
                 .Register(registry)),
      reconnects_(prometheus::BuildCounter()
                      .Name("edge_edged_reconnects_total")
                      .Help("Platform connections lost or attempts failed, each followed by a "
                            "new attempt, by cause.")
                      .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name("edge_edged_messages_sent_total")
                .Help("AlwaysOn messages sent to the platform, by code.")
                .Register(registry)),
      received_(prometheus::BuildCounter()
                    .Name("edge_edged_messages_received_total")
                    .Help("AlwaysOn messages received from the platform, by code.")
                    .Register(registry)),
      request_duration_(
          prometheus::BuildHistogram()
              .Name("edge_edged_request_duration_seconds")
              .Help("From a request sent to the platform to its answer.")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{
                           0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                           2.5, 5, 10})),
      store_messages_(prometheus::BuildGauge()
                          .Name("edge_edged_offline_store_messages")
                          .Help("Messages in the offline store, waiting for the platform.")
                          .Register(registry)
                          .Add({})),
      store_bytes_(prometheus::BuildGauge()
                       .Name("edge_edged_offline_store_bytes")
                       .Help("Bytes the offline store's waiting messages take.")
                       .Register(registry)
                       .Add({})),
      queued_(prometheus::BuildCounter()
                  .Name("edge_edged_queued_messages_total")
                  .Help("Writes, events and service calls put into the offline store.")
                  .Register(registry)
                  .Add({})),
      replayed_(prometheus::BuildCounter()
                    .Name("edge_edged_replayed_messages_total")
                    .Help("Messages delivered from the offline store after a reconnection.")
                    .Register(registry)
                    .Add({})) {
  SetState("DISCONNECTED");
}

void EdgedMetrics::SetState(absl::string_view state) {
  for (const char* s : {"DISCONNECTED", "CONNECTING", "CONNECTED"}) {
    state_.Add({{"state", s}}).Set(state == s ? 1 : 0);
  }
}

void EdgedMetrics::Reconnect(const std::string& reason) {
  reconnects_.Add({{"cause", std::string(CauseOf(reason))}}).Increment();
}

void EdgedMetrics::Sent(uint8_t code) { sent_.Add({{"code", CodeLabel(code)}}).Increment(); }

void EdgedMetrics::Received(uint8_t code) {
  received_.Add({{"code", CodeLabel(code)}}).Increment();
}

absl::string_view EdgedMetrics::CauseOf(absl::string_view reason) {
  struct Prefix {
    const char* words;
    const char* cause;
  };
  // The openings of PlatformSession's reasons (platform_session.cc).
  static constexpr Prefix kPrefixes[] = {
      {"cannot connect", "connect_failed"},
      {"cannot resolve", "resolve_failed"},
      {"cannot reach", "proxy_failed"},
      {"TLS handshake", "tls_failed"},
      {"platform certificate refused", "certificate_refused"},
      {"trustd unreachable", "trustd_unreachable"},
      {"cannot get", "secret_unavailable"},
      {"WebSocket upgrade", "upgrade_failed"},
      {"authentication refused", "auth_refused"},
      {"no answer", "no_answer"},
      {"no pong", "no_pong"},
      {"connection to", "connection_lost"},
      {"protocol error", "protocol_error"},
      {"duty cycle", "duty_cycle"},
      {"no TLS context", "no_identity"},
  };
  for (const Prefix& p : kPrefixes) {
    if (absl::StartsWith(reason, p.words)) return p.cause;
  }
  return "other";
}

}  // namespace edge::edged

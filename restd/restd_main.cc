// restd: the EMS REST API over HTTPS (keyless: the certificate chain comes from trustd and
// every signature is made by trustd; restd never opens the private key), and the auto_bind
// edge endpoints served through edged.
//   restd --config /etc/edge/config.yaml
#include <openssl/ssl.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "restd/auto_binder.h"
#include "restd/endpoint_client.h"
#include "restd/https_server.h"
#include "restd/rest_api.h"
#include "restd/restd_metrics.h"
#include "services/common/daemon.h"
#include "services/common/log.h"
#include "services/edged_client/edged_client.h"
#include "services/metrics/metrics_server.h"
#include "services/startup/startup_checks.h"
#include "services/tls/cipher_suite.h"
#include "services/tls/trustd_tls.h"
#include "services/trustd_client/trustd_client.h"

namespace edge::restd {
namespace {

void ConfigureServerTls(SSL_CTX* ctx, const config::Config& config,
                        const std::shared_ptr<tls::PeerValidator>& validator) {
  tls::ApplyCipherSuite(ctx, config.certificates.cipher_suite);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_COMPRESSION);
  const std::string& mode = config.restd.client_certificates;
  if (mode != "none") {
    tls::InstallPeerValidation(ctx, validator, trust::Purpose::kClient,
                               /*require_peer_certificate=*/mode == "require");
  }
}

int Run(const std::string& config_path) {
  // The checks trustctl check-config makes, with the same lines.
  startup::CheckedConfig checked =
      startup::CheckConfigFile(config_path, {startup::Daemon::kRestd});
  if (!startup::ReportAtStart(checked, "restd")) return 1;
  const config::Config& config = checked.config;
  const config::HttpServer& hs = config.http_server;

  std::shared_ptr<trust::TrustdClient> trustd =
      trust::TrustdClient::Create({config.trustd.socket, absl::Seconds(2)});
  auto validator = std::make_shared<tls::TrustdPeerValidator>(trustd);

  std::unique_ptr<tls::IdentityContext> identity;
  std::unique_ptr<trust::TrustWatch> identity_watch;
  if (hs.ssl) {
    identity = std::make_unique<tls::IdentityContext>(
        trustd, ::trust::v1::REST_SERVER,
        [&config, validator](SSL_CTX* ctx) { ConfigureServerTls(ctx, config, validator); },
        /*server=*/true);
    if (absl::Status s = identity->Refresh(); !s.ok()) {
      LogWarning(absl::StrCat("no server identity from trustd yet (", s.message(),
                              "); HTTPS connections are refused until it comes"));
    }
    identity_watch = identity->Follow();
  }

  std::string edged_socket =
      config.restd.edged_socket.empty() ? config.edged.socket : config.restd.edged_socket;
  // Each call may wait for the platform's answer (msg_timeout) and a margin, so that edged
  // answers first.
  std::shared_ptr<edged_client::EdgedClient> edge = edged_client::EdgedClient::Create(
      {edged_socket, absl::Milliseconds(config.ws_connection.msg_timeout + 2000)});

  auto registry = std::make_shared<prometheus::Registry>();
  RestdMetrics counters(*registry);
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::MetricsServer::Start(config.restd.metrics, "restd.metrics", registry);
  if (!metrics_server.ok()) {
    std::cerr << "error: " << metrics_server.status().message() << "\nrestd: not started\n";
    return 1;
  }

  auto client = std::make_shared<EndpointClient>(validator, config.certificates.cipher_suite);
  AutoBinder binder(edge, config.auto_bind, client, trustd,
                    absl::Milliseconds(config.restd.health_check_interval),
                    config.restd.state_directory + "/edge_things.json");

  binder.set_metrics(&counters);
  RestApiOptions api_options;
  api_options.metrics = &counters;
  api_options.authenticate = hs.authenticate;
  api_options.csrf = hs.enable_csrf_tokens;
  api_options.csrf_rotation = absl::Minutes(hs.csrf_token_rotation_period);
  RestApi api(api_options, trustd, edge, &binder);
  // A rotated password must not stay accepted from the cache.
  std::unique_ptr<trust::TrustWatch> credentials_watch =
      trustd->Watch([&api](const ::trust::v1::TrustSnapshot&) { api.ForgetCredentials(); });

  HttpsServerOptions server_options;
  server_options.metrics = &counters;
  server_options.host = hs.host;
  server_options.port = hs.port;
  server_options.tls = hs.ssl;
  server_options.tls_context = [&identity]() -> std::shared_ptr<SSL_CTX> {
    return identity ? identity->Current() : nullptr;
  };
  server_options.max_clients = static_cast<size_t>(hs.max_clients);
  server_options.max_pending_handshakes =
      static_cast<size_t>(config.restd.max_pending_handshakes);
  server_options.max_connections_per_address =
      static_cast<size_t>(config.restd.max_connections_per_address);
  server_options.handshake_timeout = absl::Milliseconds(config.restd.handshake_timeout);
  server_options.header_timeout = absl::Milliseconds(config.restd.header_timeout);
  server_options.read_timeout = absl::Milliseconds(hs.content_read_timeout);
  server_options.keepalive_timeout = absl::Milliseconds(config.restd.keepalive_timeout);
  server_options.body_limit = static_cast<size_t>(config.restd.max_body_bytes);
  server_options.io_threads = static_cast<int>(config.restd.io_threads);
  // Handshakes mostly wait for trustd there: one thread per 8 handshakes that may be in
  // progress (4 to 32), so that a backlog of them, or of clients that left mid-handshake,
  // drains while trustd answers.
  server_options.handshake_threads = static_cast<int>(
      std::clamp<size_t>(server_options.max_pending_handshakes / 8, 4, 32));
  HttpsServer server(server_options, [&api](const Request& r, const std::string& peer) {
    return api.Handle(r, peer);
  });
  absl::StatusOr<int> port = server.Start();
  if (!port.ok()) {
    std::cerr << port.status().message() << "\nrestd: not started\n";
    return 1;
  }
  binder.Start();
  LogForce(absl::StrCat("serving the EMS REST API on ", hs.ssl ? "https" : "http", "://", hs.host,
                        ":", *port, hs.ssl ? " (keyless: signatures by trustd)" : "",
                        "; platform through edged at ", edge->target(), "; ",
                        config.auto_bind.size(), " auto_bind endpoints"));

  AwaitTerminationSignal();
  server.Stop();
  binder.Stop();
  credentials_watch.reset();
  identity_watch.reset();
  return 0;
}

}  // namespace
}  // namespace edge::restd

constexpr char kSummary[] =
    "The EMS REST API (http_server, port 8000) and the auto_bind edge endpoints, through\n"
    "edged; keyless HTTPS (trustd signs). The configuration is checked exactly as `trustctl\n"
    "check-config` checks it.\n";

int main(int argc, char** argv) {
  return edge::DaemonMain(argc, argv, "restd", kSummary, edge::restd::Run);
}

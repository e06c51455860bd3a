// edged: keeps the AlwaysOn session to the platform and serves the local edge API
// (edge.v1.EdgeService) on a Unix socket. Certificates, keys and the app key come from
// trustd; edged never reads them itself.
//   edged --config /etc/edge/config.yaml
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/ssl.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "edged/delivery.h"
#include "edged/edge_service.h"
#include "edged/offline_store.h"
#include "edged/platform_session.h"
#include "services/common/daemon.h"
#include "services/common/log.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"
#include "services/startup/startup_checks.h"
#include "services/tls/cipher_suite.h"
#include "services/tls/trustd_tls.h"
#include "services/trustd_client/trustd_client.h"

namespace edge::edged {
namespace {

// TLS 1.2+ to the platform, the peer judged by trustd, ciphers from the config.
void ConfigurePlatformTls(SSL_CTX* ctx, const config::Config& config,
                          std::shared_ptr<tls::PeerValidator> validator) {
  tls::ApplyCipherSuite(ctx, config.certificates.cipher_suite);
  tls::InstallPeerValidation(ctx, std::move(validator), trust::Purpose::kPlatform);
}

int Run(const std::string& config_path) {
  // The checks trustctl check-config makes, with the same lines.
  startup::CheckedConfig checked =
      startup::CheckConfigFile(config_path, {startup::Daemon::kEdged});
  if (!startup::ReportAtStart(checked, "edged")) return 1;
  const config::Config& config = checked.config;

  std::shared_ptr<trust::TrustdClient> trustd =
      trust::TrustdClient::Create({config.trustd.socket, absl::Seconds(2)});
  auto validator = std::make_shared<tls::TrustdPeerValidator>(trustd);

  // The client identity for mutual TLS, following trustd's rotations; else a plain context.
  std::unique_ptr<tls::IdentityContext> identity;
  std::unique_ptr<trust::TrustWatch> identity_watch;
  std::shared_ptr<SSL_CTX> plain;
  bool tls_on = config.ws_connection.encryption != "none";
  if (tls_on && !config.certificates.client_cert.empty()) {
    identity = std::make_unique<tls::IdentityContext>(
        trustd, ::trust::v1::PLATFORM_CLIENT,
        [&config, validator](SSL_CTX* ctx) { ConfigurePlatformTls(ctx, config, validator); },
        /*server=*/false);
    if (absl::Status s = identity->Refresh(); !s.ok()) {
      LogWarning(absl::StrCat("client certificate not available from trustd yet: ",
                              s.message()));
    }
    identity_watch = identity->Follow();
  } else if (tls_on) {
    plain.reset(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    ConfigurePlatformTls(plain.get(), config, validator);
  } else {
    LogWarning("ws_connection.encryption is \"none\": the platform connection is not encrypted "
               "and the platform is not authenticated");
  }

  std::unique_ptr<OfflineStore> store;
  if (config.offline_msg_store.enabled) {
    auto opened = OfflineStore::Open(config.offline_msg_store.directory,
                                     static_cast<uint64_t>(config.offline_msg_store.max_size) * 1024,
                                     config.edged.offline_store_fsync);
    if (!opened.ok()) {
      std::cerr << "offline_msg_store: " << opened.status().message() << "\nedged: not started\n";
      return 1;
    }
    store = std::move(*opened);
    // Damage kept in quarantine files holds messages that were accepted and will not be
    // delivered: an error for the operator, not a note about a cut torn write.
    if (!store->quarantine_files().empty()) {
      LogError(absl::StrCat("offline store: ", store->recovery_note(), " (",
                            store->quarantine_files().size(),
                            " quarantine file(s) hold accepted messages that will not be "
                            "delivered; they are not read again: inspect them)"));
    } else if (!store->recovery_note().empty()) {
      LogWarning("offline store: " + store->recovery_note());
    }
    if (store->size() > 0) {
      LogInfo(absl::StrCat("offline store: ", store->size(),
                           " messages from an earlier run wait for the platform"));
    }
  } else {
    LogWarning("offline_msg_store is disabled: messages for an unreachable platform are refused");
  }

  std::shared_ptr<const local_rpc::CallerPolicy> callers;
  if (!config.edged.callers.empty()) {
    auto policy = local_rpc::CallerPolicyFromConfig(config.edged.callers, "edged");
    if (!policy.ok()) {
      std::cerr << policy.status().message() << "\nedged: not started: fix " << config_path << "\n";
      return 1;
    }
    callers = std::make_shared<const local_rpc::CallerPolicy>(std::move(*policy));
  }
  auto listener = local_rpc::UdsListener::Listen(config.edged.socket, config.edged.socket_mode);
  if (!listener.ok()) {
    std::cerr << "error: edged.socket: " << listener.status().message()
              << "\nedged: not started\n";
    return 1;
  }

  std::vector<std::string> auto_bind;
  for (const config::AutoBind& a : config.auto_bind) auto_bind.push_back(a.name);
  EdgeServiceImpl service(auto_bind, callers, &(*listener)->registry());

  Delivery* delivery_ptr = nullptr;
  SessionOptions options;
  options.servers = config.ws_servers;
  options.tls = tls_on;
  options.ws = config.ws_connection;
  options.duty = config.duty_cycle;
  options.max_reconnect_delay = std::chrono::milliseconds(config.edged.max_reconnect_delay);
  options.app_key = [trustd]() { return trustd->RevealSecret("app_key"); };
  options.proxy = config.proxy;
  options.proxy.password = {};  // trustd holds it: revealed before each connection.
  options.proxy_password = [trustd]() -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> password = trustd->RevealSecret("proxy/password");
    if (absl::IsNotFound(password.status())) return std::string();  // proxy.user alone.
    return password;
  };
  options.tls_context = [&identity, &plain]() -> std::shared_ptr<SSL_CTX> {
    return identity ? identity->Current() : plain;
  };
  SessionCallbacks callbacks;
  callbacks.things = [&service] { return service.Things(); };
  callbacks.on_request = [&service](const alwayson::Message& m) { service.OnPlatformRequest(m); };
  callbacks.on_online = [&delivery_ptr] {
    if (delivery_ptr) delivery_ptr->OnOnline();
  };
  PlatformSession session(std::move(options), std::move(callbacks));
  Delivery delivery(&session, store.get());
  delivery_ptr = &delivery;
  service.Attach(&session, &delivery, store.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "edged: the gRPC server did not start\n";
    return 1;
  }
  (*listener)->Start(server.get());
  LogForce(absl::StrCat("serving edge.v1.EdgeService on unix:", config.edged.socket, " (",
                        auto_bind.size(), " auto_bind Things; platform ",
                        absl::StrJoin(config.ws_servers, ", ",
                                      [](std::string* out, const config::WsServer& s) {
                                        absl::StrAppend(out, s.host, ":", s.port);
                                      }),
                        ")"));
  session.Start();

  AwaitTerminationSignal();
  (*listener)->Stop();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  session.Stop();
  identity_watch.reset();
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

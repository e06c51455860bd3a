#include "edged/edged.h"

#include <grpcpp/health_check_service_interface.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/log.h"
#include "services/tls/cipher_suite.h"

namespace edge::edged {
namespace {

// TLS 1.2+ to the platform, the peer judged by trustd, ciphers from the config.
void ConfigurePlatformTls(SSL_CTX* ctx, const config::Config& config,
                          std::shared_ptr<tls::PeerValidator> validator) {
  tls::ApplyCipherSuite(ctx, config.certificates.cipher_suite);
  tls::InstallPeerValidation(ctx, std::move(validator), trust::Purpose::kPlatform);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Edged>> Edged::Create(const config::Config& config,
                                                     const std::string& config_path) {
  std::unique_ptr<Edged> edged(new Edged(config));
  if (absl::Status s = edged->Build(config_path); !s.ok()) return s;
  return edged;
}

absl::Status Edged::Build(const std::string& config_path) {
  const config::Config& config = config_;
  registry_ = std::make_shared<prometheus::Registry>();
  metrics_ = std::make_unique<EdgedMetrics>(*registry_);
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::MetricsServer::Start(config.edged.metrics, "edged.metrics", registry_);
  if (!metrics_server.ok()) {
    return absl::Status(metrics_server.status().code(),
                        absl::StrCat("error: ", metrics_server.status().message(),
                                     "\nedged: not started"));
  }
  metrics_server_ = std::move(*metrics_server);
  trustd_ = trust::TrustdClient::Create({config.trustd.socket, absl::Seconds(2)});
  validator_ = std::make_shared<tls::TrustdPeerValidator>(trustd_);

  // The client identity for mutual TLS, following trustd's rotations; else a plain context.
  bool tls_on = config.ws_connection.encryption != "none";
  if (tls_on && !config.certificates.client_cert.empty()) {
    identity_ = std::make_unique<tls::IdentityContext>(
        trustd_, ::trust::v1::PLATFORM_CLIENT,
        [&config, validator = validator_](SSL_CTX* ctx) {
          ConfigurePlatformTls(ctx, config, validator);
        },
        /*server=*/false);
    if (absl::Status s = identity_->Refresh(); !s.ok()) {
      LogWarning(absl::StrCat("client certificate not available from trustd yet: ",
                              s.message()));
    }
    identity_watch_ = identity_->Follow();
  } else if (tls_on) {
    plain_.reset(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    ConfigurePlatformTls(plain_.get(), config, validator_);
  } else {
    LogWarning("ws_connection.encryption is \"none\": the platform connection is not encrypted "
               "and the platform is not authenticated");
  }

  if (config.offline_msg_store.enabled) {
    auto opened = OfflineStore::Open(config.offline_msg_store.directory,
                                     static_cast<uint64_t>(config.offline_msg_store.max_size) * 1024,
                                     config.edged.offline_store_fsync);
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("offline_msg_store: ", opened.status().message(),
                                       "\nedged: not started"));
    }
    store_ = std::move(*opened);
    // Damage kept in quarantine files holds messages that were accepted and will not be
    // delivered: an error for the operator, not a note about a cut torn write.
    if (!store_->quarantine_files().empty()) {
      LogError(absl::StrCat("offline store: ", store_->recovery_note(), " (",
                            store_->quarantine_files().size(),
                            " quarantine file(s) hold accepted messages that will not be "
                            "delivered; they are not read again: inspect them)"));
    } else if (!store_->recovery_note().empty()) {
      LogWarning("offline store: " + store_->recovery_note());
    }
    if (store_->size() > 0) {
      LogInfo(absl::StrCat("offline store: ", store_->size(),
                           " messages from an earlier run wait for the platform"));
    }
  } else {
    LogWarning("offline_msg_store is disabled: messages for an unreachable platform are refused");
  }

  if (!config.edged.callers.empty()) {
    auto policy = local_rpc::CallerPolicyFromConfig(config.edged.callers, "edged");
    if (!policy.ok()) {
      return absl::Status(policy.status().code(),
                          absl::StrCat(policy.status().message(),
                                       "\nedged: not started: fix ", config_path));
    }
    callers_ = std::make_shared<const local_rpc::CallerPolicy>(std::move(*policy));
  }
  auto listener = local_rpc::UdsListener::Listen(config.edged.socket, config.edged.socket_mode);
  if (!listener.ok()) {
    return absl::Status(listener.status().code(),
                        absl::StrCat("error: edged.socket: ", listener.status().message(),
                                     "\nedged: not started"));
  }
  listener_ = std::move(*listener);

  if (config.file.enabled()) {
    FileServiceOptions file_options;
    file_options.file = config.file;
    file_options.max_transfers = config.edged.file_max_transfers;
    file_options.max_transfers_per_thing = config.edged.file_max_transfers_per_thing;
    file_options.max_staging_bytes = config.edged.file_max_staging_bytes;
    auto files = FileService::Create(std::move(file_options));
    if (!files.ok()) {
      return absl::Status(files.status().code(), absl::StrCat("error: ", files.status().message(),
                                                              "\nedged: not started"));
    }
    files_ = std::move(*files);
  }

  for (const config::AutoBind& a : config.auto_bind) auto_bind_.push_back(a.name);
  service_ = std::make_unique<EdgeServiceImpl>(auto_bind_, callers_, &listener_->registry(),
                                               config.edged.max_calls_in_flight);
  if (files_) {
    service_->AttachFiles(files_.get(), config.edged.file_max_transfers);
    files_->set_observer([service = service_.get()](const TransferEvent& e) {
      service->OnTransferEvent(e);
    });
  }

  SessionOptions options;
  options.servers = config.ws_servers;
  options.tls = tls_on;
  options.ws = config.ws_connection;
  if (files_) {
    // A block and its framing in one message, with the margin EMS advises: 50 bytes per
    // chunk (shared/specs/alwayson-file-transfer.md sections 1.10 and 6.4).
    int64_t block = config.file.buffer_size;
    int64_t chunk = std::max<int64_t>(options.ws.message_chunk_size, 1);
    int64_t needed = block + chunk + 50 * (block / chunk + 1) + 1024;
    if (options.ws.max_msg_size < needed) {
      LogInfo(absl::StrCat("ws_connection.max_msg_size raised from ", options.ws.max_msg_size,
                           " to ", needed, " bytes to carry file.buffer_size blocks"));
      options.ws.max_msg_size = needed;
    }
  }
  options.duty = config.duty_cycle;
  options.metrics = metrics_.get();
  options.max_reconnect_delay = std::chrono::milliseconds(config.edged.max_reconnect_delay);
  options.app_key = [trustd = trustd_]() { return trustd->RevealSecret("app_key"); };
  options.proxy = config.proxy;
  options.proxy.password = {};  // trustd holds it: revealed before each connection.
  options.proxy_password = [trustd = trustd_]() -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> password = trustd->RevealSecret("proxy/password");
    if (absl::IsNotFound(password.status())) return std::string();  // proxy.user alone.
    return password;
  };
  // These capture `this`: the session stops (Stop) before the members they read go.
  options.tls_context = [this]() -> std::shared_ptr<SSL_CTX> {
    return identity_ ? identity_->Current() : plain_;
  };
  SessionCallbacks callbacks;
  callbacks.things = [this] { return service_->Things(); };
  callbacks.on_request = [this](const alwayson::Message& m) { service_->OnPlatformRequest(m); };
  callbacks.on_online = [this] {
    if (delivery_) delivery_->OnOnline();
  };
  callbacks.on_offline = [this] {
    if (files_) files_->ConnectionLost();  // Its transfers cannot go on (.part removed).
  };
  session_ = std::make_unique<PlatformSession>(std::move(options), std::move(callbacks));
  delivery_ = std::make_unique<Delivery>(session_.get(), store_.get(), metrics_.get());
  service_->Attach(session_.get(), delivery_.get(), store_.get());
  return absl::OkStatus();
}

absl::Status Edged::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) return absl::InternalError("edged: the gRPC server did not start");
  listener_->Start(server_.get());
  LogForce(absl::StrCat("serving edge.v1.EdgeService on unix:", config_.edged.socket, " (",
                        auto_bind_.size(), " auto_bind Things; platform ",
                        absl::StrJoin(config_.ws_servers, ", ",
                                      [](std::string* out, const config::WsServer& s) {
                                        absl::StrAppend(out, s.host, ":", s.port);
                                      }),
                        ")"));
  if (files_) files_->Start();
  session_->Start();
  return absl::OkStatus();
}

void Edged::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listener_) listener_->Stop();
  if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  if (files_) files_->Stop();  // Its answers go to the session: stopped before it.
  if (session_) session_->Stop();
  // Calls the session failed on the way out are queued by the delivery's writer, which then
  // finishes them: drained here, while the gRPC server they belong to still exists.
  delivery_.reset();
  identity_watch_.reset();
}

Edged::~Edged() { Stop(); }

}  // namespace edge::edged

// EdgeServiceImpl: edged's local gRPC API (proto/edge/v1) on its Unix socket: property
// reads and writes, service calls and events towards the platform, the Serve stream through
// which local services answer the platform for their Things, Status, and CopyFile.
//
// The platform's file services (BrowseDirectory, StartFileTransfer, ...) for the auto_bind
// Things, and for the Things a local service registers with `file_things`, are answered by
// edged's FileService instead of being passed on.
//
// Callers are identified by SO_PEERCRED (services/local_rpc's UdsListener); `edged.callers`,
// when set, limits who may call what, as `trustd.callers` does for trustd.
#ifndef EDGED_EDGE_SERVICE_H_
#define EDGED_EDGE_SERVICE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "edged/delivery.h"
#include "edged/file_copies.h"
#include "edged/file_service.h"
#include "edged/platform_session.h"
#include "edged/property_types.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"

namespace edge::edged {

// The calls that go to the platform are callback methods: no thread waits for the
// platform's answer (it finishes the call from the session's I/O thread, or from the
// offline store's writer once queued). Serve and Status are synchronous.
using EdgeServiceBase = ::edge::v1::EdgeService::WithCallbackMethod_WriteProperty<
    ::edge::v1::EdgeService::WithCallbackMethod_ReadProperty<
        ::edge::v1::EdgeService::WithCallbackMethod_InvokeService<
            ::edge::v1::EdgeService::WithCallbackMethod_FireEvent<
                ::edge::v1::EdgeService::Service>>>>;

class EdgeServiceImpl final : public EdgeServiceBase {
 public:
  // `auto_bind`: the Things of the config, bound on every session whether or not a local
  // service serves them yet. `callers`: null to let every local caller that can reach the
  // socket in.
  // `max_in_flight`: calls to the platform waiting at once (edged.max_calls_in_flight);
  // past it a call is refused with RESOURCE_EXHAUSTED, so local callers cannot make
  // edged's memory grow without bound.
  EdgeServiceImpl(std::vector<std::string> auto_bind,
                  std::shared_ptr<const local_rpc::CallerPolicy> callers,
                  const local_rpc::PeerRegistry* peers, int64_t max_in_flight = 4096);
  ~EdgeServiceImpl() override;

  // Wiring, before the session starts.
  void Attach(PlatformSession* session, Delivery* delivery, OfflineStore* store);
  // The file services, when file.virtual_dirs is set (it must outlive this). `max_copies`:
  // CopyFile calls at once (edged.file_max_transfers).
  void AttachFiles(FileService* files, int64_t max_copies);
  // FileService's observer: how the transfers of edge-initiated copies progress.
  void OnTransferEvent(const TransferEvent& event) { copies_.OnEvent(event); }

  // For the session: every Thing to bind, and the platform's requests.
  std::vector<std::string> Things() const;
  void OnPlatformRequest(const alwayson::Message& request);

  grpc::ServerUnaryReactor* WriteProperty(grpc::CallbackServerContext* context,
                                          const ::edge::v1::WritePropertyRequest* request,
                                          ::edge::v1::Delivery* response) override;
  grpc::ServerUnaryReactor* ReadProperty(grpc::CallbackServerContext* context,
                                         const ::edge::v1::ReadPropertyRequest* request,
                                         ::edge::v1::ReadPropertyResponse* response) override;
  grpc::ServerUnaryReactor* InvokeService(grpc::CallbackServerContext* context,
                                          const ::edge::v1::InvokeServiceRequest* request,
                                          ::edge::v1::Delivery* response) override;
  grpc::ServerUnaryReactor* FireEvent(grpc::CallbackServerContext* context,
                                      const ::edge::v1::FireEventRequest* request,
                                      ::edge::v1::Delivery* response) override;
  grpc::Status Serve(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<::edge::v1::PlatformRequest, ::edge::v1::ServeMessage>* stream)
      override;
  grpc::Status Status(grpc::ServerContext* context, const ::edge::v1::StatusRequest* request,
                      ::edge::v1::StatusResponse* response) override;
  grpc::Status CopyFile(grpc::ServerContext* context, const ::edge::v1::CopyFileRequest* request,
                        grpc::ServerWriter<::edge::v1::CopyFileProgress>* writer) override;

 private:
  struct Server;  // One Serve stream.
  struct Waiting {
    uint32_t request_id;  // The platform's.
    Server* server;
  };

  grpc::Status Authorize(grpc::ServerContextBase* context, absl::string_view method) const;
  // Sends `body` through Delivery and finishes the call with what `finish` makes of the
  // outcome (it fills the response), or with the failure.
  using Finish = std::function<grpc::Status(Delivery::Outcome)>;
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context, alwayson::Code method,
                                   alwayson::RequestBody body, bool queueable, Finish finish);
  void Answer(Server* server, const ::edge::v1::Answer& answer);
  // Whether edged answers `thing`'s file services itself.
  bool ServesFiles(const std::string& thing) const;
  void ServeFile(const alwayson::Message& request, const alwayson::RequestBody& body);

  const std::vector<std::string> auto_bind_;
  std::shared_ptr<const local_rpc::CallerPolicy> callers_;
  const local_rpc::PeerRegistry* peers_;
  PlatformSession* session_ = nullptr;
  Delivery* delivery_ = nullptr;
  OfflineStore* store_ = nullptr;
  FileService* files_ = nullptr;
  int64_t max_copies_ = 0;
  FileCopies copies_;
  PropertyTypes property_types_;
  const int64_t max_in_flight_;
  std::atomic<int64_t> in_flight_{0};

  mutable absl::Mutex mu_;
  std::map<std::string, Server*> served_ ABSL_GUARDED_BY(mu_);  // Thing -> its server.
  // Things a server registered with file_things (edged serves their files).
  std::map<std::string, Server*> file_served_ ABSL_GUARDED_BY(mu_);
  // auto_bind Things a server withdrew (its endpoint is gone): not bound until registered.
  std::map<std::string, Server*> withdrawn_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::edged

#endif  // EDGED_EDGE_SERVICE_H_

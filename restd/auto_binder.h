// AutoBinder: serves the `auto_bind` Things (and those added with AddEdgeThing) for the
// platform through edged's Serve stream: each platform request is forwarded to the Thing's
// edge endpoint as the same REST call, and the endpoint's answer goes back. Endpoints are
// health-checked; one that is gone has its Thing withdrawn (unbound) until it answers again.
//
// Things added with AddEdgeThing are served by the default endpoint (http://localhost:8001/,
// the LSR's place in EMS). Thread-safe.
#ifndef RESTD_AUTO_BINDER_H_
#define RESTD_AUTO_BINDER_H_

#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/edged_client/edged_client.h"
#include "restd/endpoint_client.h"
#include "restd/rest_api.h"
#include "services/config/config.h"
#include "services/trustd_client/trustd_client.h"

namespace boost::asio {
class thread_pool;
}

namespace edge::restd {

class RestdMetrics;

class AutoBinder : public EdgeThings {
 public:
  // `state_file`: where Things added with "persist": true are kept (JSON, written
  // atomically); read by Start(). Empty: nothing can be persisted.
  AutoBinder(std::shared_ptr<edged_client::EdgedClient> edge,
             std::vector<config::AutoBind> endpoints, std::shared_ptr<EndpointClient> client,
             std::shared_ptr<trust::TrustdClient> trustd, absl::Duration health_interval,
             std::string state_file = "");
  ~AutoBinder() override;

  // Before Start: each endpoint's health goes into `metrics` (must outlive the binder).
  void set_metrics(RestdMetrics* metrics) { metrics_ = metrics; }
  void Start();
  void Stop();
  // The Thing is kept (and bound as soon as edged is reachable and its endpoint answers).
  absl::Status Add(const std::string& name, bool persist) override;
  absl::Status Remove(const std::string& name) override;
  std::vector<EdgeThingState> List() const override;

 private:
  struct Target {
    config::AutoBind endpoint;
    bool healthy = false;
    bool checked = false;
    bool added = false;    // By AddEdgeThing.
    bool persist = false;
    std::string last_error;
  };
  // The persisted Things, from state_file_; errors name the file.
  absl::StatusOr<std::vector<std::string>> LoadPersisted() const;
  absl::Status SavePersisted(const std::map<std::string, Target>& targets) const;
  void StreamLoop();
  void HealthLoop();
  bool Send(const ::edge::v1::ServeMessage& message);
  void Handle(const ::edge::v1::PlatformRequest& request);
  ::edge::v1::Answer Forward(const ::edge::v1::PlatformRequest& request);
  std::vector<std::string> HealthyThings() const;

  std::shared_ptr<edged_client::EdgedClient> edge_;
  std::shared_ptr<EndpointClient> client_;
  std::shared_ptr<trust::TrustdClient> trustd_;
  const absl::Duration health_interval_;
  RestdMetrics* metrics_ = nullptr;
  const std::string state_file_;
  absl::Mutex save_mu_;  // One writer of state_file_ at a time, in order.
  std::unique_ptr<boost::asio::thread_pool> workers_;

  mutable absl::Mutex mu_;
  std::map<std::string, Target> targets_ ABSL_GUARDED_BY(mu_);  // Thing -> endpoint.
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientReaderWriter<::edge::v1::ServeMessage, ::edge::v1::PlatformRequest>* stream_
      ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Mutex write_mu_;  // One Write at a time on the stream.
  std::thread stream_thread_, health_thread_;
};

}  // namespace edge::restd

#endif  // RESTD_AUTO_BINDER_H_

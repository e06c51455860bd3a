// HostilePlatformProcess: runs hostile_platform (a lying AlwaysOn platform, see
// hostile_platform_main.cc) as a real process for a test, and drives its control interface.
//
//   auto platform = HostilePlatformProcess::Start(dir, dir + "/platform.pem", dir + "/platform.key");
//   ... edged connects to 127.0.0.1:(*platform)->ws_port() ...
//   json::Value sent = *(*platform)->ChunkFlood(plan);
#ifndef TESTS_HOSTILEPLATFORM_HOSTILE_PLATFORM_PROCESS_H_
#define TESTS_HOSTILEPLATFORM_HOSTILE_PLATFORM_PROCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/json/json.h"
#include "tests/testing/control_client.h"
#include "tests/testing/subprocess.h"

namespace edge::testing {

class HostilePlatformProcess {
 public:
  // Serves the PEM chain `cert` and key `key` on a free loopback port; the log is
  // dir/hostile_platform.log. kDeadlineExceeded (with the log) when it does not start.
  static absl::StatusOr<std::unique_ptr<HostilePlatformProcess>> Start(const std::string& dir,
                                                                       const std::string& cert,
                                                                       const std::string& key);
  int ws_port() const { return ws_port_; }
  Subprocess& process() { return *process_; }

  // The control requests of hostile_platform_main.cc, with `args` as the JSON body. Errors
  // name the control request (and hold its answer when it was not JSON).
  absl::StatusOr<::edge::json::Value> ChunkFlood(const ::edge::json::Value& args);
  absl::StatusOr<::edge::json::Value> Request(const ::edge::json::Value& args);
  absl::StatusOr<::edge::json::Value> Silence(bool auth, bool bind);
  absl::StatusOr<::edge::json::Value> Answers(const std::string& status, int reason_bytes);
  absl::StatusOr<::edge::json::Value> Raw(const std::string& hex, int repeat = 1);
  absl::StatusOr<::edge::json::Value> Records();
  absl::StatusOr<::edge::json::Value> Status();

 private:
  explicit HostilePlatformProcess(std::unique_ptr<Subprocess> process)
      : process_(std::move(process)) {}
  std::unique_ptr<Subprocess> process_;
  int ws_port_ = 0;
  ControlClient control_;
};

}  // namespace edge::testing

#endif  // TESTS_HOSTILEPLATFORM_HOSTILE_PLATFORM_PROCESS_H_

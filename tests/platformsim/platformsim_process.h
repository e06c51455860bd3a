// PlatformSimProcess: runs platformsim as a real process for a test or a benchmark and
// talks to its control interface.
//
//   auto sim = PlatformSimProcess::Start(dir, {.cert = ..., .key = ..., .app_key = "k"});
//   ... edged connects to 127.0.0.1:(*sim)->ws_port() ...
//   json::Value records = (*sim)->Records();
#ifndef TESTS_PLATFORMSIM_PLATFORMSIM_PROCESS_H_
#define TESTS_PLATFORMSIM_PLATFORMSIM_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/json/json.h"
#include "tests/testing/subprocess.h"

namespace edge::testing {

struct PlatformSimOptions {
  std::string cert;      // PEM chain file.
  std::string key;       // PEM key file.
  std::string app_key;   // The one key it accepts.
  int ws_port = 0;       // 0: any free port.
  std::string journal;   // Optional: records survive a restart.
  std::string name = "platformsim";  // Log file name in the directory.
  bool require_appkey_header = false;  // --require-appkey-header
  std::vector<std::string> properties;  // --property THING/PROPERTY=TYPE each.
  std::string repository;  // --repository: file repositories at <dir>/<Thing>/.
};

class PlatformSimProcess {
 public:
  static absl::StatusOr<std::unique_ptr<PlatformSimProcess>> Start(const std::string& dir,
                                                                   PlatformSimOptions options);
  int ws_port() const { return ws_port_; }
  Subprocess& process() { return *process_; }

  // GET /records, /status; POST /call, /drop, /refuse. Errors name the control request.
  absl::StatusOr<::edge::json::Value> Records();
  absl::StatusOr<::edge::json::Value> Status();
  absl::StatusOr<::edge::json::Value> Call(const std::string& request_json);
  absl::Status Drop();
  absl::Status Refuse(int ms);
  // POST /transfer: a platform-driven file transfer; its result (status, md5, ...).
  absl::StatusOr<::edge::json::Value> Transfer(const std::string& request_json);

 private:
  absl::StatusOr<::edge::json::Value> Request(const std::string& method,
                                                const std::string& target,
                                                const std::string& body);
  std::unique_ptr<Subprocess> process_;
  int ws_port_ = 0;
  int control_port_ = 0;
};

// The records of `kind` ("write", "event", "service", "bind", "auth"...).
std::vector<::edge::json::Value> RecordsOfKind(const ::edge::json::Value& records,
                                                 const std::string& kind);

}  // namespace edge::testing

#endif  // TESTS_PLATFORMSIM_PLATFORMSIM_PROCESS_H_

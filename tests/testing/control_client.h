// ControlClient: a test's side of a test platform's loopback HTTP control interface
// (platformsim, tests/hostileplatform): one JSON request, one JSON answer.
//
//   ControlClient control(port);
//   absl::StatusOr<json::Value> status = control.Request("GET", "/status", "");
#ifndef TESTS_TESTING_CONTROL_CLIENT_H_
#define TESTS_TESTING_CONTROL_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/json/json.h"

namespace edge::testing {

class ControlClient {
 public:
  explicit ControlClient(int port = 0) : port_(port) {}

  // `method` `target` with `body` (JSON) to 127.0.0.1:port; the answer's body parsed as JSON.
  // kUnavailable when nothing answers within `timeout` (connect, send and receive each),
  // kInternal when the answer is not JSON; both name the control request.
  absl::StatusOr<::edge::json::Value> Request(const std::string& method,
                                              const std::string& target,
                                              const std::string& body,
                                              absl::Duration timeout = absl::Seconds(30)) const;
  int port() const { return port_; }

 private:
  int port_;
};

}  // namespace edge::testing

#endif  // TESTS_TESTING_CONTROL_CLIENT_H_

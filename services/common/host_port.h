// A listening address as the configuration writes it: "127.0.0.1:9101", "[::1]:9101",
// "localhost:9101", "0.0.0.0:80". Names other than localhost are not resolved: an address
// to listen on is an address.
//
//   absl::StatusOr<HostPort> hp = ParseListenAddress("[::1]:80", "trustd.acme.http01_address");
#ifndef SERVICES_COMMON_HOST_PORT_H_
#define SERVICES_COMMON_HOST_PORT_H_

#include <string>

#include "absl/status/statusor.h"

namespace edge {

struct HostPort {
  std::string host;  // An IP address without brackets; localhost is 127.0.0.1.
  bool v6 = false;
  int port = 0;      // 0: any free port.

  bool loopback() const;  // 127.0.0.0/8 or ::1.
  std::string ToString() const;  // "127.0.0.1:80", "[::1]:80".
};

// kInvalidArgument naming `field` and showing the expected form.
absl::StatusOr<HostPort> ParseListenAddress(const std::string& address, const std::string& field);

}  // namespace edge

#endif  // SERVICES_COMMON_HOST_PORT_H_

#include "services/common/host_port.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace edge {

absl::StatusOr<HostPort> ParseListenAddress(const std::string& address, const std::string& field) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", address.substr(0, 128), "\" ", why,
                     "; expected HOST:PORT with an IP address or localhost, e.g. "
                     "127.0.0.1:9101 or [::1]:9101"));
  };
  HostPort hp;
  std::string port;
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("is not [IPv6]:PORT");
    }
    hp.host = address.substr(1, close - 1);
    hp.v6 = true;
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) return bad("has no :PORT");
    hp.host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (!absl::SimpleAtoi(port, &hp.port) || hp.port < 0 || hp.port > 65535) {
    return bad("has no port number from 0 to 65535");
  }
  if (hp.host == "localhost") {
    hp.host = "127.0.0.1";
    return hp;
  }
  unsigned char buf[16];
  if (inet_pton(hp.v6 ? AF_INET6 : AF_INET, hp.host.c_str(), buf) != 1) {
    return bad(hp.v6 ? "has no IPv6 address in brackets"
                     : "has no IPv4 address (names other than localhost are not resolved)");
  }
  return hp;
}

bool HostPort::loopback() const {
  unsigned char buf[16];
  if (!v6) {
    if (inet_pton(AF_INET, host.c_str(), buf) != 1) return false;
    return buf[0] == 127;  // 127.0.0.0/8 (RFC 1122 section 3.2.1.3).
  }
  if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return false;
  static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::equal(buf, buf + 16, kLoopback);  // ::1 (RFC 4291 section 2.5.3).
}

std::string HostPort::ToString() const {
  return v6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

}  // namespace edge

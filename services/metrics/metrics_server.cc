#include "services/metrics/metrics_server.h"

#include <arpa/inet.h>

#include <exception>
#include <vector>

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace edge::metrics {
namespace {

struct HostPort {
  std::string host;  // Without brackets.
  bool v6 = false;
  int port = 0;
};

absl::StatusOr<HostPort> Parse(const std::string& address, const std::string& field) {
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

bool Loopback(const HostPort& hp) {
  unsigned char buf[16];
  if (!hp.v6) {
    inet_pton(AF_INET, hp.host.c_str(), buf);
    return buf[0] == 127;  // 127.0.0.0/8 (RFC 1122 section 3.2.1.3).
  }
  inet_pton(AF_INET6, hp.host.c_str(), buf);
  static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::equal(buf, buf + 16, kLoopback);  // ::1 (RFC 4291 section 2.5.3).
}

absl::StatusOr<HostPort> Checked(const config::MetricsConfig& config, const std::string& field) {
  absl::StatusOr<HostPort> hp = Parse(config.address, absl::StrCat(field, ".address"));
  if (!hp.ok()) return hp.status();
  if (!config.allow_public && !Loopback(*hp)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".address: ", config.address,
        " is not a loopback address; metrics are served on 127.0.0.1 or ::1 unless ", field,
        ".allow_public is true"));
  }
  return hp;
}

}  // namespace

absl::Status CheckAddress(const config::MetricsConfig& config, const std::string& field) {
  return Checked(config, field).status();
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const config::MetricsConfig& config, const std::string& field,
    std::shared_ptr<prometheus::Registry> registry) {
  if (config.address.empty()) return nullptr;
  absl::StatusOr<HostPort> hp = Checked(config, field);
  if (!hp.ok()) return hp.status();
  std::string bind = hp->v6 ? absl::StrCat("[", hp->host, "]:", hp->port)
                            : absl::StrCat(hp->host, ":", hp->port);
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    // Two threads and a request deadline: a scraper that stalls holds one thread for at
    // most 10 s, and no peer makes the endpoint start fifty.
    server->exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", bind, "num_threads", "2", "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(field, ".address: cannot serve metrics on ", bind,
                                               ": ", e.what(), " (is the port in use?)"));
  }
  server->exposer_->RegisterCollectable(registry);
  std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? hp->port : ports.front();
  server->url_ = hp->v6 ? absl::StrCat("http://[", hp->host, "]:", server->port_, "/metrics")
                        : absl::StrCat("http://", hp->host, ":", server->port_, "/metrics");
  LogInfo(absl::StrCat("metrics on ", server->url_));
  return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace edge::metrics

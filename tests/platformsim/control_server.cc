#include "tests/platformsim/control_server.h"

#include <cstdio>
#include <fstream>

#include <boost/beast/core.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace edge::platformsim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& host_port) {
  std::pair<std::string, std::string> hp = absl::StrSplit(host_port, absl::MaxSplits(':', 1));
  int port = 0;
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(hp.first, ec);
  if (ec || !absl::SimpleAtoi(hp.second, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT with an IP address, found \"", host_port, "\""));
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

ControlResponse JsonAnswer(const ControlRequest& req, http::status status, std::string body) {
  ControlResponse res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

void ServeControl(tcp::acceptor& acceptor, const ControlHandler& handler) {
  while (true) {
    beast::error_code ec;
    tcp::socket socket(acceptor.get_executor());
    acceptor.accept(socket, ec);
    if (ec) continue;
    beast::flat_buffer buffer;
    ControlRequest req;
    http::read(socket, buffer, req, ec);
    if (ec) continue;
    ControlResponse res = handler(req);
    res.prepare_payload();
    http::write(socket, res, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
}

absl::Status WriteReadyFile(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << content << "\n";
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace edge::platformsim

// What the test platforms (platformsim, tests/hostileplatform) share on their loopback side:
// parsing --listen/--control, the HTTP control interface (one request per connection), and
// the ready file that tells a test which ports were bound.
//
//   auto ep = ParseEndpoint("127.0.0.1:0");
//   tcp::acceptor control(io, *ep);
//   WriteReadyFile(path, R"({"ws": 4433, "control": 4434})");
//   ServeControl(control, [](const ControlRequest& req) { return JsonAnswer(req, ok, "{}"); });
#ifndef TESTS_PLATFORMSIM_CONTROL_SERVER_H_
#define TESTS_PLATFORMSIM_CONTROL_SERVER_H_

#include <functional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/statusor.h"

namespace edge::platformsim {

using ControlRequest = boost::beast::http::request<boost::beast::http::string_body>;
using ControlResponse = boost::beast::http::response<boost::beast::http::string_body>;
using ControlHandler = std::function<ControlResponse(const ControlRequest&)>;

// "HOST:PORT" with an IP address (no name lookup); kInvalidArgument naming what was found.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseEndpoint(const std::string& host_port);

// `body` as an application/json response to `req`.
ControlResponse JsonAnswer(const ControlRequest& req, boost::beast::http::status status,
                           std::string body);

// Serves the control interface on `acceptor` until the process ends: one request per
// connection, one connection at a time, each answered by `handler` on the calling thread.
// A request body is at most 1 MiB (Beast's default limit).
void ServeControl(boost::asio::ip::tcp::acceptor& acceptor, const ControlHandler& handler);

// Writes `content` to `path` through a temporary file and a rename, so that a reader sees
// all of it or nothing.
absl::Status WriteReadyFile(const std::string& path, const std::string& content);

}  // namespace edge::platformsim

#endif  // TESTS_PLATFORMSIM_CONTROL_SERVER_H_

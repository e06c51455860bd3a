#include "tests/testing/control_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"

namespace edge::testing {

namespace json = ::edge::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

absl::StatusOr<json::Value> ControlClient::Request(const std::string& method,
                                                   const std::string& target,
                                                   const std::string& body,
                                                   absl::Duration timeout) const {
  std::string what = absl::StrCat("control ", method, " ", target);
  try {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.open(asio::ip::tcp::v4());
    // Blocking calls below: the socket's own timeouts bound each of them.
    timeval tv = absl::ToTimeval(timeout);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)});
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);  // Records of a long run.
    http::read(socket, buffer, parser);
    const std::string& answer = parser.get().body();
    absl::StatusOr<json::Value> parsed = json::Parse(answer);
    if (!parsed.ok()) return absl::InternalError(absl::StrCat(what, ": ", answer.substr(0, 500)));
    return parsed;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(what, ": ", e.what()));
  }
}

}  // namespace edge::testing

// Fuzz target: what a network peer sends restd before it is authenticated. The bytes are
// parsed as one HTTP request the way restd's server reads it (Beast's parser with restd's
// default body limit), the header is judged by CheckRequestFraming, and a complete body
// goes through ParametersFromJson as a property write or service call would. Nothing may
// crash, and a framing verdict never echoes the peer's bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/match.h"
#include "restd/https_server.h"
#include "restd/request_framing.h"
#include "restd/rest_api.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(edge::restd::HttpsServerOptions{}.body_limit);
  parser.eager(true);
  boost::system::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  (void)used;
  if (ec && ec != http::error::need_more) {
    (void)edge::restd::FramingErrorFromParser(ec);
    return 0;
  }
  if (!parser.is_header_done()) return 0;
  absl::Status framing = edge::restd::CheckRequestFraming(parser.get().base());
  std::string te = edge::restd::TransferEncodingValue(parser.get().base());
  if (!framing.ok()) {
    (void)edge::restd::HttpStatusForFraming(framing);
    // The verdict is sent back to the peer: it names the rule, never the peer's bytes. A
    // fixed text is short and printable whatever the peer sent (a peer's coding may happen
    // to be a piece of the text itself, so "does not contain it" is no test).
    absl::string_view m = framing.message();
    if (m.size() > 512) __builtin_trap();
    for (char c : m) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) {
        __builtin_trap();
      }
    }
    (void)te;
    return 0;
  }
  if (parser.is_done()) (void)edge::restd::ParametersFromJson(parser.get().body());
  return 0;
}

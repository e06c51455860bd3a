// Request framing: the rules of RFC 9112 on Transfer-Encoding and Content-Length that
// Beast's parser does not enforce, checked on a request header before any of its body is
// read. Beast treats `Transfer-Encoding: gzip` (or `xchunked`, or `chunked, gzip`) with a
// Content-Length as a body of Content-Length bytes, and a coding list without a final
// `chunked` and without a length as no body at all; a front end that reads the same bytes
// another way lets a second request be smuggled in. restd accepts exactly one
// Transfer-Encoding, `chunked`, and answers anything else with 400 or 501 and closes.
//
//   absl::Status framing = CheckRequestFraming(parser.get());
//   if (!framing.ok()) -> HttpStatusForFraming(framing), the message, Connection: close
//
// Pure functions; thread-safe.
#ifndef RESTD_REQUEST_FRAMING_H_
#define RESTD_REQUEST_FRAMING_H_

#include <string>

#include <boost/beast/http.hpp>
#include <boost/system/error_code.hpp>

#include "absl/status/status.h"

namespace edge::restd {

// OK, or why the request's framing cannot be trusted: kInvalidArgument (answer 400 and
// close) or kUnimplemented (a transfer coding restd does not decode: answer 501 and close).
// The message names the rule and its RFC 9112 section, never the peer's bytes (it is sent
// back to the peer).
absl::Status CheckRequestFraming(const boost::beast::http::request_header<>& header);

// The same judgement for the framing errors Beast's parser reports itself (a
// Transfer-Encoding after a Content-Length, a Content-Length after `chunked`, `chunked`
// twice); OK for every other error code.
absl::Status FramingErrorFromParser(const boost::system::error_code& ec);

// 400 for kInvalidArgument, 501 for kUnimplemented.
boost::beast::http::status HttpStatusForFraming(const absl::Status& framing);

// Every Transfer-Encoding field of `header`, joined with ", " as a recipient must read them
// (RFC 9110 section 5.3); peer bytes: escape before logging.
std::string TransferEncodingValue(const boost::beast::http::request_header<>& header);

}  // namespace edge::restd

#endif  // RESTD_REQUEST_FRAMING_H_

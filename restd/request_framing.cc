#include "restd/request_framing.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace edge::restd {
namespace {

namespace http = boost::beast::http;

absl::string_view View(boost::beast::string_view s) { return absl::string_view(s.data(), s.size()); }

// One element of a Transfer-Encoding list: a coding name and whether parameters follow.
struct Coding {
  std::string name;  // Lower case: coding names are case-insensitive (RFC 9112 section 7).
  bool has_parameters = false;
};

// The codings in the order they were applied. Empty list elements are skipped, as RFC 9110
// section 5.6.1 asks of recipients.
std::vector<Coding> Codings(absl::string_view value) {
  std::vector<Coding> out;
  for (absl::string_view element : absl::StrSplit(value, ',')) {
    element = absl::StripAsciiWhitespace(element);
    if (element.empty()) continue;
    size_t semicolon = element.find(';');
    Coding c;
    c.name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(element.substr(0, semicolon)));
    c.has_parameters = semicolon != absl::string_view::npos;
    out.push_back(std::move(c));
  }
  return out;
}

// RFC 9112 section 6.1: an HTTP/1.0 message with a Transfer-Encoding has faulty framing.
absl::Status NoTransferEncodingInHttp10(unsigned version) {
  if (version >= 11) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)");
}

// RFC 9112 section 6.3 (3): both headers may be an attempt at request smuggling; a server may
// reject the request and must close the connection after responding.
absl::Status NotWithContentLength(const http::request_header<>& header) {
  if (header.find(http::field::content_length) == header.end()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "Transfer-Encoding and Content-Length together (RFC 9112 section 6.3)");
}

// RFC 9112 section 6.3 (4): in a request whose final coding is not chunked, the body length
// cannot be determined: 400, then close.
absl::Status EndsWithChunked(const std::vector<Coding>& codings) {
  if (!codings.empty() && codings.back().name == "chunked" && !codings.back().has_parameters) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "Transfer-Encoding must end with chunked (RFC 9112 section 6.3)");
}

// RFC 9112 section 6.1: a sender must not apply chunked more than once.
absl::Status ChunkedOnlyOnce(const std::vector<Coding>& codings) {
  for (size_t i = 0; i + 1 < codings.size(); ++i) {
    if (codings[i].name == "chunked") {
      return absl::InvalidArgumentError(
          "Transfer-Encoding applies chunked more than once (RFC 9112 section 6.1)");
    }
  }
  return absl::OkStatus();
}

// RFC 9112 section 6.1: a coding the server does not understand should get 501. restd decodes
// chunked only.
absl::Status OnlyChunked(const std::vector<Coding>& codings) {
  if (codings.size() == 1) return absl::OkStatus();
  return absl::UnimplementedError(
      "transfer coding not implemented: restd decodes chunked only (RFC 9112 section 6.1)");
}

}  // namespace

std::string TransferEncodingValue(const http::request_header<>& header) {
  std::string out;
  auto range = header.equal_range(http::field::transfer_encoding);
  for (auto it = range.first; it != range.second; ++it) {
    if (!out.empty()) out += ", ";
    absl::string_view v = View(it->value());
    out.append(v.data(), v.size());
  }
  return out;
}

absl::Status CheckRequestFraming(const http::request_header<>& header) {
  if (header.find(http::field::transfer_encoding) == header.end()) return absl::OkStatus();
  std::vector<Coding> codings = Codings(TransferEncodingValue(header));
  for (absl::Status s : {NoTransferEncodingInHttp10(header.version()),
                         NotWithContentLength(header), EndsWithChunked(codings),
                         ChunkedOnlyOnce(codings), OnlyChunked(codings)}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FramingErrorFromParser(const boost::system::error_code& ec) {
  if (ec == http::error::bad_transfer_encoding) {
    // Beast's cases: a Transfer-Encoding after a Content-Length, or after a chunked one.
    return absl::InvalidArgumentError(
        "Transfer-Encoding with Content-Length, or chunked twice (RFC 9112 section 6.3)");
  }
  if (ec == http::error::bad_content_length) {
    // Beast's cases: a Content-Length after chunked, an invalid or a repeated differing one.
    return absl::InvalidArgumentError(
        "Content-Length invalid, repeated, or with Transfer-Encoding (RFC 9112 section 6.3)");
  }
  return absl::OkStatus();
}

http::status HttpStatusForFraming(const absl::Status& framing) {
  return framing.code() == absl::StatusCode::kUnimplemented ? http::status::not_implemented
                                                            : http::status::bad_request;
}

}  // namespace edge::restd

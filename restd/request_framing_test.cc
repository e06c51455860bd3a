#include "restd/request_framing.h"

#include <vector>

#include "gtest/gtest.h"

namespace edge::restd {
namespace {

namespace http = boost::beast::http;

struct Case {
  const char* name;
  unsigned version;
  std::vector<std::pair<http::field, std::string>> fields;
  absl::StatusCode code;
  std::string message;  // Exact; empty when OK.
};

TEST(CheckRequestFraming, AcceptsOnlyAPlainChunkedCodingAndNamesTheRuleOtherwise) {
  const std::string with_length =
      "Transfer-Encoding and Content-Length together (RFC 9112 section 6.3)";
  const std::string not_last = "Transfer-Encoding must end with chunked (RFC 9112 section 6.3)";
  const std::string unimplemented =
      "transfer coding not implemented: restd decodes chunked only (RFC 9112 section 6.1)";
  const auto te = http::field::transfer_encoding;
  const auto cl = http::field::content_length;
  const std::vector<Case> cases = {
      {"no framing headers", 11, {}, absl::StatusCode::kOk, ""},
      {"Content-Length only", 11, {{cl, "2"}}, absl::StatusCode::kOk, ""},
      {"chunked", 11, {{te, "chunked"}}, absl::StatusCode::kOk, ""},
      {"Chunked, with spaces and an empty element", 11, {{te, " , Chunked "}},
       absl::StatusCode::kOk, ""},
      {"gzip with Content-Length", 11, {{te, "gzip"}, {cl, "2"}},
       absl::StatusCode::kInvalidArgument, with_length},
      {"chunked with Content-Length", 11, {{te, "chunked"}, {cl, "2"}},
       absl::StatusCode::kInvalidArgument, with_length},
      {"gzip", 11, {{te, "gzip"}}, absl::StatusCode::kInvalidArgument, not_last},
      {"xchunked", 11, {{te, "xchunked"}}, absl::StatusCode::kInvalidArgument, not_last},
      {"chunked, gzip", 11, {{te, "chunked, gzip"}}, absl::StatusCode::kInvalidArgument, not_last},
      {"only empty elements", 11, {{te, " , "}}, absl::StatusCode::kInvalidArgument, not_last},
      {"chunked with a parameter", 11, {{te, "chunked;q=1"}}, absl::StatusCode::kInvalidArgument,
       not_last},
      {"chunked twice", 11, {{te, "chunked, chunked"}}, absl::StatusCode::kInvalidArgument,
       "Transfer-Encoding applies chunked more than once (RFC 9112 section 6.1)"},
      {"gzip, chunked", 11, {{te, "gzip, chunked"}}, absl::StatusCode::kUnimplemented,
       unimplemented},
      {"two fields read as one list", 11, {{te, "gzip"}, {te, "chunked"}},
       absl::StatusCode::kUnimplemented, unimplemented},
      {"HTTP/1.0", 10, {{te, "chunked"}}, absl::StatusCode::kInvalidArgument,
       "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    http::request_header<> header;
    header.version(c.version);
    for (const auto& [f, v] : c.fields) header.insert(f, v);
    absl::Status s = CheckRequestFraming(header);
    EXPECT_EQ(s.code(), c.code) << s;
    EXPECT_EQ(std::string(s.message()), c.message);
    if (!s.ok()) {
      EXPECT_EQ(HttpStatusForFraming(s), c.code == absl::StatusCode::kUnimplemented
                                             ? http::status::not_implemented
                                             : http::status::bad_request);
    }
  }
}

TEST(FramingErrorFromParser, NamesBeastsFramingErrorsAndIgnoresOthers) {
  EXPECT_EQ(FramingErrorFromParser(http::error::bad_transfer_encoding).message(),
            "Transfer-Encoding with Content-Length, or chunked twice (RFC 9112 section 6.3)");
  EXPECT_EQ(FramingErrorFromParser(http::error::bad_content_length).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(FramingErrorFromParser(http::error::header_limit).ok());
  EXPECT_TRUE(FramingErrorFromParser({}).ok());
}

TEST(TransferEncodingValue, JoinsEveryFieldInOrder) {
  http::request_header<> header;
  header.insert(http::field::transfer_encoding, "gzip");
  header.insert(http::field::host, "x");
  header.insert(http::field::transfer_encoding, "chunked");
  EXPECT_EQ(TransferEncodingValue(header), "gzip, chunked");
}

}  // namespace
}  // namespace edge::restd

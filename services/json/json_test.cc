#include "services/json/json.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edge::json {
namespace {

struct Refusal {
  std::string text;
  std::string message;  // The status message, exactly.
  std::string path;     // ParseError::path.
};

void ExpectRefusals(const std::vector<Refusal>& cases) {
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.text);
    ParseError error;
    absl::StatusOr<Value> v = Parse(c.text, kDefaultMaxDepth, &error);
    ASSERT_FALSE(v.ok()) << Write(*v);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(v.status().message(), c.message);
    EXPECT_EQ(error.path, c.path);
  }
}

TEST(JsonTest, RefusesNumbersADoubleCannotHoldNamingTheMember) {
  ExpectRefusals({
      {R"({"Temperature": 1e999})",
       "Temperature: expected a number a double can hold (magnitude at most "
       "1.7976931348623157e308), found 1e999 (JSON at offset 16)",
       "Temperature"},
      {R"({"rows": [{"t": -1E+400}]})",
       "rows[0].t: expected a number a double can hold (magnitude at most "
       "1.7976931348623157e308), found -1E+400 (JSON at offset 16)",
       "rows[0].t"},
      {"[1" + std::string(400, '0') + "]",
       absl::StrCat("[0]: expected a number a double can hold (magnitude at most "
                    "1.7976931348623157e308), found 1",
                    std::string(63, '0'), "... (JSON at offset 1)"),
       "[0]"},
      {"1e999",
       "JSON at offset 0: expected a number a double can hold (magnitude at most "
       "1.7976931348623157e308), found 1e999",
       ""},
  });
}

TEST(JsonTest, ReadsTheLargestAndTinyNumbers) {
  auto big = Parse("[1.7976931348623157e308, -1.7976931348623157e308, 1e-400, 0e999]");
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->array()[0].number(), 1.7976931348623157e308);
  EXPECT_EQ(big->array()[1].number(), -1.7976931348623157e308);
  EXPECT_EQ(big->array()[2].number(), 0);  // Below the smallest double: 0, as in every reader.
  EXPECT_EQ(big->array()[3].number(), 0);
}

TEST(JsonTest, RefusesInvalidUtf8NamingTheMember) {
  ExpectRefusals({
      {"{\"Name\": \"\xC0\xAF\"}",
       "Name: expected UTF-8 text, found byte 0xC0 (an overlong encoding) (JSON at offset 10)",
       "Name"},
      {"{\"Name\": \"\xE0\x80\xAF\"}",
       "Name: expected UTF-8 text, found bytes 0xE0 0x80 (an overlong encoding) (JSON at offset "
       "10)",
       "Name"},
      {"{\"Name\": \"\xF0\x80\x80\xAF\"}",
       "Name: expected UTF-8 text, found bytes 0xF0 0x80 (an overlong encoding) (JSON at offset "
       "10)",
       "Name"},
      {"{\"Name\": \"ok \xED\xA0\x80\"}",
       "Name: expected UTF-8 text, found bytes 0xED 0xA0 (a UTF-16 surrogate, U+D800..U+DFFF) "
       "(JSON at offset 13)",
       "Name"},
      {"{\"Name\": \"\xF4\x90\x80\x80\"}",
       "Name: expected UTF-8 text, found bytes 0xF4 0x90 (above U+10FFFF) (JSON at offset 10)",
       "Name"},
      {"{\"Name\": \"\xF5\x80\x80\x80\"}",
       "Name: expected UTF-8 text, found byte 0xF5 (no UTF-8 sequence starts with it: above "
       "U+10FFFF) (JSON at offset 10)",
       "Name"},
      {"{\"Name\": \"\xFF\"}",
       "Name: expected UTF-8 text, found byte 0xFF (no UTF-8 sequence starts with it: above "
       "U+10FFFF) (JSON at offset 10)",
       "Name"},
      {"{\"Name\": \"\x80\"}",
       "Name: expected UTF-8 text, found byte 0x80 (a continuation byte without a lead byte) "
       "(JSON at offset 10)",
       "Name"},
      {"{\"Name\": \"\xE2\x82\"}",
       "Name: expected UTF-8 text, found byte 0xE2, then 0x22 (an incomplete sequence) (JSON at "
       "offset 10)",
       "Name"},
      {"\"\xE2\x82",
       "JSON at offset 1: expected UTF-8 text, found byte 0xE2, then the end (an incomplete "
       "sequence)",
       ""},
      {"{\"a\": {\"N\xC3\": 1}}",
       "a: expected UTF-8 text in a member name, found byte 0xC3, then 0x22 (an incomplete "
       "sequence) (JSON at offset 9)",
       "a"},
      {"[\"x\", \"\\udc00\"]", "[1]: unpaired UTF-16 surrogate (JSON at offset 7)", "[1]"},
  });
}

TEST(JsonTest, AcceptsEveryKindOfValidUtf8) {
  // U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
  std::string text = "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
                     "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
  auto v = Parse(absl::StrCat("\"", text, "\""));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->str(), text);
  EXPECT_EQ(Write(*v), absl::StrCat("\"", text, "\""));
}

TEST(JsonTest, ChecksUtf8OutsideJsonTheSameWay) {
  EXPECT_TRUE(CheckUtf8("Pump1 \xC3\xA9").ok());
  absl::Status s = CheckUtf8("Pump\xC0\xAF");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "expected UTF-8 text, found byte 0xC0 (an overlong encoding) at byte 4");
}

TEST(JsonTest, RefusesAMemberNameGivenTwice) {
  std::string large = "{";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&large, "\"f", i, "\": ", i, ", ");
  large += "\"f42\": 0}";
  ExpectRefusals({
      {R"({"a": 1, "b": 2, "a": 3})",
       "JSON at offset 17: expected each member name once in an object, found \"a\" again", ""},
      {R"({"row": {"a": 1, "\u0061": 2}})",
       "row: expected each member name once in an object, found \"a\" again (JSON at offset 17)",
       "row"},
      {large,
       absl::StrCat("JSON at offset ", large.size() - 9,  // The repeated name: `"f42": 0}`.
                    ": expected each member name once in an object, found \"f42\" again"),
       ""},
  });
}

TEST(JsonTest, NamesTheMemberOfABadValueAndKeepsStructuralErrorsByOffset) {
  ExpectRefusals({
      {R"({"Temperature": hot})",
       "Temperature: expected a value (JSON at offset 16)", "Temperature"},
      {"{\"Name\": \"a\nb\"}", "Name: control character in a string (JSON at offset 11)",
       "Name"},
      {R"({"a": [1, 2.]})", "a[1]: expected digits after '.' (JSON at offset 10)", "a[1]"},
      {R"({"a": "x)", "a: unterminated string (JSON at offset 6)", "a"},
      {"[1,2", "JSON at offset 4: expected ',' or ']'", ""},
      {"{not json", "JSON at offset 1: expected a member name", ""},
      {R"({"a": 1 "b": 2})", "JSON at offset 8: expected ',' or '}'", ""},
      {"[1] x", "JSON at offset 4: unexpected text after the JSON value", ""},
  });
}

TEST(JsonTest, ShortensALongMemberNameInAPath) {
  std::string name(100, 'n');
  ParseError error;
  auto v = Parse(absl::StrCat("{\"", name, "\": 1e999}"), kDefaultMaxDepth, &error);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(error.path, std::string(64, 'n') + "...");
  EXPECT_EQ(error.offset, 105u);
}

TEST(JsonTest, ParsesALargeObjectInOneLinearPass) {
  // Correctness only (no timing): 100,000 members, each name checked against the others.
  std::string text = "{";
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&text, i ? "," : "", "\"f", i, "\":", i);
  text += "}";
  auto v = Parse(text);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->object().size(), 100000u);
  EXPECT_EQ(v->object()[99999].first, "f99999");
  EXPECT_EQ(Write(*v), text);
}

}  // namespace
}  // namespace edge::json

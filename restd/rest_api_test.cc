#include "restd/rest_api.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/alwayson/json_infotable.h"

namespace edge::restd {
namespace {

using alwayson::BaseType;

TEST(ParametersFromJsonTest, NamesTheMemberOfEveryRefusedValue) {
  struct Case {
    std::string body;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"Temperature": 1e999})",
            "body.Temperature: expected a number a double can hold (magnitude at most "
            "1.7976931348623157e308), found 1e999 (JSON at offset 16)"},
           {"{\"Name\": \"\xC0\xAF\"}",
            "body.Name: expected UTF-8 text, found byte 0xC0 (an overlong encoding) (JSON at "
            "offset 10)"},
           {R"({"Temperature": hot})", "body.Temperature: expected a value (JSON at offset 16)"},
           {R"({"Temperature": [1, 2]})",
            "body.Temperature: expected a number, a string, a boolean or an infotable, found an "
            "array"},
           {R"({"a": 1, "a": 2})",
            "body: not JSON: JSON at offset 9: expected each member name once in an object, "
            "found \"a\" again"},
           {"{not json", "body: not JSON: JSON at offset 1: expected a member name"},
           {"[1]", "body: expected a JSON object, found an array"},
           {R"({"dataShape": {"fieldDefinitions": {"T": {"baseType": "NUMBER"}}},
               "rows": [{"T": "hot"}]})",
            "body.rows[0].T: expected a number for NUMBER, found a string"},
           {R"({"t": {"dataShape": {"fieldDefinitions": {"T": {"baseType": "NUMBER"}}},
                      "rows": [{"T": "hot"}]}})",
            "body.t.rows[0].T: expected a number for NUMBER, found a string"},
       }) {
    SCOPED_TRACE(c.body);
    auto t = ParametersFromJson(c.body);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), c.expected);
  }
}

std::string Parameters(size_t n) {
  std::string body = "{";
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&body, i ? "," : "", "\"p", i, "\":", i);
  return body + "}";
}

TEST(ParametersFromJsonTest, AcceptsAsManyParametersAsAnInfotableHasFieldsAndNoMore) {
  auto most = ParametersFromJson(Parameters(alwayson::kMaxInfoTableFields));
  ASSERT_TRUE(most.ok()) << most.status();
  ASSERT_EQ(most->fields.size(), alwayson::kMaxInfoTableFields);
  EXPECT_EQ(most->fields[999].name, "p999");
  EXPECT_EQ(most->rows[0][999].number(), 999);
  auto report = ParametersFromJson(Parameters(20000));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().message(),
            "body: expected at most 1000 parameters (the limit of fields for one infotable), "
            "found 20000");
}

TEST(ParametersFromJsonTest, TypesEachValueByItsJsonKind) {
  auto t = ParametersFromJson(R"({"n": 1.5, "s": "x", "b": true})");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->fields.size(), 3u);
  EXPECT_EQ(t->fields[0].base_type, BaseType::kNumber);
  EXPECT_EQ(t->fields[1].base_type, BaseType::kString);
  EXPECT_EQ(t->fields[2].base_type, BaseType::kBoolean);
  EXPECT_TRUE(ParametersFromJson("  ").ok());
}

}  // namespace
}  // namespace edge::restd

#include "services/alwayson/json_infotable.h"

#include "gtest/gtest.h"

namespace edge::alwayson {
namespace {

TEST(JsonInfoTableTest, WritesTheRestForm) {
  EXPECT_EQ(InfoTableToJson(InfoTable::SingleValue("Temperature", Value::Number(21.5))),
            "{\"dataShape\":{\"fieldDefinitions\":{\"Temperature\":{\"name\":\"Temperature\","
            "\"description\":\"\",\"baseType\":\"NUMBER\",\"aspects\":{}}}},"
            "\"rows\":[{\"Temperature\":21.5}]}");
}

TEST(JsonInfoTableTest, RoundTripsEveryBaseTypeWithAJsonForm) {
  InfoTable t;
  std::vector<Value> row = {
      Value::String("a \"quoted\" text\n"), Value::Number(0.1), Value::Integer(-3),
      Value::Boolean(false), Value::Datetime(1700000000123), Value::Loc({1.5, -2.25, 3}),
      Value::Bytes(std::string("\x00\xff", 2)), Value::String("Pump1", BaseType::kThingName),
      Value::Table(InfoTable::SingleValue("n", Value::Integer(1))), Value::Nothing()};
  for (size_t i = 0; i < row.size(); ++i) {
    BaseType type = row[i].type() == BaseType::kNothing ? BaseType::kString : row[i].type();
    t.fields.push_back({"f" + std::to_string(i), "", type, {}});
  }
  t.rows = {row};
  auto back = InfoTableFromJson(InfoTableToJson(t));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == t) << InfoTableToJson(*back);
}

TEST(JsonInfoTableTest, NamesThePathOfAValueOfTheWrongType) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const std::string shape =
      "{\"dataShape\":{\"fieldDefinitions\":{\"Temperature\":{\"baseType\":\"NUMBER\"}}},";
  for (const Case& c : std::vector<Case>{
           {"{\"rows\":[]}",
            "dataShape.fieldDefinitions: expected an object of field definitions, found none"},
           {"{\"dataShape\":{\"fieldDefinitions\":{\"x\":{\"baseType\":\"LONG\"}}}}",
            "dataShape.fieldDefinitions.x.baseType: \"LONG\" is not a base type"},
           {"[1,2", "JSON at offset 4: expected ',' or ']'"},
       }) {
    SCOPED_TRACE(c.json);
    auto t = InfoTableFromJson(c.json);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().message(), c.expected);
  }
  auto wrong = InfoTableFromJson(shape + "\"rows\":[{\"Temperature\":\"hot\"}]}");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "rows[0].Temperature: expected a number for NUMBER, found a string");
}

TEST(JsonTest, ParsesEscapesAndSurrogatePairsAndRefusesDeepNesting) {
  auto v = json::Parse("\"\\ud83d\\ude1c \\u00e9\\n\"");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->str(), "\xF0\x9F\x98\x9C \xC3\xA9\n");
  auto deep = json::Parse(std::string(100, '[') + std::string(100, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().message(), "JSON at offset 65: nested too deeply");
  EXPECT_FALSE(json::Parse("\"\\ud83d\"").ok());
  EXPECT_FALSE(json::Parse("01x").ok());
}

}  // namespace
}  // namespace edge::alwayson

#include "services/alwayson/json_infotable.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// An infotable of `fields` NUMBER fields f0..f<n-1> and `rows` rows; each row gives every
// field its index, members in reverse order, plus a member that names no field.
std::string WideTable(size_t fields, size_t rows) {
  std::string defs;
  for (size_t i = 0; i < fields; ++i) {
    absl::StrAppend(&defs, i ? "," : "", "\"f", i, "\":{\"name\":\"f", i,
                    "\",\"baseType\":\"NUMBER\"}");
  }
  std::string row = "{\"unknown\":1";
  for (size_t i = fields; i-- > 0;) absl::StrAppend(&row, ",\"f", i, "\":", i);
  row += "}";
  std::vector<std::string> all(rows, row);
  return absl::StrCat("{\"dataShape\":{\"fieldDefinitions\":{", defs, "}},\"rows\":[",
                      absl::StrJoin(all, ","), "]}");
}

TEST(JsonInfoTableTest, RefusesMoreFieldsThanTheLimitNamingItAndThePath) {
  // The report's 20,000 fields (took 6.5 s when every cell was looked up linearly).
  auto t = InfoTableFromJson(WideTable(20000, 1));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(),
            "dataShape.fieldDefinitions: expected at most 1000 field definitions (the limit for "
            "one infotable), found 20000");
  auto nested = ValueFromJson(*json::Parse(WideTable(kMaxInfoTableFields + 1, 0)),
                              BaseType::kInfotable, "params.table");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.status().message(),
            "params.table.dataShape.fieldDefinitions: expected at most 1000 field definitions "
            "(the limit for one infotable), found 1001");
}

TEST(JsonInfoTableTest, ReadsTheLargestAllowedShapeCellByCell) {
  // Correctness of the indexed lookup (no timing): members in another order than the
  // shape, a member that names no field, a field missing from a row.
  auto t = InfoTableFromJson(WideTable(kMaxInfoTableFields, 3));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->fields.size(), kMaxInfoTableFields);
  ASSERT_EQ(t->rows.size(), 3u);
  for (const std::vector<Value>& row : t->rows) {
    ASSERT_EQ(row.size(), kMaxInfoTableFields);
    for (size_t i = 0; i < row.size(); ++i) {
      ASSERT_EQ(row[i].type(), BaseType::kNumber) << i;
      EXPECT_EQ(row[i].number(), static_cast<double>(i));
    }
  }
  auto sparse = InfoTableFromJson(
      "{\"dataShape\":{\"fieldDefinitions\":{\"a\":{\"baseType\":\"STRING\"},"
      "\"b\":{\"baseType\":\"NUMBER\"}}},\"rows\":[{\"b\":2},{\"a\":\"x\",\"b\":null}]}");
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  EXPECT_EQ(sparse->rows[0][0].type(), BaseType::kNothing);
  EXPECT_EQ(sparse->rows[0][1].number(), 2);
  EXPECT_EQ(sparse->rows[1][0].str(), "x");
  EXPECT_EQ(sparse->rows[1][1].type(), BaseType::kNothing);
}

TEST(JsonInfoTableTest, RefusesMoreRowsThanTheLimit) {
  EXPECT_TRUE(InfoTableFromJson(WideTable(1, kMaxInfoTableRows)).ok());
  auto t = InfoTableFromJson(WideTable(1, kMaxInfoTableRows + 1));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "rows: expected at most 10000 rows (the limit for one infotable), found 10001");
}

TEST(JsonInfoTableTest, NamesTheCellOfANumberOutOfRangeOrInvalidText) {
  const std::string shape =
      "{\"dataShape\":{\"fieldDefinitions\":{\"T\":{\"baseType\":\"NUMBER\"},"
      "\"S\":{\"baseType\":\"STRING\"},\"D\":{\"baseType\":\"DATETIME\"}}},\"rows\":[";
  struct Case {
    std::string row;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"{\"T\":1e999}",
            "rows[0].T: expected a number a double can hold (magnitude at most " +
            absl::StrCat("1.7976931348623157e308), found 1e999 (JSON at offset ",
                         shape.size() + 5, ")")},
           {"{\"S\":\"\xED\xA0\x80\"}",
            absl::StrCat("rows[0].S: expected UTF-8 text, found bytes 0xED 0xA0 (a UTF-16 "
                         "surrogate, U+D800..U+DFFF) (JSON at offset ", shape.size() + 6, ")")},
           {"{\"D\":1e300}",
            "rows[0].D: expected milliseconds since the epoch for DATETIME (a 64-bit number), "
            "found 1e+300"},
       }) {
    SCOPED_TRACE(c.row);
    auto t = InfoTableFromJson(shape + c.row + "]}");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().message(), c.expected);
  }
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

#include "services/alwayson/message.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace edge::alwayson {
namespace {

std::string Hex(absl::string_view spaced) {
  std::string compact;
  for (char c : spaced) {
    if (c != ' ') compact.push_back(c);
  }
  return absl::HexStringToBytes(compact);
}

// The worked examples of shared/specs/alwayson-protocol.md, byte for byte.
struct Golden {
  const char* name;
  Message message;
  std::string bytes;
};

std::vector<Golden> GoldenVectors() {
  RequestBody put;
  put.entity_name = "Pump1";
  put.characteristic_name = "Temperature";
  put.params = InfoTable::SingleValue("Temperature", Value::Number(21.5));
  return {
      {"AUTH", Message::Auth(1, "k123"),
       Hex("01 14 00000001 00000000 FFFFFFFF 00 01 06 61 70 70 4B 65 79 04 6B 31 32 33")},
      {"BIND", Message::Bind(2, 7, {"Pump1"}),
       Hex("01 0A 00000002 00000000 00000007 00 00 00 01 05 50 75 6D 70 31")},
      {"PUT Temperature", Message::Request(Code::kPut, 3, 7, put),
       Hex("01 02 00000003 00000000 00000007 00"
           "0A 05 50756D7031 01 0B 54656D7065726174757265 00 05"
           "01 0B 54656D7065726174757265 00 01 00 00 00"
           "01 00 01 01 4035800000000000 00")},
  };
}

TEST(MessageTest, EncodesTheSpecsWorkedExamplesByteForByte) {
  for (const Golden& g : GoldenVectors()) {
    SCOPED_TRACE(g.name);
    auto bytes = EncodeMessage(g.message);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(absl::BytesToHexString(*bytes), absl::BytesToHexString(g.bytes));
  }
}

TEST(MessageTest, DecodesTheSpecsWorkedExamples) {
  for (const Golden& g : GoldenVectors()) {
    SCOPED_TRACE(g.name);
    auto message = DecodeMessage(g.bytes, Limits{});
    ASSERT_TRUE(message.ok()) << message.status();
    EXPECT_TRUE(*message == g.message);
  }
}

TEST(MessageTest, RoundTripsEveryKindOfMessageAndValue) {
  InfoTable all;
  std::vector<Value> row;
  std::vector<Value> values = {
      Value::String("text"), Value::String("<x/>", BaseType::kXml),
      Value::String("{}", BaseType::kJson), Value::String("Pump1", BaseType::kThingName),
      Value::String(std::string(300, 'l')),  // A 4-byte length.
      Value::Number(-1.25), Value::Integer(-7), Value::Boolean(true),
      Value::Datetime(1700000000123), Value::Loc({8.5, 47.3, 400}),
      Value::Bytes(std::string("\x00\x01\xff", 3)), Value::Bytes("png", BaseType::kImage),
      Value::Variant(Value::Integer(3)), Value::Nothing(),
      Value::Table(InfoTable::SingleValue("inner", Value::Boolean(false))),
  };
  for (size_t i = 0; i < values.size(); ++i) {
    FieldDefinition f{absl::StrCat("f", i), "a field", values[i].type(), {}};
    if (i == 0) f.aspects = {{"isPrimaryKey", Value::Boolean(true)}};
    all.fields.push_back(f);
    row.push_back(values[i]);
  }
  all.rows = {row, row};
  RequestBody service;
  service.characteristic = static_cast<uint8_t>(Characteristic::kServices);
  service.entity_name = "Pump1";
  service.characteristic_name = "Start";
  service.headers = {{"source", "edged"}};
  service.params = all;
  BindBody gateway{std::make_pair("gw1", "EdgeGateway"), {"A", "B", "C"}};
  Message bind_with_gateway = Message::Bind(5, 9, {});
  bind_with_gateway.body = gateway;
  Message keep_alive;
  keep_alive.header.code = Code::kKeepAlive;
  keep_alive.body = KeepAliveBody{};
  for (const Message& m : {Message::Request(Code::kPost, 4, 9, service),
                           Message::Request(Code::kGet, 4, 9, RequestBody{}),
                           Message::Response(Code::kSuccess, 4, 9, ResponseBody{std::nullopt, all}),
                           Message::Response(Code::kNotFound, 4, 9,
                                             ResponseBody{std::string("no such thing"), {}}),
                           Message::Bind(5, 9, {"A", "B"}, /*unbind=*/true), bind_with_gateway,
                           keep_alive}) {
    SCOPED_TRACE(*CodeName(static_cast<uint8_t>(m.header.code)));
    auto bytes = EncodeMessage(m);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto back = DecodeMessage(*bytes, Limits{});
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == m);
  }
}

TEST(MessageTest, RefusesTimespanAndScheduleValues) {
  InfoTable t;
  t.fields.push_back({"t", "", BaseType::kTimespan, {}});
  t.rows.push_back({Value::String("x", BaseType::kTimespan)});
  RequestBody body;
  body.params = t;
  auto bytes = EncodeMessage(Message::Request(Code::kPut, 1, 1, body));
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(), "base type TIMESPAN has no wire form");
}

struct Malformed {
  const char* name;
  std::string bytes;
  std::string expected;
};

TEST(MessageTest, RefusesMalformedInputWithTheFieldAndOffset) {
  std::string put = GoldenVectors()[2].bytes;
  std::string deep = Hex("01 40 00000001 00000000 00000007 00 00 05");
  // An infotable whose only field's aspect is a VARIANT of VARIANT of ... 
  std::string nested;
  for (int i = 0; i < 40; ++i) nested += Hex("12");
  const std::vector<Malformed> cases = {
      {"short frame", Hex("01 14 0000"),
       "message of 4 bytes is shorter than the 15-byte header"},
      {"unknown code", Hex("01 77 00000001 00000000 FFFFFFFF 00"),
       "code 0x77 at offset 1 is not a known method or status"},
      {"bad version", Hex("02 14 00000001 00000000 FFFFFFFF 00"),
       "version 0x02 at offset 0: expected 0x01"},
      {"string past the end", Hex("01 14 00000001 00000000 FFFFFFFF 00 01 06 61 70"),
       "claim name at offset 17: needs 6 bytes, only 2 left"},
      {"bad base type", put.substr(0, 51) + Hex("42") + put.substr(52),
       "base type 0x42 at offset 51 (field \"Temperature\") is not a known base type"},
      {"wrong row field count", put.substr(0, 56) + Hex("0002") + put.substr(58),
       "row 0 at offset 56: 2 values, the data shape has 1 fields"},
      {"trailing bytes", GoldenVectors()[1].bytes + "x",
       "1 trailing bytes at offset 24 after the BIND message"},
      {"bad params type", put.substr(0, 36) + Hex("07"),
       "parameter base type 0x07 at offset 36: expected 0x05 (INFOTABLE) or 0xFF (NOTHING)"},
      {"deep nesting",
       deep + Hex("01 01 61 00 12 0001 01 62") + nested + Hex("FF"),
       "values nested more than 16 levels deep at offset 42"},
      {"4-byte length over the limit", Hex("01 14 00000001 00000000 FFFFFFFF 00 01 FF FF FF FF"),
       "claim name at offset 16: length 2147483647 is over the limit of 1048576"},
  };
  for (const Malformed& c : cases) {
    SCOPED_TRACE(c.name);
    auto m = DecodeMessage(c.bytes, Limits{});
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message(), c.expected);
  }
  auto big = DecodeMessage(std::string(2000, '\x01'), Limits{1024});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), "message of 2000 bytes is over max_msg_size (1024)");
}

// The vendor's client pads an error response carrying a reason with zero bytes; a decoder
// that stands in for the platform takes it (and nothing else) when asked to.
TEST(DecodeMessageTest, ZeroPaddingAfterAResponseIsAcceptedOnlyWhenAllowed) {
  ResponseBody body;
  body.reason = "no such property";
  absl::StatusOr<std::string> bytes =
      EncodeMessage(Message::Response(Code::kNotFound, 9, 0x1001, body));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Limits padded;
  padded.allow_response_zero_padding = true;
  std::string with_zeros = *bytes + std::string(7, '\0');
  EXPECT_FALSE(DecodeMessage(with_zeros, Limits{}).ok()) << "strict unless allowed";
  absl::StatusOr<Message> m = DecodeMessage(with_zeros, padded);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(std::get<ResponseBody>(m->body).reason, "no such property");
  absl::StatusOr<Message> other = DecodeMessage(*bytes + std::string("\0\0x", 3), padded);
  ASSERT_FALSE(other.ok());
  EXPECT_TRUE(absl::StrContains(other.status().message(), "3 trailing bytes")) << other.status();
  // A request is never padded.
  absl::StatusOr<std::string> bind = EncodeMessage(Message::Bind(1, 2, {"Pump1"}));
  ASSERT_TRUE(bind.ok());
  EXPECT_FALSE(DecodeMessage(*bind + std::string(2, '\0'), padded).ok());
}

TEST(SplitBindNamesTest, EveryGroupsBindFitsTheLimitAndNoNameIsLostOrReordered) {
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back(absl::StrCat("Thing-", i, std::string(i % 200, 'x')));
  for (size_t limit : {size_t{1024}, size_t{65536}, size_t{1048576}}) {
    SCOPED_TRACE(limit);
    std::vector<std::vector<std::string>> groups = SplitBindNames(names, limit);
    std::vector<std::string> again;
    for (const std::vector<std::string>& g : groups) {
      absl::StatusOr<std::string> bytes = EncodeMessage(Message::Bind(1, 2, g));
      ASSERT_TRUE(bytes.ok());
      EXPECT_LE(bytes->size(), limit);
      again.insert(again.end(), g.begin(), g.end());
    }
    EXPECT_EQ(again, names);
  }
  EXPECT_EQ(SplitBindNames(names, 1048576).size(), 1u);
}

TEST(SplitBindNamesTest, NeverPutsMoreNamesInOneBindThanItsCountCanSay) {
  std::vector<std::string> many(70000, "a");
  std::vector<std::vector<std::string>> groups = SplitBindNames(many, 1 << 30);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].size(), 65535u);
  EXPECT_EQ(groups[1].size(), 70000u - 65535u);
  EXPECT_TRUE(SplitBindNames({}, 1024).empty());
}

}  // namespace
}  // namespace edge::alwayson

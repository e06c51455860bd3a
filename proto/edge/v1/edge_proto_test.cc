#include "proto/edge/v1/edge_proto.h"

#include "gtest/gtest.h"

namespace edge::edge_api {
namespace {

namespace v1 = ::edge::v1;
using alwayson::BaseType;
using alwayson::InfoTable;
using alwayson::Value;

TEST(EdgeProtoTest, EveryKindOfValueRoundTrips) {
  InfoTable inner = InfoTable::SingleValue("n", Value::Integer(3));
  InfoTable t;
  std::vector<Value> values = {
      Value::String("s"), Value::Number(21.5), Value::Integer(-7), Value::Boolean(true),
      Value::Datetime(1700000000000), Value::Loc({1.5, 2.5, 3.5}),
      Value::Bytes(std::string("\0\1\2", 3)), Value::Bytes("img", BaseType::kImage),
      Value::Table(inner), Value::Variant(Value::Number(1)),
      Value::String("Pump1", BaseType::kThingName), Value::String("{}", BaseType::kJson),
      Value::Nothing()};
  for (size_t i = 0; i < values.size(); ++i) {
    alwayson::FieldDefinition f;
    f.name = "f" + std::to_string(i);
    f.base_type = values[i].type() == BaseType::kNothing ? BaseType::kString : values[i].type();
    t.fields.push_back(f);
  }
  t.fields[0].aspects.emplace_back("isPrimaryKey", Value::Boolean(true));
  t.rows.push_back(values);
  absl::StatusOr<InfoTable> back = FromProto(ToProto(t), "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
}

TEST(EdgeProtoTest, ErrorsNameTheField) {
  v1::InfoTable t;
  v1::FieldDefinition* f = t.add_fields();
  f->set_name("Temperature");
  f->set_base_type(v1::NUMBER);
  v1::Value* v = t.add_rows()->add_values();
  v->set_base_type(v1::INTEGER);
  v->set_integer_value(3);
  auto r = FromProto(t, "parameters");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "parameters.rows[0].values[0]: is INTEGER but field \"Temperature\" is NUMBER");

  v->set_base_type(v1::NUMBER);
  r = FromProto(t, "parameters");
  EXPECT_EQ(r.status().message(),
            "parameters.rows[0].values[0]: a NUMBER value must be set in number_value");

  t.mutable_rows(0)->add_values();
  r = FromProto(t, "parameters");
  EXPECT_EQ(r.status().message(), "parameters.rows[0]: has 2 values for 1 fields");

  v1::Value timespan;
  timespan.set_base_type(v1::TIMESPAN);
  EXPECT_EQ(FromProto(timespan, "value").status().message(),
            "value: TIMESPAN has no wire form in AlwaysOn");
  v1::Value unknown;
  unknown.set_base_type(static_cast<v1::BaseType>(77));
  EXPECT_EQ(FromProto(unknown, "value").status().message(), "value: unknown base_type 77");

  v1::InfoTable unnamed;
  unnamed.add_fields()->set_base_type(v1::STRING);
  EXPECT_EQ(FromProto(unnamed, "data").status().message(), "data.fields[0]: a field needs a name");
}

TEST(EdgeProtoTest, NestingIsBounded) {
  v1::Value v;
  v.set_base_type(v1::NUMBER);
  v.set_number_value(1);
  for (int i = 0; i < 40; ++i) {
    v1::Value outer;
    outer.set_base_type(v1::VARIANT);
    *outer.mutable_variant_value() = v;
    v = outer;
  }
  auto r = FromProto(v, "value");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested too deeply"), std::string::npos);
}

TEST(EdgeProtoTest, EveryAnswerStatusIsTheAlwaysOnStatusOfTheSameName) {
  const google::protobuf::EnumDescriptor* statuses = v1::AnswerStatus_descriptor();
  for (int i = 0; i < statuses->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* status = statuses->value(i);
    SCOPED_TRACE(status->name());
    std::optional<alwayson::Code> code = FromProto(static_cast<v1::AnswerStatus>(status->number()));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(alwayson::CodeName(static_cast<uint8_t>(*code)).value_or("?"), status->name());
  }
  EXPECT_FALSE(FromProto(static_cast<v1::AnswerStatus>(0x40)).has_value());
  EXPECT_FALSE(FromProto(static_cast<v1::AnswerStatus>(7)).has_value());
}

}  // namespace
}  // namespace edge::edge_api

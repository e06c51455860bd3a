#include "edged/property_types.h"

#include <string>

#include "gtest/gtest.h"

namespace edge::edged {
namespace {

using alwayson::BaseType;
using alwayson::InfoTable;
using alwayson::Value;

InfoTable Declares(const std::string& name, Value value) {
  return InfoTable::SingleValue(name, std::move(value));
}

TEST(PropertyTypesTest, AnUnknownPropertyTakesAnyValueUnchanged) {
  PropertyTypes types;
  auto v = types.Conform("Boiler", "Temp", Value::String("hot"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, Value::String("hot"));
}

TEST(PropertyTypesTest, AValueOfTheWrongTypeIsRefusedNamingThePropertyAndBothTypes) {
  PropertyTypes types;
  types.Learn("Boiler", Declares("Temp", Value::Number(21.5)));
  auto v = types.Conform("Boiler", "Temp", Value::String("hot"));
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(),
            "property \"Temp\" of Thing \"Boiler\" is NUMBER; the value given is STRING");
  // Another Thing's property of the same name is not known.
  EXPECT_TRUE(types.Conform("Pump", "Temp", Value::String("hot")).ok());
}

TEST(PropertyTypesTest, ConvertsWhatConvertsWithoutLoss) {
  PropertyTypes types;
  InfoTable all;
  all.fields = {{"Count", "", BaseType::kInteger, {}}, {"At", "", BaseType::kDatetime, {}},
                {"Owner", "", BaseType::kThingName, {}}, {"Level", "", BaseType::kNumber, {}},
                {"Any", "", BaseType::kVariant, {}}};
  all.rows = {{Value::Integer(1), Value::Datetime(0), Value::String("x", BaseType::kThingName),
               Value::Number(1), Value::Boolean(true)}};
  types.Learn("Boiler", all);
  EXPECT_EQ(*types.Conform("Boiler", "Count", Value::Number(42)), Value::Integer(42));
  EXPECT_EQ(*types.Conform("Boiler", "At", Value::Number(1700000000000.0)),
            Value::Datetime(1700000000000));
  EXPECT_EQ(*types.Conform("Boiler", "Owner", Value::String("Pump")),
            Value::String("Pump", BaseType::kThingName));
  EXPECT_EQ(*types.Conform("Boiler", "Level", Value::Integer(3)), Value::Number(3));
  EXPECT_EQ(*types.Conform("Boiler", "Any", Value::String("s")), Value::String("s"));

  auto half = types.Conform("Boiler", "Count", Value::Number(1.5));
  EXPECT_EQ(half.status().message(),
            "property \"Count\" of Thing \"Boiler\" is INTEGER; the value given is NUMBER (not a "
            "whole number in INTEGER's range)");
  EXPECT_FALSE(types.Conform("Boiler", "Count", Value::Number(4294967296.0)).ok());
  EXPECT_FALSE(types.Conform("Boiler", "At", Value::String("yesterday")).ok());
  EXPECT_FALSE(types.Conform("Boiler", "Level", Value::Boolean(true)).ok());
}

TEST(PropertyTypesTest, ALaterDeclarationReplacesAnEarlierOne) {
  PropertyTypes types;
  types.Learn("Boiler", Declares("Temp", Value::Number(1)));
  types.Learn("Boiler", Declares("Temp", Value::String("warm")));
  EXPECT_EQ(types.Find("Boiler", "Temp"), BaseType::kString);
  EXPECT_EQ(types.size(), 1u);
}

TEST(PropertyTypesTest, NothingDeclaresNothing) {
  PropertyTypes types;
  types.Learn("Boiler", Declares("Temp", Value::Nothing()));
  EXPECT_EQ(types.size(), 0u);
}

TEST(PropertyTypesTest, IsBoundedInEntriesAndBytesForgettingTheOldestFirst) {
  PropertyTypes types(/*max_entries=*/3, /*max_bytes=*/1 << 20);
  for (int i = 0; i < 5; ++i) {
    types.Learn("T", Declares("p" + std::to_string(i), Value::Number(i)));
  }
  EXPECT_EQ(types.size(), 3u);
  EXPECT_FALSE(types.Find("T", "p0"));
  EXPECT_FALSE(types.Find("T", "p1"));
  EXPECT_TRUE(types.Find("T", "p4"));

  // Two names of 100 bytes each, held twice: 400 bytes per entry; 1000 bytes hold two.
  PropertyTypes small(/*max_entries=*/100, /*max_bytes=*/1000);
  for (char c = 'a'; c < 'e'; ++c) {
    small.Learn(std::string(100, c), Declares(std::string(100, c), Value::Number(1)));
  }
  EXPECT_EQ(small.size(), 2u);
  EXPECT_TRUE(small.Find(std::string(100, 'd'), std::string(100, 'd')));
}

}  // namespace
}  // namespace edge::edged

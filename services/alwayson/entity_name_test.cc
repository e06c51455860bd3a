#include "services/alwayson/entity_name.h"

#include "gtest/gtest.h"

namespace edge::alwayson {
namespace {

TEST(EntityNameTest, AcceptsWhatThingWorxAccepts) {
  for (const char* name : {"Pump1", "DemoPump", "Inlet Temp", "a.b-c_d", "Température",
                           "数据", "x", "_leading_underscore_"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(CheckThingName(name, "thing").ok()) << CheckThingName(name, "thing");
    EXPECT_TRUE(CheckCharacteristicName(name, "name").ok());
  }
  EXPECT_TRUE(CheckThingName(std::string(255, 'a'), "thing").ok());
  EXPECT_TRUE(CheckCharacteristicName("me", "name").ok());  // Only a Thing may not be "me".
}

TEST(EntityNameTest, RefusesNamesThatWouldReachAnotherProtocolSayingWhy) {
  struct Case {
    std::string name;
    std::string error;
  } cases[] = {
      {"Temp\r\nHost: x\r\n\r\nGET admin",
       "name: expected a name without control characters, found a name with unprintable bytes"},
      {"../../../../admin", "name: expected a name without + / : * \" < > \\ % ? #, found "
                            "\"../../../../admin\""},
      {"a/b", "name: expected a name without + / : * \" < > \\ % ? #, found \"a/b\""},
      {"a%2Fb", "name: expected a name without + / : * \" < > \\ % ? #, found \"a%2Fb\""},
      {"a?x=1", "name: expected a name without + / : * \" < > \\ % ? #, found \"a?x=1\""},
      {"a\\b", "name: expected a name without + / : * \" < > \\ % ? #, found \"a\\b\""},
      {"..", "name: expected a name that does not begin or end with a space, '-' or '.', "
             "found \"..\""},
      {" lead", "name: expected a name that does not begin or end with a space, '-' or '.', "
                "found \" lead\""},
      {"trail-", "name: expected a name that does not begin or end with a space, '-' or '.', "
                 "found \"trail-\""},
      {"two  spaces", "name: expected a name without two spaces in a row, found \"two  spaces\""},
      {std::string(256, 'a'), "name: expected at most 255 characters, found 256"},
      {std::string(600000, 'a'), "name: expected at most 255 characters, found 600000"},
      {"bad\xC3(utf8", "name: expected a name in UTF-8, found a name with unprintable bytes"},
      {"over\xC0\xAFlong", "name: expected a name in UTF-8, found a name with unprintable bytes"},
      {"\xED\xA0\x80surrogate", "name: expected a name in UTF-8, found a name with unprintable bytes"},
      {"c1\xC2\x85", "name: expected a name without control characters, found a name with "
                     "unprintable bytes"},
      {"", "name: expected a name, found none"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name.substr(0, 40));
    absl::Status s = CheckCharacteristicName(c.name, "name");
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_EQ(s.message(), c.error);
  }
  EXPECT_EQ(CheckThingName("ME", "entity name").message(),
            "entity name: expected a name other than the reserved keyword \"me\", found \"ME\"");
}

}  // namespace
}  // namespace edge::alwayson

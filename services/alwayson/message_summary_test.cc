#include "services/alwayson/message_summary.h"

#include "gtest/gtest.h"

namespace edge::alwayson {
namespace {

TEST(MessageSummaryTest, SaysKindIdsEntityAndSizesOfEachMessage) {
  RequestBody put;
  put.entity_name = "Pump1";
  put.characteristic_name = "Temperature";
  put.params = InfoTable::SingleValue("Temperature", Value::Number(21.5));
  RequestBody call;
  call.characteristic = static_cast<uint8_t>(Characteristic::kServices);
  call.entity_name = "Pump1";
  call.characteristic_name = "Reset";
  Message unbound = Message::Bind(9, 7, {"a", "b", "c", "d", "e", "f"}, /*unbind=*/true);
  struct Case {
    Message message;
    std::string summary;
  } cases[] = {
      {Message::Request(Code::kPut, 12, 7, put),
       "PUT request 12 session 7: THING Pump1 PROPERTIES Temperature, params 1 row x 1 field"},
      {Message::Request(Code::kPost, 13, 7, call),
       "POST request 13 session 7: THING Pump1 SERVICES Reset, params none"},
      {Message::Response(Code::kSuccess, 12, 7,
                         {std::nullopt, InfoTable::SingleValue("t", Value::Number(1))}),
       "SUCCESS response 12 session 7: content 1 row x 1 field"},
      {Message::Response(Code::kNotFound, 14, 7, {std::string("no Thing \"X\""), std::nullopt}),
       "NOT_FOUND response 14 session 7: content none, reason \"no Thing \"X\"\""},
      {Message::Bind(8, 7, {"Pump1", "Pump2"}), "BIND request 8 session 7: 2 Things Pump1, Pump2"},
      {unbound, "UNBIND request 9 session 7: 6 Things a, b, c, d, e, ..."},
      {Message::Auth(1, "k"), "AUTH request 1: claims appKey"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.summary);
    EXPECT_EQ(MessageSummary(c.message), c.summary);
  }
}

TEST(MessageSummaryTest, NeverShowsTheAppKeyOrAValue) {
  const std::string secret = "s3cr3t-app-key-0123456789";
  EXPECT_EQ(MessageSummary(Message::Auth(1, secret)).find(secret), std::string::npos);
  RequestBody write;
  write.entity_name = "Vault";
  write.characteristic_name = "Password";
  write.headers = {{"x-token", secret}};
  write.params = InfoTable::SingleValue("Password", Value::String(secret));
  std::string request = MessageSummary(Message::Request(Code::kPut, 2, 3, write));
  EXPECT_EQ(request.find(secret), std::string::npos) << request;
  EXPECT_EQ(request, "PUT request 2 session 3: THING Vault PROPERTIES Password, 1 header, "
                     "params 1 row x 1 field");
  std::string response = MessageSummary(Message::Response(
      Code::kSuccess, 2, 3, {std::nullopt, InfoTable::SingleValue("v", Value::String(secret))}));
  EXPECT_EQ(response.find(secret), std::string::npos) << response;
}

TEST(MessageSummaryTest, BoundsAndEscapesNamesFromThePeer) {
  RequestBody forged;
  forged.entity_name = std::string(1000, 'n') + "\n2026-01-01T00:00:00Z edged INFO forged";
  std::string summary = MessageSummary(Message::Request(Code::kGet, 1, 1, forged));
  EXPECT_EQ(summary.find('\n'), std::string::npos);
  EXPECT_LT(summary.size(), 400u);
}

}  // namespace
}  // namespace edge::alwayson

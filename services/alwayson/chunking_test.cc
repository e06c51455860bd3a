#include "services/alwayson/chunking.h"

#include <algorithm>
#include <random>

#include "gtest/gtest.h"

namespace edge::alwayson {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

Message BigServiceCall(size_t payload) {
  RequestBody body;
  body.entity_name = "Pump1";
  body.characteristic = static_cast<uint8_t>(Characteristic::kServices);
  body.characteristic_name = "Upload";
  body.params = InfoTable::SingleValue("data", Value::Bytes(std::string(payload, 'z')));
  return Message::Request(Code::kPost, 42, 7, body);
}

Message BigResponse(size_t payload) {
  return Message::Response(Code::kSuccess, 43, 7,
                           {std::nullopt, InfoTable::SingleValue("s", Value::String(std::string(payload, 'r')))});
}

TEST(ChunkingTest, SendsASmallMessageWhole) {
  std::string m = *EncodeMessage(Message::Auth(1, "k"));
  auto chunks = SplitIntoChunks(m, 8192, true);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ((*chunks)[0], m);
}

TEST(ChunkingTest, SplitsAndReassemblesRequestsAndResponsesInAnyOrder) {
  std::mt19937 shuffle(7);
  for (const Message& m : {BigServiceCall(30000), BigResponse(20000)}) {
    for (bool deflate : {false, true}) {
      SCOPED_TRACE(deflate);
      std::string encoded = *EncodeMessage(m);
      auto chunks = SplitIntoChunks(encoded, 8192, deflate);
      ASSERT_TRUE(chunks.ok()) << chunks.status();
      ASSERT_GT(chunks->size(), 2u);
      size_t limit = 8192 - (deflate ? 4 : 0);
      for (const std::string& c : *chunks) EXPECT_LE(c.size(), limit);
      std::shuffle(chunks->begin(), chunks->end(), shuffle);
      Reassembler in(Limits{});
      std::optional<std::string> whole;
      for (size_t i = 0; i < chunks->size(); ++i) {
        auto r = in.Add((*chunks)[i], kNow);
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(r->has_value(), i + 1 == chunks->size());
        if (*r) whole = **r;
      }
      ASSERT_TRUE(whole.has_value());
      EXPECT_EQ(*whole, encoded);
      auto decoded = DecodeMessage(*whole, Limits{});
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_TRUE(*decoded == m);
      EXPECT_EQ(in.partial_messages(), 0u);
    }
  }
}

TEST(ChunkingTest, RefusesChunksThatDoNotAddUp) {
  auto chunks = *SplitIntoChunks(*EncodeMessage(BigServiceCall(20000)), 8192, false);
  ASSERT_EQ(chunks.size(), 3u);
  auto with = [](std::string c, size_t at, uint16_t v) {
    c[at] = static_cast<char>(v >> 8);
    c[at + 1] = static_cast<char>(v);
    return c;
  };
  struct Case {
    const char* name;
    std::vector<std::string> sequence;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"chunk number zero", {with(chunks[0], 15, 0)}, "chunk 0 of request 42: chunk number must be 1 to 3"},
      {"chunk number above the count", {with(chunks[0], 15, 4)},
       "chunk 4 of request 42: chunk number must be 1 to 3"},
      {"count times size over the limit", {with(chunks[0], 17, 200)},
       "chunk 1 of request 42: 200 chunks of 8192 bytes exceed max_msg_size (1048576)"},
      {"a count that changes", {chunks[0], with(chunks[1], 17, 4)},
       "chunk 2 of request 42: says 4 chunks of 8192 bytes, an earlier one said 3 of 8192"},
      {"a duplicate", {chunks[0], chunks[0]}, "chunk 1 of request 42: arrived twice"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Reassembler in(Limits{});
    absl::Status last = absl::OkStatus();
    for (const std::string& chunk : c.sequence) last = in.Add(chunk, kNow).status();
    EXPECT_EQ(last.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(last.message(), c.expected);
    EXPECT_EQ(in.partial_messages(), 0u);  // The contradicted message is dropped.
  }
}

TEST(ChunkingTest, DropsIncompleteMessagesAfterATimeoutAndBoundsThem) {
  auto chunks = *SplitIntoChunks(*EncodeMessage(BigServiceCall(20000)), 8192, false);
  Reassembler in(Limits{}, /*max_partial_messages=*/1);
  ASSERT_TRUE(in.Add(chunks[0], kNow).ok());
  auto other = *SplitIntoChunks(*EncodeMessage(BigResponse(20000)), 8192, false);
  auto refused = in.Add(other[0], kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(in.ExpireOlderThan(kNow - absl::Seconds(1)), 0);
  EXPECT_EQ(in.ExpireOlderThan(kNow + absl::Seconds(1)), 1);
  EXPECT_EQ(in.partial_messages(), 0u);
}

}  // namespace
}  // namespace edge::alwayson

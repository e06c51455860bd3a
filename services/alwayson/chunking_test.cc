#include "services/alwayson/chunking.h"

#include <algorithm>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/heap_counter.h"

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

// One chunk built by hand (spec, "Multipart (chunking)"): the header with multipart = 1, chunk
// number, chunk count, chunk size, for requests the entity type and name, then the slice.
std::string Chunk(Code code, uint32_t request_id, uint16_t number, uint16_t count,
                  uint16_t size, absl::string_view slice) {
  Header h;
  h.code = code;
  h.request_id = request_id;
  h.session_id = 7;
  h.multipart = true;
  Writer w;
  EXPECT_TRUE(EncodeHeader(w, h).ok());
  w.U16(number);
  w.U16(count);
  w.U16(size);
  if (!IsResponse(code)) {
    w.U8(static_cast<uint8_t>(EntityType::kThing));
    w.String("Pump1");  // 2 + 5 bytes: the spec's "2 + name length".
  }
  w.Raw(slice);
  return w.Take();
}

std::string Response(uint32_t request_id, uint16_t number, uint16_t count, uint16_t size,
                     size_t slice) {
  return Chunk(Code::kSuccess, request_id, number, count, size, std::string(slice, 's'));
}

struct RefusalCase {
  const char* name;
  Limits limits;
  std::vector<std::string> sequence;  // Every chunk but the last is accepted.
  std::string expected;
};

// Feeds each case to a fresh Reassembler; the last chunk must be refused with kInvalidArgument
// and `expected`, its message dropped, and nothing held.
void ExpectRefusals(const std::vector<RefusalCase>& cases) {
  for (const RefusalCase& c : cases) {
    SCOPED_TRACE(c.name);
    Reassembler in(c.limits);
    for (size_t i = 0; i + 1 < c.sequence.size(); ++i) {
      auto accepted = in.Add(c.sequence[i], kNow);
      ASSERT_TRUE(accepted.ok()) << accepted.status();
    }
    auto last = in.Add(c.sequence.back(), kNow);
    EXPECT_EQ(last.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(last.status().message(), c.expected);
    EXPECT_EQ(in.partial_messages(), 0u);
    EXPECT_EQ(in.pending_bytes(), 0u);
  }
}

TEST(ChunkingTest, RefusesASliceLargerThanItsDeclaredChunkSizeAllows) {
  // Response chunks carry 21 bytes before the slice, request chunks 21 + 2 + name length.
  const std::string big(1 << 20, 'z');
  ExpectRefusals({
      {"first chunk of a response", Limits{}, {Response(43, 1, 2, 100, 80)},
       "chunk 1 of request 43: slice of 80 bytes is larger than the 79 bytes that its chunk "
       "size (100, the sender's ws_connection.message_chunk_size) leaves after 21 bytes of "
       "chunk headers"},
      {"a later chunk with the size its first chunk declared",
       Limits{},
       {Response(43, 1, 3, 100, 79), Response(43, 2, 3, 100, 80)},
       "chunk 2 of request 43: slice of 80 bytes is larger than the 79 bytes that its chunk "
       "size (100, the sender's ws_connection.message_chunk_size) leaves after 21 bytes of "
       "chunk headers"},
      {"a later chunk that declares a larger size than its first chunk",
       Limits{},
       {Response(43, 1, 3, 100, 79), Response(43, 2, 3, 200, 150)},
       "chunk 2 of request 43: says 3 chunks of 200 bytes, an earlier one said 3 of 100"},
      {"a request, whose entity counts against the chunk size",
       Limits{},
       {Chunk(Code::kPost, 42, 1, 2, 100, std::string(73, 'q'))},
       "chunk 1 of request 42: slice of 73 bytes is larger than the 72 bytes that its chunk "
       "size (100, the sender's ws_connection.message_chunk_size) leaves after 28 bytes of "
       "chunk headers"},
      {"a chunk size that leaves no room for data", Limits{}, {Response(43, 1, 2, 21, 0)},
       "chunk 1 of request 43: its chunk size (21, the sender's "
       "ws_connection.message_chunk_size) leaves no room for data after 21 bytes of chunk "
       "headers"},
      {"the reported flood: 65535 chunks declared, 1 MB slices",
       Limits{},
       {Chunk(Code::kSuccess, 9, 1, 65535, 16, big)},
       "chunk 1 of request 9: its chunk size (16, the sender's "
       "ws_connection.message_chunk_size) leaves no room for data after 21 bytes of chunk "
       "headers"},
  });
}

TEST(ChunkingTest, HoldsNothingFromAFloodOfOneMegabyteChunks) {
  // The reported attack: many chunks of 1 MB under one request id. Whatever count and size
  // they declare, each chunk is refused before its slice is stored.
  struct Case {
    const char* name;
    uint16_t count;
    uint16_t size;
  };
  for (const Case& c : {Case{"65535 chunks of 16 bytes declared", 65535, 16},
                        Case{"128 chunks of 8192 bytes declared", 128, 8192}}) {
    SCOPED_TRACE(c.name);
    std::string chunk = Chunk(Code::kSuccess, 9, 1, c.count, c.size, std::string(1 << 20, 'z'));
    Reassembler in(Limits{});
    int refused = 0;
    for (uint16_t number = 1; number <= 1200; ++number) {
      chunk[15] = static_cast<char>(number >> 8);
      chunk[16] = static_cast<char>(number);
      if (!in.Add(chunk, kNow).ok()) ++refused;
      if (in.pending_bytes() != 0) break;
    }
    EXPECT_EQ(refused, 1200);
    EXPECT_EQ(in.pending_bytes(), 0u);
    EXPECT_EQ(in.partial_messages(), 0u);
  }
}

TEST(ChunkingTest, NamesTheLimitWhenTooManyMessagesAreInFlight) {
  Reassembler in(Limits{}, /*max_partial_messages=*/1);
  ASSERT_TRUE(in.Add(Response(43, 1, 3, 8192, 100), kNow).ok());
  auto refused = in.Add(Response(44, 1, 3, 8192, 100), kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "chunk 1 of request 44: 1 partial messages already in flight (max_partial_messages)");
  EXPECT_EQ(in.pending_bytes(), 100 + kStoredChunkOverhead);  // Only request 43's.
}

TEST(ChunkingTest, AcceptsSlicesThatFillTheirChunkSizeExactly) {
  Reassembler in(Limits{});
  auto first = in.Add(Response(43, 1, 2, 100, 79), kNow);
  ASSERT_TRUE(first.ok()) << first.status();
  auto request = in.Add(Chunk(Code::kPost, 42, 1, 2, 100, std::string(72, 'q')), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  auto last = in.Add(Response(43, 2, 2, 100, 1), kNow);
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->size(), kHeaderSize + 80);
}

TEST(ChunkingTest, RefusesADeclaredTotalOverMaxMsgSizeAtItsFirstChunk) {
  Limits small;
  small.max_message_size = 4096;
  ExpectRefusals({
      {"a chunk size over max_msg_size", small, {Response(43, 1, 1, 8192, 100)},
       "chunk 1 of request 43: its chunk size (8192, the sender's "
       "ws_connection.message_chunk_size) is over ws_connection.max_msg_size (4096)"},
      {"count times chunk size over max_msg_size", small, {Response(43, 1, 3, 2000, 100)},
       "chunk 1 of request 43: 3 chunks of 2000 bytes exceed max_msg_size (4096)"},
      {"the same proven by a later chunk", small,
       {Response(43, 1, 2, 2000, 100), Response(43, 2, 3, 2000, 100)},
       "chunk 2 of request 43: 3 chunks of 2000 bytes exceed max_msg_size (4096)"},
  });
}

TEST(ChunkingTest, RefusesACountOfZeroAndNumbersOutsideOneToCount) {
  ExpectRefusals({
      {"count zero", Limits{}, {Response(43, 1, 0, 100, 10)},
       "chunk 1 of request 43: chunk count must be at least 1, got 0"},
      {"number zero", Limits{}, {Response(43, 0, 3, 100, 10)},
       "chunk 0 of request 43: chunk number must be 1 to 3"},
      {"number above the count", Limits{}, {Response(43, 4, 3, 100, 10)},
       "chunk 4 of request 43: chunk number must be 1 to 3"},
  });
  // Numbers count from 1 (spec), so the number equal to the count is the last chunk.
  Reassembler in(Limits{});
  ASSERT_TRUE(in.Add(Response(43, 3, 3, 100, 10), kNow).ok());
  EXPECT_EQ(in.partial_messages(), 1u);
}

TEST(ChunkingTest, CountsTheBytesItHoldsOncePerChunk) {
  Reassembler in(Limits{});
  ASSERT_TRUE(in.Add(Response(43, 1, 3, 8192, 1000), kNow).ok());
  EXPECT_EQ(in.pending_bytes(), 1000 + kStoredChunkOverhead);
  // A request's entity (type and name, 7 bytes) is held once, not per chunk.
  ASSERT_TRUE(in.Add(Chunk(Code::kPost, 42, 1, 3, 8192, std::string(500, 'q')), kNow).ok());
  ASSERT_TRUE(in.Add(Chunk(Code::kPost, 42, 2, 3, 8192, std::string(500, 'q')), kNow).ok());
  EXPECT_EQ(in.pending_bytes(), 1000 + 7 + 2 * (500 + kStoredChunkOverhead) + kStoredChunkOverhead);
}

TEST(ChunkingTest, ADuplicateChunkIsNotCountedTwice) {
  Reassembler in(Limits{});
  ASSERT_TRUE(in.Add(Response(43, 1, 3, 8192, 1000), kNow).ok());
  ASSERT_TRUE(in.Add(Response(44, 1, 3, 8192, 2000), kNow).ok());
  auto twice = in.Add(Response(43, 1, 3, 8192, 1000), kNow);
  EXPECT_EQ(twice.status().message(), "chunk 1 of request 43: arrived twice");
  // Request 43 is dropped with its bytes; request 44 keeps exactly its own.
  EXPECT_EQ(in.partial_messages(), 1u);
  EXPECT_EQ(in.pending_bytes(), 2000 + kStoredChunkOverhead);
}

TEST(ChunkingTest, BoundsTheBytesOfAllPartialMessagesTogether) {
  const size_t per_chunk = 1000 + kStoredChunkOverhead;
  Reassembler in(Limits{}, /*max_partial_messages=*/64, /*max_pending_bytes=*/2 * per_chunk + 10);
  ASSERT_TRUE(in.Add(Response(1, 1, 3, 8192, 1000), kNow).ok());
  ASSERT_TRUE(in.Add(Response(2, 1, 3, 8192, 1000), kNow).ok());

  auto third = in.Add(Response(3, 1, 3, 8192, 1000), kNow);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(third.status().message(),
            absl::StrCat("chunk 1 of request 3: holding its ", per_chunk,
                         " bytes would bring partial messages to ", 3 * per_chunk,
                         " bytes, over the reassembler's bound of ", 2 * per_chunk + 10,
                         " bytes (max_pending_bytes)"));
  EXPECT_EQ(in.partial_messages(), 2u);  // Not stored.
  EXPECT_EQ(in.pending_bytes(), 2 * per_chunk);

  // A refused chunk of a message in flight means that message cannot complete: dropped.
  auto more = in.Add(Response(1, 2, 3, 8192, 1000), kNow);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(in.partial_messages(), 1u);
  EXPECT_EQ(in.pending_bytes(), per_chunk);

  EXPECT_TRUE(in.Add(Response(3, 1, 3, 8192, 1000), kNow).ok());  // Room again.
}

TEST(ChunkingTest, ByDefaultHoldsTwoWholeMessagesOfMaxMsgSizeAtOnce) {
  // Two responses as large as 8192-byte chunks allow within max_msg_size, interleaved.
  size_t payload = 128 * (8192 - kChunkOverhead) - 40;
  auto a = *SplitIntoChunks(*EncodeMessage(BigResponse(payload)), 8192, false);
  Message second = BigResponse(payload);
  second.header.request_id = 44;
  auto b = *SplitIntoChunks(*EncodeMessage(second), 8192, false);
  ASSERT_EQ(a.size(), 128u);
  Reassembler in(Limits{});
  int complete = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (const std::string* c : {&a[i], &b[i]}) {
      auto r = in.Add(*c, kNow);
      ASSERT_TRUE(r.ok()) << i << ": " << r.status();
      if (r->has_value()) ++complete;
    }
  }
  EXPECT_EQ(complete, 2);
  EXPECT_EQ(in.pending_bytes(), 0u);
}

TEST(ChunkingTest, HoldsNothingOnceAMessageIsComplete) {
  auto chunks = *SplitIntoChunks(*EncodeMessage(BigServiceCall(30000)), 8192, true);
  Reassembler in(Limits{});
  for (const std::string& c : chunks) ASSERT_TRUE(in.Add(c, kNow).ok());
  EXPECT_EQ(in.partial_messages(), 0u);
  EXPECT_EQ(in.pending_bytes(), 0u);
}

TEST(ChunkingTest, ExpiryReturnsTheHeldBytesAndTheirMemory) {
  std::vector<std::string> chunks;
  for (uint32_t id = 1; id <= 8; ++id) chunks.push_back(Response(id, 1, 3, 65535, 60000));
  Reassembler in(Limits{});
  long long before = testing::LiveHeapBytes();
  bool all_ok = true;
  for (const std::string& c : chunks) all_ok = in.Add(c, kNow).ok() && all_ok;
  long long held = testing::LiveHeapBytes() - before;
  int dropped = in.ExpireOlderThan(kNow + absl::Seconds(1));
  long long after = testing::LiveHeapBytes() - before;

  ASSERT_TRUE(all_ok);
  EXPECT_GE(held, 8 * 60000);
  EXPECT_EQ(dropped, 8);
  EXPECT_EQ(in.partial_messages(), 0u);
  EXPECT_EQ(in.pending_bytes(), 0u);
  EXPECT_EQ(after, 0);  // Every byte allocated for the partial messages is free again.
}

}  // namespace
}  // namespace edge::alwayson

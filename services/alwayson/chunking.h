// Multipart messages (shared/specs/alwayson-protocol.md, "Multipart (chunking)"): splitting a
// message into chunks that fit `message_chunk_size`, and reassembling received chunks.
//
//   auto chunks = SplitIntoChunks(*EncodeMessage(big), 8192, /*deflate=*/true);
//   Reassembler in(Limits{});
//   for (auto& c : *chunks) if (auto whole = in.Add(c, now); whole.ok() && *whole) ...
#ifndef SERVICES_ALWAYSON_CHUNKING_H_
#define SERVICES_ALWAYSON_CHUNKING_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/alwayson/message.h"

namespace edge::alwayson {

// Per-chunk overhead besides the slice: header (15) + number, count, size (6).
inline constexpr size_t kChunkOverhead = 21;

// `encoded`: one whole message (EncodeMessage). Returns it unchanged when its body plus 21
// bytes fits `chunk_size`, else its chunks. kInvalidArgument when the chunk size leaves no
// room for a slice, or more than 65535 chunks would be needed.
absl::StatusOr<std::vector<std::string>> SplitIntoChunks(absl::string_view encoded,
                                                         size_t chunk_size, bool deflate);

// What the Reassembler charges per stored chunk on top of its slice: an estimate of the map
// node and string that hold it, so that a flood of tiny slices is bounded as well as one of
// large slices.
inline constexpr size_t kStoredChunkOverhead = 96;

// Collects chunks by request id and returns each message once all its chunks are in.
//
// A peer decides what it sends, so every chunk is checked before its slice is stored (spec,
// "Multipart (chunking)"; each refusal says which limit, what was expected and what came):
// - chunk count at least 1, chunk number 1 to the count;
// - the declared chunk size (the sender's `ws_connection.message_chunk_size`) at most
//   `Limits::max_message_size` (`ws_connection.max_msg_size`), and count x chunk size too;
// - the slice at most what the chunk size leaves after the chunk headers: chunk size - 21 -
//   (requests: 2 + entity name length); so the whole message stays within max_msg_size;
// - the same count, size, code, session and entity as the message's earlier chunks, and a
//   chunk number not seen before;
// - at most `max_partial_messages` partial messages, and at most `max_pending_bytes` bytes
//   held for all of them together (slices, entities, kStoredChunkOverhead per chunk).
// Memory: at most about max_pending_bytes for partial messages, plus the one message being
// assembled. Nothing is reserved from peer-declared numbers; a dropped, expired or completed
// message gives back its bytes at once.
// Not thread-safe: one per connection.
class Reassembler {
 public:
  // `max_pending_bytes` unset: DefaultMaxPendingBytes(limits).
  explicit Reassembler(Limits limits, size_t max_partial_messages = 64,
                       std::optional<size_t> max_pending_bytes = std::nullopt)
      : limits_(limits),
        max_partial_(max_partial_messages),
        max_pending_bytes_(max_pending_bytes.value_or(DefaultMaxPendingBytes(limits))) {}

  // 4 x max_msg_size (4 MiB by default): two whole messages of max_msg_size in flight at
  // once (a platform may interleave them), each with room for its per-chunk bookkeeping.
  static size_t DefaultMaxPendingBytes(const Limits& limits) {
    return 4 * limits.max_message_size;
  }

  // A chunk (multipart = 1). Returns the whole message when this was its last missing chunk,
  // nullopt when more are needed. A refused chunk is never stored. Errors:
  // - kInvalidArgument: a malformed chunk (nothing else changes); or one over a size limit
  //   above, or one that contradicts its siblings: its partial message (if any) is dropped.
  // - kResourceExhausted: max_partial_messages or max_pending_bytes would be passed; a
  //   partial message that this chunk belonged to is dropped (it can no longer complete).
  // Messages name the request id, the chunk number and numbers, never payload bytes.
  absl::StatusOr<std::optional<std::string>> Add(absl::string_view chunk, absl::Time now);

  // Drops partial messages whose first chunk arrived before `cutoff` and frees what they
  // held; returns how many.
  int ExpireOlderThan(absl::Time cutoff);
  size_t partial_messages() const { return partial_.size(); }
  // Bytes held for partial messages now, as charged against max_pending_bytes.
  size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct Partial {
    Header header;
    uint16_t count = 0;
    uint16_t size = 0;
    std::string entity;  // Requests: entity type and name as encoded; else empty.
    std::map<uint16_t, std::string> slices;
    size_t slice_bytes = 0;  // Sum of the slices' sizes.
    size_t charged = 0;      // What this message adds to pending_bytes_.
    absl::Time first_seen;
  };
  // The fields every chunk carries before its slice.
  struct ChunkFields {
    Header header;
    uint16_t number = 0;
    uint16_t count = 0;
    uint16_t size = 0;
    std::string entity;
    size_t headers_size = 0;  // What the spec's slice rule subtracts from the chunk size.
    absl::string_view slice;
  };

  absl::StatusOr<ChunkFields> Parse(absl::string_view chunk) const;
  absl::Status CheckDeclaredSizes(const ChunkFields& c) const;
  static absl::Status CheckSlice(const ChunkFields& c);
  static absl::Status CheckSameMessage(const ChunkFields& c, const Partial& p);
  absl::Status CheckRoom(const ChunkFields& c, const Partial* p, size_t charge) const;
  absl::Status Refuse(const ChunkFields& c, absl::Status why);
  void Erase(std::map<uint32_t, Partial>::iterator it);
  static std::string Assemble(Partial& p);

  Limits limits_;
  size_t max_partial_;
  size_t max_pending_bytes_;
  size_t pending_bytes_ = 0;
  std::map<uint32_t, Partial> partial_;
};

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_CHUNKING_H_

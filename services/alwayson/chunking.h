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

// Collects chunks by request id and returns each message once all its chunks are in.
// Not thread-safe: one per connection.
class Reassembler {
 public:
  explicit Reassembler(Limits limits, size_t max_partial_messages = 64)
      : limits_(limits), max_partial_(max_partial_messages) {}

  // A chunk (multipart = 1). Returns the whole message when this was its last missing chunk,
  // nullopt when more are needed. kInvalidArgument for a malformed chunk or one that
  // contradicts its siblings (its partial message is dropped).
  absl::StatusOr<std::optional<std::string>> Add(absl::string_view chunk, absl::Time now);

  // Drops partial messages whose first chunk arrived before `cutoff`; returns how many.
  int ExpireOlderThan(absl::Time cutoff);
  size_t partial_messages() const { return partial_.size(); }

 private:
  struct Partial {
    Header header;
    uint16_t count = 0;
    uint16_t size = 0;
    std::optional<std::pair<uint8_t, std::string>> entity;
    std::map<uint16_t, std::string> slices;
    absl::Time first_seen;
  };

  Limits limits_;
  size_t max_partial_;
  std::map<uint32_t, Partial> partial_;
};

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_CHUNKING_H_

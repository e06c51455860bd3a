// Fuzz target: AlwaysOn decoding, chunk reassembly and the REST JSON infotable form must
// turn any bytes into a value or an error: no crash, no unbounded recursion or allocation;
// and a name the entity-name rules accept holds nothing that could leave its place.
#include <cstddef>
#include <cstdint>

#include "services/alwayson/chunking.h"
#include "services/alwayson/entity_name.h"
#include "services/alwayson/json_infotable.h"
#include "services/alwayson/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edge::alwayson;
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_message_size = 65536;
  auto message = DecodeMessage(in, limits);
  if (message.ok()) {
    auto again = EncodeMessage(*message);  // What decodes must encode.
    if (again.ok()) (void)SplitIntoChunks(*again, 512, true);
  }
  Reassembler reassembler(limits, 4);
  // The input as a sequence of chunks, split at 0xFE bytes.
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\xFE') {
      (void)reassembler.Add(in.substr(start, i - start), absl::UnixEpoch());
      start = i + 1;
    }
  }
  (void)InfoTableFromJson(in);
  // A name the rules accept can stand as one HTTP path segment and in a log line.
  if (CheckThingName(in, "name").ok()) {
    for (char c : in) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '/' || c == '\\' || c == '%' ||
          c == '?' || c == '#' || c == 0x7F) {
        __builtin_trap();
      }
    }
    if (in.size() > 4 * kMaxNameCharacters) __builtin_trap();
  }
  return 0;
}

// Fuzz target: whatever a local gRPC caller sends as an infotable converts to an AlwaysOn
// infotable or a clear error, and what converts encodes on the wire.
#include <cstdint>

#include "proto/edge/v1/edge_proto.h"
#include "services/alwayson/primitives.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ::edge::v1::InfoTable table;
  if (!table.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto converted = edge::edge_api::FromProto(table, "table");
  if (!converted.ok()) return 0;
  edge::alwayson::Writer w;
  (void)edge::alwayson::EncodeInfoTable(w, *converted);
  auto back = edge::edge_api::FromProto(edge::edge_api::ToProto(*converted), "table");
  if (!back.ok()) __builtin_trap();  // What we produce, we accept.
  return 0;
}

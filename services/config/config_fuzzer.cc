// Fuzz target: the configuration loader must turn any bytes into diagnostics, never a
// crash, a hang or unbounded recursion.
#include <cstddef>
#include <cstdint>

#include "services/config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edge::config::Config config;
  edge::config::CheckConfigText(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz", "/nonexistent",
      &config, /*check_files=*/false);
  return 0;
}

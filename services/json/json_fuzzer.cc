// Fuzz target: the strict JSON reader turns any bytes into a value or an error, and what it
// accepts holds its promises: every string valid UTF-8, every number finite, no member name
// twice in an object; writing it and reading that back gives the same text again.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "services/json/json.h"

namespace {

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < n; ++k) {
      unsigned b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
    i += n;
  }
  return true;
}

void Check(const edge::json::Value& v) {
  if (v.is_number() && !std::isfinite(v.number())) std::abort();
  if (v.is_string() && !ValidUtf8(v.str())) std::abort();
  if (v.is_array()) {
    for (const auto& item : v.array()) Check(item);
  }
  if (v.is_object()) {
    std::set<std::string> names;
    for (const auto& [name, item] : v.object()) {
      if (!ValidUtf8(name) || !names.insert(name).second) std::abort();
      Check(item);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  edge::json::ParseError error;
  auto v = edge::json::Parse(text, edge::json::kDefaultMaxDepth, &error);
  if (!v.ok()) {
    if (error.offset > size) std::abort();
    return 0;
  }
  Check(*v);
  std::string written = edge::json::Write(*v);
  auto again = edge::json::Parse(written, edge::json::kDefaultMaxDepth + 1);
  if (!again.ok() || edge::json::Write(*again) != written) std::abort();
  return 0;
}

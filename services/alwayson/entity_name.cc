#include "services/alwayson/entity_name.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace edge::alwayson {
namespace {

// One UTF-8 sequence at text[*i] (RFC 3629 section 4: shortest form, no surrogates, at
// most U+10FFFF); advances *i past it. false when the bytes are not one.
bool NextCodePoint(absl::string_view text, size_t* i, uint32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(*i);
  size_t len = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3
             : (b0 & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || *i + len > text.size()) return false;
  uint32_t v = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) return false;
    v = (v << 6) | (byte(*i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
  *i += len;
  *cp = v;
  return true;
}

// How the name may be shown in a message: quoted when short and printable ASCII.
std::string Shown(absl::string_view name) {
  if (name.size() > 64) return absl::StrCat("a name of ", name.size(), " bytes");
  for (char c : name) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) return "a name with unprintable bytes";
  }
  return absl::StrCat("\"", name, "\"");
}

absl::Status Bad(absl::string_view what, absl::string_view expected, absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": expected ", expected, ", found ", Shown(name)));
}

absl::Status CheckName(absl::string_view name, absl::string_view what) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": expected a name, found none"));
  size_t characters = 0;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp;
    if (!NextCodePoint(name, &i, &cp)) return Bad(what, "a name in UTF-8", name);
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
      return Bad(what, "a name without control characters", name);
    }
    if (cp < 0x80 && absl::StrContains("+/:*\"<>\\%?#", static_cast<char>(cp))) {
      return Bad(what, "a name without + / : * \" < > \\ % ? #", name);
    }
    if (cp == ' ' && i < name.size() && name[i] == ' ') {
      return Bad(what, "a name without two spaces in a row", name);
    }
    ++characters;
  }
  if (characters > kMaxNameCharacters) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected at most ", kMaxNameCharacters,
                                                   " characters, found ", characters));
  }
  for (char edge : {name.front(), name.back()}) {
    if (edge == ' ' || edge == '-' || edge == '.') {
      return Bad(what, "a name that does not begin or end with a space, '-' or '.'", name);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckThingName(absl::string_view name, absl::string_view what) {
  if (absl::Status s = CheckName(name, what); !s.ok()) return s;
  if (absl::EqualsIgnoreCase(name, "me")) {
    return Bad(what, "a name other than the reserved keyword \"me\"", name);
  }
  return absl::OkStatus();
}

absl::Status CheckCharacteristicName(absl::string_view name, absl::string_view what) {
  return CheckName(name, what);
}

}  // namespace edge::alwayson

#include "services/trust/public_suffix.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace edge::trust {
namespace {

bool DecodeUtf8(absl::string_view s, std::vector<uint32_t>* out) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      cp = c, extra = 0;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F, extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F, extra = 2;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07, extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size() && extra > 0) return false;
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out->push_back(cp);
    i += extra + 1;
  }
  return true;
}

// RFC 3492 6.1.
uint32_t Adapt(uint32_t delta, uint32_t numpoints, bool first) {
  constexpr uint32_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700;
  delta = first ? delta / kDamp : delta / 2;
  delta += delta / numpoints;
  uint32_t k = 0;
  while (delta > ((kBase - kTmin) * kTmax) / 2) {
    delta /= kBase - kTmin;
    k += kBase;
  }
  return k + (kBase - kTmin + 1) * delta / (delta + kSkew);
}

char Digit(uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }

// RFC 3492 6.3, without the overflow cases (labels are at most 63 octets).
std::string Punycode(const std::vector<uint32_t>& input) {
  constexpr uint32_t kBase = 36, kTmin = 1, kTmax = 26;
  std::string out;
  for (uint32_t cp : input) {
    if (cp < 0x80) out.push_back(static_cast<char>(cp));
  }
  uint32_t b = static_cast<uint32_t>(out.size());
  uint32_t h = b;
  if (b > 0) out.push_back('-');
  uint32_t n = 0x80, delta = 0, bias = 72;
  while (h < input.size()) {
    uint32_t m = UINT32_MAX;
    for (uint32_t cp : input) {
      if (cp >= n && cp < m) m = cp;
    }
    delta += (m - n) * (h + 1);
    n = m;
    for (uint32_t cp : input) {
      if (cp < n) ++delta;
      if (cp == n) {
        uint32_t q = delta;
        for (uint32_t k = kBase;; k += kBase) {
          uint32_t t = k <= bias ? kTmin : (k >= bias + kTmax ? kTmax : k - bias);
          if (q < t) break;
          out.push_back(Digit(t + (q - t) % (kBase - t)));
          q = (q - t) / (kBase - t);
        }
        out.push_back(Digit(q));
        bias = Adapt(delta, h + 1, h == b);
        delta = 0;
        ++h;
      }
    }
    ++delta;
    ++n;
  }
  return out;
}

}  // namespace

std::optional<std::string> ToALabel(absl::string_view utf8) {
  std::vector<uint32_t> cps;
  if (!DecodeUtf8(utf8, &cps)) return std::nullopt;
  bool ascii = true;
  for (uint32_t cp : cps) ascii = ascii && cp < 0x80;
  if (ascii) return absl::AsciiStrToLower(utf8);
  return "xn--" + Punycode(cps);
}

PublicSuffixList PublicSuffixList::Parse(absl::string_view dat) {
  PublicSuffixList list;
  for (absl::string_view line : absl::StrSplit(dat, '\n')) {
    // A rule is the line's first whitespace-separated token.
    line = absl::StripAsciiWhitespace(line);
    size_t space = line.find_first_of(" \t");
    if (space != absl::string_view::npos) line = line.substr(0, space);
    if (line.empty() || absl::StartsWith(line, "//")) continue;
    bool exception = absl::ConsumePrefix(&line, "!");
    bool wildcard = absl::ConsumePrefix(&line, "*.");
    std::vector<std::string> labels;
    bool ok = !line.empty();
    for (absl::string_view label : absl::StrSplit(line, '.')) {
      auto a = ToALabel(label);
      if (!a || a->empty()) {
        ok = false;
        break;
      }
      labels.push_back(*a);
    }
    if (!ok) continue;
    std::string rule = absl::StrJoin(labels, ".");
    if (exception) {
      list.exception_.insert(std::move(rule));
    } else if (wildcard) {
      list.wildcard_.insert(std::move(rule));
    } else {
      list.exact_.insert(std::move(rule));
    }
  }
  list.loaded_ = true;
  return list;
}

const PublicSuffixList& PublicSuffixList::Default() {
  static const PublicSuffixList* const kDefault = [] {
    std::ifstream in(kDebianPath, std::ios::binary);
    if (!in) return new PublicSuffixList();
    std::stringstream text;
    text << in.rdbuf();
    return new PublicSuffixList(Parse(text.str()));
  }();
  return *kDefault;
}

bool PublicSuffixList::IsPublicSuffix(absl::string_view domain) const {
  std::string d = absl::AsciiStrToLower(domain);
  if (d.empty()) return false;
  if (exception_.count(d) != 0) return false;
  if (exact_.count(d) != 0) return true;
  size_t dot = d.find('.');
  if (dot == std::string::npos) return true;  // The implicit rule "*".
  return wildcard_.count(d.substr(dot + 1)) != 0;
}

}  // namespace edge::trust

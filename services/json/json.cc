#include "services/json/json.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edge::json {
namespace {

// How much of a member name or a number's text an error message repeats.
constexpr size_t kMaxEchoedBytes = 64;

// At most `limit` bytes of UTF-8 `s`, cut at a character boundary, "..." when shortened.
std::string Abbreviated(absl::string_view s, size_t limit) {
  if (s.size() <= limit) return std::string(s);
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(s.substr(0, end), "...");
}

// Objects up to this size are checked for repeated names pairwise; larger ones with a hash
// set, so that the check stays linear in the object's size.
constexpr size_t kPairwiseNameCheck = 8;

// Indices into an object under construction, hashed and compared by member name.
class NameIndex {
 public:
  explicit NameIndex(const Object* members)
      : set_(16, Hash{members}, Equal{members}) {}
  // False when the name of members[i] is already in the index.
  bool Insert(size_t i) { return set_.insert(i).second; }

 private:
  struct Hash {
    const Object* members;
    size_t operator()(size_t i) const { return std::hash<std::string>()((*members)[i].first); }
  };
  struct Equal {
    const Object* members;
    bool operator()(size_t a, size_t b) const { return (*members)[a].first == (*members)[b].first; }
  };
  std::unordered_set<size_t, Hash, Equal> set_;
};

// The length of the UTF-8 sequence at s[pos] (RFC 3629 section 4: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 with *found saying what is there instead.
size_t Utf8SequenceAt(absl::string_view s, size_t pos, std::string* found) {
  auto byte = [&](size_t i) -> unsigned {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0x100;
  };
  unsigned lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned low = 0x80, high = 0xBF;  // Allowed range of the second byte.
  const char* second_problem = "";
  if (lead <= 0xBF) {
    *found = absl::StrFormat("byte 0x%02X (a continuation byte without a lead byte)", lead);
    return 0;
  } else if (lead == 0xC0 || lead == 0xC1) {
    *found = absl::StrFormat("byte 0x%02X (an overlong encoding)", lead);
    return 0;
  } else if (lead <= 0xDF) {
    length = 2;
  } else if (lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0, second_problem = "an overlong encoding";
    if (lead == 0xED) high = 0x9F, second_problem = "a UTF-16 surrogate, U+D800..U+DFFF";
  } else if (lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90, second_problem = "an overlong encoding";
    if (lead == 0xF4) high = 0x8F, second_problem = "above U+10FFFF";
  } else {
    *found = absl::StrFormat("byte 0x%02X (no UTF-8 sequence starts with it: above U+10FFFF)",
                             lead);
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    unsigned b = byte(i);
    if (b == 0x100) {
      *found = absl::StrFormat("byte 0x%02X, then the end (an incomplete sequence)", lead);
      return 0;
    }
    if (b < 0x80 || b > 0xBF) {
      *found = absl::StrFormat("byte 0x%02X, then 0x%02X (an incomplete sequence)", lead, b);
      return 0;
    }
    if (i == 1 && (b < low || b > high)) {
      *found = absl::StrFormat("bytes 0x%02X 0x%02X (%s)", lead, b, second_problem);
      return 0;
    }
  }
  return length;
}

class Parser {
 public:
  Parser(absl::string_view text, int max_depth, ParseError* error)
      : s_(text), max_depth_(max_depth), error_(error) {}

  absl::StatusOr<Value> Document() {
    auto v = Parse(0);
    if (!v.ok()) return v;
    Skip();
    if (pos_ != s_.size()) return Error("unexpected text after the JSON value");
    return v;
  }

 private:
  // One step of the path to the value being read: a member name, or an array index.
  struct Step {
    const std::string* name = nullptr;  // Null for an array element.
    size_t index = 0;
  };

  std::string Path() const {
    std::string out;
    for (const Step& step : path_) {
      if (step.name == nullptr) {
        absl::StrAppend(&out, "[", step.index, "]");
      } else {
        absl::StrAppend(&out, out.empty() ? "" : ".", Abbreviated(*step.name, kMaxEchoedBytes));
      }
    }
    return out;
  }

  // A problem in the document's structure: where, by offset.
  absl::Status Error(absl::string_view what) const { return Fail(pos_, "", what); }
  // A problem in a value or a member name: where, by offset and by member path.
  absl::Status ValueError(size_t offset, absl::string_view what) const {
    return Fail(offset, Path(), what);
  }
  absl::Status Fail(size_t offset, std::string path, absl::string_view what) const {
    std::string message = path.empty()
                              ? absl::StrCat("JSON at offset ", offset, ": ", what)
                              : absl::StrCat(path, ": ", what, " (JSON at offset ", offset, ")");
    if (error_ != nullptr) *error_ = ParseError{offset, std::move(path), std::string(what)};
    return absl::InvalidArgumentError(message);
  }

  void Skip() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(absl::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::StatusOr<Value> Parse(int depth) {
    if (depth > max_depth_) return Error("nested too deeply");
    Skip();
    if (pos_ >= s_.size()) return Error("expected a value, found the end");
    char c = s_[pos_];
    if (c == '{') return ParseObject(depth);
    if (c == '[') return ParseArray(depth);
    if (c == '"') {
      auto str = ParseString("");
      if (!str.ok()) return str.status();
      return Value::String(*std::move(str));
    }
    if (Consume("true")) return Value::Bool(true);
    if (Consume("false")) return Value::Bool(false);
    if (Consume("null")) return Value{};
    return ParseNumber();
  }

  absl::StatusOr<Value> ParseNumber() {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t n = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_, ++n;
      return n;
    };
    if (digits() == 0) return ValueError(start, "expected a value");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return ValueError(start, "expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return ValueError(start, "expected digits in the exponent");
    }
    absl::string_view text = s_.substr(start, pos_ - start);
    double d = std::strtod(std::string(text).c_str(), nullptr);
    // Too large for a double: strtod says infinity, which JSON cannot express and the
    // platform must not receive. (Too small rounds towards 0, as every reader does.)
    if (!std::isfinite(d)) {
      return ValueError(start, absl::StrCat("expected a number a double can hold (magnitude at "
                                            "most 1.7976931348623157e308), found ",
                                            Abbreviated(text, kMaxEchoedBytes)));
    }
    return Value::Number(d);
  }

  // The length of the UTF-8 sequence at pos_, or an error saying what is wrong with it.
  absl::StatusOr<size_t> Utf8Sequence(absl::string_view what) {
    std::string found;
    size_t length = Utf8SequenceAt(s_, pos_, &found);
    if (length == 0) return Utf8Error(what, found);
    return length;
  }
  absl::Status Utf8Error(absl::string_view what, absl::string_view found) const {
    return ValueError(pos_, absl::StrCat("expected UTF-8 text", what, ", found ", found));
  }

  // A string at pos_ (its opening quote). `what` is " in a member name" for names.
  absl::StatusOr<std::string> ParseString(absl::string_view what) {
    size_t start = pos_;
    ++pos_;  // The opening quote.
    std::string out;
    while (pos_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c >= 0x80) {
        auto length = Utf8Sequence(what);
        if (!length.ok()) return length.status();
        out.append(s_.data() + pos_, *length);
        pos_ += *length;
        continue;
      }
      ++pos_;
      if (c == '"') return out;
      if (c < 0x20) return ValueError(pos_ - 1, "control character in a string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          size_t escape = pos_ - 2;
          auto cp = Hex4();
          if (!cp.ok()) return cp.status();
          uint32_t code = *cp;
          if (code >= 0xD800 && code < 0xDC00) {
            if (!Consume("\\u")) return ValueError(escape, "unpaired UTF-16 surrogate");
            auto low = Hex4();
            if (!low.ok()) return low.status();
            if (*low < 0xDC00 || *low >= 0xE000) {
              return ValueError(escape, "unpaired UTF-16 surrogate");
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            return ValueError(escape, "unpaired UTF-16 surrogate");
          }
          AppendUtf8(code, &out);
          break;
        }
        default: return ValueError(pos_ - 2, "unknown escape in a string");
      }
    }
    return ValueError(start, "unterminated string");
  }

  absl::StatusOr<uint32_t> Hex4() {
    if (pos_ + 4 > s_.size()) return ValueError(pos_, "short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return ValueError(pos_ - 1, "bad \\u escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  absl::StatusOr<Value> ParseArray(int depth) {
    ++pos_;
    Array items;
    Skip();
    if (Consume("]")) return Value::MakeArray(std::move(items));
    for (;;) {
      path_.push_back(Step{nullptr, items.size()});
      auto item = Parse(depth + 1);
      path_.pop_back();
      if (!item.ok()) return item;
      items.push_back(*std::move(item));
      Skip();
      if (Consume("]")) return Value::MakeArray(std::move(items));
      if (!Consume(",")) return Error("expected ',' or ']'");
    }
  }

  absl::StatusOr<Value> ParseObject(int depth) {
    ++pos_;
    Object members;
    std::optional<NameIndex> names;
    Skip();
    if (Consume("}")) return Value::MakeObject(std::move(members));
    for (;;) {
      Skip();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Error("expected a member name");
      size_t key_offset = pos_;
      auto key = ParseString(" in a member name");
      if (!key.ok()) return key.status();
      Skip();
      if (!Consume(":")) return Error("expected ':'");
      path_.push_back(Step{&*key, 0});
      auto value = Parse(depth + 1);
      path_.pop_back();
      if (!value.ok()) return value;
      members.emplace_back(*std::move(key), *std::move(value));
      if (absl::Status s = CheckNameIsNew(members, &names, key_offset); !s.ok()) return s;
      Skip();
      if (Consume("}")) return Value::MakeObject(std::move(members));
      if (!Consume(",")) return Error("expected ',' or '}'");
    }
  }

  // The last member's name must not be an earlier one's.
  absl::Status CheckNameIsNew(const Object& members, std::optional<NameIndex>* names,
                              size_t offset) const {
    size_t last = members.size() - 1;
    bool repeated = false;
    if (members.size() <= kPairwiseNameCheck) {
      for (size_t i = 0; i < last && !repeated; ++i) {
        repeated = members[i].first == members[last].first;
      }
    } else {
      if (!names->has_value()) {
        names->emplace(&members);
        for (size_t i = 0; i < last; ++i) (*names)->Insert(i);
      }
      repeated = !(*names)->Insert(last);
    }
    if (!repeated) return absl::OkStatus();
    return ValueError(offset, absl::StrCat("expected each member name once in an object, found \"",
                                           Abbreviated(members[last].first, kMaxEchoedBytes),
                                           "\" again"));
  }

  absl::string_view s_;
  size_t pos_ = 0;
  int max_depth_;
  ParseError* error_;
  std::vector<Step> path_;
};

void WriteString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          *out += absl::StrFormat("\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void WriteValue(const Value& v, std::string* out) {
  if (v.is_null()) {
    *out += "null";
  } else if (v.is_bool()) {
    *out += v.boolean() ? "true" : "false";
  } else if (v.is_number()) {
    double d = v.number();
    if (!std::isfinite(d)) {
      *out += "null";
    } else if (d == std::floor(d) && std::fabs(d) < 1e15) {
      *out += absl::StrFormat("%.0f", d);
    } else {
      *out += absl::StrFormat("%.17g", d);
    }
  } else if (v.is_string()) {
    WriteString(v.str(), out);
  } else if (v.is_array()) {
    out->push_back('[');
    bool first = true;
    for (const Value& item : v.array()) {
      if (!first) out->push_back(',');
      first = false;
      WriteValue(item, out);
    }
    out->push_back(']');
  } else {
    out->push_back('{');
    bool first = true;
    for (const auto& [key, item] : v.object()) {
      if (!first) out->push_back(',');
      first = false;
      WriteString(key, out);
      out->push_back(':');
      WriteValue(item, out);
    }
    out->push_back('}');
  }
}

}  // namespace

absl::Status CheckUtf8(absl::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    std::string found;
    size_t length = Utf8SequenceAt(text, pos, &found);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected UTF-8 text, found ", found, " at byte ", pos));
    }
    pos += length;
  }
  return absl::OkStatus();
}

const Value* Value::Find(absl::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

const char* Value::Kind() const {
  switch (v.index()) {
    case 0: return "null";
    case 1: return "a boolean";
    case 2: return "a number";
    case 3: return "a string";
    case 4: return "an array";
    default: return "an object";
  }
}

absl::StatusOr<Value> Parse(absl::string_view text, int max_depth, ParseError* error) {
  return Parser(text, max_depth, error).Document();
}

std::string Write(const Value& value) {
  std::string out;
  WriteValue(value, &out);
  return out;
}

}  // namespace edge::json

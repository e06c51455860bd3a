#include "services/json/json.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edge::json {
namespace {

class Parser {
 public:
  Parser(absl::string_view text, int max_depth) : s_(text), max_depth_(max_depth) {}

  absl::StatusOr<Value> Document() {
    auto v = Parse(0);
    if (!v.ok()) return v;
    Skip();
    if (pos_ != s_.size()) return Error("unexpected text after the JSON value");
    return v;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("JSON at offset ", pos_, ": ", what));
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
      auto str = ParseString();
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
    if (digits() == 0) return Error("expected a value");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Error("expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Error("expected digits in the exponent");
    }
    std::string text(s_.substr(start, pos_ - start));
    return Value::Number(std::strtod(text.c_str(), nullptr));
  }

  absl::StatusOr<std::string> ParseString() {
    ++pos_;  // The opening quote.
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        out.push_back(c);
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
          auto cp = Hex4();
          if (!cp.ok()) return cp.status();
          uint32_t code = *cp;
          if (code >= 0xD800 && code < 0xDC00) {
            if (!Consume("\\u")) return Error("unpaired UTF-16 surrogate");
            auto low = Hex4();
            if (!low.ok()) return low.status();
            if (*low < 0xDC00 || *low >= 0xE000) return Error("unpaired UTF-16 surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            return Error("unpaired UTF-16 surrogate");
          }
          AppendUtf8(code, &out);
          break;
        }
        default: return Error("unknown escape in a string");
      }
    }
    return Error("unterminated string");
  }

  absl::StatusOr<uint32_t> Hex4() {
    if (pos_ + 4 > s_.size()) return Error("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return Error("bad \\u escape");
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
      auto item = Parse(depth + 1);
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
    Skip();
    if (Consume("}")) return Value::MakeObject(std::move(members));
    for (;;) {
      Skip();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Error("expected a member name");
      auto key = ParseString();
      if (!key.ok()) return key.status();
      Skip();
      if (!Consume(":")) return Error("expected ':'");
      auto value = Parse(depth + 1);
      if (!value.ok()) return value;
      members.emplace_back(*std::move(key), *std::move(value));
      Skip();
      if (Consume("}")) return Value::MakeObject(std::move(members));
      if (!Consume(",")) return Error("expected ',' or '}'");
    }
  }

  absl::string_view s_;
  size_t pos_ = 0;
  int max_depth_;
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

absl::StatusOr<Value> Parse(absl::string_view text, int max_depth) {
  return Parser(text, max_depth).Document();
}

std::string Write(const Value& value) {
  std::string out;
  WriteValue(value, &out);
  return out;
}

}  // namespace edge::json

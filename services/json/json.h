// A small strict JSON (RFC 8259) reader and writer for the REST infotable form: objects
// keep their key order, numbers keep double precision, nesting is bounded.
//
//   json::ParseError where;
//   absl::StatusOr<json::Value> v = json::Parse(body, json::kDefaultMaxDepth, &where);
//   if (!v.ok() && !where.path.empty()) ...  // "Temperature: expected ..., found ..."
//
// Strict means: one value and nothing after it; every string is UTF-8 (RFC 8259 section 8.1,
// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), also after \u escapes;
// every number is one a double can hold (1e999 is refused, not read as infinity); no member
// name twice in one object (RFC 8259 leaves their meaning open: readers disagree on which
// one wins).
#ifndef SERVICES_JSON_JSON_H_
#define SERVICES_JSON_JSON_H_

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge::json {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;

struct Value {
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v = nullptr;

  bool is_null() const { return v.index() == 0; }
  bool is_bool() const { return v.index() == 1; }
  bool is_number() const { return v.index() == 2; }
  bool is_string() const { return v.index() == 3; }
  bool is_array() const { return v.index() == 4; }
  bool is_object() const { return v.index() == 5; }
  bool boolean() const { return std::get<bool>(v); }
  double number() const { return std::get<double>(v); }
  const std::string& str() const { return std::get<std::string>(v); }
  const Array& array() const { return *std::get<std::shared_ptr<Array>>(v); }
  const Object& object() const { return *std::get<std::shared_ptr<Object>>(v); }
  // The member `key` of an object, or nullptr. Linear in the object's size: to look up
  // many members of a large object, index it once instead.
  const Value* Find(absl::string_view key) const;
  // "a string", "a number", "an object"... for messages.
  const char* Kind() const;

  static Value Bool(bool b) { return Value{b}; }
  static Value Number(double d) { return Value{d}; }
  static Value String(std::string s) { return Value{std::move(s)}; }
  static Value MakeArray(Array a) { return Value{std::make_shared<Array>(std::move(a))}; }
  static Value MakeObject(Object o) { return Value{std::make_shared<Object>(std::move(o))}; }
};

inline constexpr int kDefaultMaxDepth = 64;

// Where and why a text is not JSON.
struct ParseError {
  size_t offset = 0;  // Byte offset of the problem.
  // The member path of the value or member name at fault when the problem is inside one
  // (a string, a number, a literal, a repeated name): "Temperature", "rows[0].name", "[2]";
  // empty for problems in the document's structure (a missing ',', nesting too deep) and at
  // the top level. Long member names are shortened.
  std::string path;
  std::string what;  // "expected ..., found ...".
};

// One JSON value. kInvalidArgument for anything else: "JSON at offset 4: expected ',' or
// ']'", or, when the problem is inside a member, "Temperature: expected a number a double
// can hold, found 1e999 (JSON at offset 16)". `error`, when given, receives the parts.
absl::StatusOr<Value> Parse(absl::string_view text, int max_depth = kDefaultMaxDepth,
                            ParseError* error = nullptr);
// OK when `text` is UTF-8 as Parse requires it of strings; otherwise kInvalidArgument
// "expected UTF-8 text, found byte 0xC0 (an overlong encoding) at byte 3".
absl::Status CheckUtf8(absl::string_view text);

// Compact JSON text. Non-finite numbers (which Parse never produces) are written as null.
std::string Write(const Value& value);

}  // namespace edge::json

#endif  // SERVICES_JSON_JSON_H_

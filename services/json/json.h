// A small strict JSON (RFC 8259) reader and writer for the REST infotable form: objects
// keep their key order, numbers keep double precision, nesting is bounded.
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
  // The member `key` of an object, or nullptr.
  const Value* Find(absl::string_view key) const;
  // "a string", "a number", "an object"... for messages.
  const char* Kind() const;

  static Value Bool(bool b) { return Value{b}; }
  static Value Number(double d) { return Value{d}; }
  static Value String(std::string s) { return Value{std::move(s)}; }
  static Value MakeArray(Array a) { return Value{std::make_shared<Array>(std::move(a))}; }
  static Value MakeObject(Object o) { return Value{std::make_shared<Object>(std::move(o))}; }
};

// kInvalidArgument with the byte offset for anything that is not one JSON value.
absl::StatusOr<Value> Parse(absl::string_view text, int max_depth = 64);
std::string Write(const Value& value);

}  // namespace edge::json

#endif  // SERVICES_JSON_JSON_H_

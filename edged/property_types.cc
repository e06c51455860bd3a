#include "edged/property_types.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace edge::edged {
namespace {

using alwayson::BaseType;
using alwayson::Value;

absl::string_view TypeName(BaseType type) {
  return alwayson::BaseTypeName(static_cast<uint8_t>(type)).value_or("an unnamed type");
}

bool IsWholeNumber(double v, double lo, double hi) {
  return std::isfinite(v) && std::floor(v) == v && v >= lo && v <= hi;
}

// `value` as a `declared` value when that loses nothing; nullopt otherwise.
std::optional<Value> Convert(const Value& value, BaseType declared) {
  BaseType given = value.type();
  if (given == declared || declared == BaseType::kVariant) return value;
  if (given == BaseType::kString && alwayson::IsStringType(declared)) {
    return Value::String(value.str(), declared);
  }
  if (given == BaseType::kNumber && declared == BaseType::kInteger &&
      IsWholeNumber(value.number(), INT32_MIN, INT32_MAX)) {
    return Value::Integer(static_cast<int32_t>(value.number()));
  }
  // The REST API's DATETIME is milliseconds since the epoch (json_infotable.h); 2^53 keeps
  // every such double exact.
  if (given == BaseType::kNumber && declared == BaseType::kDatetime &&
      IsWholeNumber(value.number(), -9007199254740992.0, 9007199254740992.0)) {
    return Value::Datetime(static_cast<int64_t>(value.number()));
  }
  if (given == BaseType::kInteger && declared == BaseType::kNumber) {
    return Value::Number(value.integer());
  }
  return std::nullopt;
}

}  // namespace

PropertyTypes::PropertyTypes(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

void PropertyTypes::Learn(const std::string& thing, const alwayson::InfoTable& answer) {
  absl::MutexLock lock(&mu_);
  for (const alwayson::FieldDefinition& field : answer.fields) {
    // NOTHING declares nothing (an empty read); names are bounded by the codec
    // (entity_name.h) before they get here.
    if (field.name.empty() || field.base_type == BaseType::kNothing) continue;
    Key key{thing, field.name};
    auto [it, inserted] = types_.insert_or_assign(key, field.base_type);
    if (!inserted) continue;
    bytes_ += 2 * (key.first.size() + key.second.size());  // In types_ and in order_.
    order_.push_back(std::move(key));
    while (types_.size() > max_entries_ || bytes_ > max_bytes_) ForgetOldest();
  }
}

void PropertyTypes::ForgetOldest() {
  const Key& oldest = order_.front();
  bytes_ -= 2 * (oldest.first.size() + oldest.second.size());
  types_.erase(oldest);
  order_.pop_front();
}

std::optional<BaseType> PropertyTypes::Find(const std::string& thing,
                                            const std::string& property) const {
  absl::MutexLock lock(&mu_);
  auto it = types_.find(Key{thing, property});
  if (it == types_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Value> PropertyTypes::Conform(const std::string& thing,
                                             const std::string& property, Value value) const {
  std::optional<BaseType> declared = Find(thing, property);
  if (!declared) return value;
  if (std::optional<Value> converted = Convert(value, *declared)) return *std::move(converted);
  return absl::InvalidArgumentError(absl::StrCat(
      "property \"", property, "\" of Thing \"", thing, "\" is ", TypeName(*declared),
      "; the value given is ", TypeName(value.type()),
      value.type() == BaseType::kNumber && *declared == BaseType::kInteger
          ? " (not a whole number in INTEGER's range)" : ""));
}

size_t PropertyTypes::size() const {
  absl::MutexLock lock(&mu_);
  return types_.size();
}

}  // namespace edge::edged

// AlwaysOn values: base types, typed values and the binary InfoTable with its data shape
// (shared/specs/alwayson-protocol.md, "Primitive encodings" and "InfoTable").
//
//   InfoTable t = InfoTable::SingleValue("Temperature", Value::Number(21.5));
//   Writer w;
//   EncodeInfoTable(w, t);
//   Reader r(w.data());
//   absl::StatusOr<InfoTable> back = DecodeInfoTable(r);
#ifndef SERVICES_ALWAYSON_VALUE_H_
#define SERVICES_ALWAYSON_VALUE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/alwayson/primitives.h"

namespace edge::alwayson {

enum class BaseType : uint8_t {
  kNothing = 0xFF,
  kString = 0, kNumber = 1, kBoolean = 2, kDatetime = 3, kTimespan = 4, kInfotable = 5,
  kLocation = 6, kXml = 7, kJson = 8, kQuery = 9, kImage = 10, kHyperlink = 11,
  kImagelink = 12, kPassword = 13, kHtml = 14, kText = 15, kTags = 16, kSchedule = 17,
  kVariant = 18, kGuid = 20, kBlob = 21, kInteger = 22,
  kPropertyName = 50, kServiceName = 51, kEventName = 52,
  kThingName = 100, kThingShapeName = 101, kThingTemplateName = 102, kDataShapeName = 104,
  kMashupName = 105, kMenuName = 106, kBaseTypeName = 107, kUserName = 108, kGroupName = 109,
  kCategoryName = 110, kStateDefinitionName = 111, kStyleDefinitionName = 112,
  kModelTagVocabularyName = 113, kDataTagVocabularyName = 114, kNetworkName = 115,
  kMediaEntityName = 116, kApplicationKeyName = 117, kLocalizationTableName = 118,
  kOrganizationName = 119, kDashboardName = 120,
};

// "NUMBER", "THINGNAME"...; nullopt for a code the spec does not list.
std::optional<absl::string_view> BaseTypeName(uint8_t code);
std::optional<BaseType> BaseTypeFromName(absl::string_view name);
// The UTF-8 string types: STRING, XML, JSON, QUERY, HYPERLINK, IMAGELINK, PASSWORD, HTML,
// TEXT, TAGS, GUID and every *NAME type.
bool IsStringType(BaseType type);

struct Location {
  double longitude = 0, latitude = 0, elevation = 0;
  bool operator==(const Location& o) const {
    return longitude == o.longitude && latitude == o.latitude && elevation == o.elevation;
  }
};

struct InfoTable;

// One value of a base type. Copyable; nested infotables and variants are shared.
class Value {
 public:
  Value() = default;  // NOTHING.
  static Value Nothing() { return Value(); }
  static Value String(std::string s, BaseType type = BaseType::kString);
  static Value Number(double v);
  static Value Integer(int32_t v);
  static Value Boolean(bool v);
  static Value Datetime(int64_t millis_since_epoch);
  static Value Loc(Location v);
  static Value Bytes(std::string bytes, BaseType type = BaseType::kBlob);  // BLOB or IMAGE.
  static Value Table(InfoTable table);
  static Value Variant(Value inner);

  BaseType type() const { return type_; }
  const std::string& str() const { return std::get<std::string>(v_); }  // Strings, bytes.
  double number() const { return std::get<double>(v_); }
  int32_t integer() const { return std::get<int32_t>(v_); }
  bool boolean() const { return std::get<bool>(v_); }
  int64_t datetime() const { return std::get<int64_t>(v_); }
  const Location& location() const { return std::get<Location>(v_); }
  const InfoTable& table() const { return *std::get<std::shared_ptr<const InfoTable>>(v_); }
  const Value& variant() const { return *std::get<std::shared_ptr<const Value>>(v_); }

  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  using Payload = std::variant<std::monostate, std::string, double, int32_t, bool, int64_t,
                               Location, std::shared_ptr<const InfoTable>,
                               std::shared_ptr<const Value>>;
  // For the factories above: `payload`'s alternative is the one `type` is read with.
  Value(BaseType type, Payload payload) : type_(type), v_(std::move(payload)) {}

  BaseType type_ = BaseType::kNothing;
  Payload v_;
};

struct FieldDefinition {
  std::string name;
  std::string description;
  BaseType base_type = BaseType::kString;
  std::vector<std::pair<std::string, Value>> aspects;  // In order.
  bool operator==(const FieldDefinition& o) const {
    return name == o.name && description == o.description && base_type == o.base_type &&
           aspects == o.aspects;
  }
};

struct InfoTable {
  std::vector<FieldDefinition> fields;   // The data shape, in order.
  std::vector<std::vector<Value>> rows;  // One value per field, in shape order.

  // One field named `name` of `value`'s type, one row: a property write or a single value.
  static InfoTable SingleValue(const std::string& name, Value value);
  // One row of named values, each field of its value's type: a service's parameters.
  static InfoTable OneRow(std::vector<std::pair<std::string, Value>> values);
  bool operator==(const InfoTable& o) const { return fields == o.fields && rows == o.rows; }
};

// How deep infotables may nest (in variants, rows and aspects) before decoding refuses.
inline constexpr int kMaxNesting = 16;

// The value alone, as its base type is written (no type byte).
absl::Status EncodeValue(Writer& w, const Value& value);
// A typed value: base type byte, then the value.
absl::Status EncodeTypedValue(Writer& w, const Value& value);
absl::Status EncodeInfoTable(Writer& w, const InfoTable& table);

absl::StatusOr<Value> DecodeValue(Reader& r, BaseType type, int depth = 0);
absl::StatusOr<Value> DecodeTypedValue(Reader& r, int depth = 0);
absl::StatusOr<InfoTable> DecodeInfoTable(Reader& r, int depth = 0);

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_VALUE_H_

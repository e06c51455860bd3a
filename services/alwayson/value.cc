#include "services/alwayson/value.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edge::alwayson {
namespace {

struct TypeName {
  BaseType type;
  absl::string_view name;
};

constexpr TypeName kTypeNames[] = {
    {BaseType::kNothing, "NOTHING"}, {BaseType::kString, "STRING"},
    {BaseType::kNumber, "NUMBER"}, {BaseType::kBoolean, "BOOLEAN"},
    {BaseType::kDatetime, "DATETIME"}, {BaseType::kTimespan, "TIMESPAN"},
    {BaseType::kInfotable, "INFOTABLE"}, {BaseType::kLocation, "LOCATION"},
    {BaseType::kXml, "XML"}, {BaseType::kJson, "JSON"}, {BaseType::kQuery, "QUERY"},
    {BaseType::kImage, "IMAGE"}, {BaseType::kHyperlink, "HYPERLINK"},
    {BaseType::kImagelink, "IMAGELINK"}, {BaseType::kPassword, "PASSWORD"},
    {BaseType::kHtml, "HTML"}, {BaseType::kText, "TEXT"}, {BaseType::kTags, "TAGS"},
    {BaseType::kSchedule, "SCHEDULE"}, {BaseType::kVariant, "VARIANT"},
    {BaseType::kGuid, "GUID"}, {BaseType::kBlob, "BLOB"}, {BaseType::kInteger, "INTEGER"},
    {BaseType::kPropertyName, "PROPERTYNAME"}, {BaseType::kServiceName, "SERVICENAME"},
    {BaseType::kEventName, "EVENTNAME"}, {BaseType::kThingName, "THINGNAME"},
    {BaseType::kThingShapeName, "THINGSHAPENAME"},
    {BaseType::kThingTemplateName, "THINGTEMPLATENAME"},
    {BaseType::kDataShapeName, "DATASHAPENAME"}, {BaseType::kMashupName, "MASHUPNAME"},
    {BaseType::kMenuName, "MENUNAME"}, {BaseType::kBaseTypeName, "BASETYPENAME"},
    {BaseType::kUserName, "USERNAME"}, {BaseType::kGroupName, "GROUPNAME"},
    {BaseType::kCategoryName, "CATEGORYNAME"},
    {BaseType::kStateDefinitionName, "STATEDEFINITIONNAME"},
    {BaseType::kStyleDefinitionName, "STYLEDEFINITIONNAME"},
    {BaseType::kModelTagVocabularyName, "MODELTAGVOCABULARYNAME"},
    {BaseType::kDataTagVocabularyName, "DATATAGVOCABULARYNAME"},
    {BaseType::kNetworkName, "NETWORKNAME"}, {BaseType::kMediaEntityName, "MEDIAENTITYNAME"},
    {BaseType::kApplicationKeyName, "APPLICATIONKEYNAME"},
    {BaseType::kLocalizationTableName, "LOCALIZATIONTABLENAME"},
    {BaseType::kOrganizationName, "ORGANIZATIONNAME"},
    {BaseType::kDashboardName, "DASHBOARDNAME"},
};

absl::Status Refuse(const Reader& r, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " at offset ", r.offset()));
}

}  // namespace

std::optional<absl::string_view> BaseTypeName(uint8_t code) {
  for (const TypeName& t : kTypeNames) {
    if (static_cast<uint8_t>(t.type) == code) return t.name;
  }
  return std::nullopt;
}

std::optional<BaseType> BaseTypeFromName(absl::string_view name) {
  for (const TypeName& t : kTypeNames) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

bool IsStringType(BaseType type) {
  switch (type) {
    case BaseType::kString: case BaseType::kXml: case BaseType::kJson: case BaseType::kQuery:
    case BaseType::kHyperlink: case BaseType::kImagelink: case BaseType::kPassword:
    case BaseType::kHtml: case BaseType::kText: case BaseType::kTags: case BaseType::kGuid:
      return true;
    default:
      return static_cast<uint8_t>(type) >= 50 && static_cast<uint8_t>(type) != 0xFF;
  }
}

Value Value::String(std::string s, BaseType type) { return Value(type, std::move(s)); }
Value Value::Number(double d) { return Value(BaseType::kNumber, d); }
Value Value::Integer(int32_t i) { return Value(BaseType::kInteger, i); }
Value Value::Boolean(bool b) { return Value(BaseType::kBoolean, b); }
Value Value::Datetime(int64_t ms) { return Value(BaseType::kDatetime, ms); }
Value Value::Loc(Location l) { return Value(BaseType::kLocation, l); }
Value Value::Bytes(std::string bytes, BaseType type) { return Value(type, std::move(bytes)); }
Value Value::Table(InfoTable table) {
  return Value(BaseType::kInfotable,
               std::shared_ptr<const InfoTable>(std::make_shared<InfoTable>(std::move(table))));
}
Value Value::Variant(Value inner) {
  return Value(BaseType::kVariant,
               std::shared_ptr<const Value>(std::make_shared<Value>(std::move(inner))));
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_ || v_.index() != o.v_.index()) return false;
  switch (v_.index()) {
    case 7: return table() == o.table();
    case 8: return variant() == o.variant();
    default: return v_ == o.v_;
  }
}

InfoTable InfoTable::SingleValue(const std::string& name, Value value) {
  InfoTable t;
  t.fields.push_back(FieldDefinition{name, "", value.type(), {}});
  t.rows.push_back({std::move(value)});
  return t;
}

InfoTable InfoTable::OneRow(std::vector<std::pair<std::string, Value>> values) {
  InfoTable t;
  t.rows.emplace_back();
  for (auto& [name, value] : values) {
    t.fields.push_back(FieldDefinition{name, "", value.type(), {}});
    t.rows[0].push_back(std::move(value));
  }
  return t;
}

absl::Status EncodeValue(Writer& w, const Value& v) {
  BaseType t = v.type();
  if (IsStringType(t)) {
    w.String(v.str());
    return absl::OkStatus();
  }
  switch (t) {
    case BaseType::kNothing: return absl::OkStatus();
    case BaseType::kNumber: w.Double(v.number()); return absl::OkStatus();
    case BaseType::kInteger: w.I32(v.integer()); return absl::OkStatus();
    case BaseType::kBoolean: w.U8(v.boolean() ? 1 : 0); return absl::OkStatus();
    case BaseType::kDatetime: w.U64(static_cast<uint64_t>(v.datetime())); return absl::OkStatus();
    case BaseType::kLocation:
      w.Double(v.location().longitude);
      w.Double(v.location().latitude);
      w.Double(v.location().elevation);
      return absl::OkStatus();
    case BaseType::kBlob:
    case BaseType::kImage: w.Blob(v.str()); return absl::OkStatus();
    case BaseType::kInfotable: return EncodeInfoTable(w, v.table());
    case BaseType::kVariant: return EncodeTypedValue(w, v.variant());
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "base type ", BaseTypeName(static_cast<uint8_t>(t)).value_or("?"),
          " has no wire form"));
  }
}

absl::Status EncodeTypedValue(Writer& w, const Value& v) {
  w.U8(static_cast<uint8_t>(v.type()));
  return EncodeValue(w, v);
}

absl::Status EncodeInfoTable(Writer& w, const InfoTable& t) {
  for (const FieldDefinition& f : t.fields) {
    w.U8(0x01);
    w.String(f.name);
    w.String(f.description);
    w.U8(static_cast<uint8_t>(f.base_type));
    w.U16(static_cast<uint16_t>(f.aspects.size()));
    for (const auto& [name, value] : f.aspects) {
      w.String(name);
      if (auto s = EncodeTypedValue(w, value); !s.ok()) return s;
    }
  }
  w.U8(0x00);
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const std::vector<Value>& row = t.rows[i];
    if (row.size() != t.fields.size()) {
      return absl::InvalidArgumentError(absl::StrCat("rows[", i, "]: expected ", t.fields.size(),
                                                     " values (the data shape), found ",
                                                     row.size()));
    }
    w.U8(0x01);
    w.U16(static_cast<uint16_t>(row.size()));
    for (const Value& v : row) {
      if (auto s = EncodeTypedValue(w, v); !s.ok()) return s;
    }
  }
  w.U8(0x00);
  return absl::OkStatus();
}

absl::StatusOr<Value> DecodeValue(Reader& r, BaseType t, int depth) {
  if (IsStringType(t)) {
    auto s = r.String("string value");
    if (!s.ok()) return s.status();
    return Value::String(*std::move(s), t);
  }
  switch (t) {
    case BaseType::kNothing: return Value::Nothing();
    case BaseType::kNumber: {
      auto d = r.Double("NUMBER value");
      if (!d.ok()) return d.status();
      return Value::Number(*d);
    }
    case BaseType::kInteger: {
      auto i = r.I32("INTEGER value");
      if (!i.ok()) return i.status();
      return Value::Integer(*i);
    }
    case BaseType::kBoolean: {
      auto b = r.U8("BOOLEAN value");
      if (!b.ok()) return b.status();
      return Value::Boolean(*b != 0);
    }
    case BaseType::kDatetime: {
      auto ms = r.U64("DATETIME value");
      if (!ms.ok()) return ms.status();
      return Value::Datetime(static_cast<int64_t>(*ms));
    }
    case BaseType::kLocation: {
      Location l;
      for (double* d : {&l.longitude, &l.latitude, &l.elevation}) {
        auto v = r.Double("LOCATION value");
        if (!v.ok()) return v.status();
        *d = *v;
      }
      return Value::Loc(l);
    }
    case BaseType::kBlob:
    case BaseType::kImage: {
      auto b = r.Blob("BLOB value");
      if (!b.ok()) return b.status();
      return Value::Bytes(*std::move(b), t);
    }
    case BaseType::kInfotable: {
      auto table = DecodeInfoTable(r, depth + 1);
      if (!table.ok()) return table.status();
      return Value::Table(*std::move(table));
    }
    case BaseType::kVariant: {
      auto inner = DecodeTypedValue(r, depth + 1);
      if (!inner.ok()) return inner.status();
      return Value::Variant(*std::move(inner));
    }
    default:
      return Refuse(r, absl::StrCat("base type ",
                                    BaseTypeName(static_cast<uint8_t>(t)).value_or("?"),
                                    " has no wire form"));
  }
}

absl::StatusOr<Value> DecodeTypedValue(Reader& r, int depth) {
  if (depth > kMaxNesting) {
    return Refuse(r, absl::StrCat("values nested more than ", kMaxNesting, " levels deep"));
  }
  size_t at = r.offset();
  auto code = r.U8("base type");
  if (!code.ok()) return code.status();
  if (!BaseTypeName(*code)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("base type 0x%02X at offset %d is not a known base type", *code, at));
  }
  return DecodeValue(r, static_cast<BaseType>(*code), depth);
}

absl::StatusOr<InfoTable> DecodeInfoTable(Reader& r, int depth) {
  if (depth > kMaxNesting) {
    return Refuse(r, absl::StrCat("infotables nested more than ", kMaxNesting, " levels deep"));
  }
  InfoTable t;
  for (;;) {
    size_t at = r.offset();
    auto marker = r.U8("data shape marker");
    if (!marker.ok()) return marker.status();
    if (*marker == 0x00) break;
    if (*marker != 0x01) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "data shape marker 0x%02X at offset %d: expected 0x01 (a field) or 0x00 (end)",
          *marker, at));
    }
    FieldDefinition f;
    auto name = r.String("field name");
    if (!name.ok()) return name.status();
    f.name = *std::move(name);
    auto description = r.String("field description");
    if (!description.ok()) return description.status();
    f.description = *std::move(description);
    size_t type_at = r.offset();
    auto type = r.U8("field base type");
    if (!type.ok()) return type.status();
    if (!BaseTypeName(*type)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "base type 0x%02X at offset %d (field \"%s\") is not a known base type", *type,
          type_at, f.name));
    }
    f.base_type = static_cast<BaseType>(*type);
    auto aspects = r.U16("aspect count");
    if (!aspects.ok()) return aspects.status();
    for (int i = 0; i < *aspects; ++i) {
      auto aspect_name = r.String("aspect name");
      if (!aspect_name.ok()) return aspect_name.status();
      auto value = DecodeTypedValue(r, depth + 1);
      if (!value.ok()) return value.status();
      f.aspects.emplace_back(*std::move(aspect_name), *std::move(value));
    }
    t.fields.push_back(std::move(f));
  }
  for (;;) {
    size_t at = r.offset();
    auto marker = r.U8("row marker");
    if (!marker.ok()) return marker.status();
    if (*marker == 0x00) break;
    if (*marker != 0x01) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "row marker 0x%02X at offset %d: expected 0x01 (a row) or 0x00 (end)", *marker, at));
    }
    size_t count_at = r.offset();
    auto count = r.U16("row field count");
    if (!count.ok()) return count.status();
    if (*count != t.fields.size()) {
      return absl::InvalidArgumentError(absl::StrCat("row ", t.rows.size(), " at offset ",
                                                     count_at, ": ", *count,
                                                     " values, the data shape has ",
                                                     t.fields.size(), " fields"));
    }
    std::vector<Value> row;
    for (int i = 0; i < *count; ++i) {
      auto value = DecodeTypedValue(r, depth + 1);
      if (!value.ok()) return value.status();
      row.push_back(*std::move(value));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace edge::alwayson

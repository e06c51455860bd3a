#include "services/alwayson/json_infotable.h"

#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace edge::alwayson {
namespace {

json::Value TableToJson(const InfoTable& t) {
  json::Object defs;
  for (const FieldDefinition& f : t.fields) {
    json::Object aspects;
    for (const auto& [name, value] : f.aspects) aspects.emplace_back(name, ValueToJson(value));
    defs.emplace_back(
        f.name, json::Value::MakeObject(
                    {{"name", json::Value::String(f.name)},
                     {"description", json::Value::String(f.description)},
                     {"baseType", json::Value::String(std::string(
                                      BaseTypeName(static_cast<uint8_t>(f.base_type)).value_or("")))},
                     {"aspects", json::Value::MakeObject(std::move(aspects))}}));
  }
  json::Array rows;
  for (const std::vector<Value>& row : t.rows) {
    json::Object r;
    for (size_t i = 0; i < row.size() && i < t.fields.size(); ++i) {
      r.emplace_back(t.fields[i].name, ValueToJson(row[i]));
    }
    rows.push_back(json::Value::MakeObject(std::move(r)));
  }
  return json::Value::MakeObject(
      {{"dataShape", json::Value::MakeObject({{"fieldDefinitions", json::Value::MakeObject(std::move(defs))}})},
       {"rows", json::Value::MakeArray(std::move(rows))}});
}

absl::Status Expected(absl::string_view path, absl::string_view what, const json::Value& found) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", what, ", found ", found.Kind()));
}

absl::StatusOr<InfoTable> TableFromJson(const json::Value& j, absl::string_view path, int depth) {
  if (depth > kMaxNesting) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": infotables nested too deeply"));
  }
  if (!j.is_object()) return Expected(path, "an infotable object", j);
  InfoTable t;
  const json::Value* shape = j.Find("dataShape");
  const json::Value* defs = shape ? shape->Find("fieldDefinitions") : nullptr;
  std::string defs_path = absl::StrCat(path.empty() ? "" : absl::StrCat(path, "."),
                                       "dataShape.fieldDefinitions");
  if (defs == nullptr || !defs->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(defs_path, ": expected an object of field definitions, found ",
                                                   defs ? defs->Kind() : "none"));
  }
  for (const auto& [name, def] : defs->object()) {
    std::string def_path = absl::StrCat(defs_path, ".", name);
    if (!def.is_object()) return Expected(def_path, "a field definition object", def);
    FieldDefinition f;
    f.name = name;
    if (const json::Value* d = def.Find("description"); d && d->is_string()) f.description = d->str();
    const json::Value* type = def.Find("baseType");
    if (type == nullptr || !type->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(def_path, ".baseType: expected a base type name such as \"NUMBER\", found ",
                                                     type ? type->Kind() : "none"));
    }
    auto base = BaseTypeFromName(type->str());
    if (!base) {
      return absl::InvalidArgumentError(absl::StrCat(def_path, ".baseType: \"", type->str(),
                                                     "\" is not a base type"));
    }
    f.base_type = *base;
    if (const json::Value* aspects = def.Find("aspects"); aspects && aspects->is_object()) {
      for (const auto& [aspect, value] : aspects->object()) {
        BaseType aspect_type = value.is_bool()     ? BaseType::kBoolean
                               : value.is_number() ? BaseType::kNumber
                                                   : BaseType::kString;
        auto v = ValueFromJson(value, aspect_type, absl::StrCat(def_path, ".aspects.", aspect));
        if (!v.ok()) return v.status();
        f.aspects.emplace_back(aspect, *std::move(v));
      }
    }
    t.fields.push_back(std::move(f));
  }
  const json::Value* rows = j.Find("rows");
  std::string rows_path = absl::StrCat(path.empty() ? "" : absl::StrCat(path, "."), "rows");
  if (rows == nullptr) return t;
  if (!rows->is_array()) return Expected(rows_path, "an array of rows", *rows);
  for (size_t i = 0; i < rows->array().size(); ++i) {
    const json::Value& row = rows->array()[i];
    std::string row_path = absl::StrCat(rows_path, "[", i, "]");
    if (!row.is_object()) return Expected(row_path, "a row object", row);
    std::vector<Value> values;
    for (const FieldDefinition& f : t.fields) {
      const json::Value* cell = row.Find(f.name);
      if (cell == nullptr || cell->is_null()) {
        values.push_back(Value::Nothing());
        continue;
      }
      std::string cell_path = absl::StrCat(row_path, ".", f.name);
      absl::StatusOr<Value> v = f.base_type == BaseType::kInfotable
                                    ? [&]() -> absl::StatusOr<Value> {
                                        auto nested = TableFromJson(*cell, cell_path, depth + 1);
                                        if (!nested.ok()) return nested.status();
                                        return Value::Table(*std::move(nested));
                                      }()
                                    : ValueFromJson(*cell, f.base_type, cell_path);
      if (!v.ok()) return v.status();
      values.push_back(*std::move(v));
    }
    t.rows.push_back(std::move(values));
  }
  return t;
}

}  // namespace

json::Value ValueToJson(const Value& v) {
  BaseType t = v.type();
  if (IsStringType(t)) return json::Value::String(v.str());
  switch (t) {
    case BaseType::kNumber: return json::Value::Number(v.number());
    case BaseType::kInteger: return json::Value::Number(v.integer());
    case BaseType::kBoolean: return json::Value::Bool(v.boolean());
    case BaseType::kDatetime: return json::Value::Number(static_cast<double>(v.datetime()));
    case BaseType::kLocation:
      return json::Value::MakeObject({{"longitude", json::Value::Number(v.location().longitude)},
                                      {"latitude", json::Value::Number(v.location().latitude)},
                                      {"elevation", json::Value::Number(v.location().elevation)}});
    case BaseType::kBlob:
    case BaseType::kImage: return json::Value::String(absl::Base64Escape(v.str()));
    case BaseType::kInfotable: return TableToJson(v.table());
    case BaseType::kVariant: return ValueToJson(v.variant());
    default: return json::Value{};
  }
}

absl::StatusOr<Value> ValueFromJson(const json::Value& j, BaseType t, absl::string_view path) {
  std::string type_name(BaseTypeName(static_cast<uint8_t>(t)).value_or("?"));
  if (j.is_null()) return Value::Nothing();
  if (IsStringType(t)) {
    if (!j.is_string()) return Expected(path, absl::StrCat("a string for ", type_name), j);
    return Value::String(j.str(), t);
  }
  switch (t) {
    case BaseType::kNumber:
      if (!j.is_number()) return Expected(path, "a number for NUMBER", j);
      return Value::Number(j.number());
    case BaseType::kInteger: {
      if (!j.is_number()) return Expected(path, "a number for INTEGER", j);
      double d = j.number();
      if (d != std::floor(d) || d < INT32_MIN || d > INT32_MAX) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": expected a 32-bit whole number for INTEGER, found ", d));
      }
      return Value::Integer(static_cast<int32_t>(d));
    }
    case BaseType::kBoolean:
      if (!j.is_bool()) return Expected(path, "true or false for BOOLEAN", j);
      return Value::Boolean(j.boolean());
    case BaseType::kDatetime:
      if (!j.is_number()) return Expected(path, "milliseconds since the epoch for DATETIME", j);
      return Value::Datetime(static_cast<int64_t>(j.number()));
    case BaseType::kLocation: {
      if (!j.is_object()) return Expected(path, "{longitude, latitude, elevation} for LOCATION", j);
      Location l;
      for (auto [key, field] : {std::pair<const char*, double*>{"longitude", &l.longitude},
                                {"latitude", &l.latitude}, {"elevation", &l.elevation}}) {
        const json::Value* n = j.Find(key);
        if (n != nullptr && !n->is_number()) return Expected(absl::StrCat(path, ".", key), "a number", *n);
        if (n != nullptr) *field = n->number();
      }
      return Value::Loc(l);
    }
    case BaseType::kBlob:
    case BaseType::kImage: {
      std::string bytes;
      if (!j.is_string() || !absl::Base64Unescape(j.str(), &bytes)) {
        return Expected(path, absl::StrCat("base64 text for ", type_name), j);
      }
      return Value::Bytes(std::move(bytes), t);
    }
    case BaseType::kInfotable: {
      auto table = TableFromJson(j, path, 1);
      if (!table.ok()) return table.status();
      return Value::Table(*std::move(table));
    }
    case BaseType::kVariant: {
      BaseType inner = j.is_bool() ? BaseType::kBoolean : j.is_number() ? BaseType::kNumber : BaseType::kString;
      auto v = ValueFromJson(j, inner, path);
      if (!v.ok()) return v.status();
      return Value::Variant(*std::move(v));
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(path, ": base type ", type_name, " has no JSON form"));
  }
}

std::string InfoTableToJson(const InfoTable& table) { return json::Write(TableToJson(table)); }

absl::StatusOr<InfoTable> InfoTableFromJson(absl::string_view json_text) {
  auto j = json::Parse(json_text);
  if (!j.ok()) return j.status();
  return TableFromJson(*j, "", 0);
}

}  // namespace edge::alwayson

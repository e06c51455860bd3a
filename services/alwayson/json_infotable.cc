#include "services/alwayson/json_infotable.h"

#include <cmath>
#include <string_view>
#include <unordered_map>

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

std::string Join(absl::string_view path, absl::string_view member) {
  return path.empty() ? std::string(member) : absl::StrCat(path, ".", member);
}

absl::StatusOr<FieldDefinition> FieldFromJson(const std::string& name, const json::Value& def,
                                              const std::string& def_path) {
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
  return f;
}

absl::StatusOr<InfoTable> TableFromJson(const json::Value& j, absl::string_view path, int depth);

absl::StatusOr<Value> CellFromJson(const json::Value& cell, const FieldDefinition& f,
                                   const std::string& row_path, int depth) {
  std::string cell_path = absl::StrCat(row_path, ".", f.name);
  if (f.base_type != BaseType::kInfotable) return ValueFromJson(cell, f.base_type, cell_path);
  auto nested = TableFromJson(cell, cell_path, depth + 1);
  if (!nested.ok()) return nested.status();
  return Value::Table(*std::move(nested));
}

// One row: its members looked up by name in `columns` (field name -> position), so that a
// row costs its own size, not its size times the number of fields. Members that name no
// field are ignored; fields without a member are NOTHING.
absl::StatusOr<std::vector<Value>> RowFromJson(
    const json::Value& row, const InfoTable& t,
    const std::unordered_map<std::string_view, size_t>& columns, const std::string& row_path,
    int depth) {
  if (!row.is_object()) return Expected(row_path, "a row object", row);
  std::vector<Value> values(t.fields.size());
  for (const auto& [name, cell] : row.object()) {
    auto column = columns.find(std::string_view(name));
    if (column == columns.end() || cell.is_null()) continue;
    absl::StatusOr<Value> v = CellFromJson(cell, t.fields[column->second], row_path, depth);
    if (!v.ok()) return v.status();
    values[column->second] = *std::move(v);
  }
  return values;
}

absl::StatusOr<InfoTable> TableFromJson(const json::Value& j, absl::string_view path, int depth) {
  if (depth > kMaxNesting) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": infotables nested too deeply"));
  }
  if (!j.is_object()) return Expected(path, "an infotable object", j);
  InfoTable t;
  const json::Value* shape = j.Find("dataShape");
  const json::Value* defs = shape ? shape->Find("fieldDefinitions") : nullptr;
  std::string defs_path = Join(path, "dataShape.fieldDefinitions");
  if (defs == nullptr || !defs->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(defs_path, ": expected an object of field definitions, found ",
                                                   defs ? defs->Kind() : "none"));
  }
  if (defs->object().size() > kMaxInfoTableFields) {
    return absl::InvalidArgumentError(absl::StrCat(
        defs_path, ": expected at most ", kMaxInfoTableFields,
        " field definitions (the limit for one infotable), found ", defs->object().size()));
  }
  const json::Value* rows = j.Find("rows");
  std::string rows_path = Join(path, "rows");
  if (rows != nullptr && !rows->is_array()) return Expected(rows_path, "an array of rows", *rows);
  if (rows != nullptr && rows->array().size() > kMaxInfoTableRows) {
    return absl::InvalidArgumentError(
        absl::StrCat(rows_path, ": expected at most ", kMaxInfoTableRows,
                     " rows (the limit for one infotable), found ", rows->array().size()));
  }
  t.fields.reserve(defs->object().size());
  for (const auto& [name, def] : defs->object()) {
    auto f = FieldFromJson(name, def, absl::StrCat(defs_path, ".", name));
    if (!f.ok()) return f.status();
    t.fields.push_back(*std::move(f));
  }
  if (rows == nullptr) return t;
  // t.fields no longer changes: the views into its names stay valid.
  std::unordered_map<std::string_view, size_t> columns;
  columns.reserve(t.fields.size());
  for (size_t i = 0; i < t.fields.size(); ++i) {
    if (!columns.emplace(t.fields[i].name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat(defs_path, ": field \"", t.fields[i].name,
                                                     "\" is defined twice"));
    }
  }
  t.rows.reserve(rows->array().size());
  for (size_t i = 0; i < rows->array().size(); ++i) {
    auto row = RowFromJson(rows->array()[i], t, columns, absl::StrCat(rows_path, "[", i, "]"),
                           depth);
    if (!row.ok()) return row.status();
    t.rows.push_back(*std::move(row));
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
      // Outside int64's range the conversion would be undefined.
      if (!(j.number() >= -9223372036854775808.0 && j.number() < 9223372036854775808.0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": expected milliseconds since the epoch for DATETIME (a 64-bit number), found ",
            j.number()));
      }
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

absl::StatusOr<InfoTable> InfoTableFromJson(const json::Value& json, absl::string_view path) {
  return TableFromJson(json, path, 0);
}

}  // namespace edge::alwayson

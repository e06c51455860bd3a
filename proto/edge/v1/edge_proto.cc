#include "proto/edge/v1/edge_proto.h"

#include "absl/strings/str_cat.h"

namespace edge::edge_api {
namespace v1 = ::edge::v1;
using alwayson::BaseType;
using alwayson::InfoTable;
using alwayson::Value;

namespace {

absl::Status Wrong(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::string_view TypeName(BaseType type) {
  return alwayson::BaseTypeName(static_cast<uint8_t>(type)).value_or("?");
}

}  // namespace

absl::StatusOr<Value> FromProto(const v1::Value& value, absl::string_view field, int depth) {
  if (depth > alwayson::kMaxNesting) return Wrong(field, "nested too deeply");
  int code = value.base_type();
  if (code < 0 || code > 255 || !alwayson::BaseTypeName(static_cast<uint8_t>(code))) {
    return Wrong(field, absl::StrCat("unknown base_type ", code));
  }
  BaseType type = static_cast<BaseType>(code);
  auto expect = [&](v1::Value::KindCase kind, absl::string_view name) -> absl::Status {
    if (value.kind_case() == kind) return absl::OkStatus();
    return Wrong(field, absl::StrCat("a ", TypeName(type), " value must be set in ", name));
  };
  absl::Status ok;
  switch (type) {
    case BaseType::kNothing:
      return Value::Nothing();
    case BaseType::kNumber:
      if (ok = expect(v1::Value::kNumberValue, "number_value"); !ok.ok()) return ok;
      return Value::Number(value.number_value());
    case BaseType::kInteger:
      if (ok = expect(v1::Value::kIntegerValue, "integer_value"); !ok.ok()) return ok;
      return Value::Integer(value.integer_value());
    case BaseType::kBoolean:
      if (ok = expect(v1::Value::kBooleanValue, "boolean_value"); !ok.ok()) return ok;
      return Value::Boolean(value.boolean_value());
    case BaseType::kDatetime:
      if (ok = expect(v1::Value::kDatetimeMs, "datetime_ms"); !ok.ok()) return ok;
      if (value.datetime_ms() < 0) return Wrong(field, "datetime_ms is before 1970");
      return Value::Datetime(value.datetime_ms());
    case BaseType::kLocation: {
      if (ok = expect(v1::Value::kLocationValue, "location_value"); !ok.ok()) return ok;
      const v1::Location& l = value.location_value();
      return Value::Loc({l.longitude(), l.latitude(), l.elevation()});
    }
    case BaseType::kBlob:
    case BaseType::kImage:
      if (ok = expect(v1::Value::kBytesValue, "bytes_value"); !ok.ok()) return ok;
      return Value::Bytes(value.bytes_value(), type);
    case BaseType::kInfotable: {
      if (ok = expect(v1::Value::kInfotableValue, "infotable_value"); !ok.ok()) return ok;
      absl::StatusOr<InfoTable> t =
          FromProto(value.infotable_value(), absl::StrCat(field, ".infotable_value"), depth + 1);
      if (!t.ok()) return t.status();
      return Value::Table(std::move(*t));
    }
    case BaseType::kVariant: {
      if (ok = expect(v1::Value::kVariantValue, "variant_value"); !ok.ok()) return ok;
      absl::StatusOr<Value> inner =
          FromProto(value.variant_value(), absl::StrCat(field, ".variant_value"), depth + 1);
      if (!inner.ok()) return inner.status();
      return Value::Variant(std::move(*inner));
    }
    case BaseType::kTimespan:
    case BaseType::kSchedule:
      return Wrong(field, absl::StrCat(TypeName(type), " has no wire form in AlwaysOn"));
    default:
      if (!alwayson::IsStringType(type)) return Wrong(field, "unsupported base_type");
      if (ok = expect(v1::Value::kStringValue, "string_value"); !ok.ok()) return ok;
      return Value::String(value.string_value(), type);
  }
}

absl::StatusOr<InfoTable> FromProto(const v1::InfoTable& table, absl::string_view field,
                                    int depth) {
  InfoTable out;
  for (int i = 0; i < table.fields_size(); ++i) {
    const v1::FieldDefinition& f = table.fields(i);
    std::string where = absl::StrCat(field, ".fields[", i, "]");
    if (f.name().empty()) return Wrong(where, "a field needs a name");
    alwayson::FieldDefinition def;
    def.name = f.name();
    def.description = f.description();
    int code = f.base_type();
    if (code < 0 || code > 255 || !alwayson::BaseTypeName(static_cast<uint8_t>(code))) {
      return Wrong(where, absl::StrCat("unknown base_type ", code));
    }
    def.base_type = static_cast<BaseType>(code);
    for (int a = 0; a < f.aspects_size(); ++a) {
      absl::StatusOr<Value> v = FromProto(f.aspects(a).value(),
                                          absl::StrCat(where, ".aspects[", a, "]"), depth + 1);
      if (!v.ok()) return v.status();
      def.aspects.emplace_back(f.aspects(a).name(), std::move(*v));
    }
    out.fields.push_back(std::move(def));
  }
  for (int r = 0; r < table.rows_size(); ++r) {
    const v1::Row& row = table.rows(r);
    std::string where = absl::StrCat(field, ".rows[", r, "]");
    if (row.values_size() != table.fields_size()) {
      return Wrong(where, absl::StrCat("has ", row.values_size(), " values for ",
                                       table.fields_size(), " fields"));
    }
    std::vector<Value> values;
    for (int c = 0; c < row.values_size(); ++c) {
      std::string cell = absl::StrCat(where, ".values[", c, "]");
      absl::StatusOr<Value> v = FromProto(row.values(c), cell, depth + 1);
      if (!v.ok()) return v.status();
      BaseType want = out.fields[c].base_type;
      if (v->type() != want && v->type() != BaseType::kNothing) {
        return Wrong(cell, absl::StrCat("is ", TypeName(v->type()), " but field \"",
                                        out.fields[c].name, "\" is ", TypeName(want)));
      }
      values.push_back(std::move(*v));
    }
    out.rows.push_back(std::move(values));
  }
  return out;
}

v1::Value ToProto(const Value& value) {
  v1::Value out;
  out.set_base_type(static_cast<v1::BaseType>(static_cast<int>(value.type())));
  switch (value.type()) {
    case BaseType::kNothing: break;
    case BaseType::kNumber: out.set_number_value(value.number()); break;
    case BaseType::kInteger: out.set_integer_value(value.integer()); break;
    case BaseType::kBoolean: out.set_boolean_value(value.boolean()); break;
    case BaseType::kDatetime: out.set_datetime_ms(value.datetime()); break;
    case BaseType::kLocation: {
      v1::Location* l = out.mutable_location_value();
      l->set_longitude(value.location().longitude);
      l->set_latitude(value.location().latitude);
      l->set_elevation(value.location().elevation);
      break;
    }
    case BaseType::kBlob:
    case BaseType::kImage: out.set_bytes_value(value.str()); break;
    case BaseType::kInfotable: *out.mutable_infotable_value() = ToProto(value.table()); break;
    case BaseType::kVariant: *out.mutable_variant_value() = ToProto(value.variant()); break;
    default:
      if (alwayson::IsStringType(value.type())) out.set_string_value(value.str());
      break;
  }
  return out;
}

v1::InfoTable ToProto(const InfoTable& table) {
  v1::InfoTable out;
  for (const alwayson::FieldDefinition& f : table.fields) {
    v1::FieldDefinition* def = out.add_fields();
    def->set_name(f.name);
    def->set_description(f.description);
    def->set_base_type(static_cast<v1::BaseType>(static_cast<int>(f.base_type)));
    for (const auto& [name, v] : f.aspects) {
      v1::Aspect* a = def->add_aspects();
      a->set_name(name);
      *a->mutable_value() = ToProto(v);
    }
  }
  for (const std::vector<Value>& row : table.rows) {
    v1::Row* r = out.add_rows();
    for (const Value& v : row) *r->add_values() = ToProto(v);
  }
  return out;
}

std::optional<alwayson::Code> FromProto(v1::AnswerStatus status) {
  using alwayson::Code;
  switch (status) {
    case v1::SUCCESS: return Code::kSuccess;
    case v1::BAD_REQUEST: return Code::kBadRequest;
    case v1::UNAUTHORIZED: return Code::kUnauthorized;
    case v1::BAD_OPTION: return Code::kBadOption;
    case v1::FORBIDDEN: return Code::kForbidden;
    case v1::NOT_FOUND: return Code::kNotFound;
    case v1::METHOD_NOT_ALLOWED: return Code::kMethodNotAllowed;
    case v1::NOT_ACCEPTABLE: return Code::kNotAcceptable;
    case v1::PRECONDITION_FAILED: return Code::kPreconditionFailed;
    case v1::ENTITY_TOO_LARGE: return Code::kEntityTooLarge;
    case v1::UNSUPPORTED_CONTENT_FORMAT: return Code::kUnsupportedContentFormat;
    case v1::INTERNAL_SERVER_ERROR: return Code::kInternalServerError;
    case v1::NOT_IMPLEMENTED: return Code::kNotImplemented;
    case v1::BAD_GATEWAY: return Code::kBadGateway;
    case v1::SERVICE_UNAVAILABLE: return Code::kServiceUnavailable;
    case v1::GATEWAY_TIMEOUT: return Code::kGatewayTimeout;
    default: return std::nullopt;  // A number a caller put in the enum field.
  }
}

}  // namespace edge::edge_api

// The REST API's JSON form of an infotable, both ways:
//   {"dataShape": {"fieldDefinitions": {"Temperature": {"name": "Temperature",
//     "description": "", "baseType": "NUMBER", "aspects": {}}}},
//    "rows": [{"Temperature": 21.5}]}
// DATETIME is milliseconds since the epoch, LOCATION {"longitude", "latitude", "elevation"},
// BLOB and IMAGE base64, INFOTABLE a nested infotable object, NOTHING null.
//
// Reading costs time linear in the text: rows look their cells up by name in an index of
// the data shape. A row member that names no field is ignored; a field without a member is
// NOTHING.
#ifndef SERVICES_ALWAYSON_JSON_INFOTABLE_H_
#define SERVICES_ALWAYSON_JSON_INFOTABLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/json/json.h"
#include "services/alwayson/value.h"

namespace edge::alwayson {

// Bounds on one infotable read from JSON (each nested infotable has its own): the field
// definitions of its data shape and its rows. More is refused with kInvalidArgument naming
// the path and the limit. A REST body is also bounded in bytes (restd.max_body_bytes).
inline constexpr size_t kMaxInfoTableFields = 1000;
inline constexpr size_t kMaxInfoTableRows = 10000;

std::string InfoTableToJson(const InfoTable& table);
// kInvalidArgument naming the path ("rows[0].Temperature: expected a number for NUMBER,
// found a string").
// "JSON at offset 4: ..." or "rows[0].Temperature: expected a number a double can hold,
// found 1e999 (JSON at offset 70)" when the text is not strict JSON (services/json/json.h).
absl::StatusOr<InfoTable> InfoTableFromJson(absl::string_view json_text);
// The same from JSON already read; `path` ("body") prefixes the paths in errors
// ("body.rows[0].Temperature: ...").
absl::StatusOr<InfoTable> InfoTableFromJson(const json::Value& json, absl::string_view path);

json::Value ValueToJson(const Value& value);
// `json` as a value of base type `type`; `path` names it in errors.
absl::StatusOr<Value> ValueFromJson(const json::Value& json, BaseType type,
                                    absl::string_view path);

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_JSON_INFOTABLE_H_

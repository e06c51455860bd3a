// The REST API's JSON form of an infotable, both ways:
//   {"dataShape": {"fieldDefinitions": {"Temperature": {"name": "Temperature",
//     "description": "", "baseType": "NUMBER", "aspects": {}}}},
//    "rows": [{"Temperature": 21.5}]}
// DATETIME is milliseconds since the epoch, LOCATION {"longitude", "latitude", "elevation"},
// BLOB and IMAGE base64, INFOTABLE a nested infotable object, NOTHING null.
#ifndef SERVICES_ALWAYSON_JSON_INFOTABLE_H_
#define SERVICES_ALWAYSON_JSON_INFOTABLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/json/json.h"
#include "services/alwayson/value.h"

namespace edge::alwayson {

std::string InfoTableToJson(const InfoTable& table);
// kInvalidArgument naming the path ("rows[0].Temperature: expected a number for NUMBER,
// found a string").
absl::StatusOr<InfoTable> InfoTableFromJson(absl::string_view json_text);

json::Value ValueToJson(const Value& value);
// `json` as a value of base type `type`; `path` names it in errors.
absl::StatusOr<Value> ValueFromJson(const json::Value& json, BaseType type,
                                    absl::string_view path);

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_JSON_INFOTABLE_H_

// The names a platform request or a registration may carry: Thing (entity) names and the
// names of their properties, services and events (characteristics). Names travel on to
// other protocols (restd puts them in an HTTP request line to an edge endpoint, logs quote
// them), so only names that ThingWorx itself accepts are let through.
//
//   if (absl::Status s = CheckThingName(request.entity_name, "entity name"); !s.ok()) ...
//
// The rules are ThingWorx's ("Naming Entities", ThingWorx Composer help, 8.x-10.x):
// - at most 255 characters;
// - none of + / : * " < > ;
// - no space, hyphen or period at the beginning or the end, no two spaces in a row;
// - a Thing is never named "me" (the reserved keyword).
// And ours, because no entity name needs them and each is a way into another protocol:
// valid UTF-8 (RFC 3629), no control characters (C0, DEL, C1), no backslash, no '%', no
// '?', no '#'.
// Thread-safe: pure functions.
#ifndef SERVICES_ALWAYSON_ENTITY_NAME_H_
#define SERVICES_ALWAYSON_ENTITY_NAME_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace edge::alwayson {

inline constexpr size_t kMaxNameCharacters = 255;

// kInvalidArgument naming `what` and the rule broken ("entity name: expected at most 255
// characters, found 600000"); the name itself is quoted only when it is short and printable.
absl::Status CheckThingName(absl::string_view name, absl::string_view what);
// The same rules for a property, service or event name (no "me" rule).
absl::Status CheckCharacteristicName(absl::string_view name, absl::string_view what);

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_ENTITY_NAME_H_

#include "services/alwayson/message_summary.h"

#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/log.h"

namespace edge::alwayson {
namespace {

// Names from the platform or a local service: bounded, escaped.
constexpr size_t kMaxName = 128;
// A BIND of thousands of Things is summarised by its first names and a count.
constexpr size_t kMaxBindNames = 5;

std::string EntityTypeName(uint8_t type) {
  switch (static_cast<EntityType>(type)) {
    case EntityType::kThing: return "THING";
    case EntityType::kThingShape: return "THING_SHAPE";
    case EntityType::kThingTemplate: return "THING_TEMPLATE";
    case EntityType::kThingPackage: return "THING_PACKAGE";
    case EntityType::kNetwork: return "NETWORK";
    case EntityType::kDataShape: return "DATA_SHAPE";
    case EntityType::kUser: return "USER";
    case EntityType::kGroup: return "GROUP";
    case EntityType::kOrganization: return "ORGANIZATION";
    case EntityType::kApplicationKey: return "APPLICATION_KEY";
    case EntityType::kResource: return "RESOURCE";
    case EntityType::kSubsystem: return "SUBSYSTEM";
  }
  return absl::StrCat("entity type 0x", absl::Hex(type));
}

std::string CharacteristicName(uint8_t c) {
  switch (static_cast<Characteristic>(c)) {
    case Characteristic::kProperties: return "PROPERTIES";
    case Characteristic::kServices: return "SERVICES";
    case Characteristic::kEvents: return "EVENTS";
  }
  return absl::StrCat("characteristic ", static_cast<int>(c));
}

std::string Plural(size_t n, absl::string_view what) {
  return absl::StrCat(n, " ", what, n == 1 ? "" : "s");
}

std::string TableShape(const InfoTable& t) {
  return absl::StrCat(Plural(t.rows.size(), "row"), " x ", Plural(t.fields.size(), "field"));
}

std::string Body(const RequestBody& b) {
  std::string out = absl::StrCat(EntityTypeName(b.entity_type), " ",
                                 LogSafe(b.entity_name, kMaxName), " ",
                                 CharacteristicName(b.characteristic), " ",
                                 LogSafe(b.characteristic_name, kMaxName));
  if (!b.headers.empty()) absl::StrAppend(&out, ", ", Plural(b.headers.size(), "header"));
  absl::StrAppend(&out, ", params ", b.params ? TableShape(*b.params) : "none");
  return out;
}

std::string Body(const ResponseBody& b) {
  std::string out = absl::StrCat("content ", b.content ? TableShape(*b.content) : "none");
  if (b.reason) absl::StrAppend(&out, ", reason \"", LogSafe(*b.reason, kMaxName), "\"");
  return out;
}

std::string Body(const AuthBody& b) {
  // The claims' names only: their values are the credentials.
  return absl::StrCat("claims ", absl::StrJoin(b.claims, ", ", [](std::string* out, const auto& c) {
                        absl::StrAppend(out, LogSafe(c.first, kMaxName));
                      }));
}

std::string Body(const BindBody& b) {
  std::string out = Plural(b.names.size(), "Thing");
  for (size_t i = 0; i < b.names.size() && i < kMaxBindNames; ++i) {
    absl::StrAppend(&out, i == 0 ? " " : ", ", LogSafe(b.names[i], kMaxName));
  }
  if (b.names.size() > kMaxBindNames) absl::StrAppend(&out, ", ...");
  if (b.gateway) absl::StrAppend(&out, "; gateway ", LogSafe(b.gateway->first, kMaxName));
  return out;
}

std::string Body(const KeepAliveBody&) { return ""; }

}  // namespace

std::string MessageSummary(const Message& message) {
  const Header& h = message.header;
  uint8_t code = static_cast<uint8_t>(h.code);
  std::optional<absl::string_view> name = CodeName(code);
  std::string out = name ? std::string(*name) : absl::StrCat("code 0x", absl::Hex(code));
  absl::StrAppend(&out, IsResponse(h.code) ? " response " : " request ", h.request_id);
  if (h.session_id != kNoSession) absl::StrAppend(&out, " session ", h.session_id);
  if (h.endpoint_id != 0) absl::StrAppend(&out, " endpoint ", h.endpoint_id);
  std::string body = std::visit([](const auto& b) { return Body(b); }, message.body);
  if (!body.empty()) absl::StrAppend(&out, ": ", body);
  return out;
}

}  // namespace edge::alwayson

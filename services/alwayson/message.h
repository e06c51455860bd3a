// AlwaysOn messages: the 15-byte header and every message body of the spec
// (shared/specs/alwayson-protocol.md, "Header", "Codes", "Message bodies").
//
//   Message auth = Message::Auth(/*request_id=*/1, "k123");
//   std::string bytes = *EncodeMessage(auth);
//   absl::StatusOr<Message> back = DecodeMessage(bytes, Limits{});
#ifndef SERVICES_ALWAYSON_MESSAGE_H_
#define SERVICES_ALWAYSON_MESSAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/alwayson/value.h"

namespace edge::alwayson {

enum class Code : uint8_t {
  // Methods (requests).
  kGet = 0x01, kPut = 0x02, kPost = 0x03, kDelete = 0x04, kBind = 0x0A, kUnbind = 0x0B,
  kAuth = 0x14, kKeepAlive = 0x1F,
  // Statuses (responses): any code >= 0x40.
  kSuccess = 0x40, kBadRequest = 0x80, kUnauthorized = 0x81, kBadOption = 0x82,
  kForbidden = 0x83, kNotFound = 0x84, kMethodNotAllowed = 0x85, kNotAcceptable = 0x86,
  kPreconditionFailed = 0x8C, kEntityTooLarge = 0x8D, kUnsupportedContentFormat = 0x8F,
  kInternalServerError = 0xA0, kNotImplemented = 0xA1, kBadGateway = 0xA2,
  kServiceUnavailable = 0xA3, kGatewayTimeout = 0xA4,
};

std::optional<absl::string_view> CodeName(uint8_t code);  // "GET", "SUCCESS"...
inline bool IsResponse(Code code) { return static_cast<uint8_t>(code) >= 0x40; }

inline constexpr size_t kHeaderSize = 15;
inline constexpr uint32_t kNoSession = 0xFFFFFFFF;

struct Header {
  uint8_t version = 0x01;
  Code code = Code::kGet;
  uint32_t request_id = 0;
  uint32_t endpoint_id = 0;
  uint32_t session_id = kNoSession;
  bool multipart = false;
};

enum class EntityType : uint8_t {
  kThing = 0x0A, kThingShape = 0x0B, kThingTemplate = 0x0C, kThingPackage = 0x0D,
  kNetwork = 0x0E, kDataShape = 0x0F, kUser = 0x32, kGroup = 0x33, kOrganization = 0x34,
  kApplicationKey = 0x35, kResource = 0x3C, kSubsystem = 0x50,
};

enum class Characteristic : uint8_t { kProperties = 1, kServices = 2, kEvents = 3 };

// GET / PUT / POST / DELETE.
struct RequestBody {
  uint8_t entity_type = static_cast<uint8_t>(EntityType::kThing);
  std::string entity_name;
  uint8_t characteristic = static_cast<uint8_t>(Characteristic::kProperties);
  std::string characteristic_name;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<InfoTable> params;  // Absent: NOTHING.
  bool operator==(const RequestBody& o) const {
    return entity_type == o.entity_type && entity_name == o.entity_name &&
           characteristic == o.characteristic && characteristic_name == o.characteristic_name &&
           headers == o.headers && params == o.params;
  }
};

struct ResponseBody {
  std::optional<std::string> reason;
  std::optional<InfoTable> content;
  bool operator==(const ResponseBody& o) const {
    return reason == o.reason && content == o.content;
  }
};

struct AuthBody {
  std::vector<std::pair<std::string, std::string>> claims;  // {"appKey", "..."}.
  bool operator==(const AuthBody& o) const { return claims == o.claims; }
};

struct BindBody {  // BIND and UNBIND.
  std::optional<std::pair<std::string, std::string>> gateway;  // name, type.
  std::vector<std::string> names;
  bool operator==(const BindBody& o) const { return gateway == o.gateway && names == o.names; }
};

struct KeepAliveBody {
  bool operator==(const KeepAliveBody&) const { return true; }
};

struct Message {
  Header header;
  std::variant<RequestBody, ResponseBody, AuthBody, BindBody, KeepAliveBody> body;

  static Message Auth(uint32_t request_id, const std::string& app_key);
  static Message Bind(uint32_t request_id, uint32_t session_id, std::vector<std::string> names,
                      bool unbind = false);
  static Message Request(Code method, uint32_t request_id, uint32_t session_id,
                         RequestBody body);
  static Message Response(Code status, uint32_t request_id, uint32_t session_id,
                          ResponseBody body = {});
  bool operator==(const Message& o) const;
};

struct Limits {
  size_t max_message_size = 1048576;  // ws_connection.max_msg_size.
  // Zero bytes after a response's body are padding, not an error (the vendor's client pads
  // an error response that carries a reason: shared/specs/alwayson-protocol.md). Any other
  // trailing byte stays an error. Off unless set.
  bool allow_response_zero_padding = false;
};

// `names` in groups whose BIND (or UNBIND) message each fits `max_message_size` and holds at
// most 65535 names (the count is 16 bits), in order. A name too long for any message is a
// group of its own: sending it fails the size check, and only that group.
std::vector<std::vector<std::string>> SplitBindNames(const std::vector<std::string>& names,
                                                     size_t max_message_size);

absl::StatusOr<std::string> EncodeMessage(const Message& message);
// A whole (reassembled) message. kInvalidArgument naming the field and offset for short
// frames, lengths past the end, unknown codes or base types, trailing bytes, and messages
// over the size limit.
absl::StatusOr<Message> DecodeMessage(absl::string_view bytes, const Limits& limits);

absl::Status EncodeHeader(Writer& w, const Header& header);
absl::StatusOr<Header> DecodeHeader(Reader& r);

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_MESSAGE_H_

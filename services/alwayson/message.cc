#include "services/alwayson/message.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edge::alwayson {
namespace {

struct CodeNamePair {
  Code code;
  absl::string_view name;
};

constexpr CodeNamePair kCodes[] = {
    {Code::kGet, "GET"}, {Code::kPut, "PUT"}, {Code::kPost, "POST"}, {Code::kDelete, "DELETE"},
    {Code::kBind, "BIND"}, {Code::kUnbind, "UNBIND"}, {Code::kAuth, "AUTH"},
    {Code::kKeepAlive, "KEEP_ALIVE"}, {Code::kSuccess, "SUCCESS"},
    {Code::kBadRequest, "BAD_REQUEST"}, {Code::kUnauthorized, "UNAUTHORIZED"},
    {Code::kBadOption, "BAD_OPTION"}, {Code::kForbidden, "FORBIDDEN"},
    {Code::kNotFound, "NOT_FOUND"}, {Code::kMethodNotAllowed, "METHOD_NOT_ALLOWED"},
    {Code::kNotAcceptable, "NOT_ACCEPTABLE"}, {Code::kPreconditionFailed, "PRECONDITION_FAILED"},
    {Code::kEntityTooLarge, "ENTITY_TOO_LARGE"},
    {Code::kUnsupportedContentFormat, "UNSUPPORTED_CONTENT_FORMAT"},
    {Code::kInternalServerError, "INTERNAL_SERVER_ERROR"},
    {Code::kNotImplemented, "NOT_IMPLEMENTED"}, {Code::kBadGateway, "BAD_GATEWAY"},
    {Code::kServiceUnavailable, "SERVICE_UNAVAILABLE"},
    {Code::kGatewayTimeout, "GATEWAY_TIMEOUT"},
};

// UNCERTAIN in the spec: KEEP_ALIVE may carry no body. Kept in these two functions.
void EncodeKeepAlive(Writer&, const KeepAliveBody&) {}
absl::StatusOr<KeepAliveBody> DecodeKeepAlive(Reader&) { return KeepAliveBody{}; }

absl::Status EncodeParams(Writer& w, const std::optional<InfoTable>& table) {
  if (!table) {
    w.U8(static_cast<uint8_t>(BaseType::kNothing));
    return absl::OkStatus();
  }
  w.U8(static_cast<uint8_t>(BaseType::kInfotable));
  return EncodeInfoTable(w, *table);
}

absl::StatusOr<std::optional<InfoTable>> DecodeParams(Reader& r, absl::string_view field) {
  size_t at = r.offset();
  auto type = r.U8(field);
  if (!type.ok()) return type.status();
  if (*type == static_cast<uint8_t>(BaseType::kNothing)) return std::optional<InfoTable>();
  if (*type != static_cast<uint8_t>(BaseType::kInfotable)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s 0x%02X at offset %d: expected 0x05 (INFOTABLE) or 0xFF (NOTHING)", field, *type, at));
  }
  auto table = DecodeInfoTable(r);
  if (!table.ok()) return table.status();
  return std::optional<InfoTable>(*std::move(table));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DecodePairs(
    Reader& r, size_t count, absl::string_view what) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < count; ++i) {
    auto name = r.String(absl::StrCat(what, " name"));
    if (!name.ok()) return name.status();
    auto value = r.String(absl::StrCat(what, " value"));
    if (!value.ok()) return value.status();
    out.emplace_back(*std::move(name), *std::move(value));
  }
  return out;
}

}  // namespace

std::optional<absl::string_view> CodeName(uint8_t code) {
  for (const CodeNamePair& c : kCodes) {
    if (static_cast<uint8_t>(c.code) == code) return c.name;
  }
  return std::nullopt;
}

Message Message::Auth(uint32_t request_id, const std::string& app_key) {
  Message m;
  m.header.code = Code::kAuth;
  m.header.request_id = request_id;
  m.header.session_id = kNoSession;
  m.body = AuthBody{{{"appKey", app_key}}};
  return m;
}

Message Message::Bind(uint32_t request_id, uint32_t session_id, std::vector<std::string> names,
                      bool unbind) {
  Message m;
  m.header.code = unbind ? Code::kUnbind : Code::kBind;
  m.header.request_id = request_id;
  m.header.session_id = session_id;
  m.body = BindBody{std::nullopt, std::move(names)};
  return m;
}

std::vector<std::vector<std::string>> SplitBindNames(const std::vector<std::string>& names,
                                                     size_t max_message_size) {
  // Header, the gateway flag (no gateway) and the count; then each name as a String.
  constexpr size_t kFixed = kHeaderSize + 1 + 2;
  std::vector<std::vector<std::string>> groups;
  size_t size = 0;
  for (const std::string& name : names) {
    size_t encoded = (name.size() < 128 ? 1 : 4) + name.size();
    if (groups.empty() || groups.back().size() == 0xFFFF || size + encoded > max_message_size) {
      groups.emplace_back();
      size = kFixed;
    }
    groups.back().push_back(name);
    size += encoded;
  }
  return groups;
}

Message Message::Request(Code method, uint32_t request_id, uint32_t session_id,
                         RequestBody body) {
  Message m;
  m.header.code = method;
  m.header.request_id = request_id;
  m.header.session_id = session_id;
  m.body = std::move(body);
  return m;
}

Message Message::Response(Code status, uint32_t request_id, uint32_t session_id,
                          ResponseBody body) {
  Message m;
  m.header.code = status;
  m.header.request_id = request_id;
  m.header.session_id = session_id;
  m.body = std::move(body);
  return m;
}

bool Message::operator==(const Message& o) const {
  const Header& a = header;
  const Header& b = o.header;
  return a.version == b.version && a.code == b.code && a.request_id == b.request_id &&
         a.endpoint_id == b.endpoint_id && a.session_id == b.session_id &&
         a.multipart == b.multipart && body == o.body;
}

absl::Status EncodeHeader(Writer& w, const Header& h) {
  w.U8(h.version);
  w.U8(static_cast<uint8_t>(h.code));
  w.U32(h.request_id);
  w.U32(h.endpoint_id);
  w.U32(h.session_id);
  w.U8(h.multipart ? 1 : 0);
  return absl::OkStatus();
}

absl::StatusOr<Header> DecodeHeader(Reader& r) {
  if (r.remaining() < kHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat("message of ", r.remaining(),
                                                   " bytes is shorter than the ", kHeaderSize,
                                                   "-byte header"));
  }
  Header h;
  h.version = *r.U8("version");
  if (h.version != 0x01) {
    return absl::InvalidArgumentError(
        absl::StrFormat("version 0x%02X at offset 0: expected 0x01", h.version));
  }
  uint8_t code = *r.U8("code");
  if (!CodeName(code)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("code 0x%02X at offset 1 is not a known method or status", code));
  }
  h.code = static_cast<Code>(code);
  h.request_id = *r.U32("request id");
  h.endpoint_id = *r.U32("endpoint id");
  h.session_id = *r.U32("session id");
  uint8_t multipart = *r.U8("multipart");
  if (multipart > 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("multipart flag 0x%02X at offset 14: expected 0 or 1", multipart));
  }
  h.multipart = multipart == 1;
  return h;
}

absl::StatusOr<std::string> EncodeMessage(const Message& m) {
  Writer w;
  EncodeHeader(w, m.header);
  absl::Status status = absl::OkStatus();
  if (const auto* req = std::get_if<RequestBody>(&m.body)) {
    w.U8(req->entity_type);
    w.String(req->entity_name);
    w.U8(req->characteristic);
    w.String(req->characteristic_name);
    w.U8(static_cast<uint8_t>(req->headers.size()));
    for (const auto& [name, value] : req->headers) {
      w.String(name);
      w.String(value);
    }
    status = EncodeParams(w, req->params);
  } else if (const auto* resp = std::get_if<ResponseBody>(&m.body)) {
    if (resp->reason) {
      w.U8(1);
      w.String(*resp->reason);
    } else {
      w.U8(0);
    }
    status = EncodeParams(w, resp->content);
  } else if (const auto* auth = std::get_if<AuthBody>(&m.body)) {
    w.U8(static_cast<uint8_t>(auth->claims.size()));
    for (const auto& [name, value] : auth->claims) {
      w.String(name);
      w.String(value);
    }
  } else if (const auto* bind = std::get_if<BindBody>(&m.body)) {
    if (bind->gateway) {
      w.U8(1);
      w.String(bind->gateway->first);
      w.String(bind->gateway->second);
    } else {
      w.U8(0);
    }
    w.U16(static_cast<uint16_t>(bind->names.size()));
    for (const std::string& name : bind->names) w.String(name);
  } else {
    EncodeKeepAlive(w, std::get<KeepAliveBody>(m.body));
  }
  if (!status.ok()) return status;
  return w.Take();
}

absl::StatusOr<Message> DecodeMessage(absl::string_view bytes, const Limits& limits) {
  if (bytes.size() > limits.max_message_size) {
    return absl::InvalidArgumentError(absl::StrCat("message of ", bytes.size(),
                                                   " bytes is over max_msg_size (",
                                                   limits.max_message_size, ")"));
  }
  Reader r(bytes, limits.max_message_size);
  auto header = DecodeHeader(r);
  if (!header.ok()) return header.status();
  if (header->multipart) {
    return absl::InvalidArgumentError("a chunk (multipart = 1) must be reassembled first");
  }
  Message m;
  m.header = *header;
  Code code = header->code;
  if (IsResponse(code)) {
    ResponseBody body;
    auto marker = r.U8("reason marker");
    if (!marker.ok()) return marker.status();
    if (*marker != 0) {
      auto reason = r.String("reason");
      if (!reason.ok()) return reason.status();
      body.reason = *std::move(reason);
    }
    auto content = DecodeParams(r, "content base type");
    if (!content.ok()) return content.status();
    body.content = *std::move(content);
    m.body = std::move(body);
  } else if (code == Code::kAuth) {
    auto count = r.U8("claim count");
    if (!count.ok()) return count.status();
    auto claims = DecodePairs(r, *count, "claim");
    if (!claims.ok()) return claims.status();
    m.body = AuthBody{*std::move(claims)};
  } else if (code == Code::kBind || code == Code::kUnbind) {
    BindBody body;
    auto gateway = r.U8("gateway marker");
    if (!gateway.ok()) return gateway.status();
    if (*gateway != 0) {
      auto name = r.String("gateway name");
      if (!name.ok()) return name.status();
      auto type = r.String("gateway type");
      if (!type.ok()) return type.status();
      body.gateway = std::make_pair(*std::move(name), *std::move(type));
    }
    auto count = r.U16("name count");
    if (!count.ok()) return count.status();
    for (int i = 0; i < *count; ++i) {
      auto name = r.String("thing name");
      if (!name.ok()) return name.status();
      body.names.push_back(*std::move(name));
    }
    m.body = std::move(body);
  } else if (code == Code::kKeepAlive) {
    auto body = DecodeKeepAlive(r);
    if (!body.ok()) return body.status();
    m.body = *body;
  } else {
    RequestBody body;
    auto entity_type = r.U8("entity type");
    if (!entity_type.ok()) return entity_type.status();
    body.entity_type = *entity_type;
    auto entity_name = r.String("entity name");
    if (!entity_name.ok()) return entity_name.status();
    body.entity_name = *std::move(entity_name);
    auto characteristic = r.U8("characteristic type");
    if (!characteristic.ok()) return characteristic.status();
    body.characteristic = *characteristic;
    auto characteristic_name = r.String("characteristic name");
    if (!characteristic_name.ok()) return characteristic_name.status();
    body.characteristic_name = *std::move(characteristic_name);
    auto count = r.U8("header count");
    if (!count.ok()) return count.status();
    auto headers = DecodePairs(r, *count, "header");
    if (!headers.ok()) return headers.status();
    body.headers = *std::move(headers);
    auto params = DecodeParams(r, "parameter base type");
    if (!params.ok()) return params.status();
    body.params = *std::move(params);
    m.body = std::move(body);
  }
  if (!r.done() && limits.allow_response_zero_padding && IsResponse(code)) {
    absl::string_view rest = bytes.substr(r.offset());
    if (rest.find_first_not_of('\0') == absl::string_view::npos) return m;
  }
  if (!r.done()) {
    return absl::InvalidArgumentError(absl::StrCat(r.remaining(), " trailing bytes at offset ",
                                                   r.offset(), " after the ",
                                                   *CodeName(static_cast<uint8_t>(code)),
                                                   " message"));
  }
  return m;
}

}  // namespace edge::alwayson

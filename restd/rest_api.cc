#include "restd/rest_api.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "proto/edge/v1/edge_proto.h"
#include "restd/restd_metrics.h"
#include "services/json/json.h"
#include "services/alwayson/json_infotable.h"
#include "services/common/log.h"
#include "services/common/status_mapping.h"

namespace edge::restd {
namespace {

namespace http = boost::beast::http;
namespace v1 = ::edge::v1;
using alwayson::BaseType;
using alwayson::InfoTable;
using alwayson::Value;

Response Error(const Request& req, http::status status, absl::string_view message) {
  return JsonResponse(req, status,
              json::Write(json::Value::MakeObject({{"error", json::Value::String(std::string(message))}})));
}

// edged's answer (or EdgedClient's when edged did not answer) as an HTTP error.
Response FromStatus(const Request& req, const absl::Status& s) {
  std::string message(s.message());
  if (message.empty()) {
    message = absl::StrCat("edged answered ", absl::StatusCodeToString(s.code()),
                           " without saying why");
  }
  return Error(req, static_cast<http::status>(HttpStatusFor(s.code())), message);
}

Response TableResponse(const Request& req, const v1::InfoTable& table) {
  absl::StatusOr<InfoTable> t = edge_api::FromProto(table, "result");
  if (!t.ok()) return Error(req, http::status::bad_gateway, t.status().message());
  return JsonResponse(req, http::status::ok, alwayson::InfoTableToJson(*t));
}

Response Delivered(const Request& req, const v1::Delivery& d) {
  if (d.outcome() == v1::Delivery::QUEUED) {
    return JsonResponse(req, http::status::accepted,
                absl::StrCat(R"({"queued": true, "queue_depth": )", d.queue_depth(), "}"));
  }
  if (d.result().fields_size() > 0) return TableResponse(req, d.result());
  return JsonResponse(req, http::status::ok, "{}");
}

absl::string_view Sv(boost::beast::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsInfoTableObject(const json::Value& v) {
  return v.is_object() && v.Find("rows") != nullptr && v.Find("dataShape") != nullptr;
}

absl::StatusOr<Value> TypedFromJson(const json::Value& v, const std::string& path) {
  if (v.is_number()) return Value::Number(v.number());
  if (v.is_string()) return Value::String(v.str());
  if (v.is_bool()) return Value::Boolean(v.boolean());
  if (IsInfoTableObject(v)) {
    absl::StatusOr<InfoTable> t = alwayson::InfoTableFromJson(v, path);
    if (!t.ok()) return t.status();
    return Value::Table(std::move(*t));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": expected a number, a string, a boolean or an infotable, found ", v.Kind()));
}

// "body.Temperature", "body[0]".
std::string BodyPath(absl::string_view path) {
  return absl::StrCat("body", !path.empty() && path[0] == '[' ? "" : ".", path);
}

// The parts of the request path name a Thing, a property or a service: they go to edged
// (protobuf strings) and the platform, and come back in error messages: they must be UTF-8.
absl::Status CheckNames(const std::vector<std::string>& parts) {
  for (const std::string& part : parts) {
    if (absl::Status s = json::CheckUtf8(part); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the URL's path: a Thing, property or service name: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Response JsonResponse(const Request& req, http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

absl::StatusOr<InfoTable> ParametersFromJson(absl::string_view body) {
  if (absl::StripAsciiWhitespace(body).empty()) return InfoTable{};
  json::ParseError where;
  absl::StatusOr<json::Value> parsed = json::Parse(body, json::kDefaultMaxDepth, &where);
  if (!parsed.ok() && !where.path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(BodyPath(where.path), ": ", where.what,
                                                   " (JSON at offset ", where.offset, ")"));
  }
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("body: not JSON: ", parsed.status().message()));
  }
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("body: expected a JSON object, found ", parsed->Kind()));
  }
  if (IsInfoTableObject(*parsed)) return alwayson::InfoTableFromJson(*parsed, "body");
  if (parsed->object().size() > alwayson::kMaxInfoTableFields) {
    return absl::InvalidArgumentError(absl::StrCat(
        "body: expected at most ", alwayson::kMaxInfoTableFields,
        " parameters (the limit of fields for one infotable), found ", parsed->object().size()));
  }
  InfoTable table;
  std::vector<Value> row;
  for (const auto& [name, v] : parsed->object()) {
    absl::StatusOr<Value> value = TypedFromJson(v, absl::StrCat("body.", name));
    if (!value.ok()) return value.status();
    alwayson::FieldDefinition f;
    f.name = name;
    f.base_type = value->type();
    table.fields.push_back(std::move(f));
    row.push_back(std::move(*value));
  }
  if (!row.empty()) table.rows.push_back(std::move(row));
  return table;
}

RestApi::RestApi(RestApiOptions options, std::shared_ptr<trust::TrustdClient> trustd,
                 std::shared_ptr<edged_client::EdgedClient> edge, EdgeThings* things)
    : options_(options), trustd_(std::move(trustd)), edge_(std::move(edge)), things_(things),
      csrf_(options.csrf_rotation), failed_logins_(options.failed_logins) {}

Reply RestApi::Handle(const Request& req, absl::string_view peer_address) {
  Reply reply = Answer(req, peer_address);
  if (options_.metrics) {
    options_.metrics->Request(Sv(req.target()), Sv(req.method_string()),
                              reply.response.result_int());
  }
  return reply;
}

Reply RestApi::Answer(const Request& req, absl::string_view peer_address) {
  if (std::optional<Reply> refused = Authenticate(req, peer_address)) return *std::move(refused);
  bool modifying = req.method() == http::verb::put || req.method() == http::verb::post ||
                   req.method() == http::verb::delete_ || req.method() == http::verb::patch;
  if (options_.csrf && modifying) {
    auto token = req.find("x-csrf-token");
    if (token == req.end() || !csrf_.Valid(Sv(token->value()))) {
      Response res = Error(req, http::status::unauthorized,
                           token == req.end() ? "missing x-csrf-token header (enable_csrf_tokens)"
                                              : "invalid or expired x-csrf-token");
      res.set("x-csrf-token", csrf_.Current());
      return Reply{std::move(res)};
    }
  }
  Response res = Route(req);
  if (options_.csrf) res.set("x-csrf-token", csrf_.Current());
  return Reply{std::move(res)};
}

std::optional<Reply> RestApi::Authenticate(const Request& req, absl::string_view peer_address) {
  if (!options_.authenticate) return std::nullopt;
  auto header = req.find(http::field::authorization);
  // No credentials at all is how a client learns that they are needed: not a guess.
  if (header == req.end()) return Refuse(req, peer_address, std::nullopt);
  std::optional<BasicCredentials> creds = ParseBasicAuthorization(Sv(header->value()));
  // A malformed Authorization header counts as a failure, with an empty user name.
  if (!creds) return Refuse(req, peer_address, "");
  // trustd takes UTF-8 (protobuf strings), as the configured credentials are: other bytes
  // cannot match, and must not turn into a failed trustd call (a 503 and a warning).
  if (!json::CheckUtf8(creds->user).ok() || !json::CheckUtf8(creds->password).ok()) {
    return Refuse(req, peer_address, creds->user);
  }
  absl::Time now = absl::Now();
  if (!credentials_.Accepted(*creds, now)) {
    absl::StatusOr<bool> ok = trustd_->CheckPassword("rest_server", creds->user, creds->password);
    if (!ok.ok()) {
      LogWarning(absl::StrCat("cannot check a password with trustd: ", ok.status().message(),
                              "; request refused"));
      return Reply{Error(req, http::status::service_unavailable,
                         "credentials cannot be checked now (trustd unavailable)")};
    }
    if (!*ok) return Refuse(req, peer_address, creds->user);
    credentials_.Remember(*creds, now);
  }
  failed_logins_.Succeeded(peer_address);
  return std::nullopt;
}

Reply RestApi::Refuse(const Request& req, absl::string_view peer_address,
                      std::optional<absl::string_view> user) {
  Response unauthorized = Error(req, http::status::unauthorized, "authentication required");
  unauthorized.set(http::field::www_authenticate, "Basic realm=\"EMS\", charset=\"UTF-8\"");
  if (!user) return Reply{std::move(unauthorized)};
  if (options_.metrics) options_.metrics->FailedLogin();
  FailedLogins::Verdict v = failed_logins_.Failed(peer_address, *user, absl::Now());
  if (v.log_line) LogWarning(*v.log_line);
  return Reply{std::move(unauthorized), v.hold};
}

Response RestApi::Route(const Request& req) {
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (absl::Status s = CheckNames(parts); !s.ok()) {
    return Error(req, http::status::bad_request, s.message());
  }
  // /Thingworx/Things/<thing>/{Properties[/<prop>] | Services/<svc>}
  if (parts.size() < 4 || parts[0] != "Thingworx" || parts[1] != "Things") {
    return Error(req, http::status::not_found,
                 absl::StrCat("no such resource: ", path,
                              " (expected /Thingworx/Things/<thing>/Properties/<property> or "
                              "/Services/<service>)"));
  }
  const std::string& thing = parts[2];
  const std::string& kind = parts[3];
  if (thing == "LocalEms" && kind == "Services" && parts.size() == 5) {
    if (req.method() != http::verb::post) {
      return Error(req, http::status::method_not_allowed, "LocalEms services are called with POST");
    }
    if (parts[4] == "GetEdgeThings") return GetEdgeThings(req);
    if (parts[4] == "AddEdgeThing") return AddEdgeThing(req);
    if (parts[4] == "RemoveEdgeThing") return RemoveEdgeThing(req);
    return Error(req, http::status::not_found,
                 absl::StrCat("LocalEms has no service ", parts[4],
                              " (AddEdgeThing, RemoveEdgeThing, GetEdgeThings)"));
  }
  if (thing == "LocalEms" && kind == "Properties" && parts.size() <= 5) {
    if (req.method() != http::verb::get) {
      return Error(req, http::status::method_not_allowed, "LocalEms properties are read-only (GET)");
    }
    return LocalEmsProperties(req, parts.size() == 5 ? parts[4] : "");
  }
  if (kind == "Properties" && parts.size() <= 5) {
    std::string prop = parts.size() == 5 ? parts[4] : "";
    if (req.method() == http::verb::get) return ReadProperty(req, thing, prop);
    if (req.method() == http::verb::put && !prop.empty()) return WriteProperty(req, thing, prop);
    return Error(req, http::status::method_not_allowed,
                 "properties are read with GET and written with PUT on /Properties/<property>");
  }
  if (kind == "Services" && parts.size() == 5) {
    if (req.method() != http::verb::post) {
      return Error(req, http::status::method_not_allowed, "services are called with POST");
    }
    return InvokeService(req, thing, parts[4]);
  }
  return Error(req, http::status::not_found, absl::StrCat("no such resource: ", path));
}

Response RestApi::ReadProperty(const Request& req, const std::string& thing,
                               const std::string& prop) {
  v1::ReadPropertyRequest r;
  r.set_thing(thing);
  r.set_property(prop);
  absl::StatusOr<v1::ReadPropertyResponse> res = edge_->ReadProperty(r);
  if (!res.ok()) return FromStatus(req, res.status());
  return TableResponse(req, res->value());
}

Response RestApi::WriteProperty(const Request& req, const std::string& thing,
                                const std::string& prop) {
  absl::StatusOr<InfoTable> body = ParametersFromJson(req.body());
  if (!body.ok()) return Error(req, http::status::bad_request, body.status().message());
  const Value* value = nullptr;
  for (size_t i = 0; i < body->fields.size() && !body->rows.empty(); ++i) {
    if (body->fields[i].name == prop) value = &body->rows[0][i];
  }
  if (value == nullptr) {
    return Error(req, http::status::bad_request,
                 absl::StrCat("body: expected {\"", prop, "\": <value>}, found no \"", prop,
                              "\""));
  }
  v1::WritePropertyRequest r;
  r.set_thing(thing);
  r.set_property(prop);
  *r.mutable_value() = edge_api::ToProto(*value);
  absl::StatusOr<v1::Delivery> d = edge_->WriteProperty(r);
  if (!d.ok()) return FromStatus(req, d.status());
  return Delivered(req, *d);
}

Response RestApi::InvokeService(const Request& req, const std::string& thing,
                                const std::string& svc) {
  absl::StatusOr<InfoTable> params = ParametersFromJson(req.body());
  if (!params.ok()) return Error(req, http::status::bad_request, params.status().message());
  v1::InvokeServiceRequest r;
  r.set_thing(thing);
  r.set_service(svc);
  *r.mutable_parameters() = edge_api::ToProto(*params);
  absl::StatusOr<v1::Delivery> d = edge_->InvokeService(r);
  if (!d.ok()) return FromStatus(req, d.status());
  return Delivered(req, *d);
}

// LocalEms is this gateway itself: restd answers from edged's status, also while the
// platform is unreachable (and says so when edged is).
Response RestApi::LocalEmsProperties(const Request& req, const std::string& prop) {
  absl::StatusOr<v1::StatusResponse> status = edge_->Status();
  std::vector<std::pair<alwayson::FieldDefinition, Value>> props;
  auto add = [&props](const char* name, Value v) {
    alwayson::FieldDefinition f;
    f.name = name;
    f.base_type = v.type();
    props.emplace_back(std::move(f), std::move(v));
  };
  bool connected = status.ok() && status->state() == v1::StatusResponse::CONNECTED;
  add("isConnected", Value::Boolean(connected));
  add("connectedServer", Value::String(connected ? status->server() : ""));
  add("connectionState",
      Value::String(!status.ok() ? "EDGED_UNREACHABLE"
                                 : v1::StatusResponse::State_Name(status->state())));
  add("queueDepth", Value::Number(status.ok() ? static_cast<double>(status->queue_depth()) : 0));
  add("queueBytes", Value::Number(status.ok() ? static_cast<double>(status->queue_bytes()) : 0));
  add("reconnects", Value::Number(status.ok() ? static_cast<double>(status->reconnects()) : 0));
  add("lastError", Value::String(status.ok() ? status->last_error()
                                             : absl::StrCat("edged: ", status.status().message())));
  // restd's own: failed Basic logins since it started (all addresses).
  add("failedLogins", Value::Number(static_cast<double>(failed_logins_.total())));
  InfoTable t;
  std::vector<Value> row;
  for (auto& [field, value] : props) {
    if (!prop.empty() && field.name != prop) continue;
    t.fields.push_back(field);
    row.push_back(value);
  }
  if (t.fields.empty()) {
    return Error(req, http::status::not_found,
                 absl::StrCat("LocalEms has no property ", prop,
                              " (isConnected, connectedServer, connectionState, queueDepth, "
                              "queueBytes, reconnects, lastError, failedLogins)"));
  }
  t.rows.push_back(std::move(row));
  return JsonResponse(req, http::status::ok, alwayson::InfoTableToJson(t));
}

// Each Thing restd serves (auto_bind and AddEdgeThing) with its state, and every other
// Thing edged has bound (served by a local service over gRPC).
Response RestApi::GetEdgeThings(const Request& req) {
  absl::StatusOr<v1::StatusResponse> status = edge_->Status();
  if (!status.ok()) return FromStatus(req, status.status());
  std::set<std::string> bound(status->bound_things().begin(), status->bound_things().end());
  InfoTable t;
  auto field = [&t](const char* name, BaseType type) {
    alwayson::FieldDefinition f;
    f.name = name;
    f.base_type = type;
    t.fields.push_back(f);
  };
  field("name", BaseType::kThingName);
  field("bound", BaseType::kBoolean);
  field("endpoint", BaseType::kString);
  field("source", BaseType::kString);
  field("persist", BaseType::kBoolean);
  field("lastError", BaseType::kString);
  std::set<std::string> listed;
  for (const EdgeThingState& s : things_ ? things_->List() : std::vector<EdgeThingState>{}) {
    listed.insert(s.name);
    t.rows.push_back({Value::String(s.name, BaseType::kThingName),
                      Value::Boolean(bound.count(s.name) > 0), Value::String(s.endpoint),
                      Value::String(s.added ? "AddEdgeThing" : "auto_bind"),
                      Value::Boolean(s.persist), Value::String(s.last_error)});
  }
  for (const std::string& name : status->bound_things()) {
    if (listed.count(name) > 0) continue;
    t.rows.push_back({Value::String(name, BaseType::kThingName), Value::Boolean(true),
                      Value::String(""), Value::String("local service"), Value::Boolean(false),
                      Value::String("")});
  }
  return JsonResponse(req, http::status::ok, alwayson::InfoTableToJson(t));
}

namespace {

// The body of AddEdgeThing / RemoveEdgeThing: an object with a Thing name and only the
// members `allowed`; 400 naming the first member that is not.
absl::StatusOr<json::Value> EdgeThingBody(const Request& req, const std::vector<std::string>& allowed,
                                          absl::string_view shape) {
  absl::StatusOr<json::Value> body = json::Parse(req.body());
  if (!body.ok() || !body->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("body: expected ", shape));
  }
  for (const auto& [key, value] : body->object()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "body.", LogSafe(key, 64), ": not a member this service takes (", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  const json::Value* name = body->Find("name");
  if (name == nullptr || !name->is_string() || name->str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("body.name: expected a Thing name; body: expected ", shape));
  }
  return body;
}

}  // namespace

Response RestApi::AddEdgeThing(const Request& req) {
  constexpr absl::string_view kShape = R"({"name": "<Thing>", "persist": true|false})";
  absl::StatusOr<json::Value> body = EdgeThingBody(req, {"name", "persist"}, kShape);
  if (!body.ok()) return Error(req, http::status::bad_request, body.status().message());
  const json::Value* persist = body->Find("persist");
  if (persist != nullptr && !persist->is_bool()) {
    return Error(req, http::status::bad_request, "body.persist: expected true or false");
  }
  if (things_ == nullptr) {
    return Error(req, http::status::service_unavailable, "edge Things cannot be added now");
  }
  absl::Status s = things_->Add(body->Find("name")->str(), persist != nullptr && persist->boolean());
  if (absl::IsAlreadyExists(s)) return Error(req, http::status::conflict, s.message());
  if (!s.ok()) return FromStatus(req, s);
  return JsonResponse(req, http::status::ok, "{}");
}

Response RestApi::RemoveEdgeThing(const Request& req) {
  absl::StatusOr<json::Value> body = EdgeThingBody(req, {"name"}, R"({"name": "<Thing>"})");
  if (!body.ok()) return Error(req, http::status::bad_request, body.status().message());
  if (things_ == nullptr) {
    return Error(req, http::status::service_unavailable, "edge Things cannot be removed now");
  }
  absl::Status s = things_->Remove(body->Find("name")->str());
  if (absl::IsFailedPrecondition(s)) return Error(req, http::status::conflict, s.message());
  if (!s.ok()) return FromStatus(req, s);
  return JsonResponse(req, http::status::ok, "{}");
}

}  // namespace edge::restd

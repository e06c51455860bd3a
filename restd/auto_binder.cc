#include "restd/auto_binder.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/edge/v1/edge_proto.h"
#include "services/alwayson/entity_name.h"
#include "services/json/json.h"
#include "services/alwayson/json_infotable.h"
#include "services/common/log.h"

namespace edge::restd {
namespace {

namespace http = boost::beast::http;
namespace json = ::edge::json;
namespace v1 = ::edge::v1;

v1::Answer Refusal(uint64_t id, v1::AnswerStatus status, std::string reason) {
  v1::Answer a;
  a.set_id(id);
  a.set_status(status);
  a.set_reason(std::move(reason));
  return a;
}

v1::AnswerStatus StatusForHttp(unsigned code) {
  switch (code) {
    case 400: return v1::BAD_REQUEST;
    case 401: return v1::UNAUTHORIZED;
    case 403: return v1::FORBIDDEN;
    case 404: return v1::NOT_FOUND;
    case 405: return v1::METHOD_NOT_ALLOWED;
    case 413: return v1::ENTITY_TOO_LARGE;
    case 501: return v1::NOT_IMPLEMENTED;
    case 503: return v1::SERVICE_UNAVAILABLE;
    case 504: return v1::GATEWAY_TIMEOUT;
    default: return code >= 500 ? v1::BAD_GATEWAY : v1::BAD_REQUEST;
  }
}

// `text` as one path segment: every byte but RFC 3986's unreserved characters
// (ALPHA / DIGIT / "-" / "." / "_" / "~", section 2.3) percent-encoded (section 2.1).
std::string PathSegment(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

AutoBinder::AutoBinder(std::shared_ptr<edged_client::EdgedClient> edge,
                       std::vector<config::AutoBind> endpoints,
                       std::shared_ptr<EndpointClient> client,
                       std::shared_ptr<trust::TrustdClient> trustd,
                       absl::Duration health_interval)
    : edge_(std::move(edge)), client_(std::move(client)), trustd_(std::move(trustd)),
      health_interval_(health_interval), workers_(std::make_unique<boost::asio::thread_pool>(8)) {
  absl::MutexLock lock(&mu_);
  for (config::AutoBind& e : endpoints) {
    std::string name = e.name;
    targets_[name] = Target{std::move(e)};
  }
}

AutoBinder::~AutoBinder() { Stop(); }

void AutoBinder::Start() {
  health_thread_ = std::thread([this] { HealthLoop(); });
  stream_thread_ = std::thread([this] { StreamLoop(); });
}

void AutoBinder::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (health_thread_.joinable()) health_thread_.join();
  if (stream_thread_.joinable()) stream_thread_.join();
  workers_->join();
}

absl::Status AutoBinder::Add(const std::string& name) {
  if (absl::Status s = alwayson::CheckThingName(name, "body.name"); !s.ok()) return s;
  v1::ServeMessage reg;
  {
    absl::MutexLock lock(&mu_);
    if (!targets_.count(name)) {
      config::AutoBind lsr;  // The defaults: http://localhost:8001/.
      lsr.name = name;
      targets_[name] = Target{lsr, true, false};
      LogInfo(absl::StrCat("AddEdgeThing: ", name, " is served by ", EndpointUrl(lsr)));
    }
    reg.mutable_register_()->add_things(name);
  }
  if (!Send(reg)) {
    return absl::UnavailableError("edged is not reachable; the Thing will be bound when it is");
  }
  return absl::OkStatus();
}

std::vector<std::string> AutoBinder::HealthyThings() const {
  std::vector<std::string> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, t] : targets_) {
    if (t.healthy) out.push_back(name);
  }
  return out;
}

bool AutoBinder::Send(const v1::ServeMessage& message) {
  absl::MutexLock write_lock(&write_mu_);
  grpc::ClientReaderWriter<v1::ServeMessage, v1::PlatformRequest>* stream;
  {
    absl::MutexLock lock(&mu_);
    stream = stream_;
  }
  return stream != nullptr && stream->Write(message);
}

void AutoBinder::StreamLoop() {
  bool reported = false;
  while (true) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      context_ = &context;
    }
    auto stream = edge_->Serve(&context);
    {
      absl::MutexLock lock(&mu_);
      stream_ = stream.get();
    }
    v1::ServeMessage reg;
    for (const std::string& t : HealthyThings()) reg.mutable_register_()->add_things(t);
    if (Send(reg)) {
      LogInfo(reg.register_().things_size() == 0
                  ? std::string("connected to edged's Serve stream (no endpoint checked yet)")
                  : absl::StrCat("serving ", reg.register_().things_size(), " Things through edged: ",
                                 absl::StrJoin(reg.register_().things(), ", ")));
      reported = false;
      v1::PlatformRequest request;
      while (stream->Read(&request)) {
        boost::asio::post(*workers_, [this, request] { Handle(request); });
      }
    }
    {
      absl::MutexLock write_lock(&write_mu_);
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
      context_ = nullptr;
    }
    grpc::Status s = stream->Finish();
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    if (!reported) {
      LogWarning(absl::StrCat("edged's Serve stream ended (", s.error_message(),
                              "); retrying every second"));
      reported = true;
    }
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(1));
  }
}

void AutoBinder::HealthLoop() {
  while (true) {
    std::vector<Target> snapshot;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      for (const auto& [name, t] : targets_) snapshot.push_back(t);
    }
    v1::ServeMessage changes_up, changes_down;
    for (Target& t : snapshot) {
      absl::StatusOr<Response> r =
          client_->Send(t.endpoint, http::verb::get, "/", "", /*password=*/"");
      // Reachable is alive, even when its certificate is refused: the platform's requests
      // then get the refusal's reason instead of silence.
      bool alive = r.ok() || absl::IsPermissionDenied(r.status());
      if (alive == t.healthy && t.checked) continue;
      std::string url = EndpointUrl(t.endpoint);
      if (alive) {
        LogInfo(absl::StrCat("auto_bind ", t.endpoint.name, ": ", url,
                             t.checked ? " answers again; binding" : " answers; binding"));
        changes_up.mutable_register_()->add_things(t.endpoint.name);
      } else {
        LogWarning(absl::StrCat("auto_bind ", t.endpoint.name, ": ", url, " is gone (",
                                r.status().message(), "); unbinding until it answers"));
        changes_down.mutable_withdraw()->add_things(t.endpoint.name);
      }
      absl::MutexLock lock(&mu_);
      auto it = targets_.find(t.endpoint.name);
      if (it != targets_.end()) {
        it->second.healthy = alive;
        it->second.checked = true;
      }
    }
    if (changes_up.register_().things_size() > 0) Send(changes_up);
    if (changes_down.withdraw().things_size() > 0) Send(changes_down);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), health_interval_);
  }
}

void AutoBinder::Handle(const v1::PlatformRequest& request) {
  v1::ServeMessage answer;
  *answer.mutable_answer() = Forward(request);
  Send(answer);
}

v1::Answer AutoBinder::Forward(const v1::PlatformRequest& request) {
  config::AutoBind ep;
  {
    absl::MutexLock lock(&mu_);
    auto it = targets_.find(request.thing());
    if (it == targets_.end()) {
      return Refusal(request.id(), v1::NOT_FOUND,
                     absl::StrCat("restd serves no Thing \"", request.thing(), "\""));
    }
    ep = it->second.endpoint;
  }
  absl::StatusOr<alwayson::InfoTable> params = edge_api::FromProto(request.parameters(), "parameters");
  if (!params.ok()) return Refusal(request.id(), v1::BAD_REQUEST, std::string(params.status().message()));
  // The same REST call at the endpoint: a JSON object of the first row's values.
  json::Object row;
  if (!params->rows.empty()) {
    for (size_t i = 0; i < params->fields.size(); ++i) {
      row.emplace_back(params->fields[i].name, alwayson::ValueToJson(params->rows[0][i]));
    }
  }
  std::string kind = request.characteristic() == v1::PlatformRequest::SERVICES ? "Services"
                     : request.characteristic() == v1::PlatformRequest::EVENTS ? "Events"
                                                                               : "Properties";
  // The names come from the platform: each must be one ThingWorx accepts (edged checked it
  // too) and goes on the wire as one percent-encoded path segment (RFC 3986 section 3.3), so
  // no name can add a segment, a query or a second request.
  absl::Status names = alwayson::CheckThingName(request.thing(), "thing");
  if (names.ok() && !request.name().empty()) {
    names = alwayson::CheckCharacteristicName(request.name(), "name");
  }
  if (!names.ok()) {
    LogWarning(absl::StrCat("auto_bind: platform request refused: ", names.message()));
    return Refusal(request.id(), v1::BAD_REQUEST, std::string(names.message()));
  }
  std::string target = absl::StrCat("/Thingworx/Things/", PathSegment(request.thing()), "/",
                                    kind, request.name().empty() ? "" : "/",
                                    PathSegment(request.name()));
  http::verb method = request.method() == v1::PlatformRequest::PUT    ? http::verb::put
                      : request.method() == v1::PlatformRequest::POST ? http::verb::post
                      : request.method() == v1::PlatformRequest::DELETE ? http::verb::delete_
                                                                        : http::verb::get;
  std::string body = method == http::verb::get ? "" : json::Write(json::Value::MakeObject(row));
  std::string password;
  if (!ep.user.empty()) {
    absl::StatusOr<std::string> revealed =
        trustd_->RevealSecret(absl::StrCat("auto_bind/", ep.name, "/password"));
    if (!revealed.ok()) {
      LogError(absl::StrCat("auto_bind ", ep.name, ": cannot get its password from trustd: ",
                            revealed.status().message()));
      return Refusal(request.id(), v1::SERVICE_UNAVAILABLE,
                     "the edge endpoint's credentials are not available");
    }
    password = std::move(*revealed);
  }
  absl::StatusOr<Response> res = client_->Send(ep, method, target, body, password);
  if (!res.ok()) {
    LogWarning(absl::StrCat("auto_bind ", ep.name, ": ", target, ": ", res.status().message()));
    v1::AnswerStatus status = absl::IsDeadlineExceeded(res.status()) ? v1::GATEWAY_TIMEOUT
                              : absl::IsPermissionDenied(res.status()) ? v1::BAD_GATEWAY
                                                                       : v1::SERVICE_UNAVAILABLE;
    return Refusal(request.id(), status, std::string(res.status().message()));
  }
  unsigned code = res->result_int();
  if (code < 200 || code >= 300) {
    return Refusal(request.id(), StatusForHttp(code),
                   absl::StrCat(EndpointUrl(ep), " answered ", code, ": ",
                                res->body().substr(0, 200)));
  }
  v1::Answer answer;
  answer.set_id(request.id());
  answer.set_status(v1::SUCCESS);
  if (!absl::StripAsciiWhitespace(res->body()).empty()) {
    absl::StatusOr<alwayson::InfoTable> content = ParametersFromJson(res->body());
    if (!content.ok()) {
      return Refusal(request.id(), v1::BAD_GATEWAY,
                     absl::StrCat(EndpointUrl(ep), " answered with ", content.status().message()));
    }
    *answer.mutable_content() = edge_api::ToProto(*content);
  }
  return answer;
}

}  // namespace edge::restd

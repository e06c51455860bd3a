#include "restd/auto_binder.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/edge/v1/edge_proto.h"
#include "restd/restd_metrics.h"
#include "services/alwayson/entity_name.h"
#include "services/json/json.h"
#include "services/alwayson/json_infotable.h"
#include "services/common/file_util.h"
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
                       absl::Duration health_interval, std::string state_file)
    : edge_(std::move(edge)), client_(std::move(client)), trustd_(std::move(trustd)),
      health_interval_(health_interval), state_file_(std::move(state_file)),
      workers_(std::make_unique<boost::asio::thread_pool>(8)) {
  absl::MutexLock lock(&mu_);
  for (config::AutoBind& e : endpoints) {
    std::string name = e.name;
    targets_[name] = Target{std::move(e)};
  }
}

AutoBinder::~AutoBinder() { Stop(); }

void AutoBinder::Start() {
  absl::StatusOr<std::vector<std::string>> kept = LoadPersisted();
  if (!kept.ok()) {
    // Set aside, not overwritten by the next save: what it held can still be read.
    std::string aside = state_file_ + ".unreadable";
    bool moved = std::rename(state_file_.c_str(), aside.c_str()) == 0;
    LogError(absl::StrCat("Things added with AddEdgeThing earlier are not served: ",
                          kept.status().message(), moved ? absl::StrCat("; moved to ", aside) : ""));
  } else if (!kept->empty()) {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : *kept) {
      if (targets_.count(name) > 0) continue;  // Now an auto_bind Thing of the configuration.
      config::AutoBind lsr;  // The defaults: http://localhost:8001/.
      lsr.name = name;
      targets_[name] = Target{lsr, true, false, true, true, ""};
    }
    LogInfo(absl::StrCat(kept->size(), " Thing", kept->size() == 1 ? "" : "s",
                         " added with AddEdgeThing and \"persist\": true, served again: ",
                         absl::StrJoin(*kept, ", ")));
  }
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

absl::StatusOr<std::vector<std::string>> AutoBinder::LoadPersisted() const {
  std::vector<std::string> names;
  if (state_file_.empty()) return names;
  absl::StatusOr<std::string> text = ReadFile(state_file_, 16 << 20);
  if (absl::IsNotFound(text.status())) return names;
  if (!text.ok()) return text.status();
  absl::StatusOr<json::Value> doc = json::Parse(*text);
  const json::Value* things = doc.ok() && doc->is_object() ? doc->Find("things") : nullptr;
  if (things == nullptr || !things->is_array()) {
    return absl::DataLossError(absl::StrCat(state_file_, ": expected {\"things\": [{\"name\": ...}]}",
                                            doc.ok() ? "" : absl::StrCat(" (", doc.status().message(), ")")));
  }
  for (size_t i = 0; i < things->array().size(); ++i) {
    const json::Value& t = things->array()[i];
    const json::Value* name = t.is_object() ? t.Find("name") : nullptr;
    std::string field = absl::StrCat(state_file_, ": things[", i, "].name");
    if (name == nullptr || !name->is_string()) {
      return absl::DataLossError(absl::StrCat(field, ": expected a Thing name"));
    }
    if (absl::Status s = alwayson::CheckThingName(name->str(), field); !s.ok()) {
      return absl::DataLossError(s.message());
    }
    names.push_back(name->str());
  }
  return names;
}

absl::Status AutoBinder::SavePersisted(const std::map<std::string, Target>& targets) const {
  json::Array things;
  for (const auto& [name, t] : targets) {
    if (t.persist) things.push_back(json::Value::MakeObject({{"name", json::Value::String(name)}}));
  }
  std::string dir = state_file_.substr(0, state_file_.rfind('/'));
  if (!dir.empty() && ::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat(dir, ": cannot create it (", std::strerror(errno),
                                               "); set restd.state_directory to a directory "
                                               "restd may write"));
  }
  absl::Status s = WriteFileAtomically(
      state_file_, json::Write(json::Value::MakeObject({{"things", json::Value::MakeArray(std::move(things))}})),
      0640);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        s.message(), "; set restd.state_directory to a directory restd may write"));
  }
  return absl::OkStatus();
}

absl::Status AutoBinder::Add(const std::string& name, bool persist) {
  if (absl::Status s = alwayson::CheckThingName(name, "body.name"); !s.ok()) return s;
  absl::MutexLock save_lock(&save_mu_);
  std::map<std::string, Target> snapshot;
  std::optional<Target> before;  // What to put back when the file cannot be written.
  {
    absl::MutexLock lock(&mu_);
    auto it = targets_.find(name);
    if (it != targets_.end() && !it->second.added) {
      return absl::AlreadyExistsError(absl::StrCat(
          "body.name: ", name, " is an auto_bind Thing of the configuration; it is served already"));
    }
    if (persist && state_file_.empty()) {
      return absl::FailedPreconditionError("body.persist: restd has no state directory to keep it in");
    }
    if (it == targets_.end()) {
      config::AutoBind lsr;  // The defaults: http://localhost:8001/.
      lsr.name = name;
      it = targets_.emplace(name, Target{lsr, true, false, true, persist, ""}).first;
      LogInfo(absl::StrCat("AddEdgeThing: ", name, " is served by ", EndpointUrl(lsr),
                           persist ? " (kept across restarts)" : ""));
    } else {
      before = it->second;
      if (it->second.persist == persist) persist = false;  // Nothing to write.
      it->second.persist = it->second.persist || persist;
    }
    if (persist) snapshot = targets_;
  }
  if (persist) {
    if (absl::Status s = SavePersisted(snapshot); !s.ok()) {
      absl::MutexLock lock(&mu_);
      if (before) {
        targets_[name] = *before;
      } else {
        targets_.erase(name);
      }
      LogError(absl::StrCat("AddEdgeThing ", name, " refused: ", s.message()));
      return s;
    }
  }
  v1::ServeMessage reg;
  reg.mutable_register_()->add_things(name);
  if (!Send(reg)) {
    return absl::UnavailableError("edged is not reachable; the Thing will be bound when it is");
  }
  return absl::OkStatus();
}

absl::Status AutoBinder::Remove(const std::string& name) {
  absl::MutexLock save_lock(&save_mu_);
  std::map<std::string, Target> snapshot;
  Target removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = targets_.find(name);
    if (it == targets_.end()) {
      return absl::NotFoundError(absl::StrCat("body.name: ", name, " was not added with AddEdgeThing"));
    }
    if (!it->second.added) {
      return absl::FailedPreconditionError(absl::StrCat(
          "body.name: ", name, " is an auto_bind Thing of the configuration; remove it there"));
    }
    removed = it->second;
    targets_.erase(it);
    if (removed.persist) snapshot = targets_;
  }
  if (removed.persist) {
    if (absl::Status s = SavePersisted(snapshot); !s.ok()) {
      absl::MutexLock lock(&mu_);
      targets_[name] = removed;
      LogError(absl::StrCat("RemoveEdgeThing ", name, " refused: ", s.message()));
      return s;
    }
  }
  LogInfo(absl::StrCat("RemoveEdgeThing: ", name, " is no longer served"));
  v1::ServeMessage withdraw;
  withdraw.mutable_withdraw()->add_things(name);
  Send(withdraw);  // Without a stream, the next stream does not register it.
  return absl::OkStatus();
}

std::vector<EdgeThingState> AutoBinder::List() const {
  std::vector<EdgeThingState> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, t] : targets_) {
    out.push_back(EdgeThingState{name, EndpointUrl(t.endpoint), t.added, t.persist,
                                 t.healthy && t.checked, t.last_error});
  }
  return out;
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
      std::string error = r.ok() ? "" : std::string(r.status().message());
      {
        absl::MutexLock lock(&mu_);
        auto it = targets_.find(t.endpoint.name);
        if (it != targets_.end()) it->second.last_error = error;
      }
      if (alive == t.healthy && t.checked) continue;
      std::string url = EndpointUrl(t.endpoint);
      if (alive && !r.ok()) {
        // Bound, so that the platform's requests get the refusal's reason, but never
        // reported as a working endpoint.
        LogWarning(absl::StrCat("auto_bind ", t.endpoint.name, ": ", url,
                                " refused by trustd (", error,
                                "); the platform's requests to it get this refusal"));
        changes_up.mutable_register_()->add_things(t.endpoint.name);
      } else if (alive) {
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
        if (metrics_) metrics_->EndpointUp(t.endpoint.name, alive);
        it->second.checked = true;
      }
    }
    {
      // A Thing RemoveEdgeThing took away meanwhile is not bound again.
      absl::MutexLock lock(&mu_);
      auto* names = changes_up.mutable_register_()->mutable_things();
      names->erase(std::remove_if(names->begin(), names->end(),
                                  [this](const std::string& n) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    return targets_.count(n) == 0;
                                  }),
                   names->end());
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

#include "edged/edge_service.h"

#include <deque>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/edge/v1/edge_proto.h"
#include "services/alwayson/entity_name.h"
#include "services/common/finished_call.h"
#include "services/common/log.h"
#include "services/common/status_mapping.h"
#include "services/local_rpc/authorize.h"

namespace edge::edged {
namespace v1 = ::edge::v1;
using alwayson::Code;
using alwayson::InfoTable;

namespace {

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// A name a local caller gives for the platform: present, and one ThingWorx accepts.
grpc::Status NeedName(absl::string_view field, absl::string_view value) {
  if (value.empty()) return Invalid(absl::StrCat(field, ": expected a name, found an empty string"));
  return ToGrpcStatus(field == "thing" ? alwayson::CheckThingName(value, field)
                                       : alwayson::CheckCharacteristicName(value, field));
}

alwayson::RequestBody Target(const std::string& thing, alwayson::Characteristic c,
                             const std::string& name) {
  alwayson::RequestBody body;
  body.entity_name = thing;
  body.characteristic = static_cast<uint8_t>(c);
  body.characteristic_name = name;
  return body;
}

// Every Thing of a Register message has a name ThingWorx accepts.
absl::Status CheckRegistration(const v1::ServeMessage::Register& reg) {
  for (int i = 0; i < reg.things_size(); ++i) {
    absl::Status s =
        alwayson::CheckThingName(reg.things(i), absl::StrCat("register.things[", i, "]"));
    if (!s.ok()) return s;
  }
  for (int i = 0; i < reg.file_things_size(); ++i) {
    if (std::find(reg.things().begin(), reg.things().end(), reg.file_things(i)) ==
        reg.things().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("register.file_things[", i, "]: \"", reg.file_things(i).substr(0, 200),
                       "\" is not among register.things"));
    }
  }
  return absl::OkStatus();
}

// Fills a Delivery response from the outcome.
std::function<grpc::Status(Delivery::Outcome)> Delivered(v1::Delivery* response) {
  return [response](Delivery::Outcome out) {
    response->set_outcome(out.queued ? v1::Delivery::QUEUED : v1::Delivery::DELIVERED);
    if (out.result) *response->mutable_result() = edge_api::ToProto(*out.result);
    response->set_queue_depth(out.queue_depth);
    return grpc::Status::OK;
  };
}

}  // namespace

// One Serve stream: its Things, and a writer thread so the session's I/O thread never waits
// on a slow local service.
struct EdgeServiceImpl::Server {
  grpc::ServerReaderWriter<v1::PlatformRequest, v1::ServeMessage>* stream;
  std::string who;
  std::set<std::string> things;
  absl::Mutex mu;
  std::deque<v1::PlatformRequest> queue ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
  std::thread writer;

  void Push(v1::PlatformRequest request) {
    absl::MutexLock lock(&mu);
    queue.push_back(std::move(request));
  }
  void WriteLoop() {
    while (true) {
      v1::PlatformRequest next;
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(
            +[](Server* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->closed || !s->queue.empty(); },
            this));
        if (queue.empty()) return;  // Closed.
        next = std::move(queue.front());
        queue.pop_front();
      }
      if (!stream->Write(next)) return;
    }
  }
};

EdgeServiceImpl::EdgeServiceImpl(std::vector<std::string> auto_bind,
                                 std::shared_ptr<const local_rpc::CallerPolicy> callers,
                                 const local_rpc::PeerRegistry* peers, int64_t max_in_flight)
    : auto_bind_(std::move(auto_bind)),
      callers_(std::move(callers)),
      peers_(peers),
      max_in_flight_(max_in_flight) {}

EdgeServiceImpl::~EdgeServiceImpl() = default;

void EdgeServiceImpl::Attach(PlatformSession* session, Delivery* delivery, OfflineStore* store) {
  session_ = session;
  delivery_ = delivery;
  store_ = store;
}

void EdgeServiceImpl::AttachFiles(FileService* files, int64_t max_copies) {
  files_ = files;
  max_copies_ = max_copies;
}

bool EdgeServiceImpl::ServesFiles(const std::string& thing) const {
  if (files_ == nullptr) return false;
  if (std::find(auto_bind_.begin(), auto_bind_.end(), thing) != auto_bind_.end()) return true;
  absl::MutexLock lock(&mu_);
  return file_served_.count(thing) > 0;
}

grpc::Status EdgeServiceImpl::Authorize(grpc::ServerContextBase* context,
                                        absl::string_view method) const {
  if (callers_ == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(
      local_rpc::AuthorizeCaller(*peers_, *callers_, context->peer(), method, "edged").status());
}

std::vector<std::string> EdgeServiceImpl::Things() const {
  std::set<std::string> all(auto_bind_.begin(), auto_bind_.end());
  absl::MutexLock lock(&mu_);
  for (const auto& [thing, server] : withdrawn_) all.erase(thing);
  for (const auto& [thing, server] : served_) all.insert(thing);
  return {all.begin(), all.end()};
}

grpc::ServerUnaryReactor* EdgeServiceImpl::Submit(grpc::CallbackServerContext* context,
                                                  Code method, alwayson::RequestBody body,
                                                  bool queueable, Finish finish) {
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    return Finished(context,
                   grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                absl::StrCat("edged has ", max_in_flight_,
                                             " calls waiting for the platform "
                                             "(edged.max_calls_in_flight); retry later")));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  delivery_->Submit(
      method, std::move(body), queueable,
      [this, reactor, finish = std::move(finish)](absl::StatusOr<Delivery::Outcome> out) {
        grpc::Status s = out.ok() ? finish(*std::move(out)) : ToGrpcStatus(out.status());
        in_flight_.fetch_sub(1);
        reactor->Finish(std::move(s));
      });
  return reactor;
}

grpc::ServerUnaryReactor* EdgeServiceImpl::WriteProperty(grpc::CallbackServerContext* context,
                                                         const v1::WritePropertyRequest* request,
                                                         v1::Delivery* response) {
  if (grpc::Status s = Authorize(context, "WriteProperty"); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("thing", request->thing()); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("property", request->property()); !s.ok()) {
    return Finished(context, s);
  }
  if (!request->has_value()) {
    return Finished(context, Invalid("value: expected a typed value, found none"));
  }
  absl::StatusOr<alwayson::Value> value = edge_api::FromProto(request->value(), "value");
  if (!value.ok()) return Finished(context, ToGrpcStatus(value.status()));
  // Of the type the property was declared with, when a read has told (property_types.h).
  value = property_types_.Conform(request->thing(), request->property(), *std::move(value));
  if (!value.ok()) return Finished(context, ToGrpcStatus(value.status()));
  alwayson::RequestBody body =
      Target(request->thing(), alwayson::Characteristic::kProperties, request->property());
  body.params = InfoTable::SingleValue(request->property(), std::move(*value));
  return Submit(context, Code::kPut, std::move(body), /*queueable=*/true, Delivered(response));
}

grpc::ServerUnaryReactor* EdgeServiceImpl::ReadProperty(grpc::CallbackServerContext* context,
                                                        const v1::ReadPropertyRequest* request,
                                                        v1::ReadPropertyResponse* response) {
  if (grpc::Status s = Authorize(context, "ReadProperty"); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("thing", request->thing()); !s.ok()) return Finished(context, s);
  // An empty property reads them all.
  std::string thing = request->thing();
  return Submit(context, Code::kGet,
                Target(thing, alwayson::Characteristic::kProperties, request->property()),
                /*queueable=*/false, [this, thing, response](Delivery::Outcome out) {
                  if (!out.result) return grpc::Status::OK;
                  property_types_.Learn(thing, *out.result);
                  *response->mutable_value() = edge_api::ToProto(*out.result);
                  return grpc::Status::OK;
                });
}

grpc::ServerUnaryReactor* EdgeServiceImpl::InvokeService(grpc::CallbackServerContext* context,
                                                         const v1::InvokeServiceRequest* request,
                                                         v1::Delivery* response) {
  if (grpc::Status s = Authorize(context, "InvokeService"); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("thing", request->thing()); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("service", request->service()); !s.ok()) {
    return Finished(context, s);
  }
  absl::StatusOr<InfoTable> params = edge_api::FromProto(request->parameters(), "parameters");
  if (!params.ok()) return Finished(context, ToGrpcStatus(params.status()));
  alwayson::RequestBody body =
      Target(request->thing(), alwayson::Characteristic::kServices, request->service());
  body.params = std::move(*params);
  return Submit(context, Code::kPost, std::move(body), /*queueable=*/true, Delivered(response));
}

grpc::ServerUnaryReactor* EdgeServiceImpl::FireEvent(grpc::CallbackServerContext* context,
                                                     const v1::FireEventRequest* request,
                                                     v1::Delivery* response) {
  if (grpc::Status s = Authorize(context, "FireEvent"); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("thing", request->thing()); !s.ok()) return Finished(context, s);
  if (grpc::Status s = NeedName("event", request->event()); !s.ok()) return Finished(context, s);
  absl::StatusOr<InfoTable> data = edge_api::FromProto(request->data(), "data");
  if (!data.ok()) return Finished(context, ToGrpcStatus(data.status()));
  alwayson::RequestBody body =
      Target(request->thing(), alwayson::Characteristic::kEvents, request->event());
  body.params = std::move(*data);
  return Submit(context, Code::kPost, std::move(body), /*queueable=*/true, Delivered(response));
}

grpc::Status EdgeServiceImpl::Status(grpc::ServerContext* context, const v1::StatusRequest*,
                                     v1::StatusResponse* response) {
  if (grpc::Status s = Authorize(context, "Status"); !s.ok()) return s;
  SessionStatus st = session_->status();
  switch (st.state) {
    case SessionStatus::State::kDisconnected:
      response->set_state(v1::StatusResponse::DISCONNECTED);
      break;
    case SessionStatus::State::kConnecting:
      response->set_state(v1::StatusResponse::CONNECTING);
      break;
    case SessionStatus::State::kConnected:
      response->set_state(v1::StatusResponse::CONNECTED);
      break;
  }
  response->set_server(st.server);
  for (const std::string& t : st.bound) response->add_bound_things(t);
  response->set_queue_depth(store_ ? store_->size() : 0);
  response->set_queue_bytes(store_ ? store_->bytes() : 0);
  response->set_last_error(st.last_error);
  response->set_reconnects(st.reconnects);
  return grpc::Status::OK;
}

void EdgeServiceImpl::OnPlatformRequest(const alwayson::Message& request) {
  const auto* body = std::get_if<alwayson::RequestBody>(&request.body);
  if (body == nullptr) return;
  // The names go on to local services, and from there into other protocols (restd puts
  // them in the request line to an auto_bind endpoint): only names ThingWorx accepts.
  absl::Status names = alwayson::CheckThingName(body->entity_name, "entity name");
  if (names.ok() && !body->characteristic_name.empty()) {
    names = alwayson::CheckCharacteristicName(body->characteristic_name, "characteristic name");
  }
  if (!names.ok()) {
    LogWarning(absl::StrCat("platform request ", request.header.request_id,
                            " refused with BAD_REQUEST: ", names.message()));
    alwayson::ResponseBody answer;
    answer.reason = std::string(names.message());
    session_->Respond(request.header.request_id, Code::kBadRequest, answer);
    return;
  }
  if (body->characteristic == static_cast<uint8_t>(alwayson::Characteristic::kServices) &&
      IsFileService(body->characteristic_name) && ServesFiles(body->entity_name)) {
    ServeFile(request, *body);
    return;
  }
  v1::PlatformRequest out;
  switch (request.header.code) {
    case Code::kGet: out.set_method(v1::PlatformRequest::GET); break;
    case Code::kPut: out.set_method(v1::PlatformRequest::PUT); break;
    case Code::kPost: out.set_method(v1::PlatformRequest::POST); break;
    default: out.set_method(v1::PlatformRequest::DELETE); break;
  }
  out.set_thing(body->entity_name);
  switch (static_cast<alwayson::Characteristic>(body->characteristic)) {
    case alwayson::Characteristic::kServices:
      out.set_characteristic(v1::PlatformRequest::SERVICES);
      break;
    case alwayson::Characteristic::kEvents:
      out.set_characteristic(v1::PlatformRequest::EVENTS);
      break;
    default:
      out.set_characteristic(v1::PlatformRequest::PROPERTIES);
      break;
  }
  out.set_name(body->characteristic_name);
  if (body->params) *out.mutable_parameters() = edge_api::ToProto(*body->params);
  {
    // Under mu_: the server cannot end (and go away) between the lookup and the push.
    absl::MutexLock lock(&mu_);
    auto it = served_.find(body->entity_name);
    if (it != served_.end()) {
      out.set_id(++next_id_);
      waiting_[out.id()] = Waiting{request.header.request_id, it->second};
      it->second->Push(std::move(out));
      return;
    }
  }
  bool configured = std::find(auto_bind_.begin(), auto_bind_.end(), body->entity_name) !=
                    auto_bind_.end();
  alwayson::ResponseBody answer;
  answer.reason = absl::StrCat("no local service serves Thing \"", body->entity_name,
                               "\" on this edge", configured ? " right now" : "");
  session_->Respond(request.header.request_id,
                    configured ? Code::kServiceUnavailable : Code::kNotFound, answer);
}

void EdgeServiceImpl::ServeFile(const alwayson::Message& request,
                                const alwayson::RequestBody& body) {
  uint32_t id = request.header.request_id;
  PlatformSession* session = session_;
  bool queued = files_->Post(body.entity_name, body.characteristic_name, body.params,
                             [session, id](FileAnswer a) {
                               alwayson::ResponseBody response;
                               response.reason = std::move(a.reason);
                               response.content = std::move(a.content);
                               session->Respond(id, a.status, std::move(response));
                             });
  if (!queued) {
    alwayson::ResponseBody response;
    response.reason = "edged has too many file requests waiting; retry later";
    LogWarning(absl::StrCat("platform request ", id, " (", body.characteristic_name,
                            ") refused: ", *response.reason));
    session_->Respond(id, Code::kServiceUnavailable, std::move(response));
  }
}

void EdgeServiceImpl::Answer(Server* server, const v1::Answer& answer) {
  uint32_t request_id;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiting_.find(answer.id());
    if (it == waiting_.end() || it->second.server != server) {
      LogWarning(absl::StrCat(server->who, " answered request ", answer.id(),
                              ", which it was not asked (or which was answered already)"));
      return;
    }
    request_id = it->second.request_id;
    waiting_.erase(it);
  }
  alwayson::ResponseBody body;
  std::optional<Code> status = edge_api::FromProto(answer.status());
  absl::StatusOr<InfoTable> content = edge_api::FromProto(answer.content(), "answer.content");
  if (!status) {
    status = Code::kInternalServerError;
    body.reason = absl::StrCat("the local service answered with an unknown status ",
                               static_cast<int>(answer.status()));
  } else if (!content.ok()) {
    status = Code::kInternalServerError;
    body.reason = std::string(content.status().message());
  } else {
    if (!answer.reason().empty()) body.reason = answer.reason();
    if (answer.has_content()) body.content = std::move(*content);
  }
  if (body.reason && *status == Code::kInternalServerError) {
    LogWarning(absl::StrCat(server->who, ": ", *body.reason));
  }
  session_->Respond(request_id, *status, std::move(body));
}

grpc::Status EdgeServiceImpl::Serve(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::PlatformRequest, v1::ServeMessage>* stream) {
  if (grpc::Status s = Authorize(context, "Serve"); !s.ok()) return s;
  Server server;
  server.stream = stream;
  std::optional<local_rpc::PeerCredentials> creds =
      peers_ ? peers_->Lookup(context->peer()) : std::nullopt;
  server.who = creds ? absl::StrCat("local service (pid ", creds->pid, ", uid ", creds->uid, ")")
                     : "local service";
  server.writer = std::thread([&server] { server.WriteLoop(); });

  v1::ServeMessage message;
  grpc::Status ended = grpc::Status::OK;
  while (stream->Read(&message)) {
    if (message.has_register_()) {
      // Names go to the platform in BIND and, from its requests, into other protocols: only
      // names ThingWorx accepts (and a bounded size) are registered.
      absl::Status names = CheckRegistration(message.register_());
      if (!names.ok()) {
        LogWarning(absl::StrCat(server.who, ": registration refused: ", names.message()));
        ended = ToGrpcStatus(names);
        break;
      }
      if (message.register_().file_things_size() > 0) {
        grpc::Status allowed = files_ == nullptr
                                   ? grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                                  "register.file_things: edged serves no files "
                                                  "(file.virtual_dirs is empty)")
                                   : Authorize(context, "ServeFiles");
        if (!allowed.ok()) {
          LogWarning(absl::StrCat(server.who, ": registration with file_things refused: ",
                                  allowed.error_message()));
          ended = allowed;
          break;
        }
      }
    }
    if (message.has_answer()) {
      Answer(&server, message.answer());
      continue;
    }
    if (message.has_withdraw()) {
      std::vector<std::string> gone;
      {
        absl::MutexLock lock(&mu_);
        for (const std::string& thing : message.withdraw().things()) {
          auto it = served_.find(thing);
          if (it == served_.end() || it->second != &server) continue;
          served_.erase(it);
          server.things.erase(thing);
          if (auto f = file_served_.find(thing); f != file_served_.end() && f->second == &server) {
            file_served_.erase(f);
          }
          withdrawn_[thing] = &server;
          gone.push_back(thing);
        }
      }
      if (!gone.empty()) {
        LogInfo(absl::StrCat(server.who, " withdrew ", absl::StrJoin(gone, ", ")));
        session_->Unbind(gone);
      }
      continue;
    }
    std::vector<std::string> fresh;
    {
      absl::MutexLock lock(&mu_);
      for (const std::string& thing : message.register_().file_things()) {
        file_served_[thing] = &server;
      }
      for (const std::string& thing : message.register_().things()) {
        withdrawn_.erase(thing);
        if (thing.empty() || server.things.count(thing)) continue;
        Server*& owner = served_[thing];
        if (owner != nullptr && owner != &server) owner->things.erase(thing);  // Taken over.
        owner = &server;
        server.things.insert(thing);
        fresh.push_back(thing);
      }
    }
    if (!fresh.empty()) {
      LogInfo(absl::StrCat(server.who, " serves ", absl::StrJoin(fresh, ", ")));
      session_->Bind(fresh);
    }
  }

  // The stream ended: its Things are no longer served; requests it left open fail.
  std::vector<std::string> unbind, rebind;
  std::vector<uint32_t> orphaned;
  {
    absl::MutexLock lock(&mu_);
    // What it withdrew goes back to the default: auto_bind Things are bound, unserved;
    // any other Thing is not bound at all.
    for (auto it = withdrawn_.begin(); it != withdrawn_.end();) {
      if (it->second == &server) {
        if (std::find(auto_bind_.begin(), auto_bind_.end(), it->first) != auto_bind_.end()) {
          rebind.push_back(it->first);
        }
        it = withdrawn_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = file_served_.begin(); it != file_served_.end();) {
      it = it->second == &server ? file_served_.erase(it) : std::next(it);
    }
    for (const std::string& thing : server.things) {
      auto it = served_.find(thing);
      if (it != served_.end() && it->second == &server) served_.erase(it);
      if (std::find(auto_bind_.begin(), auto_bind_.end(), thing) == auto_bind_.end()) {
        unbind.push_back(thing);
      }
    }
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.server == &server) {
        orphaned.push_back(it->second.request_id);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (uint32_t id : orphaned) {
    alwayson::ResponseBody body;
    body.reason = "the local service serving this Thing went away";
    session_->Respond(id, Code::kServiceUnavailable, body);
  }
  if (!unbind.empty()) session_->Unbind(unbind);
  if (!rebind.empty()) session_->Bind(rebind);
  if (!server.things.empty()) {
    LogInfo(absl::StrCat(server.who, " stopped serving ",
                         absl::StrJoin(server.things, ", ")));
  }
  {
    absl::MutexLock lock(&server.mu);
    server.closed = true;
  }
  server.writer.join();
  return ended;
}

namespace {

// A file path in the platform's repository: "/dir/file" (the leading '/' optional), split
// into its directory and file name as Copy takes them (shared/specs/
// alwayson-file-transfer.md section 3). No "..", control characters or empty file name.
absl::StatusOr<std::pair<std::string, std::string>> RepositoryPath(absl::string_view path) {
  constexpr absl::string_view kField = "repository_path";
  if (path.empty()) return absl::InvalidArgumentError("repository_path: expected a file path");
  // The same rules as a path from the platform (FileService's SplitWirePath).
  absl::StatusOr<std::vector<std::string>> parts = SplitWirePath(path, kField);
  if (!parts.ok()) return parts.status();
  if (parts->empty() || path.back() == '/' || path.back() == '\\') {
    return absl::InvalidArgumentError(absl::StrCat(kField, " \"",
                                                   absl::CHexEscape(path.substr(0, 200)),
                                                   "\": expected a file, found a directory"));
  }
  std::string file = parts->back();
  parts->pop_back();
  return std::make_pair(absl::StrCat("/", absl::StrJoin(*parts, "/")), file);
}

}  // namespace

grpc::Status EdgeServiceImpl::CopyFile(grpc::ServerContext* context,
                                       const v1::CopyFileRequest* request,
                                       grpc::ServerWriter<v1::CopyFileProgress>* writer) {
  if (grpc::Status s = Authorize(context, "CopyFile"); !s.ok()) return s;
  if (files_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "edged serves no files: file.virtual_dirs is empty");
  }
  if (grpc::Status s = NeedName("thing", request->thing()); !s.ok()) return s;
  if (!ServesFiles(request->thing())) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("thing: edged serves no files for \"", request->thing(),
                                     "\" (not in auto_bind, nor registered with file_things)"));
  }
  if (grpc::Status s = NeedName("repository", request->repository()); !s.ok()) return s;
  absl::StatusOr<FileService::Located> local =
      files_->Locate(request->thing(), request->path(), "path");
  if (!local.ok()) return ToGrpcStatus(local.status());
  absl::StatusOr<std::pair<std::string, std::string>> remote =
      RepositoryPath(request->repository_path());
  if (!remote.ok()) return ToGrpcStatus(remote.status());
  bool to_platform = request->direction() == v1::CopyFileRequest::TO_PLATFORM;
  if (to_platform) {
    // As the SDK's SendFile: a missing source fails here, nothing is sent (section 3).
    if (absl::Status s = files_->CheckRegularFile(*local); !s.ok()) {
      return ToGrpcStatus(absl::NotFoundError(absl::StrCat("path: ", s.message())));
    }
  }
  if (request->timeout_ms() > static_cast<uint32_t>(INT32_MAX)) {
    return Invalid("timeout_ms: at most 2147483647");
  }

  std::shared_ptr<FileCopies::Copy> copy = copies_.Follow(request->thing(), local->file);
  struct Forget {
    FileCopies* copies;
    std::shared_ptr<FileCopies::Copy> copy;
    ~Forget() { copies->Forget(copy); }
  } forget{&copies_, copy};
  if (static_cast<int64_t>(copies_.size()) > max_copies_) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("edged has ", max_copies_,
                                     " copies under way (edged.file_max_transfers); retry later"));
  }

  // Copy on FileTransferSubsystem, its parameters in the SDK's order and types (section 3).
  std::string edge_dir = absl::StrCat("/", local->vdir);
  std::string edge_file = local->rel;
  if (size_t slash = local->rel.rfind('/'); slash != std::string::npos) {
    edge_dir = absl::StrCat("/", local->vdir, "/", local->rel.substr(0, slash));
    edge_file = local->rel.substr(slash + 1);
  }
  using alwayson::Value;
  const std::string& edge = request->thing();
  const std::string& repo = request->repository();
  InfoTable params = InfoTable::OneRow({
      {"sourceRepo", Value::String(to_platform ? edge : repo)},
      {"sourcePath", Value::String(to_platform ? edge_dir : remote->first)},
      {"sourceFile", Value::String(to_platform ? edge_file : remote->second)},
      {"targetRepo", Value::String(to_platform ? repo : edge)},
      {"targetPath", Value::String(to_platform ? remote->first : edge_dir)},
      {"targetFile", Value::String(to_platform ? remote->second : edge_file)},
      // Asynchronous: the reply comes at once, the transfer after it.
      {"async", Value::Boolean(true)},
      {"timeout", Value::Integer(static_cast<int32_t>(request->timeout_ms()))},
  });
  alwayson::RequestBody body;
  body.entity_type = static_cast<uint8_t>(alwayson::EntityType::kSubsystem);
  body.entity_name = "FileTransferSubsystem";
  body.characteristic = static_cast<uint8_t>(alwayson::Characteristic::kServices);
  body.characteristic_name = "Copy";
  body.params = std::move(params);
  LogInfo(absl::StrCat("copy of ", edge, ":/", local->file, to_platform ? " to " : " from ", repo,
                       ":", remote->first, remote->first == "/" ? "" : "/", remote->second,
                       " requested"));
  delivery_->Submit(Code::kPost, std::move(body), /*queueable=*/true,
                    [copy](absl::StatusOr<Delivery::Outcome> out) {
                      copy->Answered(std::move(out));
                    });

  absl::Time deadline = request->timeout_ms() > 0
                            ? absl::Now() + absl::Milliseconds(request->timeout_ms())
                            : absl::InfiniteFuture();
  auto send = [writer](v1::CopyFileProgress::State state, const std::string& tid, uint64_t bytes,
                       uint64_t size, const std::string& message) {
    v1::CopyFileProgress p;
    p.set_state(state);
    p.set_transfer_id(tid);
    p.set_bytes(bytes);
    p.set_size(size);
    p.set_message(message);
    return writer->Write(p);
  };
  while (true) {
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    if (absl::Now() >= deadline) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("the copy did not complete within timeout_ms (",
                                       request->timeout_ms(),
                                       " ms); the platform may still carry it out"));
    }
    // Woken every 200 ms to notice a cancelled call.
    std::optional<FileCopies::Copy::Step> step =
        copy->Next(std::min(deadline, absl::Now() + absl::Milliseconds(200)));
    if (!step) continue;
    if (auto* answer = std::get_if<absl::StatusOr<Delivery::Outcome>>(&*step)) {
      if (!answer->ok()) return ToGrpcStatus(answer->status());
      if ((*answer)->queued) {
        v1::CopyFileProgress p;
        p.set_state(v1::CopyFileProgress::QUEUED);
        p.set_message("the platform is unreachable: the copy is kept in the offline store");
        p.set_queue_depth((*answer)->queue_depth);
        if (!writer->Write(p)) return grpc::Status::CANCELLED;
        continue;
      }
      // The job (section 4): the SDK requires its transferId.
      std::string tid;
      if (const std::optional<InfoTable>& job = (*answer)->result; job && !job->rows.empty()) {
        for (size_t i = 0; i < job->fields.size() && i < job->rows[0].size(); ++i) {
          if (job->fields[i].name == "transferId" &&
              alwayson::IsStringType(job->rows[0][i].type())) {
            tid = job->rows[0][i].str().substr(0, 256);
          }
        }
      }
      if (tid.empty()) {
        return grpc::Status(grpc::StatusCode::INTERNAL,
                            "the platform accepted the copy without a transferId");
      }
      copy->set_transfer_id(tid);
      if (!send(v1::CopyFileProgress::REQUESTED, tid, 0, 0, "")) return grpc::Status::CANCELLED;
      continue;
    }
    const TransferEvent& e = std::get<TransferEvent>(*step);
    switch (e.kind) {
      case TransferEvent::Kind::kStarted:
        if (!send(v1::CopyFileProgress::STARTED, e.tid, 0, e.size, "")) {
          return grpc::Status::CANCELLED;
        }
        break;
      case TransferEvent::Kind::kProgress:
        if (!send(v1::CopyFileProgress::TRANSFERRING, e.tid, e.bytes, e.size, "")) {
          return grpc::Status::CANCELLED;
        }
        break;
      case TransferEvent::Kind::kCompleted:
        send(v1::CopyFileProgress::COMPLETED, e.tid, e.bytes, e.size, e.message);
        return grpc::Status::OK;
      case TransferEvent::Kind::kFailed:
        send(v1::CopyFileProgress::FAILED, e.tid, e.bytes, e.size, e.message);
        return grpc::Status(grpc::StatusCode::ABORTED,
                            absl::StrCat("the copy failed: ", e.message));
    }
  }
}

}  // namespace edge::edged

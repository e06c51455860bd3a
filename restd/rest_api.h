// RestApi: the EMS REST API (shared/specs/ems-config.md, "REST API") on top of edged's
// local gRPC API: routes, Basic authentication by trustd, CSRF tokens, JSON infotables in
// and out, and errors as HTTP statuses with a short JSON body.
//
//   RestApi api(options, trustd, edged, &things);
//   Reply reply = api.Handle(request, "192.0.2.7");   // blocking: asks trustd and edged
//   // write reply.response once reply.hold has passed (HttpsServer does)
//
// Failed logins are logged (user escaped, peer address, never the password), counted, and
// slowed per peer address (FailedLogins in auth.h); a correct login is never held.
// Thread-safe.
#ifndef RESTD_REST_API_H_
#define RESTD_REST_API_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "restd/auth.h"
#include "services/alwayson/value.h"
#include "services/edged_client/edged_client.h"
#include "services/trustd_client/trustd_client.h"

namespace edge::restd {

class RestdMetrics;

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// One Thing restd serves for the platform, as GetEdgeThings shows it.
struct EdgeThingState {
  std::string name;
  std::string endpoint;     // The edge endpoint's URL.
  bool added = false;       // By AddEdgeThing (else from auto_bind).
  bool persist = false;     // Kept across restarts (AddEdgeThing "persist": true).
  bool answering = false;   // The endpoint answered its last health check.
  std::string last_error;   // Of the last health check or forwarded request; "" if none.
};

// Things served by this restd besides auto_bind: AddEdgeThing registers them.
class EdgeThings {
 public:
  virtual ~EdgeThings() = default;
  // kInvalidArgument for a name ThingWorx would not accept, kAlreadyExists for an auto_bind
  // Thing, kUnavailable (and nothing kept) when `persist` cannot be written.
  virtual absl::Status Add(const std::string& name, bool persist) = 0;
  // kNotFound for a Thing AddEdgeThing did not add; kFailedPrecondition for an auto_bind one.
  virtual absl::Status Remove(const std::string& name) = 0;
  virtual std::vector<EdgeThingState> List() const = 0;
};

// A response and how long to hold it before it is written: a failed login's penalty. The
// server waits on a timer, so no thread is held, and a correct login from the same address
// is answered at once.
struct Reply {
  Response response;
  absl::Duration hold = absl::ZeroDuration();
};

struct RestApiOptions {
  bool authenticate = true;
  bool csrf = true;
  absl::Duration csrf_rotation = absl::Minutes(10);
  FailedLoginPolicy failed_logins;
  RestdMetrics* metrics = nullptr;  // Requests and failed logins counted; must outlive.
};

class RestApi {
 public:
  RestApi(RestApiOptions options, std::shared_ptr<trust::TrustdClient> trustd,
          std::shared_ptr<edged_client::EdgedClient> edge, EdgeThings* things);

  // `peer_address` is the client's IP address ("192.0.2.7", "::1"; "" when unknown): the
  // key of the failed-login count, and what its log lines name.
  Reply Handle(const Request& request, absl::string_view peer_address);
  // Forget cached credentials (trustd's state changed).
  void ForgetCredentials() { credentials_.Clear(); }
  // Failed logins since start (for metrics).
  uint64_t failed_logins() const { return failed_logins_.total(); }

 private:
  // nullopt when authentication is off or the request carries credentials trustd accepts;
  // otherwise the answer (401, held after repeated failures; 503 without trustd).
  Reply Answer(const Request& request, absl::string_view peer_address);  // Handle, uncounted.
  std::optional<Reply> Authenticate(const Request& request, absl::string_view peer_address);
  Reply Refuse(const Request& request, absl::string_view peer_address,
               std::optional<absl::string_view> user);
  Response Route(const Request& request);
  Response ReadProperty(const Request& r, const std::string& thing, const std::string& prop);
  Response WriteProperty(const Request& r, const std::string& thing, const std::string& prop);
  Response InvokeService(const Request& r, const std::string& thing, const std::string& svc);
  Response GetEdgeThings(const Request& r);
  Response AddEdgeThing(const Request& r);
  Response RemoveEdgeThing(const Request& r);
  // LocalEms's properties, answered by restd itself (never the platform).
  Response LocalEmsProperties(const Request& r, const std::string& prop);

  RestApiOptions options_;
  std::shared_ptr<trust::TrustdClient> trustd_;
  std::shared_ptr<edged_client::EdgedClient> edge_;
  EdgeThings* things_;
  CsrfTokens csrf_;
  CredentialCache credentials_{absl::Seconds(30)};
  FailedLogins failed_logins_;
};

// A response to `req` with a JSON body (Content-Type and keep-alive set, length computed).
Response JsonResponse(const Request& req, boost::beast::http::status status, std::string body);

// {"a": 1, "b": "x"} as a one-row infotable, each value typed by its JSON kind (number ->
// NUMBER, string -> STRING, boolean -> BOOLEAN, an infotable object -> INFOTABLE); or, when
// the body is itself an infotable ({"dataShape", "rows"}), that infotable. The body must be
// strict JSON (services/json/json.h: UTF-8 strings, numbers a double can hold); at most
// alwayson::kMaxInfoTableFields parameters. kInvalidArgument naming the member ("body.b:
// ...", "body.rows[0].Temperature: ...") or "body: not JSON: ..." for the structure.
// restd does not know the Things' property types: a value is typed by its JSON kind, and
// the platform checks it against the property (an infotable body declares its types and is
// checked here).
absl::StatusOr<alwayson::InfoTable> ParametersFromJson(absl::string_view body);

}  // namespace edge::restd

#endif  // RESTD_REST_API_H_

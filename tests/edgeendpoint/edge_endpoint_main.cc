// edge_endpoint: a small HTTPS edge endpoint standing in for an LSR (the EMS Lua Script
// Resource), for the tests and the demo. Serves the EMS URL shapes on its own port:
//   GET/PUT /Thingworx/Things/<thing>/Properties/<prop>   (values kept in memory)
//   POST    /Thingworx/Things/<thing>/Services/<service>  -> {"result": "<service> done ..."}
//   GET     /                                             -> {"ok": true} (health)
// with Basic authentication when --user/--password are given. Path segments are
// percent-decoded (as an LSR does): ".../Properties/Inlet%20Temp" is the property "Inlet Temp".
// With --log-requests every request that reached the handler is logged first, health checks
// and refused ones included, as "request: METHOD TARGET (Authorization: present|absent)"
// with the target escaped (tests check that nothing else reached the endpoint).
//   edge_endpoint --listen 127.0.0.1:0 --cert c.pem --key k.pem [--user u --password p]
//                 [--ready-file F] [--log-requests]
#include <openssl/ssl.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "restd/auth.h"
#include "restd/https_server.h"
#include "restd/rest_api.h"
#include "services/json/json.h"
#include "services/common/log.h"

namespace edge {
namespace {

namespace http = boost::beast::http;
namespace json = ::edge::json;
using restd::Request;
using restd::Response;

std::string OneValue(const std::string& name, const json::Value& v) {
  const char* type = v.is_number() ? "NUMBER" : v.is_bool() ? "BOOLEAN" : "STRING";
  std::string n = json::Write(json::Value::String(name));  // A decoded name may hold quotes.
  return absl::StrCat(R"({"dataShape": {"fieldDefinitions": {)", n, R"(: {"name": )", n,
                      R"(, "description": "", "baseType": ")", type,
                      R"(", "aspects": {}}}}, "rows": [{)", n, ": ", json::Write(v), "}]}");
}

// One path segment with its %XX escapes decoded; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(absl::string_view segment) {
  std::string out;
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    if (i + 2 >= segment.size() || !absl::ascii_isxdigit(segment[i + 1]) ||
        !absl::ascii_isxdigit(segment[i + 2])) {
      return std::nullopt;
    }
    out += absl::HexStringToBytes(segment.substr(i + 1, 2));
    i += 2;
  }
  return out;
}

int Main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", cert, key, user, password, ready_file;
  bool log_requests = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--log-requests") {
      log_requests = true;
      continue;
    }
    std::string v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--listen") listen = v;
    else if (a == "--cert") cert = v;
    else if (a == "--key") key = v;
    else if (a == "--user") user = v;
    else if (a == "--password") password = v;
    else if (a == "--ready-file") ready_file = v;
    else {
      std::cerr << "edge_endpoint: unknown argument \"" << a << "\"\n";
      return 2;
    }
    ++i;
  }
  std::shared_ptr<SSL_CTX> ctx;
  if (!cert.empty()) {
    ctx.reset(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    // A stand-in must be able to present the bad certificates the tests give it (SHA-1
    // signed, weak keys): its clients (restd, through trustd) are what is being tested.
    SSL_CTX_set_security_level(ctx.get(), 0);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      std::cerr << "edge_endpoint: cannot load --cert " << cert << " / --key " << key << "\n";
      return 1;
    }
  }
  std::pair<std::string, std::string> hp = absl::StrSplit(listen, absl::MaxSplits(':', 1));
  restd::HttpsServerOptions options;
  options.host = hp.first;
  if (!absl::SimpleAtoi(hp.second, &options.port)) {
    std::cerr << "edge_endpoint: --listen: expected HOST:PORT\n";
    return 2;
  }
  options.tls = ctx != nullptr;
  options.tls_context = [ctx] { return ctx; };
  options.io_threads = 1;
  options.max_clients = 64;

  absl::Mutex mu;
  std::map<std::string, json::Value> properties;
  restd::HttpsServer server(options, [&](const Request& req) {
    std::string target(req.target());
    if (log_requests) {
      bool auth = req.find(http::field::authorization) != req.end();
      LogInfo(absl::StrCat("request: ", std::string(req.method_string()), " ",
                           LogSafe(target, 4096), " (Authorization: ", auth ? "present" : "absent",
                           ")"));
    }
    if (!user.empty() && target != "/") {
      auto h = req.find(http::field::authorization);
      std::optional<restd::BasicCredentials> c =
          h == req.end() ? std::nullopt
                         : restd::ParseBasicAuthorization(
                               absl::string_view(h->value().data(), h->value().size()));
      if (!c || c->user != user || c->password != password) {
        LogWarning(absl::StrCat(std::string(req.method_string()), " ", target, " -> 401"));
        return restd::JsonResponse(req, http::status::unauthorized, R"({"error": "authentication required"})");
      }
    }
    std::vector<std::string> parts = absl::StrSplit(target, '/', absl::SkipEmpty());
    Response res = restd::JsonResponse(req, http::status::not_found, R"({"error": "no such resource"})");
    if (target == "/") {
      res = restd::JsonResponse(req, http::status::ok, R"({"ok": true})");
    } else if (parts.size() == 5 && parts[0] == "Thingworx" && parts[1] == "Things" &&
               (!PercentDecode(parts[2]) || !PercentDecode(parts[4]))) {
      res = restd::JsonResponse(req, http::status::bad_request, R"({"error": "malformed %-escape"})");
    } else if (parts.size() == 5 && parts[0] == "Thingworx" && parts[1] == "Things") {
      parts[2] = *PercentDecode(parts[2]);
      parts[4] = *PercentDecode(parts[4]);
      std::string key = absl::StrCat(parts[2], "/", parts[4]);
      auto body = json::Parse(req.body().empty() ? "{}" : req.body());
      if (!body.ok() || !body->is_object()) {
        res = restd::JsonResponse(req, http::status::bad_request, R"({"error": "expected a JSON object"})");
      } else if (parts[3] == "Properties" && req.method() == http::verb::put) {
        const json::Value* v = body->Find(parts[4]);
        if (v == nullptr) {
          res = restd::JsonResponse(req, http::status::bad_request, R"({"error": "no value"})");
        } else {
          absl::MutexLock lock(&mu);
          properties[key] = *v;
          res = restd::JsonResponse(req, http::status::ok, "{}");
        }
      } else if (parts[3] == "Properties" && req.method() == http::verb::get) {
        absl::MutexLock lock(&mu);
        auto it = properties.find(key);
        json::Value v = it == properties.end() ? json::Value::Number(42) : it->second;
        res = restd::JsonResponse(req, http::status::ok, OneValue(parts[4], v));
      } else if (parts[3] == "Services" && req.method() == http::verb::post) {
        res = restd::JsonResponse(req, http::status::ok,
                    OneValue("result", json::Value::String(absl::StrCat(
                                           parts[4], " done on ", parts[2], " with ", req.body()))));
      }
    }
    // Health checks (GET /) come every few seconds: not worth a line each.
    if (target != "/") {
      LogInfo(absl::StrCat(std::string(req.method_string()), " ", target, " -> ", res.result_int()));
    }
    return res;
  });
  absl::StatusOr<int> port = server.Start();
  if (!port.ok()) {
    std::cerr << "edge_endpoint: " << port.status().message() << "\n";
    return 1;
  }
  if (!ready_file.empty()) {
    std::ofstream(ready_file + ".tmp") << absl::StrCat("{\"port\": ", *port, "}\n");
    std::rename((ready_file + ".tmp").c_str(), ready_file.c_str());
  }
  LogInfo(absl::StrCat("edge endpoint on ", ctx ? "https" : "http", "://", options.host, ":",
                       *port));
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int sig = 0;
  sigwait(&signals, &sig);
  server.Stop();
  return 0;
}

}  // namespace
}  // namespace edge

int main(int argc, char** argv) {
  edge::SetLogName("edge_endpoint");
  signal(SIGPIPE, SIG_IGN);
  return edge::Main(argc, argv);
}

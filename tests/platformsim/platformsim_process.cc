#include "tests/platformsim/platformsim_process.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/control_client.h"

namespace edge::testing {
namespace json = ::edge::json;

absl::StatusOr<std::unique_ptr<PlatformSimProcess>> PlatformSimProcess::Start(
    const std::string& dir, PlatformSimOptions options) {
  std::string ready = absl::StrCat(dir, "/", options.name, ".ready");
  std::remove(ready.c_str());
  std::vector<std::string> argv = {Runfile("tests/platformsim/platformsim"),
                                   "--cert", options.cert, "--key", options.key,
                                   "--app-key", options.app_key,
                                   "--listen", absl::StrCat("127.0.0.1:", options.ws_port),
                                   "--ready-file", ready};
  if (!options.journal.empty()) {
    argv.push_back("--journal");
    argv.push_back(options.journal);
  }
  if (options.require_appkey_header) {
    argv.push_back("--require-appkey-header");
  }
  if (!options.repository.empty()) {
    argv.push_back("--repository");
    argv.push_back(options.repository);
  }
  for (const std::string& p : options.properties) {
    argv.push_back("--property");
    argv.push_back(p);
  }
  auto process = Subprocess::Start(argv, absl::StrCat(dir, "/", options.name, ".log"));
  if (!process.ok()) return process.status();
  std::unique_ptr<PlatformSimProcess> sim(new PlatformSimProcess());
  sim->process_ = std::move(*process);
  absl::StatusOr<std::string> ready_content = sim->process_->WaitForFile(ready, absl::Seconds(20));
  if (!ready_content.ok()) return ready_content.status();
  auto ports = json::Parse(*ready_content);
  if (!ports.ok() || !ports->Find("ws") || !ports->Find("control")) {
    return absl::InternalError(absl::StrCat(ready, ": unexpected content"));
  }
  sim->ws_port_ = static_cast<int>(ports->Find("ws")->number());
  sim->control_port_ = static_cast<int>(ports->Find("control")->number());
  return sim;
}

absl::StatusOr<json::Value> PlatformSimProcess::Request(const std::string& method,
                                                        const std::string& target,
                                                        const std::string& body) {
  return ControlClient(control_port_).Request(method, target, body);
}

absl::StatusOr<json::Value> PlatformSimProcess::Records() { return Request("GET", "/records", ""); }
absl::StatusOr<json::Value> PlatformSimProcess::Status() { return Request("GET", "/status", ""); }
absl::StatusOr<json::Value> PlatformSimProcess::Call(const std::string& request_json) {
  return Request("POST", "/call", request_json);
}
absl::Status PlatformSimProcess::Drop() { return Request("POST", "/drop", "{}").status(); }
absl::Status PlatformSimProcess::Refuse(int ms) {
  return Request("POST", "/refuse", absl::StrCat("{\"ms\": ", ms, "}")).status();
}

absl::StatusOr<json::Value> PlatformSimProcess::Transfer(const std::string& request_json) {
  return Request("POST", "/transfer", request_json);
}

std::vector<json::Value> RecordsOfKind(const json::Value& records, const std::string& kind) {
  std::vector<json::Value> out;
  if (!records.is_array()) return out;
  for (const json::Value& r : records.array()) {
    const json::Value* k = r.Find("kind");
    if (k && k->is_string() && k->str() == kind) out.push_back(r);
  }
  return out;
}

}  // namespace edge::testing

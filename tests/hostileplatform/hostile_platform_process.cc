#include "tests/hostileplatform/hostile_platform_process.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace edge::testing {

namespace json = ::edge::json;

absl::StatusOr<std::unique_ptr<HostilePlatformProcess>> HostilePlatformProcess::Start(
    const std::string& dir, const std::string& cert, const std::string& key) {
  std::string ready = dir + "/hostile_platform.ready";
  std::remove(ready.c_str());
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
      {Runfile("tests/hostileplatform/hostile_platform"), "--cert", cert, "--key", key,
       "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--ready-file", ready},
      dir + "/hostile_platform.log");
  if (!process.ok()) return process.status();
  std::unique_ptr<HostilePlatformProcess> platform(new HostilePlatformProcess(std::move(*process)));
  absl::StatusOr<std::string> content = platform->process_->WaitForFile(ready, absl::Seconds(20));
  if (!content.ok()) return content.status();
  absl::StatusOr<json::Value> ports = json::Parse(*content);
  if (!ports.ok() || !ports->Find("ws") || !ports->Find("control")) {
    return absl::InternalError(absl::StrCat(ready, ": unexpected content: ", *content));
  }
  platform->ws_port_ = static_cast<int>(ports->Find("ws")->number());
  platform->control_ = ControlClient(static_cast<int>(ports->Find("control")->number()));
  return platform;
}

// A flood may take a while on a busy machine; hostile_platform bounds it by max_seconds.
absl::StatusOr<json::Value> HostilePlatformProcess::ChunkFlood(const json::Value& args) {
  return control_.Request("POST", "/chunk-flood", json::Write(args), absl::Seconds(360));
}
absl::StatusOr<json::Value> HostilePlatformProcess::Request(const json::Value& args) {
  return control_.Request("POST", "/request", json::Write(args), absl::Seconds(70));
}
absl::StatusOr<json::Value> HostilePlatformProcess::Raw(const std::string& hex, int repeat) {
  return control_.Request(
      "POST", "/raw",
      json::Write(json::Value::MakeObject(
          {{"hex", json::Value::String(hex)}, {"repeat", json::Value::Number(repeat)}})),
      absl::Seconds(70));
}
absl::StatusOr<json::Value> HostilePlatformProcess::Silence(bool auth, bool bind) {
  return control_.Request("POST", "/silence",
                          absl::StrCat(R"({"auth": )", auth ? "true" : "false", R"(, "bind": )",
                                       bind ? "true" : "false", "}"));
}
absl::StatusOr<json::Value> HostilePlatformProcess::Answers(const std::string& status,
                                                            int reason_bytes) {
  return control_.Request("POST", "/answers",
                          absl::StrCat(R"({"status": ")", status, R"(", "reason_bytes": )",
                                       reason_bytes, "}"));
}
absl::StatusOr<json::Value> HostilePlatformProcess::Records() {
  return control_.Request("GET", "/records", "");
}
absl::StatusOr<json::Value> HostilePlatformProcess::Status() {
  return control_.Request("GET", "/status", "");
}

}  // namespace edge::testing

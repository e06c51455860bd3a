#include "tests/testing/edge_stack.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "services/trust/sealed_secret.h"

namespace edge::testing {

EdgeStack::EdgeStack()
    : dir_(ShortTempDir()), key_(*trust::MasterKey::FromBytes(kStackMasterKey)) {
  root_ = pki_.Root("Edge Test Root");
  ica_ = pki_.Issue(root_, CertSpec::Ca("Edge Test Intermediate"));
  CertSpec platform = CertSpec::Server("localhost");
  platform.ip_addresses = {"127.0.0.1"};
  platform_ = pki_.Issue(ica_, platform);
  WriteFile("master.key", kStackMasterKey, 0600);
  WriteFile("ca.pem", root_.Pem());
  WriteFile("platform.pem", platform_.Pem() + ica_.Pem());
  WriteFile("platform.key", platform_.KeyPem(), 0600);
  CertSpec rest = CertSpec::Server("localhost");
  rest.ip_addresses = {"127.0.0.1"};
  rest.key_index = 1;
  rest_ = pki_.Issue(ica_, rest);
  WriteFile("restd.pem", rest_.Pem() + ica_.Pem());
  WriteFile("restd.key", rest_.KeyPem(kStackKeyPassphrase), 0600);
}

int EdgeStack::FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string EdgeStack::RestHttpServer(int port) const {
  return absl::StrCat("http_server:\n  host: 127.0.0.1\n  port: ", port,
                      "\n  ssl: true\n  certificate: restd.pem\n  private_key: restd.key\n",
                      "  passphrase: \"", Seal(kStackKeyPassphrase), "\"\n",
                      "  authenticate: true\n  user: ", kStackRestUser, "\n",
                      "  password: \"", Seal(kStackRestPassword), "\"\n");
}

absl::Status EdgeStack::StartRestd(const std::vector<std::string>& wrapper) {
  std::vector<std::string> argv = wrapper;
  argv.insert(argv.end(), {Runfile("restd/restd"), "--config", config_path()});
  auto restd = Subprocess::Start(argv, dir_ + "/restd.log");
  if (!restd.ok()) return restd.status();
  restd_ = std::move(*restd);
  if (!restd_->WaitForLog("serving the EMS REST API", absl::Seconds(20))) {
    return absl::DeadlineExceededError("restd did not start:\n" + restd_->Log());
  }
  return absl::OkStatus();
}

absl::StatusOr<int> EdgeStack::StartEndpoint(const std::string& cert, const std::string& key,
                                             const std::string& user,
                                             const std::string& password, int port,
                                             const std::vector<std::string>& extra_args) {
  // The old endpoint goes first: a restart on the same port must not race its predecessor
  // for the listening socket.
  endpoint_.reset();
  std::string ready = dir_ + "/endpoint.ready";
  std::remove(ready.c_str());
  std::vector<std::string> argv = {Runfile("tests/edgeendpoint/edge_endpoint"), "--listen",
                                   absl::StrCat("127.0.0.1:", port), "--ready-file", ready};
  if (!cert.empty()) {
    argv.insert(argv.end(), {"--cert", dir_ + "/" + cert, "--key", dir_ + "/" + key});
  }
  if (!user.empty()) argv.insert(argv.end(), {"--user", user, "--password", password});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto endpoint = Subprocess::Start(argv, dir_ + "/endpoint.log");
  if (!endpoint.ok()) return endpoint.status();
  endpoint_ = std::move(*endpoint);
  absl::StatusOr<std::string> ready_content = endpoint_->WaitForFile(ready, absl::Seconds(20));
  if (!ready_content.ok()) return ready_content.status();
  auto parsed = ::edge::json::Parse(*ready_content);
  if (!parsed.ok() || parsed->Find("port") == nullptr) {
    return absl::InternalError(ready + ": unexpected content");
  }
  return static_cast<int>(parsed->Find("port")->number());
}

std::string EdgeStack::Seal(const std::string& plaintext) const {
  return trust::Seal(key_, plaintext);
}

void EdgeStack::WriteFile(const std::string& name, const std::string& content, int mode) const {
  std::string path = absl::StrCat(dir_, "/", name);
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << content;
  ::chmod(tmp.c_str(), mode);
  ::rename(tmp.c_str(), path.c_str());
}

absl::Status EdgeStack::StartSim(const std::string& cert, const std::string& key,
                                 const std::string& app_key, int port,
                                 bool require_appkey_header,
                                 const std::vector<std::string>& properties) {
  PlatformSimOptions o;
  o.require_appkey_header = require_appkey_header;
  o.properties = properties;
  o.cert = dir_ + "/" + cert;
  o.key = dir_ + "/" + key;
  o.app_key = app_key;
  o.ws_port = port;
  o.journal = dir_ + "/platform.jsonl";
  o.repository = dir_ + "/repository";
  ::mkdir(o.repository.c_str(), 0755);
  auto sim = PlatformSimProcess::Start(dir_, o);
  if (!sim.ok()) return sim.status();
  sim_ = std::move(*sim);
  return absl::OkStatus();
}

absl::Status EdgeStack::WriteConfig(const StackConfig& c) {
  if (!sim_ && c.platform_port == 0) {
    return absl::FailedPreconditionError(
        "start the simulator (or set StackConfig.platform_port) before writing the config");
  }
  int platform_port = c.platform_port != 0 ? c.platform_port : sim_->ws_port();
  WriteFile("config.yaml",
            absl::StrCat(
                "ws_servers:\n", c.servers_before, "  - {host: ", c.platform_host,
                ", port: ", platform_port, "}\n",
                "appKey: \"", Seal(kStackAppKey), "\"\n",
                "ws_connection:\n", c.ws_connection, c.http_server,
                c.certificates, c.auto_bind,
                "offline_msg_store:\n  directory: ", dir_, "/offline\n",
                c.store_kb ? absl::StrCat("  max_size: ", c.store_kb, "\n") : "",
                "trustd:\n  socket: ", trustd_socket(), "\n  master_key_file: master.key\n",
                c.trustd_extra,
                // Backoff capped at 5 s: a test's outage of a minute must not leave edged
                // waiting minutes after the platform is back.
                "edged:\n  socket: ", edged_socket(), "\n  max_reconnect_delay: 5000\n",
                c.edged_extra, c.extra));
  return absl::OkStatus();
}

absl::Status EdgeStack::StartTrustd() {
  auto trustd = Subprocess::Start({Runfile("trustd/trustd"), "--config", config_path()},
                                  dir_ + "/trustd.log");
  if (!trustd.ok()) return trustd.status();
  trustd_ = std::move(*trustd);
  if (!trustd_->WaitForLog("serving trust.v1.TrustService", absl::Seconds(20))) {
    return absl::DeadlineExceededError("trustd did not start:\n" + trustd_->Log());
  }
  return absl::OkStatus();
}

absl::StatusOr<DelayProxy*> EdgeStack::SlowTrustd() {
  std::string real = dir_ + "/trustd-real.sock";
  if (::rename(trustd_socket().c_str(), real.c_str()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot move ", trustd_socket(), " aside: ", std::strerror(errno)));
  }
  absl::StatusOr<std::unique_ptr<DelayProxy>> proxy = DelayProxy::Start(trustd_socket(), real);
  if (!proxy.ok()) return proxy.status();
  trustd_proxy_ = std::move(*proxy);
  return trustd_proxy_.get();
}

absl::Status EdgeStack::StartEdged(const std::string& log_name,
                                  const std::vector<std::string>& wrapper) {
  std::vector<std::string> argv = wrapper;
  argv.insert(argv.end(), {Runfile("edged/edged"), "--config", config_path()});
  auto edged = Subprocess::Start(argv, absl::StrCat(dir_, "/", log_name));
  if (!edged.ok()) return edged.status();
  edged_ = std::move(*edged);
  if (!edged_->WaitForLog("serving edge.v1.EdgeService", absl::Seconds(20))) {
    return absl::DeadlineExceededError("edged did not start:\n" + edged_->Log());
  }
  return absl::OkStatus();
}

std::unique_ptr<::edge::v1::EdgeService::Stub> EdgeStack::EdgeStub() const {
  return ::edge::v1::EdgeService::NewStub(
      grpc::CreateChannel("unix:" + edged_socket(), grpc::InsecureChannelCredentials()));
}

}  // namespace edge::testing

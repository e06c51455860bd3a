// edged through a real HTTP proxy (Debian's squid, started by the test): EMS's `proxy`
// group with no authentication, Basic (basic_ncsa_auth) and Digest (digest_file_auth).
// TLS and trustd's verdict on the platform's certificate work through the tunnel as
// without it; a wrong proxy password is a clear error and a retry, and nothing written
// meanwhile is lost.
#include <grpcpp/grpcpp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/json/json.h"
#include "tests/testing/edge_stack.h"
#include "tests/testing/subprocess.h"

namespace edge {
namespace {

namespace v1 = ::edge::v1;
using testing::EdgeStack;
using testing::RecordsOfKind;
using testing::StackConfig;
using testing::Subprocess;
using testing::WaitFor;

constexpr char kSquid[] = "/usr/sbin/squid";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// squid on a free loopback port, in a directory of its own that the user squid runs as
// (`proxy` when started as root) may read and write.
class Squid {
 public:
  enum class Auth { kNone, kBasic, kDigest };

  static std::unique_ptr<Squid> Start(Auth auth, const std::string& user,
                                      const std::string& password) {
    auto s = std::unique_ptr<Squid>(new Squid());
    char dir[] = "/tmp/edge-squid.XXXXXX";
    if (mkdtemp(dir) == nullptr) return nullptr;
    s->dir_ = dir;
    ::chmod(dir, 0755);
    s->port_ = EdgeStack::FreePort();
    std::string conf = absl::StrCat(
        "http_port 127.0.0.1:", s->port_, "\n", "pid_filename ", s->dir_, "/squid.pid\n",
        "access_log stdio:", s->dir_, "/access.log\n", "cache_log ", s->dir_, "/cache.log\n",
        "cache_store_log none\ncache deny all\ncoredump_dir ", s->dir_, "\n",
        "shutdown_lifetime 1 seconds\n", "acl CONNECT method CONNECT\n");
    if (auth == Auth::kBasic) {
      absl::StrAppend(&conf, "auth_param basic program /usr/lib/squid/basic_ncsa_auth ",
                      s->dir_, "/passwd\nauth_param basic realm edge-test\n"
                      "auth_param basic credentialsttl 1 second\n");
    } else if (auth == Auth::kDigest) {
      absl::StrAppend(&conf, "auth_param digest program /usr/lib/squid/digest_file_auth ",
                      s->dir_, "/passwd\nauth_param digest realm edge-test\n");
    }
    if (auth == Auth::kNone) {
      conf += "http_access allow CONNECT\n";
    } else {
      conf += "acl authed proxy_auth REQUIRED\nhttp_access allow CONNECT authed\n";
    }
    conf += "http_access deny all\n";
    std::ofstream(s->dir_ + "/squid.conf") << conf;
    s->SetPassword(auth, user, password);
    if (::geteuid() == 0) {
      if (passwd* pw = ::getpwnam("proxy")) {
        if (::chown(dir, pw->pw_uid, pw->pw_gid) != 0) return nullptr;
      }
    }
    auto process = Subprocess::Start({kSquid, "-N", "-f", s->dir_ + "/squid.conf"},
                                     s->dir_ + "/squid.out");
    if (!process.ok()) return nullptr;
    s->process_ = std::move(*process);
    int port = s->port_;
    if (!WaitFor([port] { return CanConnect(port); }, absl::Seconds(30))) {
      ADD_FAILURE() << "squid did not start:\n" << ReadAll(s->dir_ + "/cache.log")
                    << s->process_->Log();
      return nullptr;
    }
    return s;
  }

  ~Squid() {
    process_.reset();
    std::string rm = absl::StrCat("rm -rf '", dir_, "'");
    (void)!std::system(rm.c_str());
  }

  // The password file squid's helper reads (it notices a change by itself).
  void SetPassword(Auth auth, const std::string& user, const std::string& password) {
    std::string file = dir_ + "/passwd";
    if (auth == Auth::kBasic) {
      std::string cmd = absl::StrCat("htpasswd -b -c -m '", file, "' '", user, "' '", password,
                                     "' >/dev/null 2>&1");
      EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    } else if (auth == Auth::kDigest) {
      std::ofstream(file, std::ios::trunc) << user << ":" << password << "\n";
    }
    ::chmod(file.c_str(), 0644);
    // basic_ncsa_auth re-reads the file when its mtime changes, in whole seconds: a rewrite
    // within the second it was made would go unseen.
    struct timeval times[2];
    times[0].tv_sec = times[1].tv_sec = ::time(nullptr) + 10 * ++rewrites_;
    times[0].tv_usec = times[1].tv_usec = 0;
    ::utimes(file.c_str(), times);
  }

  int port() const { return port_; }
  std::string AccessLog() const { return ReadAll(dir_ + "/access.log"); }

 private:
  Squid() = default;
  std::string dir_;
  int port_ = 0;
  int rewrites_ = 0;
  std::unique_ptr<Subprocess> process_;
};

class EdgedProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kSquid, X_OK) != 0) GTEST_SKIP() << "squid is not installed (deploy/setup.sh installs it)";
  }

  void StartStack(const std::string& proxy_group) {
    ASSERT_TRUE(stack_.StartSim().ok());
    StackConfig config;
    config.extra = proxy_group;
    absl::Status s = stack_.WriteConfig(config);
    if (s.ok()) s = stack_.StartTrustd();
    if (s.ok()) s = stack_.StartEdged();
    ASSERT_TRUE(s.ok()) << s;
    stub_ = stack_.EdgeStub();
  }

  std::string ProxyGroup(int port, const std::string& user = "", const std::string& password = "") {
    std::string g = absl::StrCat("proxy:\n  host: 127.0.0.1\n  port: ", port, "\n");
    if (!user.empty()) {
      absl::StrAppend(&g, "  user: ", user, "\n  password: \"", stack_.Seal(password), "\"\n");
    }
    return g;
  }

  v1::StatusResponse Status() {
    grpc::ClientContext context;
    v1::StatusResponse status;
    EXPECT_TRUE(stub_->Status(&context, v1::StatusRequest(), &status).ok());
    return status;
  }
  bool WaitConnected() {
    bool ok = WaitFor([&] { return Status().state() == v1::StatusResponse::CONNECTED; },
                      absl::Seconds(30));
    if (!ok) ADD_FAILURE() << "edged did not connect:\n" << stack_.edged()->Log();
    return ok;
  }
  v1::Delivery Write(double value) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::WritePropertyRequest req;
    req.set_thing("Pump1");
    req.set_property("Level");
    req.mutable_value()->set_base_type(v1::NUMBER);
    req.mutable_value()->set_number_value(value);
    v1::Delivery delivery;
    grpc::Status s = stub_->WriteProperty(&context, req, &delivery);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return delivery;
  }
  // The platform got a write of Pump1.Level = `value`.
  bool Delivered(double value) {
    absl::StatusOr<json::Value> records = stack_.sim()->Records();
    if (!records.ok()) return false;
    for (const json::Value& r : RecordsOfKind(*records, "write")) {
      if (r.Find("name")->str() == "Level" && r.Find("value")->number() == value) return true;
    }
    return false;
  }
  // The session went through a tunnel to the platform: squid logs a tunnel when it ends,
  // so edged is stopped first.
  void ExpectTunnelled(const Squid& squid) {
    stack_.edged()->Kill(SIGTERM);
    std::string tunnel = absl::StrCat("TCP_TUNNEL/200");
    std::string target = absl::StrCat("CONNECT localhost:", stack_.sim()->ws_port());
    EXPECT_TRUE(WaitFor(
        [&] {
          std::string log = squid.AccessLog();
          return absl::StrContains(log, tunnel) && absl::StrContains(log, target);
        },
        absl::Seconds(10)))
        << squid.AccessLog();
  }

  EdgeStack stack_;
  std::unique_ptr<v1::EdgeService::Stub> stub_;
};

TEST_F(EdgedProxyTest, ConnectsThroughAProxyWithoutAuthentication) {
  std::unique_ptr<Squid> squid = Squid::Start(Squid::Auth::kNone, "", "");
  ASSERT_NE(squid, nullptr);
  StartStack(ProxyGroup(squid->port()));
  ASSERT_TRUE(WaitConnected());
  EXPECT_EQ(Write(1).outcome(), v1::Delivery::DELIVERED);
  EXPECT_TRUE(Delivered(1));
  EXPECT_TRUE(absl::StrContains(stack_.edged()->Log(), "through the proxy 127.0.0.1:"))
      << stack_.edged()->Log();
  ExpectTunnelled(*squid);
}

TEST_F(EdgedProxyTest, ConnectsThroughAProxyWithDigestAuthentication) {
  std::unique_ptr<Squid> squid = Squid::Start(Squid::Auth::kDigest, "edge", "digest pass 7");
  ASSERT_NE(squid, nullptr);
  StartStack(ProxyGroup(squid->port(), "edge", "digest pass 7"));
  ASSERT_TRUE(WaitConnected());
  EXPECT_EQ(Write(2).outcome(), v1::Delivery::DELIVERED);
  EXPECT_EQ(stack_.edged()->Log().find("digest pass 7"), std::string::npos);
  ExpectTunnelled(*squid);
}

// A wrong password: a clear error naming proxy.user, retries (never a crash), writes queued;
// once the proxy takes the password, edged connects and delivers what was queued.
TEST_F(EdgedProxyTest, AWrongBasicPasswordIsReportedRetriedAndLosesNothing) {
  std::unique_ptr<Squid> squid = Squid::Start(Squid::Auth::kBasic, "edge", "not the password");
  ASSERT_NE(squid, nullptr);
  StartStack(ProxyGroup(squid->port(), "edge", "basic pass 9"));
  std::string said;
  ASSERT_TRUE(WaitFor(
      [&] {
        said = Status().last_error();
        return absl::StrContains(said, "refused the credentials of proxy.user \"edge\"");
      },
      absl::Seconds(30)))
      << said << stack_.edged()->Log();
  EXPECT_TRUE(stack_.edged()->WaitForLog("refused the credentials of proxy.user", absl::Seconds(5)));
  EXPECT_EQ(Write(3).outcome(), v1::Delivery::QUEUED);

  squid->SetPassword(Squid::Auth::kBasic, "edge", "basic pass 9");
  ASSERT_TRUE(WaitConnected());
  EXPECT_TRUE(WaitFor([&] { return Delivered(3); }, absl::Seconds(20))) << "the queued write";
  EXPECT_TRUE(stack_.edged()->Running());
  EXPECT_EQ(stack_.edged()->Log().find("basic pass 9"), std::string::npos);
  ExpectTunnelled(*squid);
}

}  // namespace
}  // namespace edge

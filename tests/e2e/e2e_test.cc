// End-to-end and fault tests: the whole stack (platform simulator, trustd, edged, restd, an
// HTTPS edge endpoint) as real processes, driven the way an operator would: curl, files
// replaced on disk, processes killed.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/json/json.h"
#include "services/common/file_util.h"
#include "tests/testing/curl.h"
#include "tests/testing/edge_stack.h"

namespace edge {
namespace {

namespace json = ::edge::json;
namespace v1 = ::edge::v1;
using testing::CertSpec;
using testing::CurlResult;
using testing::EdgeStack;
using testing::RecordsOfKind;
using testing::StackConfig;
using testing::Subprocess;
using testing::TestCert;
using testing::WaitFor;

constexpr char kLsrPassword[] = "lsr secret 7";

// The WARNING and ERROR lines of a daemon's log, for a failure message.
std::string WarningsOf(const std::string& log) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, " WARNING ") || absl::StrContains(line, " ERROR ")) {
      absl::StrAppend(&out, line.substr(0, 300), "\n");
    }
  }
  return out;
}

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rest_port_ = EdgeStack::FreePort();
    endpoint_port_ = EdgeStack::FreePort();
    stack_.WriteFile("lsr.pem", stack_.platform().Pem() + stack_.ica().Pem());
    stack_.WriteFile("lsr.key", stack_.platform().KeyPem(), 0600);
    // The platform's anchors (ca.pem) and the edge endpoints' (edge-ca.pem) apart, so each
    // can be replaced alone.
    stack_.WriteFile("edge-ca.pem", stack_.root().Pem());
    // What curl trusts for restd: stays when the platform's anchors change.
    stack_.WriteFile("rest-ca.pem", stack_.root().Pem());
  }

  void Config(const std::string& allowlist_fp = "") {
    StackConfig c;
    c.http_server = stack_.RestHttpServer(rest_port_) + "  max_clients: 256\n";
    c.auto_bind = absl::StrCat(
        "auto_bind:\n  - name: Pump1\n  - name: Lsr1\n    host: localhost\n    port: ",
        endpoint_port_, "\n    protocol: https\n    user: lsr\n    password: \"",
        stack_.Seal(kLsrPassword), "\"\n    timeout: 5000\n");
    c.certificates = "certificates:\n  cert_chain: ca.pem\n  http_client_ca_certs: edge-ca.pem\n";
    if (!allowlist_fp.empty()) {
      absl::StrAppend(&c.certificates, "  fingerprint_allowlist:\n    - \"", allowlist_fp, "\"\n");
    }
    // 200 clients connecting at once from one address (the load test): the limits on
    // handshakes in progress and per address are raised with max_clients.
    c.extra =
        "restd:\n  health_check_interval: 500\n  max_connections_per_address: 256\n"
        "  max_pending_handshakes: 256\n";
    config_ = c;
  }

  void StartAll(const std::string& allowlist_fp = "",
                const std::vector<std::string>& sim_properties = {}) {
    ASSERT_TRUE(stack_.StartSim("platform.pem", "platform.key", testing::kStackAppKey, 0, true,
                                sim_properties)
                    .ok());
    StartEndpoint();
    Config(allowlist_fp);
    absl::Status s = stack_.WriteConfig(config_);
    if (s.ok()) s = stack_.StartTrustd();
    if (s.ok()) s = stack_.StartEdged();
    if (s.ok()) s = stack_.StartRestd();
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(WaitFor([&] { return Get(kTestUrl).code == 200; }, absl::Seconds(20)))
        << stack_.edged()->Log();
  }

  void StartEndpoint() {
    auto port = stack_.StartEndpoint("lsr.pem", "lsr.key", "lsr", kLsrPassword, endpoint_port_);
    ASSERT_TRUE(port.ok()) << port.status();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("https://localhost:", rest_port_, path);
  }
  std::string UserPass() const {
    return absl::StrCat(testing::kStackRestUser, ":", testing::kStackRestPassword);
  }
  CurlResult Get(const std::string& path) {
    return testing::Curl(stack_.dir(), {"-u", UserPass(), Url(path)}, stack_.dir() + "/rest-ca.pem");
  }
  std::string CsrfToken() { return Get(kTestUrl).Header("x-csrf-token"); }
  CurlResult Put(const std::string& path, const std::string& body, const std::string& token) {
    return testing::Curl(stack_.dir(),
                         {"-u", UserPass(), "-X", "PUT", "-H", "Content-Type: application/json",
                          "-H", "x-csrf-token: " + token, "--data-binary", body, Url(path)},
                         stack_.dir() + "/rest-ca.pem");
  }
  std::vector<json::Value> Writes(const std::string& property) {
    std::vector<json::Value> out;
    auto records = stack_.sim()->Records();
    if (!records.ok()) return out;
    for (json::Value& r : RecordsOfKind(*records, "write")) {
      if (r.Find("name")->str() == property) out.push_back(r);
    }
    return out;
  }
  json::Value CallLsr() {
    auto r = stack_.sim()->Call(R"({"thing": "Lsr1", "method": "GET", "name": "Speed"})");
    return r.ok() ? *r : json::Value{};
  }
  bool EdgedConnected() {
    grpc::ClientContext c;
    v1::StatusResponse st;
    return stack_.EdgeStub()->Status(&c, v1::StatusRequest(), &st).ok() &&
           st.state() == v1::StatusResponse::CONNECTED;
  }
  // The SHA-256 fingerprint of the certificate a new TLS connection to restd gets.
  std::string ServedFingerprint() {
    std::string cmd = absl::StrCat(
        "openssl s_client -connect 127.0.0.1:", rest_port_, " -servername localhost "
        "</dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null");
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[512];
    size_t n;
    while (p && (n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    if (p) ::pclose(p);
    size_t eq = out.find('=');
    return eq == std::string::npos ? "" : std::string(absl::StripAsciiWhitespace(out.substr(eq + 1)));
  }
  int Reloads() {
    std::string log = stack_.trustd()->Log();
    int n = 0;
    for (size_t at = 0; (at = log.find("trust material reloaded", at)) != std::string::npos; ++at) ++n;
    return n;
  }
  void ExpectNoSecretInAnyLog() {
    for (Subprocess* p : {stack_.trustd(), stack_.edged(), stack_.restd(), stack_.endpoint(),
                          &stack_.sim()->process()}) {
      if (p == nullptr) continue;
      for (const char* secret : {testing::kStackRestPassword, testing::kStackKeyPassphrase,
                                 testing::kStackAppKey, kLsrPassword}) {
        EXPECT_FALSE(absl::StrContains(p->Log(), secret)) << "a log holds \"" << secret << "\"";
      }
    }
  }

  static constexpr char kTestUrl[] = "/Thingworx/Things/SystemRepository/Properties/name";
  EdgeStack stack_;
  StackConfig config_;
  int rest_port_ = 0, endpoint_port_ = 0;
};

TEST_F(E2eTest, DemoFlowsPutArrivesAndThePlatformCallsTheAutoBindThing) {
  StartAll();
  CurlResult put = Put("/Thingworx/Things/Pump1/Properties/Temperature", R"({"Temperature": 21.5})",
                       CsrfToken());
  ASSERT_EQ(put.code, 200) << put.body;
  auto writes = Writes("Temperature");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].Find("value")->number(), 21.5);
  ASSERT_TRUE(WaitFor([&] { return CallLsr().Find("status") != nullptr &&
                                   CallLsr().Find("status")->str() == "SUCCESS"; },
                      absl::Seconds(10)))
      << stack_.restd()->Log();
  ExpectNoSecretInAnyLog();
}

// Issue 11: "hot" for a NUMBER is a 400 naming the property and both types: from the
// platform while its type is not known here, from edged once a read has told it, also
// while offline (then nothing is queued that the platform would refuse on replay). A value
// that converts without loss goes as the declared type.
TEST_F(E2eTest, AWriteOfTheWrongBaseTypeIsA400NamingThePropertyAndBothTypes) {
  StartAll("", {"Pump1/Pressure=NUMBER", "Pump1/Cycles=INTEGER"});
  std::string token = CsrfToken();
  const std::string pressure = "/Thingworx/Things/Pump1/Properties/Pressure";

  CurlResult refused = Put(pressure, R"({"Pressure": "hot"})", token);
  EXPECT_EQ(refused.code, 400) << refused.body;
  EXPECT_TRUE(absl::StrContains(
      refused.body, R"(property \"Pressure\" of Thing \"Pump1\" is NUMBER; a STRING cannot be written to it)"))
      << refused.body;

  CurlResult read = Get(pressure);
  ASSERT_EQ(read.code, 200) << read.body;
  EXPECT_TRUE(absl::StrContains(read.body, R"("baseType":"NUMBER")")) << read.body;
  ASSERT_EQ(Get("/Thingworx/Things/Pump1/Properties/Cycles").code, 200);

  // A whole number for the INTEGER goes as an INTEGER.
  CurlResult cycles = Put("/Thingworx/Things/Pump1/Properties/Cycles", R"({"Cycles": 12})", token);
  EXPECT_EQ(cycles.code, 200) << cycles.body;
  std::vector<json::Value> writes = Writes("Cycles");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].Find("baseType")->str(), "INTEGER");

  ASSERT_TRUE(stack_.sim()->Refuse(3600 * 1000).ok());
  ASSERT_TRUE(WaitFor([&] { return !EdgedConnected(); }, absl::Seconds(10)));
  CurlResult offline = Put(pressure, R"({"Pressure": "cold"})", token);
  EXPECT_EQ(offline.code, 400) << offline.body;
  EXPECT_TRUE(absl::StrContains(
      offline.body, R"(property \"Pressure\" of Thing \"Pump1\" is NUMBER; the value given is STRING)"))
      << offline.body;
  CurlResult half = Put("/Thingworx/Things/Pump1/Properties/Cycles", R"({"Cycles": 1.5})", token);
  EXPECT_EQ(half.code, 400) << half.body;
  CurlResult queued = Put(pressure, R"({"Pressure": 2.5})", token);
  EXPECT_EQ(queued.code, 202) << queued.body;
  EXPECT_TRUE(absl::StrContains(queued.body, R"("queue_depth": 1)")) << queued.body;

  ASSERT_TRUE(stack_.sim()->Refuse(0).ok());
  ASSERT_TRUE(WaitFor([&] { return Writes("Pressure").size() == 1; }, absl::Seconds(30)));
  EXPECT_EQ(Writes("Pressure")[0].Find("value")->number(), 2.5);
}

TEST_F(E2eTest, PlatformOutageThousandWritesDeliveredInOrderExactlyOnce) {
  StartAll();
  std::string token = CsrfToken();
  ASSERT_TRUE(stack_.sim()->Refuse(3600 * 1000).ok());
  ASSERT_TRUE(WaitFor([&] { return !EdgedConnected(); }, absl::Seconds(10)));
  constexpr int kWrites = 1000;
  std::vector<std::vector<std::string>> requests;
  for (int i = 1; i <= kWrites; ++i) {
    requests.push_back({"user", UserPass(), "request", "PUT", "header",
                        "Content-Type: application/json", "header", "x-csrf-token: " + token,
                        "data", absl::StrCat("{\"Counter\": ", i, "}"),
                        Url("/Thingworx/Things/Pump1/Properties/Counter")});
  }
  absl::Time start = absl::Now();
  std::vector<int> codes = testing::CurlBatch(stack_.dir(), requests, stack_.dir() + "/rest-ca.pem");
  absl::Duration took = absl::Now() - start;
  ASSERT_EQ(codes.size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(codes[i], 202) << "write " << i + 1 << " not queued";
  EXPECT_TRUE(Writes("Counter").empty());
  // The platform comes back.
  ASSERT_TRUE(stack_.sim()->Refuse(0).ok());
  ASSERT_TRUE(WaitFor([&] { return Writes("Counter").size() >= kWrites; }, absl::Seconds(120)))
      << Writes("Counter").size() << " delivered";
  ASSERT_TRUE(stack_.edged()->WaitForLog("1000 messages queued while offline, replayed",
                                         absl::Seconds(10)));
  std::vector<json::Value> writes = Writes("Counter");
  ASSERT_EQ(writes.size(), static_cast<size_t>(kWrites)) << "exactly once";
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(writes[i].Find("value")->number(), i + 1) << "in order";
  std::printf("1000 writes queued through restd in %.1f s, all delivered after the outage\n",
              absl::ToDoubleSeconds(took));
}

TEST_F(E2eTest, TrustdDownMeansEveryNewPeerIsRefusedAndTheStackRecovers) {
  StartAll();
  stack_.trustd()->Kill(SIGKILL);
  // restd: a new TLS connection cannot be signed for; nothing is served unauthenticated.
  CurlResult refused = Get(kTestUrl);
  EXPECT_EQ(refused.code, 0) << refused.body;
  EXPECT_EQ(Get(kTestUrl).code, 0);
  // Said once, not once per handshake.
  ASSERT_TRUE(stack_.restd()->WaitForLog("TLS handshakes refused: trustd unreachable",
                                         absl::Seconds(10)));
  size_t said = 0;
  for (size_t at = 0; (at = stack_.restd()->Log().find("TLS handshakes refused", at)) !=
                      std::string::npos;
       ++at) {
    ++said;
  }
  EXPECT_EQ(said, 1u) << stack_.restd()->Log();
  // edged: the platform connection is lost; no reconnection gets far (edged asks trustd for
  // the app key first, and for its verdict on the platform's certificate), and the log says
  // trustd is the cause, not a refused certificate.
  ASSERT_TRUE(stack_.sim()->Drop().ok());
  ASSERT_TRUE(stack_.edged()->WaitForLog("trustd unreachable: ", absl::Seconds(20)))
      << stack_.edged()->Log();
  EXPECT_FALSE(absl::StrContains(stack_.edged()->Log(), "platform certificate refused"))
      << stack_.edged()->Log();
  EXPECT_FALSE(EdgedConnected());
  auto records = stack_.sim()->Records();
  size_t auths = RecordsOfKind(*records, "auth").size();
  // trustd returns: both recover on their own.
  ASSERT_TRUE(stack_.StartTrustd().ok());
  ASSERT_TRUE(WaitFor([&] { return EdgedConnected(); }, absl::Seconds(20))) << stack_.edged()->Log();
  ASSERT_TRUE(WaitFor([&] { return Get(kTestUrl).code == 200; }, absl::Seconds(20)))
      << stack_.restd()->Log();
  EXPECT_TRUE(absl::StrContains(stack_.restd()->Log(), "trustd reachable again"))
      << stack_.restd()->Log();
  EXPECT_EQ(RecordsOfKind(*stack_.sim()->Records(), "auth").size(), auths + 1)
      << "no AUTH was sent while trustd was down";
}

TEST_F(E2eTest, RotationUnderTrafficNeedsNoRestartAndFailsNoRequest) {
  TestCert lsr2;
  {
    CertSpec spec = CertSpec::Server("localhost");
    spec.key_index = 2;
    lsr2 = stack_.pki().Issue(stack_.ica(), spec);
  }
  StartAll(stack_.platform().Sha256());
  pid_t pids[] = {stack_.trustd()->pid(), stack_.edged()->pid(), stack_.restd()->pid()};
  std::string token = CsrfToken();
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::map<int, int> codes;
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  };
  std::thread traffic;
  Joiner joiner{stop, traffic};
  traffic = std::thread([&] {
    // Each write on a new connection: every one is a new TLS handshake with restd.
    for (int i = 1; !stop; ++i) {
      CurlResult r = Put("/Thingworx/Things/Pump1/Properties/Traffic",
                         absl::StrCat("{\"Traffic\": ", i, "}"), token);
      if (r.code != 200 && r.code != 202 && codes[r.code] == 0) {
        std::printf("write %d: %d %s%s\n", i, r.code, r.body.c_str(), r.curl_error.c_str());
      }
      ++codes[r.code];
      ++sent;
    }
  });

  // 1. restd's certificate: new connections get the new one.
  CertSpec spec = CertSpec::Server("localhost");
  spec.ip_addresses = {"127.0.0.1"};
  spec.key_index = 3;
  TestCert rest2 = stack_.pki().Issue(stack_.ica(), spec);
  stack_.WriteFile("restd.key", rest2.KeyPem(testing::kStackKeyPassphrase), 0600);
  stack_.WriteFile("restd.pem", rest2.Pem() + stack_.ica().Pem());
  EXPECT_TRUE(WaitFor([&] { return ServedFingerprint() == rest2.Sha256(); }, absl::Seconds(10)))
      << ServedFingerprint() << " vs " << rest2.Sha256() << "\n" << stack_.trustd()->Log();

  // 2. The platform's trust anchor: a new root on disk, the platform's new certificate under it.
  TestCert root2 = stack_.pki().Root("Edge Test Root 2");
  CertSpec platform = CertSpec::Server("localhost");
  platform.ip_addresses = {"127.0.0.1"};
  TestCert platform2 = stack_.pki().Issue(root2, platform);
  int reloads = Reloads();
  stack_.WriteFile("ca.pem", root2.Pem());
  ASSERT_TRUE(WaitFor([&] { return Reloads() > reloads; }, absl::Seconds(10)))
      << stack_.trustd()->Log();
  stack_.WriteFile("platform2.pem", platform2.Pem());
  stack_.WriteFile("platform2.key", platform2.KeyPem(), 0600);
  int ws_port = stack_.sim()->ws_port();
  stack_.StopSim();
  ASSERT_TRUE(stack_.StartSim("platform2.pem", "platform2.key", testing::kStackAppKey, ws_port).ok());
  EXPECT_TRUE(WaitFor([&] { return EdgedConnected(); }, absl::Seconds(20))) << stack_.edged()->Log();

  // 3. The auto_bind endpoint's pin: the allowlist names the new certificate, which the
  // endpoint then serves.
  Config(lsr2.Sha256());
  ASSERT_TRUE(stack_.WriteConfig(config_).ok());
  stack_.WriteFile("lsr.pem", lsr2.Pem() + stack_.ica().Pem());
  stack_.WriteFile("lsr.key", lsr2.KeyPem(), 0600);
  StartEndpoint();
  EXPECT_TRUE(WaitFor(
                  [&] {
                    json::Value answer = CallLsr();
                    const json::Value* status = answer.Find("status");
                    return status != nullptr && status->str() == "SUCCESS";
                  },
                  absl::Seconds(10)))
      << stack_.restd()->Log();

  int before = sent;
  ASSERT_TRUE(WaitFor([&] { return sent >= before + 5; }, absl::Seconds(20)));
  stop = true;
  traffic.join();
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == 200 || code == 202) << n << " requests got " << code;
  }
  std::printf("rotation under traffic: %d writes, statuses:", sent.load());
  for (const auto& [code, n] : codes) std::printf(" %d x%d", code, n);
  std::printf("\n");
  // Nothing was restarted.
  EXPECT_EQ(stack_.trustd()->pid(), pids[0]);
  EXPECT_EQ(stack_.edged()->pid(), pids[1]);
  EXPECT_EQ(stack_.restd()->pid(), pids[2]);
  for (Subprocess* p : {stack_.trustd(), stack_.edged(), stack_.restd()}) EXPECT_TRUE(p->Running());
  // Every accepted write reaches the platform.
  int accepted = codes[200] + codes[202];
  EXPECT_TRUE(WaitFor([&] { return static_cast<int>(Writes("Traffic").size()) >= accepted; },
                      absl::Seconds(30)));
}

// Peer certificates the edge endpoint may present, and trustd's decision for each.
TEST_F(E2eTest, BadEndpointCertificatesAreRefusedWithTheirReason) {
  StartAll();
  absl::Time now = absl::Now();
  struct Case {
    const char* name;
    TestCert cert;
    const char* reason;
  };
  auto spec = [] {
    CertSpec s = CertSpec::Server("localhost");
    s.key_index = 4;
    return s;
  };
  CertSpec expired = spec();
  expired.not_before = now - absl::Hours(240);
  expired.not_after = now - absl::Hours(24);
  CertSpec future = spec();
  future.not_before = now + absl::Hours(24);
  future.not_after = now + absl::Hours(240);
  CertSpec sha1 = spec();
  sha1.signature_hash = testing::SigHash::kSha1;
  TestCert other_root = stack_.pki().Root("Unknown Root");
  std::vector<Case> cases = {
      {"expired", stack_.pki().Issue(stack_.ica(), expired), "EXPIRED"},
      {"not yet valid", stack_.pki().Issue(stack_.ica(), future), "NOT_YET_VALID"},
      {"wrong name", stack_.pki().Issue(stack_.ica(), CertSpec::Server("other.test")),
       "NAME_MISMATCH"},
      {"unknown CA", stack_.pki().Issue(other_root, spec()), "UNKNOWN_ISSUER"},
      {"self-signed", stack_.pki().SelfSigned(spec()), "SELF_SIGNED"},
      {"SHA-1 signed", stack_.pki().Issue(stack_.ica(), sha1), "WEAK_SIGNATURE"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    stack_.WriteFile("lsr.pem", c.cert.Pem() + stack_.ica().Pem());
    stack_.WriteFile("lsr.key", c.cert.KeyPem(), 0600);
    StartEndpoint();
    // restd may have seen the endpoint gone while it restarted and withdrawn the Thing; it
    // serves it again within a health-check interval.
    json::Value answer;
    ASSERT_TRUE(WaitFor(
        [&] {
          answer = CallLsr();
          const json::Value* status = answer.Find("status");
          return status != nullptr && status->str() != "NOT_BOUND" &&
                 status->str() != "SERVICE_UNAVAILABLE";
        },
        absl::Seconds(10)));
    EXPECT_EQ(answer.Find("status")->str(), "BAD_GATEWAY") << json::Write(answer);
    std::string reason = answer.Find("reason") ? answer.Find("reason")->str() : "";
    EXPECT_TRUE(absl::StrContains(reason, absl::StrCat("edge endpoint certificate refused: ", c.reason)))
        << reason;
    EXPECT_TRUE(absl::StrContains(reason, "CN=") || absl::StrContains(reason, "DNS:"))
        << "the certificate is named: " << reason;
  }
  EXPECT_FALSE(absl::StrContains(stack_.endpoint()->Log(), "/Thingworx/Things/Lsr1"))
      << "no request reached a refused endpoint";
  ExpectNoSecretInAnyLog();
}

// Configurations a daemon must refuse at start, with the field or file named.
TEST_F(E2eTest, BadConfigurationsStopTrustdWithTheFieldNamed) {
  ASSERT_TRUE(stack_.StartSim().ok());
  Config();
  ASSERT_TRUE(stack_.WriteConfig(config_).ok());
  std::string good = *ReadFile(stack_.config_path());
  TestCert other = stack_.pki().Issue(stack_.ica(), CertSpec::Server("localhost"));
  stack_.WriteFile("mismatch.key", other.KeyPem(testing::kStackKeyPassphrase), 0600);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  };
  std::string passphrase_line;
  for (absl::string_view line : absl::StrSplit(good, '\n')) {
    if (absl::StrContains(line, "passphrase:")) passphrase_line = std::string(line);
  }
  struct Case {
    const char* name;
    std::string config;
    std::vector<std::string> expected;  // Each must appear in the output.
  };
  std::vector<Case> cases = {
      {"empty allowlist",
       replace("certificates:\n  cert_chain: ca.pem\n",
               "certificates:\n  fingerprint_allowlist: []\n  cert_chain: ca.pem\n"),
       {"certificates.fingerprint_allowlist"}},
      {"old key name",
       replace("certificates:\n  cert_chain: ca.pem\n",
               "certificates:\n  fingerprint_whitelist: [\"AA\"]\n  cert_chain: ca.pem\n"),
       {"fingerprint_whitelist", "fingerprint_allowlist"}},
      {"wrong key passphrase",
       replace(passphrase_line, absl::StrCat("  passphrase: \"", stack_.Seal("not the passphrase"), "\"")),
       {"restd.key"}},
      {"key does not match its certificate",
       replace("private_key: restd.key", "private_key: mismatch.key"),
       {"mismatch.key", "restd.pem"}},
      {"legacy EMS secret",
       replace(passphrase_line, "  passphrase: \"AES:8Vw3Yw1NdkSvtZ7m6hCY5Q==\""),
       {"http_server.passphrase", "EMS"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    stack_.WriteFile("bad.yaml", c.config);
    auto trustd = Subprocess::Start({testing::Runfile("trustd/trustd"), "--config",
                                     stack_.dir() + "/bad.yaml"},
                                    absl::StrCat(stack_.dir(), "/bad-", &c - &cases[0], ".log"));
    ASSERT_TRUE(trustd.ok());
    EXPECT_EQ((*trustd)->WaitForExit(absl::Seconds(20)), 1) << (*trustd)->Log();
    std::string log = (*trustd)->Log();
    for (const std::string& e : c.expected) EXPECT_TRUE(absl::StrContains(log, e)) << e << "\n" << log;
    for (const char* secret : {testing::kStackKeyPassphrase, "not the passphrase",
                               testing::kStackRestPassword, testing::kStackAppKey}) {
      EXPECT_FALSE(absl::StrContains(log, secret)) << secret;
    }
  }
}

// The value of `promql` as Prometheus answers it (GET /api/v1/query), or -1 when it has
// no sample (yet).
double PrometheusValue(const std::string& dir, int port, const std::string& promql) {
  CurlResult r = testing::Curl(
      dir, {"-G", "--data-urlencode", "query=" + promql,
            absl::StrCat("http://127.0.0.1:", port, "/api/v1/query")}, "");
  if (r.code != 200) return -1;
  absl::StatusOr<json::Value> answer = json::Parse(r.body);
  if (!answer.ok()) return -1;
  const json::Value* data = answer->Find("data");
  const json::Value* result = data ? data->Find("result") : nullptr;
  if (result == nullptr || !result->is_array() || result->array().empty()) return -1;
  const json::Value* value = result->array()[0].Find("value");
  if (value == nullptr || !value->is_array() || value->array().size() != 2) return -1;
  double v = -1;
  return absl::SimpleAtod(value->array()[1].str(), &v) ? v : -1;
}

// Where a daemon serves its metrics, from its "metrics on http://..." line.
std::string MetricsUrl(Subprocess* daemon) {
  if (!daemon->WaitForLog("metrics on http://", absl::Seconds(10))) return "";
  std::string log = daemon->Log();
  size_t at = log.find("metrics on http://") + strlen("metrics on ");
  return log.substr(at, log.find('\n', at) - at);
}

TEST_F(E2eTest, APrometheusServerScrapesTheThreeDaemonsAndSeesADecisionAReconnectAndAQueuedWrite) {
  ASSERT_TRUE(stack_.StartSim().ok());
  StartEndpoint();
  Config();
  config_.trustd_extra = "  metrics:\n    address: 127.0.0.1:0\n";
  config_.edged_extra = "  metrics:\n    address: 127.0.0.1:0\n";
  config_.extra += "  metrics:\n    address: 127.0.0.1:0\n";
  absl::Status s = stack_.WriteConfig(config_);
  if (s.ok()) s = stack_.StartTrustd();
  if (s.ok()) s = stack_.StartEdged();
  if (s.ok()) s = stack_.StartRestd();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(WaitFor([&] { return EdgedConnected(); }, absl::Seconds(20))) << stack_.edged()->Log();
  std::map<std::string, std::string> urls = {{"trustd", MetricsUrl(stack_.trustd())},
                                             {"edged", MetricsUrl(stack_.edged())},
                                             {"restd", MetricsUrl(stack_.restd())}};
  // Each endpoint is in the text format promtool accepts, names and help included.
  for (const auto& [daemon, url] : urls) {
    ASSERT_TRUE(absl::StartsWith(url, "http://127.0.0.1:")) << daemon << ": " << url;
    CurlResult r = testing::Curl(stack_.dir(), {url}, "");
    ASSERT_EQ(r.code, 200) << daemon << ": " << r.curl_error;
    EXPECT_TRUE(absl::StrContains(r.body, "edge_" + daemon + "_")) << r.body;
    stack_.WriteFile(daemon + ".prom", r.body);
    std::string check = absl::StrCat("promtool check metrics < ", stack_.dir(), "/", daemon,
                                     ".prom > ", stack_.dir(), "/promtool-", daemon, ".txt 2>&1");
    EXPECT_EQ(std::system(check.c_str()), 0)
        << daemon << ": " << ReadFile(stack_.dir() + "/promtool-" + daemon + ".txt").value_or("");
  }

  // A real Prometheus server scraping the three every 500 ms.
  int prometheus_port = EdgeStack::FreePort();
  std::string scrape = "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n";
  for (const auto& [daemon, url] : urls) {
    std::string hostport = url.substr(strlen("http://"), url.find("/metrics") - strlen("http://"));
    absl::StrAppend(&scrape, "  - job_name: ", daemon, "\n    static_configs:\n      - targets: [\"",
                    hostport, "\"]\n");
  }
  stack_.WriteFile("prometheus.yml", scrape);
  auto prometheus = Subprocess::Start(
      {"/usr/bin/prometheus", "--config.file=" + stack_.dir() + "/prometheus.yml",
       "--storage.tsdb.path=" + stack_.dir() + "/prometheus-data",
       absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port)},
      stack_.dir() + "/prometheus.log");
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  ASSERT_TRUE((*prometheus)->WaitForLog("Server is ready to receive web requests", absl::Seconds(30)))
      << (*prometheus)->Log();
  auto eventually = [&](const std::string& promql, double at_least) {
    double v = -1;
    bool ok = WaitFor([&] { return (v = PrometheusValue(stack_.dir(), prometheus_port, promql)) >= at_least; },
                      absl::Seconds(30));
    EXPECT_TRUE(ok) << promql << " = " << v << " (wanted >= " << at_least << ")";
    return v;
  };
  // Every target is up.
  eventually("sum(up)", 3);
  // trustd judged the platform's certificate: a decision, allowed, for purpose platform.
  eventually("sum(edge_trustd_decisions_total{purpose=\"platform\",result=\"allowed\",reason=\"OK\"})", 1);
  eventually("edge_edged_connection_state{state=\"CONNECTED\"}", 1);
  // A REST read through restd.
  ASSERT_EQ(Get(kTestUrl).code, 200);
  eventually("sum(edge_restd_requests_total{route=\"properties\",method=\"GET\",status=\"200\"})", 1);
  // The platform goes away: a reconnect by cause, and a write that is queued.
  int ws_port = stack_.sim()->ws_port();
  stack_.StopSim();
  ASSERT_TRUE(WaitFor([&] { return !EdgedConnected(); }, absl::Seconds(20)));
  CurlResult queued = Put("/Thingworx/Things/Pump1/Properties/Temperature", R"({"Temperature": 21.5})",
                          CsrfToken());
  EXPECT_EQ(queued.code, 202) << queued.body;
  eventually("sum(edge_edged_reconnects_total{cause=\"connection_lost\"})", 1);
  eventually("edge_edged_queued_messages_total", 1);
  eventually("edge_edged_offline_store_messages", 1);
  // It comes back: the queued write is replayed and the store empties.
  ASSERT_TRUE(stack_.StartSim("platform.pem", "platform.key", testing::kStackAppKey, ws_port).ok());
  ASSERT_TRUE(WaitFor([&] { return EdgedConnected(); }, absl::Seconds(30))) << stack_.edged()->Log();
  eventually("edge_edged_replayed_messages_total", 1);
  EXPECT_TRUE(WaitFor([&] { return PrometheusValue(stack_.dir(), prometheus_port,
                                                   "edge_edged_offline_store_messages") == 0; },
                      absl::Seconds(30)));
  // The round trip histogram and the keyless signatures have samples.
  eventually("edge_edged_request_duration_seconds_count", 1);
  eventually("edge_trustd_sign_duration_seconds_count", 1);
}

TEST_F(E2eTest, TwoHundredConcurrentClientsForThirtySeconds) {
  if (::access("/usr/bin/wrk", X_OK) != 0) GTEST_SKIP() << "wrk is not installed (deploy/setup.sh installs it)";
  StartAll();
  auto rss = [&] {
    std::string status = ReadFile(absl::StrCat("/proc/", stack_.restd()->pid(), "/status")).value_or("");
    size_t at = status.find("VmRSS:");
    return at == std::string::npos ? 0L : std::atol(status.c_str() + at + 6);
  };
  std::string auth_header = absl::StrCat("Authorization: Basic ",
                                         absl::Base64Escape(UserPass()));
  // Warm up, then the run.
  std::system(absl::StrCat("wrk -t2 -c200 -d3s -H '", auth_header, "' ", Url(kTestUrl),
                           " > /dev/null 2>&1").c_str());
  // The warm-up's 200 connections leave with a request in flight each: restd holds each one
  // (and counts it toward max_clients and the per-address limit) until its answer is
  // written. Without this wait the run's 200 new clients can meet them there and restd
  // makes room by closing some of the new ones, which is what those limits are for.
  auto open_at_restd = [&] {
    FILE* p = ::popen(absl::StrCat("ss -tnH state connected exclude time-wait '( sport = :",
                                   rest_port_, " )' | wc -l").c_str(), "r");
    int n = -1;
    if (p != nullptr && std::fscanf(p, "%d", &n) != 1) n = -1;
    if (p != nullptr) ::pclose(p);
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return open_at_restd() == 0; }, absl::Seconds(20)))
      << open_at_restd() << " connections of the warm-up still open at restd";
  long before = rss();
  std::string out;
  {
    // Timing is reported, not judged: a response slower than wrk's default 2 s (the machine
    // may run other tests meanwhile) is not an error.
    FILE* p = ::popen(absl::StrCat("wrk -t2 -c200 -d30s --timeout 30s -H '", auth_header, "' ",
                                   Url(kTestUrl), " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    while (p && (n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    if (p) ::pclose(p);
  }
  long after = rss();
  std::printf("200 clients, 30 s against restd:\n%s\nrestd RSS: %ld kB before, %ld kB after\n",
              out.c_str(), before, after);
  EXPECT_TRUE(absl::StrContains(out, "Requests/sec")) << out;
  EXPECT_FALSE(absl::StrContains(out, "Non-2xx")) << out;
  EXPECT_FALSE(absl::StrContains(out, "Socket errors"))
      << out << "\nrestd's warnings:\n" << WarningsOf(stack_.restd()->Log());
  EXPECT_TRUE(stack_.restd()->Running());
  // Stable: the run's own buffers, not a leak per request (tens of thousands of them).
#if defined(__SANITIZE_ADDRESS__)
  std::printf("(AddressSanitizer build: its quarantine holds freed memory, so RSS says nothing "
              "here)\n");
#else
  EXPECT_LT(after, before + 32 * 1024) << "RSS grew by " << after - before << " kB";
#endif
}

}  // namespace
}  // namespace edge

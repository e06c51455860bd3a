// edged as a real process between a real trustd and the platform simulator (WebSocket +
// TLS), driven through its local gRPC API on a Unix socket.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/alwayson/internal/json.h"
#include "services/trust/master_key.h"
#include "services/trust/sealed_secret.h"
#include "tests/pki/test_pki.h"
#include "tests/platformsim/platformsim_process.h"
#include "tests/testing/subprocess.h"

namespace edge {
namespace {

namespace v1 = ::edge::v1;
namespace json = alwayson::json;
using testing::CertSpec;
using testing::PlatformSimOptions;
using testing::PlatformSimProcess;
using testing::RecordsOfKind;
using testing::Subprocess;
using testing::TestCert;
using testing::TestPki;
using testing::WaitFor;

constexpr char kMasterKey[] = "0123456789abcdef0123456789abcdef";
constexpr char kAppKey[] = "edge-app-key-0001";

v1::Value Number(double d) {
  v1::Value v;
  v.set_base_type(v1::NUMBER);
  v.set_number_value(d);
  return v;
}

class EdgedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ShortTempDir();
    root_ = pki_.Root("Edge Test Root");
    ica_ = pki_.Issue(root_, CertSpec::Ca("Edge Test Intermediate"));
    CertSpec platform = CertSpec::Server("localhost");
    platform.ip_addresses = {"127.0.0.1"};
    platform_ = pki_.Issue(ica_, platform);
    Write("master.key", kMasterKey, 0600);
    key_ = *trust::MasterKey::FromBytes(kMasterKey);
    Write("ca.pem", root_.Pem(), 0644);
    Write("platform.pem", platform_.Pem() + ica_.Pem(), 0644);
    Write("platform.key", platform_.KeyPem(), 0600);
  }

  void Write(const std::string& name, const std::string& content, int mode) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path + ".tmp") << content;
    ::chmod((path + ".tmp").c_str(), mode);
    ::rename((path + ".tmp").c_str(), path.c_str());
  }

  void StartSim(const std::string& cert = "platform.pem", const std::string& key = "platform.key",
                const std::string& app_key = kAppKey, int port = 0) {
    PlatformSimOptions o;
    o.cert = dir_ + "/" + cert;
    o.key = dir_ + "/" + key;
    o.app_key = app_key;
    o.ws_port = port;
    o.journal = dir_ + "/platform.jsonl";
    auto sim = PlatformSimProcess::Start(dir_, o);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
  }

  void StartStack(const std::string& host = "localhost", const std::string& extra = "",
                  int store_kb = 0) {
    Write("config.yaml",
          absl::StrCat("ws_servers: [{host: ", host, ", port: ", sim_->ws_port(), "}]\n",
                       "appKey: \"", trust::Seal(key_, kAppKey), "\"\n",
                       "ws_connection:\n  msg_timeout: 3000\n  connect_retry_interval: 200\n"
                       "  max_connect_delay: 100\n  ping_rate: 2000\n  pingpong_timeout: 2000\n",
                       "http_server:\n  ssl: false\n  authenticate: false\n",
                       "certificates:\n  cert_chain: ca.pem\n",
                       "auto_bind:\n  - name: Pump1\n",
                       "offline_msg_store:\n  directory: ", dir_, "/offline\n",
                       store_kb ? absl::StrCat("  max_size: ", store_kb, "\n") : "",
                       "trustd:\n  socket: ", dir_, "/trustd.sock\n  master_key_file: master.key\n",
                       "edged:\n  socket: ", dir_, "/edged.sock\n", extra),
          0644);
    auto trustd = Subprocess::Start(
        {testing::Runfile("trustd/trustd"), "--config", dir_ + "/config.yaml"},
        dir_ + "/trustd.log");
    ASSERT_TRUE(trustd.ok()) << trustd.status();
    trustd_ = std::move(*trustd);
    ASSERT_TRUE(trustd_->WaitForLog("serving trust.v1.TrustService", absl::Seconds(20)));
    StartEdged();
  }

  void StartEdged() {
    auto edged = Subprocess::Start(
        {testing::Runfile("edged/edged"), "--config", dir_ + "/config.yaml"},
        dir_ + "/edged.log");
    ASSERT_TRUE(edged.ok()) << edged.status();
    edged_ = std::move(*edged);
    ASSERT_TRUE(edged_->WaitForLog("serving edge.v1.EdgeService", absl::Seconds(20)));
    stub_ = v1::EdgeService::NewStub(
        grpc::CreateChannel("unix:" + dir_ + "/edged.sock", grpc::InsecureChannelCredentials()));
  }

  v1::StatusResponse EdgeStatus() {
    grpc::ClientContext context;
    v1::StatusResponse status;
    grpc::Status s = stub_->Status(&context, v1::StatusRequest(), &status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }

  bool WaitConnected(absl::Duration timeout = absl::Seconds(20)) {
    bool ok = WaitFor([&] { return EdgeStatus().state() == v1::StatusResponse::CONNECTED; },
                      timeout);
    if (!ok) ADD_FAILURE() << "edged did not connect:\n" << edged_->Log();
    return ok;
  }

  grpc::Status Write(const std::string& thing, const std::string& property, v1::Value value,
                     v1::Delivery* out) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::WritePropertyRequest req;
    req.set_thing(thing);
    req.set_property(property);
    *req.mutable_value() = std::move(value);
    return stub_->WriteProperty(&context, req, out);
  }

  std::vector<json::Value> Writes(const std::string& property) {
    auto records = sim_->Records();
    EXPECT_TRUE(records.ok()) << records.status();
    std::vector<json::Value> out;
    if (!records.ok()) return out;
    for (json::Value& r : RecordsOfKind(*records, "write")) {
      if (r.Find("name")->str() == property) out.push_back(r);
    }
    return out;
  }

  TestPki pki_;
  std::string dir_;
  TestCert root_, ica_, platform_;
  trust::MasterKey key_ = *trust::MasterKey::FromBytes(std::string(32, 'x'));
  std::unique_ptr<PlatformSimProcess> sim_;
  std::unique_ptr<Subprocess> trustd_, edged_;
  std::unique_ptr<v1::EdgeService::Stub> stub_;
};

TEST_F(EdgedTest, AuthenticatesBindsWritesReadsAndServes) {
  StartSim();
  StartStack();
  ASSERT_TRUE(WaitConnected());
  EXPECT_TRUE(edged_->WaitForLog(absl::StrCat("connected to localhost:", sim_->ws_port()),
                                 absl::Seconds(1)));
  auto records = sim_->Records();
  ASSERT_TRUE(records.ok());
  auto auths = RecordsOfKind(*records, "auth");
  ASSERT_EQ(auths.size(), 1u);
  EXPECT_TRUE(auths[0].Find("accepted")->boolean());
  auto binds = RecordsOfKind(*records, "bind");
  ASSERT_EQ(binds.size(), 1u);
  EXPECT_EQ(binds[0].Find("things")->array()[0].str(), "Pump1");
  v1::StatusResponse status = EdgeStatus();
  ASSERT_EQ(status.bound_things_size(), 1);
  EXPECT_EQ(status.bound_things(0), "Pump1");

  // A typed property write arrives with its value and type.
  v1::Delivery delivery;
  grpc::Status s = Write("Pump1", "Temperature", Number(21.5), &delivery);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(delivery.outcome(), v1::Delivery::DELIVERED);
  auto writes = Writes("Temperature");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].Find("thing")->str(), "Pump1");
  EXPECT_EQ(writes[0].Find("baseType")->str(), "NUMBER");
  EXPECT_EQ(writes[0].Find("value")->number(), 21.5);

  v1::Value integer;
  integer.set_base_type(v1::INTEGER);
  integer.set_integer_value(-7);
  ASSERT_TRUE(Write("Pump1", "Count", integer, &delivery).ok());
  EXPECT_EQ(Writes("Count")[0].Find("baseType")->str(), "INTEGER");

  // A value that does not match its declared type is refused, naming the field.
  v1::Value wrong;
  wrong.set_base_type(v1::NUMBER);
  wrong.set_string_value("21.5");
  s = Write("Pump1", "Temperature", wrong, &delivery);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("value: a NUMBER value must be set in number_value"),
            std::string::npos)
      << s.error_message();

  // Reading back what the platform holds.
  {
    grpc::ClientContext context;
    v1::ReadPropertyRequest req;
    req.set_thing("Pump1");
    req.set_property("Temperature");
    v1::ReadPropertyResponse res;
    s = stub_->ReadProperty(&context, req, &res);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(res.value().rows_size(), 1);
    EXPECT_EQ(res.value().rows(0).values(0).number_value(), 21.5);
  }
  {
    grpc::ClientContext context;
    v1::ReadPropertyRequest req;
    req.set_thing("Pump1");
    req.set_property("NeverWritten");
    v1::ReadPropertyResponse res;
    s = stub_->ReadProperty(&context, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(s.error_message().find("NOT_FOUND"), std::string::npos) << s.error_message();
  }

  // A local service registers a Thing and answers the platform's service call.
  grpc::ClientContext serve_context;
  auto stream = stub_->Serve(&serve_context);
  v1::ServeMessage reg;
  reg.mutable_register_()->add_things("Valve7");
  ASSERT_TRUE(stream->Write(reg));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = sim_->Status();
        if (!st.ok()) return false;
        for (const json::Value& t : st->Find("bound")->array()) {
          if (t.str() == "Valve7") return true;
        }
        return false;
      },
      absl::Seconds(10)));
  std::thread handler([&] {
    v1::PlatformRequest request;
    if (!stream->Read(&request)) return;
    v1::ServeMessage answer;
    answer.mutable_answer()->set_id(request.id());
    answer.mutable_answer()->set_status(v1::SUCCESS);
    v1::InfoTable* t = answer.mutable_answer()->mutable_content();
    v1::FieldDefinition* f = t->add_fields();
    f->set_name("result");
    f->set_base_type(v1::STRING);
    v1::Value* v = t->add_rows()->add_values();
    v->set_base_type(v1::STRING);
    v->set_string_value(absl::StrCat("opened ", request.name(), " of ", request.thing(), " to ",
                                     request.parameters().rows(0).values(0).number_value()));
    stream->Write(answer);
  });
  auto answer = sim_->Call(
      R"({"thing": "Valve7", "method": "POST", "characteristic": "Services", "name": "Open",
          "params": {"dataShape": {"fieldDefinitions": {"percent": {"name": "percent",
          "baseType": "NUMBER"}}}, "rows": [{"percent": 40}]}})");
  handler.join();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->Find("status")->str(), "SUCCESS") << json::Write(*answer);
  EXPECT_EQ(answer->Find("content")->Find("rows")->array()[0].Find("result")->str(),
            "opened Open of Valve7 to 40");

  // A Thing nobody serves gets NOT_FOUND from edged.
  auto unserved = sim_->Call(R"({"thing": "Pump1", "name": "Temperature"})");
  ASSERT_TRUE(unserved.ok());
  EXPECT_EQ(unserved->Find("status")->str(), "SERVICE_UNAVAILABLE") << json::Write(*unserved);

  stream->WritesDone();
  serve_context.TryCancel();
  // No secret in any log.
  for (const std::string& log : {edged_->Log(), trustd_->Log(), sim_->process().Log()}) {
    EXPECT_EQ(log.find(kAppKey), std::string::npos);
  }
}

TEST_F(EdgedTest, RefusedPlatformCertificateKeepsEdgedDisconnected) {
  CertSpec wrong = CertSpec::Server("evil.test");
  Write("wrong.pem", pki_.Issue(ica_, wrong).Pem() + ica_.Pem(), 0644);
  Write("wrong.key", pki_.Issue(ica_, wrong).KeyPem(), 0600);
  StartSim("wrong.pem", "wrong.key");
  StartStack();
  ASSERT_TRUE(edged_->WaitForLog("platform certificate refused: NAME_MISMATCH", absl::Seconds(20)));
  v1::StatusResponse status = EdgeStatus();
  EXPECT_NE(status.state(), v1::StatusResponse::CONNECTED);
  EXPECT_NE(status.last_error().find("NAME_MISMATCH"), std::string::npos) << status.last_error();
  auto records = sim_->Records();
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(RecordsOfKind(*records, "auth").empty()) << "nothing is sent to a refused peer";

  // Messages meanwhile are queued, not lost.
  v1::Delivery delivery;
  ASSERT_TRUE(Write("Pump1", "Temperature", Number(1), &delivery).ok());
  EXPECT_EQ(delivery.outcome(), v1::Delivery::QUEUED);
  EXPECT_EQ(delivery.queue_depth(), 1u);
}

TEST_F(EdgedTest, UnknownCaIsRefused) {
  TestCert other_root = pki_.Root("Somebody Else's Root");
  CertSpec spec = CertSpec::Server("localhost");
  TestCert leaf = pki_.Issue(other_root, spec);
  Write("other.pem", leaf.Pem(), 0644);
  Write("other.key", leaf.KeyPem(), 0600);
  StartSim("other.pem", "other.key");
  StartStack();
  ASSERT_TRUE(edged_->WaitForLog("platform certificate refused: UNKNOWN_ISSUER",
                                 absl::Seconds(20)));
  EXPECT_NE(EdgeStatus().state(), v1::StatusResponse::CONNECTED);
}

TEST_F(EdgedTest, WrongAppKeyIsReportedAndRetried) {
  StartSim("platform.pem", "platform.key", "another-key");
  StartStack();
  ASSERT_TRUE(edged_->WaitForLog("authentication refused: check appKey", absl::Seconds(20)));
  EXPECT_NE(EdgeStatus().state(), v1::StatusResponse::CONNECTED);
  auto records = sim_->Records();
  ASSERT_TRUE(records.ok());
  auto auths = RecordsOfKind(*records, "auth");
  ASSERT_FALSE(auths.empty());
  EXPECT_FALSE(auths[0].Find("accepted")->boolean());
  EXPECT_EQ(edged_->Log().find(kAppKey), std::string::npos);
}

TEST_F(EdgedTest, DroppedConnectionsLoseNothingAndDuplicateNothing) {
  StartSim();
  StartStack();
  ASSERT_TRUE(WaitConnected());
  constexpr int kWrites = 300;
  std::atomic<int> done{0}, queued{0};
  std::thread writer([&] {
    for (int i = 1; i <= kWrites; ++i) {
      v1::Delivery delivery;
      grpc::Status s = Write("Pump1", "Counter", Number(i), &delivery);
      EXPECT_TRUE(s.ok()) << i << ": " << s.error_message();
      if (delivery.outcome() == v1::Delivery::QUEUED) ++queued;
      ++done;
    }
  });
  // Drop the connection three times while the writes flow, each time once edged is back.
  for (int drop = 1; drop <= 3; ++drop) {
    ASSERT_TRUE(WaitFor([&] { return done >= drop * kWrites / 5; }, absl::Seconds(60)));
    ASSERT_TRUE(WaitFor(
        [&] {
          v1::StatusResponse st = EdgeStatus();
          return st.state() == v1::StatusResponse::CONNECTED &&
                 st.reconnects() == static_cast<uint64_t>(drop - 1);
        },
        absl::Seconds(30)));
    ASSERT_TRUE(sim_->Drop().ok());
  }
  writer.join();
  ASSERT_TRUE(WaitFor([&] { return Writes("Counter").size() >= kWrites; }, absl::Seconds(60)))
      << Writes("Counter").size() << "\n" << edged_->Log();
  ASSERT_TRUE(WaitFor([&] { return EdgeStatus().queue_depth() == 0; }, absl::Seconds(30)));
  std::vector<json::Value> writes = Writes("Counter");
  ASSERT_EQ(writes.size(), static_cast<size_t>(kWrites)) << "each message exactly once";
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_EQ(writes[i].Find("value")->number(), i + 1) << "in order";
  }
  EXPECT_GE(EdgeStatus().reconnects(), 3u);
  std::cout << "queued during the drops: " << queued << " of " << kWrites << "\n";
}

TEST_F(EdgedTest, MessagesQueuedBeforeAKillAreDeliveredAfterRestart) {
  StartSim();
  StartStack();
  ASSERT_TRUE(WaitConnected());
  // The platform goes away; writes are queued.
  ASSERT_TRUE(sim_->Refuse(600000).ok());
  ASSERT_TRUE(WaitFor([&] { return EdgeStatus().state() != v1::StatusResponse::CONNECTED; },
                      absl::Seconds(10)));
  constexpr int kWrites = 40;
  for (int i = 1; i <= kWrites; ++i) {
    v1::Delivery delivery;
    ASSERT_TRUE(Write("Pump1", "Level", Number(i), &delivery).ok());
    ASSERT_EQ(delivery.outcome(), v1::Delivery::QUEUED);
  }
  EXPECT_EQ(EdgeStatus().queue_depth(), static_cast<uint64_t>(kWrites));
  edged_->Kill(SIGKILL);
  // The platform comes back; a new edged finds the queue and delivers it.
  ASSERT_TRUE(sim_->Refuse(0).ok());
  StartEdged();
  EXPECT_TRUE(edged_->WaitForLog("40 messages from an earlier run wait for the platform",
                                 absl::Seconds(5)));
  ASSERT_TRUE(edged_->WaitForLog("40 messages queued while offline, replayed", absl::Seconds(30)));
  std::vector<json::Value> writes = Writes("Level");
  ASSERT_EQ(writes.size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(writes[i].Find("value")->number(), i + 1);
}

TEST_F(EdgedTest, FullOfflineStoreRefusesWithAClearError) {
  StartSim();
  ASSERT_TRUE(sim_->Refuse(600000).ok());
  StartStack("localhost", "", /*store_kb=*/1);
  int queued = 0;
  grpc::Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    v1::Delivery delivery;
    refused = Write("Pump1", "Level", Number(i), &delivery);
    if (refused.ok()) ++queued;
  }
  EXPECT_GT(queued, 3);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("offline store full"), std::string::npos);
  EXPECT_NE(refused.error_message().find("offline_msg_store.max_size"), std::string::npos);
  EXPECT_EQ(EdgeStatus().queue_depth(), static_cast<uint64_t>(queued));
  // Everything accepted is delivered once the platform is back.
  ASSERT_TRUE(sim_->Refuse(0).ok());
  ASSERT_TRUE(WaitFor([&] { return Writes("Level").size() == static_cast<size_t>(queued); },
                      absl::Seconds(30)));
}

}  // namespace
}  // namespace edge

// File transfers through the real stack: platformsim drives the platform's side
// (shared/specs/alwayson-file-transfer.md section 6) against edged's file services over
// WebSocket + TLS, with trustd judging the platform; files on disk on both sides, MD5
// compared. Edge-initiated copies go through edged's CopyFile RPC.
#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/edge/v1/edge.grpc.pb.h"
#include "services/json/json.h"
#include "tests/platformsim/file_transfers.h"
#include "tests/testing/edge_stack.h"
#include "tests/testing/subprocess.h"

namespace edge {
namespace {

namespace v1 = ::edge::v1;
namespace json = ::edge::json;
using testing::EdgeStack;
using testing::RecordsOfKind;
using testing::StackConfig;
using testing::WaitFor;

std::string Md5(const std::string& path) {
  absl::StatusOr<std::string> md5 = platformsim::Md5OfFile(path);
  return md5.ok() ? *md5 : std::string("(") + std::string(md5.status().message()) + ")";
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// The entries of a directory, "." and ".." aside.
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
  }
  return out;
}

class FileTransferTest : public ::testing::Test {
 protected:
  std::string files() const { return stack_.dir() + "/files"; }
  std::string in() const { return files() + "/in"; }
  std::string out() const { return files() + "/out"; }
  std::string staging() const { return files() + "/staging"; }
  std::string repo() const { return stack_.dir() + "/repository/SystemRepository"; }

  void Start(const std::string& file_extra = "", bool sim = true,
             const std::string& edged_extra = "") {
    for (const std::string& d : {files(), in(), out(), files() + "/outside"}) {
      ASSERT_EQ(::mkdir(d.c_str(), 0750), 0) << d;
    }
    if (sim) {
      absl::Status s = stack_.StartSim();
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_EQ(::mkdir(repo().c_str(), 0755), 0);
    }
    StackConfig config;
    config.extra =
        absl::StrCat("file:\n  virtual_dirs:\n    - in: ", in(), "\n    - out: ", out(),
                     "\n  staging_dir: ", staging(), "\n  buffer_size: 128000\n", file_extra);
    config.edged_extra = edged_extra;
    absl::Status s = stack_.WriteConfig(config);
    if (s.ok()) s = stack_.StartTrustd();
    if (s.ok()) s = stack_.StartEdged();
    ASSERT_TRUE(s.ok()) << s;
    stub_ = stack_.EdgeStub();
    if (sim) {
      ASSERT_TRUE(WaitBound());
    }
  }

  v1::StatusResponse EdgeStatus() {
    grpc::ClientContext context;
    v1::StatusResponse status;
    stub_->Status(&context, v1::StatusRequest(), &status);
    return status;
  }

  bool WaitBound() {
    bool ok = WaitFor(
        [&] {
          v1::StatusResponse st = EdgeStatus();
          return st.state() == v1::StatusResponse::CONNECTED && st.bound_things_size() > 0;
        },
        absl::Seconds(20));
    if (!ok) ADD_FAILURE() << "edged did not bind:\n" << stack_.edged()->Log();
    return ok;
  }

  // POST /transfer on the simulator.
  json::Value Transfer(const std::string& direction, const std::string& path,
                       const std::string& repository_path, const std::string& extra = "") {
    absl::StatusOr<json::Value> r = stack_.sim()->Transfer(
        absl::StrCat(R"({"direction": ")", direction, R"(", "thing": "Pump1", "path": ")", path,
                     R"(", "repository_path": ")", repository_path, "\"", extra, "}"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : json::Value();
  }

  static std::string Field(const json::Value& v, const char* name) {
    const json::Value* f = v.Find(name);
    return f && f->is_string() ? f->str() : "";
  }

  // One file service called by the platform on Pump1, its parameters all STRING but those
  // given typed in `typed` (JSON infotable field definitions and values, already encoded).
  json::Value Service(const std::string& service,
                      std::vector<std::pair<std::string, std::string>> strings,
                      const std::string& thing = "Pump1") {
    json::Object defs, row;
    for (auto& [name, value] : strings) {
      defs.emplace_back(name,
                        json::Value::MakeObject({{"name", json::Value::String(name)},
                                                 {"baseType", json::Value::String("STRING")}}));
      row.emplace_back(name, json::Value::String(value));
    }
    json::Value params = json::Value::MakeObject(
        {{"dataShape", json::Value::MakeObject(
                           {{"fieldDefinitions", json::Value::MakeObject(std::move(defs))}})},
         {"rows", json::Value::MakeArray({json::Value::MakeObject(std::move(row))})}});
    json::Value request =
        json::Value::MakeObject({{"thing", json::Value::String(thing)},
                                 {"method", json::Value::String("POST")},
                                 {"characteristic", json::Value::String("Services")},
                                 {"name", json::Value::String(service)},
                                 {"params", std::move(params)}});
    absl::StatusOr<json::Value> r = stack_.sim()->Call(json::Write(request));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : json::Value();
  }

  // A CopyFile call to its end: the states it streamed, and how it ended.
  struct CopyOutcome {
    std::vector<v1::CopyFileProgress> steps;
    grpc::Status status;
    std::string States() const {
      std::string out;
      for (const auto& p : steps) {
        absl::StrAppend(&out, out.empty() ? "" : " ", v1::CopyFileProgress::State_Name(p.state()));
      }
      return out;
    }
  };
  CopyOutcome Copy(v1::CopyFileRequest::Direction direction, const std::string& path,
                   const std::string& repository_path,
                   const std::function<void(const v1::CopyFileProgress&)>& on_step = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::CopyFileRequest req;
    req.set_direction(direction);
    req.set_thing("Pump1");
    req.set_path(path);
    req.set_repository("SystemRepository");
    req.set_repository_path(repository_path);
    auto reader = stub_->CopyFile(&context, req);
    CopyOutcome outcome;
    v1::CopyFileProgress p;
    while (reader->Read(&p)) {
      outcome.steps.push_back(p);
      if (on_step) on_step(p);
    }
    outcome.status = reader->Finish();
    return outcome;
  }

  EdgeStack stack_;
  std::unique_ptr<v1::EdgeService::Stub> stub_;
};

TEST_F(FileTransferTest, PutsAndGetsFiveMegabytesAndZeroBytesWithMatchingMd5) {
  Start();
  const std::string big = RandomBytes(5 * 1024 * 1024 + 17, 1);
  WriteBytes(repo() + "/firmware.bin", big);
  WriteBytes(repo() + "/empty.bin", "");

  json::Value put = Transfer("put", "/in/firmware.bin", "/firmware.bin");
  ASSERT_EQ(Field(put, "status"), "COMPLETED") << json::Write(put) << stack_.edged()->Log();
  EXPECT_EQ(Md5(in() + "/firmware.bin"), Md5(repo() + "/firmware.bin"));
  EXPECT_EQ(Field(put, "md5"), Md5(repo() + "/firmware.bin"));
  EXPECT_EQ(put.Find("bytes")->number(), static_cast<double>(big.size()));

  put = Transfer("put", "/in/empty.bin", "/empty.bin");
  ASSERT_EQ(Field(put, "status"), "COMPLETED") << json::Write(put);
  ASSERT_TRUE(Exists(in() + "/empty.bin"));
  EXPECT_EQ(ReadAll(in() + "/empty.bin"), "");

  WriteBytes(out() + "/log.bin", RandomBytes(5 * 1024 * 1024, 2));
  WriteBytes(out() + "/none.log", "");
  json::Value get = Transfer("get", "/out/log.bin", "/uploads/log.bin");
  ASSERT_EQ(Field(get, "status"), "COMPLETED") << json::Write(get);
  EXPECT_EQ(Md5(repo() + "/uploads/log.bin"), Md5(out() + "/log.bin"));
  get = Transfer("get", "/out/none.log", "/uploads/none.log");
  ASSERT_EQ(Field(get, "status"), "COMPLETED") << json::Write(get);
  EXPECT_EQ(ReadAll(repo() + "/uploads/none.log"), "");

  EXPECT_TRUE(Entries(staging()).empty()) << "nothing left in staging";
}

TEST_F(FileTransferTest, ACancelledPutLeavesNoPart) {
  Start();
  WriteBytes(repo() + "/big.bin", RandomBytes(1000000, 3));
  json::Value r =
      Transfer("put", "/in/big.bin", "/big.bin", R"(, "stop_after_blocks": 3, "then": "cancel")");
  ASSERT_EQ(Field(r, "status"), "CANCELLED") << json::Write(r);
  EXPECT_EQ(r.Find("bytes")->number(), 3 * 128000);
  EXPECT_TRUE(Entries(staging()).empty()) << "the .part is gone";
  EXPECT_FALSE(Exists(in() + "/big.bin"));
  EXPECT_TRUE(stack_.edged()->WaitForLog("cancelled by the platform", absl::Seconds(5)));
}

TEST_F(FileTransferTest, AnAbandonedPutIsClosedAfterIdleTimeout) {
  Start("  idle_timeout: 1000\n");
  WriteBytes(repo() + "/big.bin", RandomBytes(1000000, 4));
  json::Value r =
      Transfer("put", "/in/big.bin", "/big.bin", R"(, "stop_after_blocks": 2, "then": "abandon")");
  ASSERT_EQ(Field(r, "status"), "ABANDONED") << json::Write(r);
  ASSERT_EQ(Entries(staging()).size(), 1u) << "the .part of the open transfer";
  EXPECT_TRUE(WaitFor([&] { return Entries(staging()).empty(); }, absl::Seconds(10)))
      << stack_.edged()->Log();
  EXPECT_TRUE(stack_.edged()->WaitForLog("idle for more than file.idle_timeout (1000 ms)",
                                         absl::Seconds(1)));
  // The platform comes back to it too late: the transfer is gone (section 7.3).
  json::Value late = Service("GetFileChecksum", {{"path", "/__staging__/Pump1.in.big.bin.part"}});
  EXPECT_EQ(Field(late, "status"), "NOT_FOUND") << json::Write(late);
}

TEST_F(FileTransferTest, APutCutByAConnectionDropFailsCleanlyAndARetrySucceeds) {
  Start();
  WriteBytes(repo() + "/big.bin", RandomBytes(2000000, 5));
  json::Value r =
      Transfer("put", "/in/big.bin", "/big.bin", R"(, "stop_after_blocks": 4, "then": "drop")");
  ASSERT_EQ(Field(r, "status"), "DROPPED") << json::Write(r);
  EXPECT_TRUE(WaitFor([&] { return Entries(staging()).empty(); }, absl::Seconds(10)))
      << "the .part of the lost transfer is removed\n"
      << stack_.edged()->Log();
  EXPECT_FALSE(Exists(in() + "/big.bin"));
  ASSERT_TRUE(WaitBound());
  json::Value retry = Transfer("put", "/in/big.bin", "/big.bin");
  ASSERT_EQ(Field(retry, "status"), "COMPLETED") << json::Write(retry) << stack_.edged()->Log();
  EXPECT_EQ(Md5(in() + "/big.bin"), Md5(repo() + "/big.bin"));
}

TEST_F(FileTransferTest, RefusesEveryTraversalAndTheFileOutsideIsUntouched) {
  Start();
  const std::string secret = files() + "/outside/secret.txt";
  WriteBytes(secret, "operator's secret");
  ASSERT_EQ(::symlink((files() + "/outside").c_str(), (in() + "/escape").c_str()), 0);
  WriteBytes(out() + "/a.txt", "a");
  WriteBytes(repo() + "/evil.bin", "overwrite attempt");

  struct Case {
    std::string service;
    std::vector<std::pair<std::string, std::string>> params;
  };
  std::vector<Case> cases = {
      {"GetFileInfo", {{"path", "/in/../outside/secret.txt"}}},
      {"GetFileInfo", {{"path", "/etc/passwd"}}},
      {"GetFileInfo", {{"path", secret}}},
      {"GetFileChecksum", {{"path", "/in/escape/secret.txt"}}},
      {"DeleteFile", {{"path", "/in/escape/secret.txt"}}},
      {"BrowseDirectory", {{"path", "/in/escape"}}},
      {"GetFileInfo", {{"path", std::string("/in/a\0/../../x", 14)}}},
      {"MoveFile", {{"sourcePath", "/out/a.txt"}, {"targetPath", "/out/../outside/secret.txt"}}},
      {"MoveFile", {{"sourcePath", "/out/a.txt"}, {"targetPath", "/in/escape/secret.txt"}}},
      {"MoveFile", {{"sourcePath", "/in/escape/secret.txt"}, {"targetPath", "/out/stolen.txt"}}},
  };
  for (const Case& c : cases) {
    json::Value r = Service(c.service, c.params);
    EXPECT_EQ(Field(r, "status"), "BAD_REQUEST")
        << c.service << " " << c.params[0].second << ": " << json::Write(r);
  }
  // A whole put onto a path that leads outside.
  json::Value put = Transfer("put", "/in/escape/secret.txt", "/evil.bin");
  EXPECT_EQ(Field(put, "status"), "FAILED");
  EXPECT_EQ(Field(put, "failed_status"), "BAD_REQUEST") << json::Write(put);

  EXPECT_EQ(ReadAll(secret), "operator's secret");
  EXPECT_TRUE(Exists(out() + "/a.txt"));
  EXPECT_FALSE(Exists(out() + "/stolen.txt"));
  EXPECT_TRUE(Entries(staging()).empty());
  EXPECT_TRUE(stack_.edged()->WaitForLog("refused (BAD_REQUEST)", absl::Seconds(1)));
}

TEST_F(FileTransferTest, MaxFileSizeIsEnforcedWithEntityTooLarge) {
  Start("  max_file_size: 1000000\n");
  WriteBytes(repo() + "/big.bin", RandomBytes(1500000, 6));
  json::Value r = Transfer("put", "/in/big.bin", "/big.bin");
  EXPECT_EQ(Field(r, "status"), "FAILED");
  EXPECT_EQ(Field(r, "failed_service"), "WriteToBinaryFile");
  EXPECT_EQ(Field(r, "failed_status"), "ENTITY_TOO_LARGE") << json::Write(r);
  EXPECT_NE(Field(r, "message").find("file.max_file_size (1000000 bytes)"), std::string::npos);
  EXPECT_TRUE(Entries(staging()).empty());
  EXPECT_FALSE(Exists(in() + "/big.bin"));
  json::Value info = Service("GetTransferInfo", {});
  ASSERT_EQ(Field(info, "status"), "SUCCESS") << json::Write(info);
}

TEST_F(FileTransferTest, CopiesToAndFromThePlatformWithProgress) {
  Start();
  WriteBytes(out() + "/report.csv", RandomBytes(700000, 7));
  CopyOutcome sent = Copy(v1::CopyFileRequest::TO_PLATFORM, "/out/report.csv", "/reports/r1.csv");
  ASSERT_TRUE(sent.status.ok()) << sent.status.error_message() << "\n" << stack_.edged()->Log();
  EXPECT_EQ(sent.steps.front().state(), v1::CopyFileProgress::REQUESTED) << sent.States();
  EXPECT_EQ(sent.steps.back().state(), v1::CopyFileProgress::COMPLETED) << sent.States();
  EXPECT_EQ(sent.steps.back().bytes(), 700000u);
  EXPECT_EQ(Md5(repo() + "/reports/r1.csv"), Md5(out() + "/report.csv"));

  WriteBytes(repo() + "/recipe.json", R"({"speed": 42})");
  CopyOutcome fetched = Copy(v1::CopyFileRequest::FROM_PLATFORM, "/in/recipe.json", "/recipe.json");
  ASSERT_TRUE(fetched.status.ok()) << fetched.status.error_message();
  EXPECT_EQ(fetched.steps.back().state(), v1::CopyFileProgress::COMPLETED) << fetched.States();
  EXPECT_EQ(ReadAll(in() + "/recipe.json"), R"({"speed": 42})");

  // Refused before anything is sent: a missing source, a path outside the directories.
  CopyOutcome missing = Copy(v1::CopyFileRequest::TO_PLATFORM, "/out/none.csv", "/x.csv");
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  CopyOutcome outside = Copy(v1::CopyFileRequest::TO_PLATFORM, "/out/../../etc/passwd", "/x");
  EXPECT_EQ(outside.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(outside.status.error_message().find("path"), std::string::npos);
  CopyOutcome up = Copy(v1::CopyFileRequest::TO_PLATFORM, "/out/report.csv", "/x/../../etc/x");
  EXPECT_EQ(up.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(up.status.error_message().find("repository_path"), std::string::npos)
      << up.status.error_message();
}

TEST_F(FileTransferTest, ACopyAskedForOfflineIsDeliveredAfterReconnect) {
  Start();
  WriteBytes(out() + "/shift.log", RandomBytes(300000, 8));
  ASSERT_TRUE(stack_.sim()->Refuse(600000).ok());
  ASSERT_TRUE(WaitFor([&] { return EdgeStatus().state() != v1::StatusResponse::CONNECTED; },
                      absl::Seconds(10)));
  bool lifted = false;
  CopyOutcome copy = Copy(v1::CopyFileRequest::TO_PLATFORM, "/out/shift.log", "/logs/shift.log",
                          [&](const v1::CopyFileProgress& p) {
                            // Queued: the platform comes back.
                            if (p.state() == v1::CopyFileProgress::QUEUED && !lifted) {
                              lifted = true;
                              EXPECT_TRUE(stack_.sim()->Refuse(0).ok());
                            }
                          });
  ASSERT_TRUE(copy.status.ok()) << copy.status.error_message() << "\n" << stack_.edged()->Log();
  EXPECT_EQ(copy.steps.front().state(), v1::CopyFileProgress::QUEUED) << copy.States();
  EXPECT_EQ(copy.steps.back().state(), v1::CopyFileProgress::COMPLETED) << copy.States();
  EXPECT_EQ(Md5(repo() + "/logs/shift.log"), Md5(out() + "/shift.log"));
  auto records = stack_.sim()->Records();
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(RecordsOfKind(*records, "copy").size(), 1u) << "one Copy, replayed once";
}

TEST_F(FileTransferTest, ServesFilesForALocalServicesThingOnlyWhenItAsks) {
  Start();
  grpc::ClientContext context;
  auto stream = stub_->Serve(&context);
  v1::ServeMessage reg;
  reg.mutable_register_()->add_things("Sensor9");
  reg.mutable_register_()->add_things("Valve3");
  reg.mutable_register_()->add_file_things("Sensor9");
  ASSERT_TRUE(stream->Write(reg));
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::StatusResponse st = EdgeStatus();
        return std::count(st.bound_things().begin(), st.bound_things().end(), "Valve3") > 0;
      },
      absl::Seconds(10)));
  WriteBytes(in() + "/s9.txt", "sensor data");
  // Sensor9's file services: edged's own, over the virtual directories.
  json::Value info = Service("GetFileInfo", {{"path", "/in/s9.txt"}}, "Sensor9");
  ASSERT_EQ(Field(info, "status"), "SUCCESS") << json::Write(info);
  // Valve3's: passed on to the local service, which answers them as it likes.
  std::thread answer([&] {
    v1::PlatformRequest request;
    if (!stream->Read(&request)) return;
    EXPECT_EQ(request.thing(), "Valve3");
    EXPECT_EQ(request.name(), "GetFileInfo");
    v1::ServeMessage m;
    m.mutable_answer()->set_id(request.id());
    m.mutable_answer()->set_status(v1::NOT_FOUND);
    m.mutable_answer()->set_reason("Valve3 keeps no files");
    stream->Write(m);
  });
  json::Value passed = Service("GetFileInfo", {{"path", "/in/s9.txt"}}, "Valve3");
  answer.join();
  EXPECT_EQ(Field(passed, "status"), "NOT_FOUND") << json::Write(passed);
  EXPECT_EQ(Field(passed, "reason"), "Valve3 keeps no files");
  stream->WritesDone();
  context.TryCancel();
  stream->Finish();

  // file_things must be among the Things registered.
  grpc::ClientContext bad_context;
  auto bad = stub_->Serve(&bad_context);
  v1::ServeMessage wrong;
  wrong.mutable_register_()->add_things("Sensor9");
  wrong.mutable_register_()->add_file_things("Other");
  ASSERT_TRUE(bad->Write(wrong));
  bad->WritesDone();
  grpc::Status s = bad->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("register.file_things[0]"), std::string::npos)
      << s.error_message();
}

TEST_F(FileTransferTest, ACallerNeedsServeFilesAndCopyFileInEdgedCallers) {
  ::chmod(stack_.dir().c_str(), 0755);  // The unprivileged caller must reach the socket.
  Start("", true,
        "  socket_mode: \"0666\"\n  callers:\n    - name: lsr\n      uid: 65534\n"
        "      methods: [Status, Serve]\n");
  std::string probe = stack_.dir() + "/edge_probe";
  {
    std::ifstream in(testing::Runfile("tests/edged/edge_probe"), std::ios::binary);
    std::ofstream(probe, std::ios::binary) << in.rdbuf();
    ::chmod(probe.c_str(), 0755);
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(100);
    ::execl(probe.c_str(), probe.c_str(), stack_.edged_socket().c_str(), "files", nullptr);
    ::_exit(101);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failure bits " << WEXITSTATUS(status) << "\n"
                                    << stack_.edged()->Log();
  EXPECT_TRUE(
      stack_.edged()->WaitForLog("registration with file_things refused", absl::Seconds(5)));
}

}  // namespace
}  // namespace edge

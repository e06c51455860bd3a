// FileService against real directories under TEST_TMPDIR, with a fake clock for the idle
// timeout. Each test drives the services as a platform does (shared/specs/
// alwayson-file-transfer.md sections 2 and 6) and checks the files on disk.
#include "edged/file_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edge::edged {
namespace {

using alwayson::BaseType;
using alwayson::Code;
using alwayson::InfoTable;
using alwayson::Value;
using ::testing::HasSubstr;

InfoTable Row(std::vector<std::pair<std::string, Value>> values) {
  return InfoTable::OneRow(std::move(values));
}

Value S(std::string s) { return Value::String(std::move(s)); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

const Value& Cell(const FileAnswer& a, const std::string& field, size_t row = 0) {
  static const Value nothing;
  if (!a.content) return nothing;
  for (size_t i = 0; i < a.content->fields.size(); ++i) {
    if (a.content->fields[i].name == field && row < a.content->rows.size()) {
      return a.content->rows[row][i];
    }
  }
  return nothing;
}

class FileServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(
        std::system(absl::StrCat("rm -rf '", root_, "' && mkdir -p '", root_, "/in' '", root_,
                                 "/out/sub/deep' '", root_, "/outside' '", root_, "/pump2only'")
                        .c_str()),
        0);
    WriteFile(root_ + "/outside/secret.txt", "do not touch");
    WriteFile(root_ + "/out/a.txt", "hello, platform");
    options_.file.virtual_dirs = {{"in", root_ + "/in", {}},
                                  {"out", root_ + "/out", {}},
                                  {"p2", root_ + "/pump2only", {"Pump2"}}};
    options_.file.staging_dir = root_ + "/staging";
    options_.file.buffer_size = 8;
    options_.file.max_file_size = 64;
    options_.file.idle_timeout = 30000;
    options_.now = [this] { return now_; };
  }

  std::unique_ptr<FileService> Make() {
    absl::StatusOr<std::unique_ptr<FileService>> s = FileService::Create(options_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::string staging() const { return root_ + "/staging"; }

  // A whole put of `data` onto `path`, as section 6.2 orders it; the first failing step's
  // answer, or the last one.
  FileAnswer Put(FileService& files, const std::string& path, const std::string& data,
                 const std::string& tid) {
    std::string flat = path;
    for (char& c : flat) c = c == '/' ? '.' : c;
    std::string staged = absl::StrCat("/__staging__/Pump1", flat, ".part");
    FileAnswer a = files.Handle("Pump1", "DeleteFile", Row({{"path", S(staged)}}));
    if (a.status != Code::kSuccess) return a;
    a = files.Handle("Pump1", "StartFileTransfer",
                     Row({{"path", S(path)}, {"mode", S("write")}, {"tid", S(tid)}}));
    if (a.status != Code::kSuccess) return a;
    for (size_t off = 0; off < data.size(); off += 8) {
      a = files.Handle("Pump1", "WriteToBinaryFile",
                       Row({{"path", S(staged)},
                            {"offset", Value::Number(static_cast<double>(off))},
                            {"data", Value::Bytes(data.substr(off, 8))}}));
      if (a.status != Code::kSuccess) return a;
    }
    a = files.Handle("Pump1", "GetFileChecksum", Row({{"path", S(staged)}}));
    if (a.status != Code::kSuccess) return a;
    a = files.Handle("Pump1", "MoveFile",
                     Row({{"sourcePath", S(staged)},
                          {"targetPath", S(path)},
                          {"overwrite", Value::Boolean(true)}}));
    if (a.status != Code::kSuccess) return a;
    return files.Handle("Pump1", "CompleteFileTransfer", Row({{"job", Job(tid, "VALIDATED")}}));
  }

  static Value Job(const std::string& tid, const std::string& state) {
    return Value::Table(Row({{"transferId", S(tid)},
                             {"state", S(state)},
                             {"isComplete", Value::Boolean(state == "VALIDATED")}}));
  }

  std::string root_;
  FileServiceOptions options_;
  std::chrono::steady_clock::time_point now_{};
};

TEST_F(FileServiceTest, AdvertisesItsLimitsAsGetTransferInfo) {
  auto files = Make();
  FileAnswer a = files->Handle("Pump1", "GetTransferInfo", std::nullopt);
  ASSERT_EQ(a.status, Code::kSuccess);
  EXPECT_EQ(Cell(a, "blockSize"), Value::Integer(8));
  EXPECT_EQ(Cell(a, "maxFileSize"), Value::Number(64));
  EXPECT_EQ(Cell(a, "stagingDir"), S("__staging__"));
  EXPECT_TRUE(Exists(staging())) << "staging is created";
}

TEST_F(FileServiceTest, PutsAFileThroughStagingAndMovesItIntoPlace) {
  auto files = Make();
  const std::string data = "0123456789abcdefghij";  // Three blocks: 8, 8, 4.
  FileAnswer a = Put(*files, "/in/recipe.txt", data, "tid-1");
  ASSERT_EQ(a.status, Code::kSuccess) << a.reason.value_or("");
  EXPECT_EQ(ReadAll(root_ + "/in/recipe.txt"), data);
  EXPECT_FALSE(Exists(staging() + "/Pump1.in.recipe.txt.part"));
  EXPECT_EQ(files->open_transfers(), 0u);
}

TEST_F(FileServiceTest, ChecksumOfTheStagedBytesIsTheirMd5) {
  auto files = Make();
  ASSERT_EQ(files
                ->Handle("Pump1", "StartFileTransfer",
                         Row({{"path", S("/in/x")}, {"mode", S("write")}, {"tid", S("t")}}))
                .status,
            Code::kSuccess);
  ASSERT_EQ(files
                ->Handle("Pump1", "WriteToBinaryFile",
                         Row({{"path", S("__staging__/Pump1.in.x.part")},
                              {"offset", Value::Number(0)},
                              {"data", Value::Bytes("abc")}}))
                .status,
            Code::kSuccess);
  FileAnswer a =
      files->Handle("Pump1", "GetFileChecksum", Row({{"path", S("/__staging__/Pump1.in.x.part")}}));
  ASSERT_EQ(a.status, Code::kSuccess);
  EXPECT_EQ(Cell(a, "result"), S("900150983cd24fb0d6963f7d28e17f72"));  // RFC 1321 A.5.
}

TEST_F(FileServiceTest, GetsAFileInBlocksWithEofAsTheSdkReportsIt) {
  auto files = Make();
  ASSERT_EQ(files
                ->Handle("Pump1", "StartFileTransfer",
                         Row({{"path", S("/out/a.txt")}, {"mode", S("read")}, {"tid", S("g")}}))
                .status,
            Code::kSuccess);
  std::string got;
  bool eof = false;
  for (double off = 0; off < 15; off += 8) {
    FileAnswer a = files->Handle("Pump1", "ReadFromBinaryFile",
                                 Row({{"path", S("/out/a.txt")},
                                      {"offset", Value::Number(off)},
                                      {"count", Value::Integer(8)},
                                      {"tid", S("g")}}));
    ASSERT_EQ(a.status, Code::kSuccess) << a.reason.value_or("");
    // `count` goes typed NUMBER although declared INTEGER (section 2.3.12).
    EXPECT_EQ(Cell(a, "count").type(), BaseType::kNumber);
    got += Cell(a, "data").str();
    eof = Cell(a, "eof").boolean();
  }
  EXPECT_EQ(got, "hello, platform");
  EXPECT_TRUE(eof) << "the short last block reports eof";
  // Reading past the end is an error, as in the SDK.
  EXPECT_EQ(files
                ->Handle("Pump1", "ReadFromBinaryFile",
                         Row({{"path", S("/out/a.txt")},
                              {"offset", Value::Number(15)},
                              {"count", Value::Integer(8)}}))
                .status,
            Code::kInternalServerError);
  EXPECT_EQ(
      files->Handle("Pump1", "CompleteFileTransfer", Row({{"job", Job("g", "VALIDATED")}})).status,
      Code::kSuccess);
  EXPECT_EQ(ReadAll(root_ + "/out/a.txt"), "hello, platform") << "a get leaves the file";
  EXPECT_EQ(files->open_transfers(), 0u);
}

TEST_F(FileServiceTest, RefusesABlockLargerThanTheBlockSize) {
  auto files = Make();
  FileAnswer a = files->Handle("Pump1", "ReadFromBinaryFile",
                               Row({{"path", S("/out/a.txt")},
                                    {"offset", Value::Number(0)},
                                    {"count", Value::Integer(1 << 30)},
                                    {"tid", S("g")}}));
  EXPECT_EQ(a.status, Code::kBadRequest);
  EXPECT_THAT(a.reason.value_or(""), HasSubstr("file.buffer_size"));
}

TEST_F(FileServiceTest, RefusesEveryTraversalAndLeavesTheFileOutsideUntouched) {
  auto files = Make();
  ASSERT_EQ(::symlink((root_ + "/outside").c_str(), (root_ + "/in/escape").c_str()), 0);
  ASSERT_EQ(::symlink((root_ + "/outside/secret.txt").c_str(), (root_ + "/in/link.txt").c_str()),
            0);
  const std::string nul("/in/a\0b", 7);
  struct Case {
    std::string service;
    InfoTable params;
  };
  std::vector<Case> cases = {
      {"GetFileInfo", Row({{"path", S("/in/../outside/secret.txt")}})},
      {"GetFileInfo", Row({{"path", S("in\\..\\..\\outside\\secret.txt")}})},
      {"GetFileInfo", Row({{"path", S("/etc/passwd")}})},
      {"GetFileInfo", Row({{"path", S(root_ + "/outside/secret.txt")}})},
      {"GetFileInfo", Row({{"path", S("/in/escape/secret.txt")}})},
      {"GetFileInfo", Row({{"path", S("C:\\Windows\\win.ini")}})},
      {"GetFileInfo", Row({{"path", S(nul)}})},
      {"GetFileInfo", Row({{"path", S("/in/a\nb")}})},
      {"GetFileChecksum", Row({{"path", S("/in/link.txt")}})},
      {"DeleteFile", Row({{"path", S("/in/escape/secret.txt")}})},
      {"DeleteFile", Row({{"path", S("/in/../outside/secret.txt")}})},
      {"StartFileTransfer",
       Row({{"path", S("/in/link.txt")}, {"mode", S("read")}, {"tid", S("x")}})},
      {"StartFileTransfer",
       Row({{"path", S("/in/escape/new.txt")}, {"mode", S("write")}, {"tid", S("w")}})},
      {"MakeDirectory", Row({{"path", S("/in/escape/newdir")}})},
      {"ReadFromBinaryFile", Row({{"path", S("/in/escape/secret.txt")},
                                  {"offset", Value::Number(0)},
                                  {"count", Value::Integer(8)},
                                  {"tid", S("y")}})},
      {"CreateBinaryFile",
       Row({{"path", S("/in/escape/secret.txt")}, {"overwrite", Value::Boolean(true)}})},
      {"WriteToBinaryFile", Row({{"path", S("/in/escape/secret.txt")},
                                 {"offset", Value::Number(0)},
                                 {"data", Value::Bytes("x")}})},
      {"BrowseDirectory", Row({{"path", S("/in/escape")}})},
      {"MakeDirectory", Row({{"path", S("/in/../outside/new")}})},
      {"MoveFile", Row({{"sourcePath", S("/out/a.txt")},
                        {"targetPath", S("/out/../outside/secret.txt")},
                        {"overwrite", Value::Boolean(true)}})},
      {"MoveFile", Row({{"sourcePath", S("/out/a.txt")},
                        {"targetPath", S("/in/escape/secret.txt")},
                        {"overwrite", Value::Boolean(true)}})},
      {"MoveFile",
       Row({{"sourcePath", S("/in/escape/secret.txt")}, {"targetPath", S("/out/stolen.txt")}})},
      {"MoveFile", Row({{"sourcePath", S("/out/a.txt")}, {"targetPath", S("/etc/a.txt")}})},
      {"CompleteFileTransfer",
       Row({{"job",
             Value::Table(Row({{"transferId", S("z")}, {"targetPath", S("/in/../../etc")}}))}})},
  };
  for (const Case& c : cases) {
    FileAnswer a = files->Handle("Pump1", c.service, c.params);
    EXPECT_EQ(a.status, Code::kBadRequest)
        << c.service << " " << c.params.rows[0][0].str() << ": " << a.reason.value_or("");
    EXPECT_TRUE(a.reason.has_value()) << c.service << " says why";
  }
  EXPECT_EQ(ReadAll(root_ + "/outside/secret.txt"), "do not touch");
  EXPECT_EQ(ReadAll(root_ + "/out/a.txt"), "hello, platform");
  EXPECT_FALSE(Exists(root_ + "/outside/new"));
  EXPECT_EQ(files->open_transfers(), 0u);
}

TEST_F(FileServiceTest, ANameWithTwoDotsInsideIsNotTraversal) {
  auto files = Make();
  WriteFile(root_ + "/out/v1..2.txt", "x");
  EXPECT_EQ(files->Handle("Pump1", "GetFileInfo", Row({{"path", S("/out/v1..2.txt")}})).status,
            Code::kSuccess);
}

TEST_F(FileServiceTest, AThingReachesOnlyItsOwnDirectoriesAndStagedFiles) {
  auto files = Make();
  WriteFile(root_ + "/pump2only/p2.txt", "two");
  EXPECT_EQ(files->Handle("Pump1", "GetFileInfo", Row({{"path", S("/p2/p2.txt")}})).status,
            Code::kBadRequest);
  EXPECT_EQ(files->Handle("Pump2", "GetFileInfo", Row({{"path", S("/p2/p2.txt")}})).status,
            Code::kSuccess);
  WriteFile(staging() + "/Pump2.in.x.part", "staged for Pump2");
  FileAnswer a =
      files->Handle("Pump1", "GetFileChecksum", Row({{"path", S("/__staging__/Pump2.in.x.part")}}));
  EXPECT_EQ(a.status, Code::kBadRequest);
  FileAnswer listing =
      files->Handle("Pump1", "BrowseDirectory", Row({{"path", S("/__staging__")}}));
  ASSERT_EQ(listing.status, Code::kSuccess);
  EXPECT_TRUE(listing.content->rows.empty()) << "another Thing's staged file is not listed";
  FileAnswer root = files->Handle("Pump1", "ListDirectories", Row({{"path", S("/")}}));
  ASSERT_EQ(root.status, Code::kSuccess);
  ASSERT_EQ(root.content->rows.size(), 2u);
  EXPECT_EQ(Cell(root, "name", 0), S("in"));
  EXPECT_EQ(Cell(root, "path", 1), S("/out"));
  EXPECT_EQ(Cell(root, "parentPath", 1), S("/"));
}

TEST_F(FileServiceTest, ListsWithTheSdksShapes) {
  auto files = Make();
  WriteFile(root_ + "/out/b.log", "b");
  ASSERT_EQ(::symlink((root_ + "/outside/secret.txt").c_str(), (root_ + "/out/link").c_str()), 0);
  FileAnswer files_only =
      files->Handle("Pump1", "ListFiles", Row({{"path", S("/out/")}, {"nameMask", S("*.txt")}}));
  ASSERT_EQ(files_only.status, Code::kSuccess);
  ASSERT_EQ(files_only.content->rows.size(), 1u) << "a.txt only: b.log masked, link leads out";
  EXPECT_EQ(Cell(files_only, "name"), S("a.txt"));
  EXPECT_EQ(Cell(files_only, "path"), S("/out")) << "one trailing separator removed";
  EXPECT_EQ(Cell(files_only, "fileType"), S("F"));
  EXPECT_EQ(Cell(files_only, "size"), Value::Number(15));
  ASSERT_EQ(files_only.content->fields[0].aspects.size(), 1u);
  EXPECT_EQ(files_only.content->fields[0].aspects[0].first, "isPrimaryKey");

  FileAnswer tree = files->Handle("Pump1", "GetDirectoryStructure", std::nullopt);
  ASSERT_EQ(tree.status, Code::kSuccess);
  std::vector<std::string> paths;
  for (size_t i = 0; i < tree.content->rows.size(); ++i)
    paths.push_back(Cell(tree, "path", i).str());
  EXPECT_THAT(paths, ::testing::ElementsAre("/in", "/out", "/out/sub", "/out/sub/deep"));

  FileAnswer missing = files->Handle("Pump1", "GetFileInfo", Row({{"path", S("/out/none")}}));
  EXPECT_EQ(missing.status, Code::kNotFound);
  FileAnswer dir = files->Handle("Pump1", "GetFileInfo", Row({{"path", S("/out/sub")}}));
  ASSERT_EQ(dir.status, Code::kSuccess);
  EXPECT_EQ(Cell(dir, "name"), S("sub"));
  EXPECT_EQ(Cell(dir, "fileType").str().substr(0, 1), "D");
}

TEST_F(FileServiceTest, MoveFileRefusesToReplaceWithoutOverwrite) {
  auto files = Make();
  WriteFile(root_ + "/in/there.txt", "old");
  FileAnswer a =
      files->Handle("Pump1", "MoveFile",
                    Row({{"sourcePath", S("/out/a.txt")}, {"targetPath", S("/in/there.txt")}}));
  EXPECT_EQ(a.status, Code::kPreconditionFailed);
  EXPECT_EQ(ReadAll(root_ + "/in/there.txt"), "old");
  EXPECT_EQ(files
                ->Handle("Pump1", "MoveFile",
                         Row({{"sourcePath", S("/out/a.txt")},
                              {"targetPath", S("/in/there.txt")},
                              {"overwrite", Value::Boolean(true)}}))
                .status,
            Code::kSuccess);
  EXPECT_EQ(ReadAll(root_ + "/in/there.txt"), "hello, platform");
  EXPECT_FALSE(Exists(root_ + "/out/a.txt"));
}

TEST_F(FileServiceTest, CancelRemovesThePart) {
  auto files = Make();
  ASSERT_EQ(files
                ->Handle("Pump1", "StartFileTransfer",
                         Row({{"path", S("/in/x.bin")}, {"mode", S("write")}, {"tid", S("c")}}))
                .status,
            Code::kSuccess);
  ASSERT_EQ(files
                ->Handle("Pump1", "WriteToBinaryFile",
                         Row({{"path", S("/__staging__/Pump1.in.x.bin.part")},
                              {"offset", Value::Number(0)},
                              {"data", Value::Bytes("half")}}))
                .status,
            Code::kSuccess);
  ASSERT_TRUE(Exists(staging() + "/Pump1.in.x.bin.part"));
  EXPECT_EQ(
      files->Handle("Pump1", "CancelFileTransfer", Row({{"job", Job("c", "CANCELLED")}})).status,
      Code::kSuccess);
  EXPECT_FALSE(Exists(staging() + "/Pump1.in.x.bin.part"));
  EXPECT_FALSE(Exists(root_ + "/in/x.bin"));
  EXPECT_EQ(files->open_transfers(), 0u);
}

TEST_F(FileServiceTest, AnIdleTransferIsClosedAndItsPartRemoved) {
  std::vector<TransferEvent> events;
  auto files = Make();
  files->set_observer([&](const TransferEvent& e) { events.push_back(e); });
  ASSERT_EQ(files
                ->Handle("Pump1", "StartFileTransfer",
                         Row({{"path", S("/in/y")}, {"mode", S("write")}, {"tid", S("i")}}))
                .status,
            Code::kSuccess);
  now_ += std::chrono::milliseconds(30000);
  files->Sweep();
  EXPECT_TRUE(Exists(staging() + "/Pump1.in.y.part")) << "not idle for longer than 30 s yet";
  now_ += std::chrono::milliseconds(1);
  files->Sweep();
  EXPECT_FALSE(Exists(staging() + "/Pump1.in.y.part"));
  EXPECT_EQ(files->open_transfers(), 0u);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, TransferEvent::Kind::kFailed);
  EXPECT_THAT(events.back().message, HasSubstr("file.idle_timeout"));
  // The platform's late Complete finds nothing (section 7.3).
  EXPECT_EQ(
      files->Handle("Pump1", "CompleteFileTransfer", Row({{"job", Job("i", "VALIDATED")}})).status,
      Code::kInternalServerError);
}

TEST_F(FileServiceTest, EnforcesMaxFileSizeAndRemovesThePart) {
  auto files = Make();
  FileAnswer a = Put(*files, "/in/big.bin", std::string(72, 'x'), "big");
  EXPECT_EQ(a.status, Code::kEntityTooLarge);
  EXPECT_THAT(a.reason.value_or(""), HasSubstr("file.max_file_size (64 bytes)"));
  EXPECT_FALSE(Exists(staging() + "/Pump1.in.big.bin.part"));
  EXPECT_FALSE(Exists(root_ + "/in/big.bin"));
  EXPECT_EQ(files->open_transfers(), 0u);
  // Exactly the limit is fine.
  EXPECT_EQ(Put(*files, "/in/big.bin", std::string(64, 'x'), "fits").status, Code::kSuccess);
}

TEST_F(FileServiceTest, ABlockThatDoesNotContinueTheFileIsRefused) {
  auto files = Make();
  ASSERT_EQ(files
                ->Handle("Pump1", "StartFileTransfer",
                         Row({{"path", S("/in/z")}, {"mode", S("write")}, {"tid", S("o")}}))
                .status,
            Code::kSuccess);
  InfoTable block = Row({{"path", S("/__staging__/Pump1.in.z.part")},
                         {"offset", Value::Number(0)},
                         {"data", Value::Bytes("12345678")}});
  ASSERT_EQ(files->Handle("Pump1", "WriteToBinaryFile", block).status, Code::kSuccess);
  FileAnswer again = files->Handle("Pump1", "WriteToBinaryFile", block);  // Repeated.
  EXPECT_EQ(again.status, Code::kPreconditionFailed);
  EXPECT_THAT(again.reason.value_or(""), HasSubstr("8 bytes so far"));
  EXPECT_EQ(ReadAll(staging() + "/Pump1.in.z.part"), "12345678");
}

TEST_F(FileServiceTest, BoundsTheTransfersOfOneThing) {
  options_.max_transfers_per_thing = 2;
  auto files = Make();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(files
                  ->Handle("Pump1", "StartFileTransfer",
                           Row({{"path", S(absl::StrCat("/in/f", i))},
                                {"mode", S("write")},
                                {"tid", S(absl::StrCat("t", i))}}))
                  .status,
              Code::kSuccess);
  }
  FileAnswer third =
      files->Handle("Pump1", "StartFileTransfer",
                    Row({{"path", S("/in/f2")}, {"mode", S("write")}, {"tid", S("t2")}}));
  EXPECT_EQ(third.status, Code::kServiceUnavailable);
  EXPECT_THAT(third.reason.value_or(""), HasSubstr("edged.file_max_transfers_per_thing"));
  EXPECT_EQ(files
                ->Handle("Pump2", "StartFileTransfer",
                         Row({{"path", S("/in/f2")}, {"mode", S("write")}, {"tid", S("t2")}}))
                .status,
            Code::kSuccess)
      << "another Thing has its own share";
  // The same tid or file twice: 0x8C (section 2.3.14).
  EXPECT_EQ(files
                ->Handle("Pump2", "StartFileTransfer",
                         Row({{"path", S("/in/f9")}, {"mode", S("write")}, {"tid", S("t2")}}))
                .status,
            Code::kPreconditionFailed);
}

TEST_F(FileServiceTest, AParameterOfTheWrongTypeIsRefusedByName) {
  auto files = Make();
  FileAnswer a = files->Handle("Pump1", "ReadFromBinaryFile",
                               Row({{"path", S("/out/a.txt")},
                                    {"offset", S("0")},
                                    {"count", Value::Integer(8)},
                                    {"tid", S("g")}}));
  EXPECT_EQ(a.status, Code::kBadRequest);
  EXPECT_THAT(a.reason.value_or(""), HasSubstr("parameter offset: expected NUMBER, found STRING"));
  EXPECT_EQ(files->Handle("Pump1", "GetFileInfo", std::nullopt).status, Code::kBadRequest);
  EXPECT_EQ(files->Handle("Pump1", "GetFileListing", Row({{"path", S("/")}})).status,
            Code::kBadRequest);
  FileAnswer long_tid = files->Handle("Pump1", "ReadFromBinaryFile",
                                      Row({{"path", S("/out/a.txt")},
                                           {"offset", Value::Number(0)},
                                           {"count", Value::Integer(8)},
                                           {"tid", S(std::string(100000, 't'))}}));
  EXPECT_EQ(long_tid.status, Code::kBadRequest);
  EXPECT_THAT(long_tid.reason.value_or(""), HasSubstr("parameter tid: longer than 256 bytes"));
}

TEST_F(FileServiceTest, TheWorkerAnswersPostsAndALostConnectionEndsTransfers) {
  auto files = Make();
  files->Start();
  absl::Mutex mu;
  std::vector<Code> answers;
  auto respond = [&](FileAnswer a) {
    absl::MutexLock lock(&mu);
    answers.push_back(a.status);
  };
  ASSERT_TRUE(files->Post("Pump1", "StartFileTransfer",
                          Row({{"path", S("/in/w")}, {"mode", S("write")}, {"tid", S("w")}}),
                          respond));
  ASSERT_TRUE(files->Post("Pump1", "WriteToBinaryFile",
                          Row({{"path", S("/__staging__/Pump1.in.w.part")},
                               {"offset", Value::Number(0)},
                               {"data", Value::Bytes("abc")}}),
                          respond));
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<Code>* a) { return a->size() == 2; }, &answers));
    EXPECT_THAT(answers, ::testing::ElementsAre(Code::kSuccess, Code::kSuccess));
  }
  ASSERT_TRUE(Exists(staging() + "/Pump1.in.w.part"));
  files->ConnectionLost();
  ASSERT_TRUE(files->Post("Pump1", "GetTransferInfo", std::nullopt, respond));
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<Code>* a) { return a->size() == 3; }, &answers));
  }
  EXPECT_FALSE(Exists(staging() + "/Pump1.in.w.part"));
  files->Stop();
}

TEST_F(FileServiceTest, AStagingDirectoryThatCannotBeMadeIsNamed) {
  WriteFile(root_ + "/plainfile", "x");
  options_.file.staging_dir = root_ + "/plainfile/staging";
  absl::StatusOr<std::unique_ptr<FileService>> s = FileService::Create(options_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("file.staging_dir"));
}

}  // namespace
}  // namespace edge::edged

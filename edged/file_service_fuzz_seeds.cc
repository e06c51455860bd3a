// Writes the seed corpus of file_service_fuzzer into the directory given: every file
// service with well-formed parameters, the traversal attempts the tests refuse, and whole
// put and get flows as length-prefixed sequences. Run once when the fuzzer's input changes:
//   bazel run //edged:file_service_fuzz_seeds -- $PWD/edged/testdata/fuzz/file_service
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/alwayson/message.h"

namespace {

using edge::alwayson::BaseType;
using edge::alwayson::Code;
using edge::alwayson::InfoTable;
using edge::alwayson::Message;
using edge::alwayson::RequestBody;
using edge::alwayson::Value;

InfoTable Row(std::vector<std::pair<std::string, Value>> values) {
  return InfoTable::OneRow(std::move(values));
}

Value S(std::string s) { return Value::String(std::move(s)); }

std::string Request(const std::string& service, std::optional<InfoTable> params,
                    const std::string& thing = "Pump1") {
  RequestBody body;
  body.entity_name = thing;
  body.characteristic = 2;
  body.characteristic_name = service;
  body.params = std::move(params);
  auto bytes = edge::alwayson::EncodeMessage(Message::Request(Code::kPost, 7, 0x1001, body));
  return bytes.ok() ? *bytes : std::string();
}

std::string Framed(const std::vector<std::string>& requests) {
  std::string out;
  for (const std::string& r : requests) {
    uint32_t n = static_cast<uint32_t>(r.size());
    out += static_cast<char>(n >> 24);
    out += static_cast<char>(n >> 16);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n);
    out += r;
  }
  return out;
}

Value Job(const std::string& tid) {
  return Value::Table(Row({{"transferId", S(tid)},
                           {"state", S("VALIDATED")},
                           {"isComplete", Value::Boolean(true)},
                           {"targetPath", S("/in")},
                           {"targetFile", S("new.bin")}}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: file_service_fuzz_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::pair<std::string, std::string>> seeds = {
      {"transfer_info", Request("GetTransferInfo", std::nullopt)},
      {"structure", Request("GetDirectoryStructure", std::nullopt)},
      {"browse_root", Request("BrowseDirectory", Row({{"path", S("/")}}))},
      {"browse_in", Request("BrowseDirectory", Row({{"path", S("/in/")}}))},
      {"list_files", Request("ListFiles", Row({{"path", S("/out")}, {"nameMask", S("*.bin")}}))},
      {"list_dirs", Request("ListDirectories", Row({{"path", S("/in")}}))},
      {"file_info", Request("GetFileInfo", Row({{"path", S("/in/a.txt")}}))},
      {"checksum", Request("GetFileChecksum", Row({{"path", S("/out/b.bin")}}))},
      {"delete", Request("DeleteFile", Row({{"path", S("/in/a.txt")}}))},
      {"mkdir", Request("MakeDirectory", Row({{"path", S("/in/x/y/z")}}))},
      {"create", Request("CreateBinaryFile", Row({{"path", S("/in/c.bin")},
                                                  {"overwrite", Value::Boolean(true)},
                                                  {"data", Value::Bytes("cc")}}))},
      {"move", Request("MoveFile", Row({{"sourcePath", S("/in/a.txt")},
                                        {"targetPath", S("/out/a.txt")},
                                        {"overwrite", Value::Boolean(false)}}))},
      {"rename", Request("RenameFile",
                         Row({{"sourcePath", S("/out/b.bin")}, {"targetPath", S("/out/c.bin")}}))},
      {"read", Request("ReadFromBinaryFile", Row({{"path", S("/out/b.bin")},
                                                  {"offset", Value::Number(0)},
                                                  {"count", Value::Integer(100)},
                                                  {"tid", S("r1")}}))},
      {"traversal_dotdot", Request("GetFileInfo", Row({{"path", S("/in/../outside/secret.txt")}}))},
      {"traversal_link", Request("ReadFromBinaryFile", Row({{"path", S("/in/escape/secret.txt")},
                                                            {"offset", Value::Number(0)},
                                                            {"count", Value::Integer(100)},
                                                            {"tid", S("r2")}}))},
      {"traversal_move", Request("MoveFile", Row({{"sourcePath", S("/in/a.txt")},
                                                  {"targetPath", S("/in/escape/secret.txt")},
                                                  {"overwrite", Value::Boolean(true)}}))},
      {"traversal_delete", Request("DeleteFile", Row({{"path", S("/out/link.txt")}}))},
      {"other_thing", Request("BrowseDirectory", Row({{"path", S("/out")}}), "Pump2")},
      {"put_flow",
       Framed({Request("StartFileTransfer",
                       Row({{"path", S("/in/new.bin")}, {"mode", S("write")}, {"tid", S("t1")}})),
               Request("WriteToBinaryFile", Row({{"path", S("/__staging__/Pump1.in.new.bin.part")},
                                                 {"offset", Value::Number(0)},
                                                 {"data", Value::Bytes("block one")}})),
               Request("GetFileChecksum", Row({{"path", S("/__staging__/Pump1.in.new.bin.part")}})),
               Request("MoveFile", Row({{"sourcePath", S("/__staging__/Pump1.in.new.bin.part")},
                                        {"targetPath", S("/in/new.bin")},
                                        {"overwrite", Value::Boolean(true)}})),
               Request("CompleteFileTransfer", Row({{"job", Job("t1")}}))})},
      {"get_flow",
       Framed({Request("StartFileTransfer",
                       Row({{"path", S("/out/b.bin")}, {"mode", S("read")}, {"tid", S("t2")}})),
               Request("ReadFromBinaryFile", Row({{"path", S("/out/b.bin")},
                                                  {"offset", Value::Number(256)},
                                                  {"count", Value::Integer(256)},
                                                  {"tid", S("t2")}})),
               Request("CancelFileTransfer", Row({{"job", Job("t2")}}))})},
  };
  for (const auto& [name, bytes] : seeds) {
    std::ofstream(absl::StrCat(dir, "/", name, ".bin"), std::ios::binary) << bytes;
  }
  std::printf("%zu seeds written to %s\n", seeds.size(), dir.c_str());
  return 0;
}

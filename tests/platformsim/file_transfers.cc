#include "tests/platformsim/file_transfers.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace edge::platformsim {
namespace {

using alwayson::BaseType;
using alwayson::InfoTable;
using alwayson::Value;

InfoTable Row(std::vector<std::pair<std::string, Value>> values) {
  return InfoTable::OneRow(std::move(values));
}

Value S(std::string s) { return Value::String(std::move(s)); }

const Value* Cell(const Reply& reply, const std::string& field) {
  if (!reply.content || reply.content->rows.empty()) return nullptr;
  for (size_t i = 0; i < reply.content->fields.size() && i < reply.content->rows[0].size(); ++i) {
    if (reply.content->fields[i].name == field) return &reply.content->rows[0][i];
  }
  return nullptr;
}

// The flat staging name of a put (section 5.4): "/in/sub/a" of Pump1 ->
// "/__staging__/Pump1.in.sub.a.part".
std::string StagingName(const std::string& thing, const std::string& path) {
  std::string flat = path;
  for (size_t i = 0; i + 1 < flat.size(); ++i) {
    if (flat[i] == '/' || flat[i] == '\\') flat[i] = '.';
  }
  return absl::StrCat("/__staging__/", thing, flat, ".part");
}

std::pair<std::string, std::string> SplitPath(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  if (slash == std::string::npos) return {"/", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr);
  }
  void Add(const std::string& bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), len));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

TransferResult Failed(const std::string& tid, const std::string& service, const Reply& reply) {
  TransferResult r;
  r.status = "FAILED";
  r.tid = tid;
  r.failed_service = service;
  r.failed_status = reply.status;
  r.message =
      absl::StrCat(service, ": ", reply.status, reply.reason.empty() ? "" : ": ", reply.reason);
  return r;
}

}  // namespace

absl::StatusOr<std::string> Md5OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  Md5 md5;
  std::string buffer(64 * 1024, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    md5.Add(buffer.substr(0, static_cast<size_t>(in.gcount())));
  }
  return md5.Hex();
}

FileTransfers::FileTransfers(std::string repository_dir, CallFn call, std::function<void()> drop)
    : dir_(std::move(repository_dir)), call_(std::move(call)), drop_(std::move(drop)) {}

absl::StatusOr<std::string> FileTransfers::RepositoryFile(const std::string& repository,
                                                          const std::string& path) const {
  if (dir_.empty()) return absl::FailedPreconditionError("platformsim runs without --repository");
  if (repository.empty() || repository.find_first_of("/\\") != std::string::npos ||
      repository == "." || repository == "..") {
    return absl::InvalidArgumentError(absl::StrCat(
        "repository \"", absl::CHexEscape(repository.substr(0, 100)), "\": not a Thing name"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, absl::ByAnyChar("/\\"), absl::SkipEmpty())) {
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20) {
        return absl::InvalidArgumentError("repository path: holds a control character");
      }
    }
    if (part == "..") return absl::InvalidArgumentError("repository path: \"..\" is not allowed");
    if (part != ".") parts.emplace_back(part);
  }
  if (parts.empty()) return absl::InvalidArgumentError("repository path: names no file");
  std::string out = absl::StrCat(dir_, "/", repository);
  for (const std::string& p : parts) absl::StrAppend(&out, "/", p);
  return out;
}

InfoTable FileTransfers::Job(const TransferRequest& r, const std::string& tid,
                             const std::string& state, bool complete, uint64_t size,
                             const std::string& md5) const {
  auto [edge_dir, edge_file] = SplitPath(r.edge_path);
  auto [repo_dir, repo_file] = SplitPath(r.repository_path);
  const std::string& source_repo = r.put ? r.repository : r.thing;
  const std::string& target_repo = r.put ? r.thing : r.repository;
  return Row({{"transferId", S(tid)},
              {"state", S(state)},
              {"sourceRepository", S(source_repo)},
              {"sourcePath", S(r.put ? repo_dir : edge_dir)},
              {"sourceFile", S(r.put ? repo_file : edge_file)},
              {"targetRepository", S(target_repo)},
              {"targetPath", S(r.put ? edge_dir : repo_dir)},
              {"targetFile", S(r.put ? edge_file : repo_file)},
              {"sourceChecksum", S(md5)},
              {"targetChecksum", S(complete ? md5 : "")},
              {"isComplete", Value::Boolean(complete)},
              {"size", Value::Number(static_cast<double>(size))},
              {"user", S("platformsim")},
              {"message", S(complete ? "" : state)},
              {"endTime", Value::Datetime(absl::ToUnixMillis(absl::Now()))}});
}

TransferResult FileTransfers::StopMidway(const TransferRequest& r, const std::string& tid,
                                         uint64_t bytes, const std::string& md5) {
  TransferResult out{"", "", tid, md5, bytes};
  if (r.then == "cancel") {
    Reply reply = call_(r.thing, "CancelFileTransfer",
                        Row({{"job", Value::Table(Job(r, tid, "CANCELLED", false, bytes, md5))}}));
    if (reply.status != "SUCCESS") return Failed(tid, "CancelFileTransfer", reply);
    out.status = "CANCELLED";
  } else if (r.then == "drop") {
    drop_();
    out.status = "DROPPED";
  } else {
    out.status = "ABANDONED";
  }
  return out;
}

void FileTransfers::Abort(const TransferRequest& r, const std::string& tid, uint64_t bytes) {
  // What a platform does after a failed step: the edge closes the transfer (best effort;
  // the edge may have closed it already).
  call_(r.thing, "CancelFileTransfer",
        Row({{"job", Value::Table(Job(r, tid, "ERROR", false, bytes, ""))}}));
}

TransferResult FileTransfers::Run(const TransferRequest& request) {
  absl::StatusOr<std::string> local = RepositoryFile(request.repository, request.repository_path);
  if (!local.ok()) return TransferResult{"FAILED", std::string(local.status().message())};
  std::string tid = request.tid.empty() ? absl::StrCat("platformsim-", ::getpid(), "-", ++next_tid_)
                                        : request.tid;
  return request.put ? Put(request, *local, tid) : Get(request, *local, tid);
}

TransferResult FileTransfers::Put(const TransferRequest& r, const std::string& local,
                                  const std::string& tid) {
  std::ifstream in(local, std::ios::binary);
  if (!in)
    return TransferResult{"FAILED", absl::StrCat(r.repository_path, ": not in the repository"),
                          tid};
  absl::StatusOr<std::string> md5 = Md5OfFile(local);
  if (!md5.ok()) return TransferResult{"FAILED", std::string(md5.status().message()), tid};
  int64_t block = r.block_size;
  Reply info = call_(r.thing, "GetTransferInfo", InfoTable{});
  if (info.status != "SUCCESS") return Failed(tid, "GetTransferInfo", info);
  if (block <= 0) {
    const Value* b = Cell(info, "blockSize");
    block = b && b->type() == BaseType::kInteger ? b->integer() : 8192;
  }
  const std::string staged = StagingName(r.thing, r.edge_path);
  // A stale .part from an earlier attempt would be appended to (section 6.2, step 3).
  Reply reply = call_(r.thing, "DeleteFile", Row({{"path", S(staged)}}));
  if (reply.status != "SUCCESS") return Failed(tid, "DeleteFile", reply);
  reply = call_(r.thing, "StartFileTransfer",
                Row({{"path", S(r.edge_path)}, {"mode", S("write")}, {"tid", S(tid)}}));
  if (reply.status != "SUCCESS") return Failed(tid, "StartFileTransfer", reply);
  uint64_t offset = 0;
  int64_t blocks = 0;
  std::string buffer(static_cast<size_t>(block), '\0');
  while (true) {
    if (r.stop_after_blocks >= 0 && blocks >= r.stop_after_blocks) {
      return StopMidway(r, tid, offset, *md5);
    }
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;  // A 0-byte file gets no write at all (section 6.2, step 4).
    reply = call_(r.thing, "WriteToBinaryFile",
                  Row({{"path", S(staged)},
                       {"offset", Value::Number(static_cast<double>(offset))},
                       {"data", Value::Bytes(buffer.substr(0, n))}}));
    if (reply.status != "SUCCESS") {
      TransferResult failed = Failed(tid, "WriteToBinaryFile", reply);
      failed.bytes = offset;
      Abort(r, tid, offset);
      return failed;
    }
    offset += n;
    ++blocks;
  }
  reply = call_(r.thing, "GetFileChecksum", Row({{"path", S(staged)}}));
  if (reply.status != "SUCCESS") {
    Abort(r, tid, offset);
    return Failed(tid, "GetFileChecksum", reply);
  }
  const Value* sum = Cell(reply, "result");
  if (sum == nullptr || sum->str() != *md5) {
    call_(r.thing, "CancelFileTransfer",
          Row({{"job", Value::Table(Job(r, tid, "ERROR", false, offset, *md5))}}));
    return TransferResult{"FAILED",
                          absl::StrCat("checksum mismatch: the edge has ",
                                       sum ? sum->str() : "none", ", the repository ", *md5),
                          tid, *md5, offset};
  }
  reply = call_(r.thing, "MoveFile",
                Row({{"sourcePath", S(staged)},
                     {"targetPath", S(r.edge_path)},
                     {"overwrite", Value::Boolean(true)}}));
  if (reply.status != "SUCCESS") {
    Abort(r, tid, offset);
    return Failed(tid, "MoveFile", reply);
  }
  reply = call_(r.thing, "CompleteFileTransfer",
                Row({{"job", Value::Table(Job(r, tid, "VALIDATED", true, offset, *md5))}}));
  if (reply.status != "SUCCESS") return Failed(tid, "CompleteFileTransfer", reply);
  return TransferResult{"COMPLETED", "", tid, *md5, offset};
}

TransferResult FileTransfers::Get(const TransferRequest& r, const std::string& local,
                                  const std::string& tid) {
  Reply reply = call_(r.thing, "StartFileTransfer",
                      Row({{"path", S(r.edge_path)}, {"mode", S("read")}, {"tid", S(tid)}}));
  if (reply.status != "SUCCESS") return Failed(tid, "StartFileTransfer", reply);
  Reply info = call_(r.thing, "GetTransferInfo", InfoTable{});
  if (info.status != "SUCCESS") return Failed(tid, "GetTransferInfo", info);
  int64_t block = r.block_size;
  if (block <= 0) {
    const Value* b = Cell(info, "blockSize");
    block = b && b->type() == BaseType::kInteger ? b->integer() : 8192;
  }
  reply = call_(r.thing, "GetFileInfo", Row({{"path", S(r.edge_path)}}));
  if (reply.status != "SUCCESS") return Failed(tid, "GetFileInfo", reply);
  const Value* size_cell = Cell(reply, "size");
  uint64_t size = size_cell && size_cell->type() == BaseType::kNumber
                      ? static_cast<uint64_t>(size_cell->number())
                      : 0;
  // Into a temporary file beside the target, renamed once the checksum matches.
  std::string tmp = absl::StrCat(local, ".platformsim-part");
  std::string parent = local.substr(0, local.rfind('/'));
  std::system(absl::StrCat("mkdir -p '", parent, "'").c_str());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return TransferResult{"FAILED", absl::StrCat(tmp, ": cannot be written"), tid};
  Md5 md5;
  uint64_t offset = 0;
  int64_t blocks = 0;
  // Stop by the size, not by eof (section 6.3, step 3).
  while (offset < size) {
    if (r.stop_after_blocks >= 0 && blocks >= r.stop_after_blocks) {
      out.close();
      std::remove(tmp.c_str());
      return StopMidway(r, tid, offset, "");
    }
    int64_t count =
        static_cast<int64_t>(std::min<uint64_t>(static_cast<uint64_t>(block), size - offset));
    reply = call_(r.thing, "ReadFromBinaryFile",
                  Row({{"path", S(r.edge_path)},
                       {"offset", Value::Number(static_cast<double>(offset))},
                       {"count", Value::Integer(static_cast<int32_t>(count))},
                       {"tid", S(tid)}}));
    const Value* data = Cell(reply, "data");
    if (reply.status != "SUCCESS" || data == nullptr || data->str().empty()) {
      out.close();
      std::remove(tmp.c_str());
      Abort(r, tid, offset);
      TransferResult failed = Failed(tid, "ReadFromBinaryFile", reply);
      failed.bytes = offset;
      return failed;
    }
    out.write(data->str().data(), static_cast<std::streamsize>(data->str().size()));
    md5.Add(data->str());
    offset += data->str().size();
    ++blocks;
  }
  out.close();
  std::string got = md5.Hex();
  reply = call_(r.thing, "GetFileChecksum", Row({{"path", S(r.edge_path)}}));
  const Value* sum = Cell(reply, "result");
  if (reply.status != "SUCCESS" || sum == nullptr || sum->str() != got) {
    std::remove(tmp.c_str());
    call_(r.thing, "CancelFileTransfer",
          Row({{"job", Value::Table(Job(r, tid, "ERROR", false, offset, got))}}));
    if (reply.status != "SUCCESS") return Failed(tid, "GetFileChecksum", reply);
    return TransferResult{"FAILED",
                          absl::StrCat("checksum mismatch: the edge has ",
                                       sum ? sum->str() : "none", ", received ", got),
                          tid, got, offset};
  }
  std::rename(tmp.c_str(), local.c_str());
  reply = call_(r.thing, "CompleteFileTransfer",
                Row({{"job", Value::Table(Job(r, tid, "VALIDATED", true, offset, got))}}));
  if (reply.status != "SUCCESS") return Failed(tid, "CompleteFileTransfer", reply);
  return TransferResult{"COMPLETED", "", tid, got, offset};
}

}  // namespace edge::platformsim

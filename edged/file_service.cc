#include "edged/file_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "services/common/log.h"

namespace edge::edged {
namespace {

using alwayson::BaseType;
using alwayson::Code;
using alwayson::FieldDefinition;
using alwayson::InfoTable;
using alwayson::Value;

// The names of shared/specs/alwayson-file-transfer.md section 1.5, with RenameFile (a plain
// SDK has its handler but does not route it; routing it like MoveFile is harmless).
constexpr absl::string_view kServices[] = {
    "BrowseDirectory",
    "DeleteFile",
    "GetFileInfo",
    "ListFiles",
    "MoveFile",
    "GetFileListing",
    "GetTransferInfo",
    "GetFileChecksum",
    "CreateBinaryFile",
    "ReadFromBinaryFile",
    "WriteToBinaryFile",
    "ListDirectories",
    "MakeDirectory",
    "StartFileTransfer",
    "CancelFileTransfer",
    "CompleteFileTransfer",
    "GetDirectoryStructure",
    "RenameFile",
};

constexpr size_t kMaxWirePath = 4096;  // The SDK's cap on a resolved path (section 5.2).
constexpr size_t kMaxTid = 256;        // A transfer id is kept and logged: bounded.

// ---- Answers ------------------------------------------------------------------------------

FileAnswer Ok() { return {}; }
FileAnswer Ok(InfoTable table) {
  FileAnswer a;
  a.content = std::move(table);
  return a;
}
FileAnswer Fail(Code status, std::string reason) {
  FileAnswer a;
  a.status = status;
  a.reason = std::move(reason);
  return a;
}
FileAnswer Bad(std::string reason) { return Fail(Code::kBadRequest, std::move(reason)); }

// A path from the platform, quoted for a message or a log line: escaped and cut short.
std::string Quote(absl::string_view text) {
  std::string cut(text.substr(0, 200));
  return absl::StrCat("\"", absl::CHexEscape(cut), text.size() > 200 ? "...\"" : "\"");
}

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

// ---- Parameters ----------------------------------------------------------------------------

// The parameters of one request (one row; section 1.7: read by name, as the type the
// service expects). The first mismatch is kept as error().
class FileService::Params {
 public:
  explicit Params(const InfoTable& t) : t_(t) {}

  std::optional<std::string> String(absl::string_view name) {
    const Value* v = Find(name);
    if (v == nullptr) return std::nullopt;
    if (!alwayson::IsStringType(v->type())) return Wrong(name, "STRING", *v), std::nullopt;
    return v->str();
  }
  std::optional<double> Number(absl::string_view name) {
    const Value* v = Find(name);
    if (v == nullptr) return std::nullopt;
    if (v->type() == BaseType::kNumber) return v->number();
    if (v->type() == BaseType::kInteger) return static_cast<double>(v->integer());
    return Wrong(name, "NUMBER", *v), std::nullopt;
  }
  std::optional<int64_t> Integer(absl::string_view name) {
    const Value* v = Find(name);
    if (v == nullptr) return std::nullopt;
    if (v->type() == BaseType::kInteger) return v->integer();
    // A whole NUMBER is taken too (the platform is known to accept NUMBER for INTEGER).
    if (v->type() == BaseType::kNumber && std::isfinite(v->number()) &&
        v->number() == std::floor(v->number()) && std::fabs(v->number()) < 9e15) {
      return static_cast<int64_t>(v->number());
    }
    return Wrong(name, "INTEGER", *v), std::nullopt;
  }
  bool Boolean(absl::string_view name, bool otherwise) {
    const Value* v = Find(name);
    if (v == nullptr) return otherwise;
    if (v->type() != BaseType::kBoolean) return Wrong(name, "BOOLEAN", *v), otherwise;
    return v->boolean();
  }
  std::optional<std::string> Blob(absl::string_view name) {
    const Value* v = Find(name);
    if (v == nullptr) return std::nullopt;
    if (v->type() != BaseType::kBlob) return Wrong(name, "BLOB", *v), std::nullopt;
    return v->str();
  }
  const InfoTable* Table(absl::string_view name) {
    const Value* v = Find(name);
    if (v == nullptr) return nullptr;
    if (v->type() != BaseType::kInfotable) return Wrong(name, "INFOTABLE", *v), nullptr;
    return &v->table();
  }

  const std::string& error() const { return error_; }

 private:
  const Value* Find(absl::string_view name) const {
    if (t_.rows.empty()) return nullptr;
    for (size_t i = 0; i < t_.fields.size() && i < t_.rows[0].size(); ++i) {
      if (t_.fields[i].name == name) {
        const Value& v = t_.rows[0][i];
        return v.type() == BaseType::kNothing ? nullptr : &v;
      }
    }
    return nullptr;
  }
  void Wrong(absl::string_view name, absl::string_view expected, const Value& v) {
    if (!error_.empty()) return;
    error_ = absl::StrCat("parameter ", name, ": expected ", expected, ", found ",
                          alwayson::BaseTypeName(static_cast<uint8_t>(v.type())).value_or("?"));
  }

  const InfoTable& t_;
  std::string error_;
};

namespace {

// ---- Result shapes (section 2.1) -----------------------------------------------------------

FieldDefinition Field(const char* name, BaseType type, bool primary_key = false) {
  FieldDefinition f;
  f.name = name;
  f.base_type = type;
  if (primary_key) f.aspects.emplace_back("isPrimaryKey", Value::Boolean(true));
  return f;
}

InfoTable FileEntryShape() {
  InfoTable t;
  t.fields = {Field("name", BaseType::kString, true), Field("path", BaseType::kString),
              Field("size", BaseType::kNumber), Field("fileType", BaseType::kString),
              Field("lastModifiedDate", BaseType::kDatetime)};
  return t;
}

InfoTable DirEntryShape() {
  InfoTable t;
  t.fields = {Field("name", BaseType::kString, true), Field("path", BaseType::kString),
              Field("parentPath", BaseType::kString)};
  return t;
}

// F, F+RO, D or D+RO: the owner-write bit, as the SDK's Linux port tests it (section 2.1).
std::string FileType(const struct stat& st) {
  return absl::StrCat(S_ISDIR(st.st_mode) ? "D" : "F", (st.st_mode & S_IWUSR) ? "" : "+RO");
}

void AddFileEntry(InfoTable* t, const std::string& name, const std::string& path,
                  const struct stat& st) {
  t->rows.push_back({Value::String(name), Value::String(path),
                     Value::Number(static_cast<double>(st.st_size)), Value::String(FileType(st)),
                     Value::Datetime(static_cast<int64_t>(st.st_mtime) * 1000)});
}

void AddDirEntry(InfoTable* t, const std::string& name, const std::string& path,
                 const std::string& parent) {
  t->rows.push_back({Value::String(name), Value::String(path), Value::String(parent)});
}

// ---- Paths ---------------------------------------------------------------------------------

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitWirePath(absl::string_view path,
                                                       absl::string_view field) {
  if (path.size() > kMaxWirePath) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", kMaxWirePath, " bytes"));
  }
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0 || u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " ", Quote(path), ": holds ", u == 0 ? "a NUL byte" : "a control character"));
    }
  }
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/' && path[i] != '\\') continue;
    absl::string_view part = path.substr(start, i - start);
    start = i + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " ", Quote(path), ": a \"..\" component is not allowed"));
    }
    if (part.size() > NAME_MAX) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " ", Quote(path), ": a component is longer than ", NAME_MAX, " bytes"));
    }
    parts.emplace_back(part);
  }
  if (!parts.empty() && parts[0].size() >= 2 && parts[0][1] == ':') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quote(path), ": an absolute path with a drive letter"));
  }
  return parts;
}

namespace {

// The request path with one trailing separator removed (ListFiles, ListDirectories).
std::string TrimOneSeparator(std::string path) {
  if (!path.empty() && (path.back() == '/' || path.back() == '\\')) path.pop_back();
  return path;
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Opens `rel` beneath the directory `root_fd` without leaving it: openat2 with
// RESOLVE_BENEATH (symlinks are followed only while they stay inside; `..` never leaves).
// Without openat2 (kernels before 5.6), component by component with O_NOFOLLOW, so no
// symlink is followed at all. -errno on failure; EXDEV/ELOOP mean "leads outside".
int OpenBeneath(int root_fd, const std::string& rel, int flags, mode_t mode = 0) {
  const std::string path = rel.empty() ? "." : rel;
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  // openat2 refuses unknown combinations: with O_PATH only O_DIRECTORY and O_NOFOLLOW.
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY));
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
  if (fd >= 0) return static_cast<int>(fd);
  if (errno != ENOSYS) return -errno;
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    if (i > start) parts.push_back(path.substr(start, i - start));
    start = i + 1;
  }
  Fd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur.ok()) return -errno;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] == ".") continue;
    Fd next(::openat(cur.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.ok()) return -errno;
    cur = std::move(next);
  }
  const char* last = parts.empty() ? "." : parts.back().c_str();
  int out = ::openat(cur.get(), last, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
  return out >= 0 ? out : -errno;
}

// The flat name of a put's file in staging (section 5.4): "/in/sub/a.txt" of Pump1 ->
// "Pump1.in.sub.a.txt.part" (every separator but a last one becomes '.').
std::string StagedName(const std::string& thing, std::string path) {
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (path[i] == '/' || path[i] == '\\') path[i] = '.';
  }
  return absl::StrCat(thing, path, ".part");
}

bool LeadsOutside(int err) { return err == -EXDEV || err == -ELOOP; }

FileAnswer Outside(absl::string_view field, absl::string_view path, absl::string_view vdir) {
  return Bad(absl::StrCat(field, " ", Quote(path), ": leads outside /", vdir));
}

// A directory as a handle to resolve beneath (O_PATH: no read access needed).
Fd OpenDir(const std::string& path) {
  return Fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

std::string Parent(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}
std::string Base(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// MD5 of the whole file behind `fd` (section 2.3.11), 32 lowercase hex digits.
absl::StatusOr<std::string> Md5Of(int fd) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1) {
    return absl::InternalError("MD5 is not available");
  }
  std::string buffer(64 * 1024, '\0');
  off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read failed: ", Errno(errno)));
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
    offset += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace

bool IsFileService(absl::string_view service) {
  return std::find(std::begin(kServices), std::end(kServices), service) != std::end(kServices);
}

// A wire path of one Thing, resolved to its virtual directory.
struct FileService::Resolved {
  bool root = false;  // "/": the Thing's list of virtual directories.
  std::string vdir;   // The virtual directory's name.
  std::string local;  // Its local path.
  std::string rel;    // The path beneath it ("" for the directory itself).
  bool staging = false;
  std::string file() const { return rel.empty() ? vdir : absl::StrCat(vdir, "/", rel); }
  std::string wire() const { return absl::StrCat("/", file()); }
};

struct FileService::Transfer {
  std::string thing;
  std::string tid;
  std::string file;    // What the platform names it by: "__staging__/Pump1.in.a.part".
  std::string target;  // The real file (TransferEvent::file): for a put, where it goes.
  std::string local;   // Its virtual directory's local path...
  std::string rel;     // ...and the path beneath it.
  bool write = false;
  bool staging = false;
  Fd fd;              // Closed once moved (the entry stays until Complete/Cancel).
  uint64_t size = 0;  // A get: the size at opening; a put: the bytes in the file.
  uint64_t done = 0;
  std::chrono::steady_clock::time_point last;
};

FileService::FileService(FileServiceOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<FileService>> FileService::Create(FileServiceOptions options) {
  std::string staging = options.file.StagingPath();
  // With its missing parents, as the SDK does at start (section 5.4).
  for (size_t i = 1; i <= staging.size(); ++i) {
    if (i < staging.size() && staging[i] != '/') continue;
    std::string prefix = staging.substr(0, i);
    if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("file.staging_dir: cannot create ", prefix, ": ", Errno(errno)));
    }
  }
  struct stat st;
  if (::stat(staging.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("file.staging_dir: expected a directory, found none at ", staging));
  }
  return std::unique_ptr<FileService>(new FileService(std::move(options)));
}

FileService::~FileService() {
  Stop();
  observer_ = nullptr;  // What it reports to may be gone already.
  while (!transfers_.empty()) Close(transfers_.back().get(), true, "edged stopped");
}

std::chrono::steady_clock::time_point FileService::Now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

void FileService::Start() {
  worker_ = std::thread([this] { Loop(); });
}

void FileService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

void FileService::Loop() {
  auto last_sweep = Now();
  while (true) {
    std::deque<Task> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](FileService* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
                                 return s->stop_ || !s->tasks_.empty();
                               },
                               this),
                           absl::Seconds(1));
      if (stop_) return;
      batch.swap(tasks_);
    }
    for (Task& t : batch) t.run();
    if (Now() - last_sweep >= std::chrono::seconds(1)) {
      Sweep();
      last_sweep = Now();
    }
  }
}

bool FileService::Post(const std::string& thing, const std::string& service,
                       std::optional<InfoTable> params, Respond respond) {
  absl::MutexLock lock(&mu_);
  if (stop_ || waiting_requests_ >= options_.max_waiting_requests) return false;
  ++waiting_requests_;
  tasks_.push_back(
      Task{[this, thing, service, params = std::move(params), respond = std::move(respond)] {
        FileAnswer answer = Handle(thing, service, params);
        {
          absl::MutexLock lock(&mu_);
          --waiting_requests_;
        }
        respond(std::move(answer));
      }});
  return true;
}

void FileService::ConnectionLost() {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(Task{[this] {
    while (!transfers_.empty()) {
      Close(transfers_.back().get(), true, "the platform connection was lost");
    }
  }});
}

void FileService::Emit(const TransferEvent& event) const {
  if (observer_) observer_(event);
}

std::vector<std::pair<std::string, std::string>> FileService::DirsOf(
    const std::string& thing) const {
  std::vector<std::pair<std::string, std::string>> dirs;
  for (const config::VirtualDir& d : options_.file.virtual_dirs) {
    if (!d.things.empty() && std::find(d.things.begin(), d.things.end(), thing) == d.things.end()) {
      continue;
    }
    dirs.emplace_back(d.name, d.path);
  }
  return dirs;
}

absl::StatusOr<FileService::Resolved> FileService::Resolve(const std::string& thing,
                                                           absl::string_view path,
                                                           absl::string_view field) const {
  absl::StatusOr<std::vector<std::string>> parts = SplitWirePath(path, field);
  if (!parts.ok()) return parts.status();
  Resolved r;
  if (parts->empty()) {
    r.root = true;
    return r;
  }
  r.vdir = (*parts)[0];
  r.rel = absl::StrJoin(parts->begin() + 1, parts->end(), "/");
  if (r.vdir == kStagingName) {
    // Staging holds every Thing's files, flat (section 5.4): a Thing reaches only its own.
    r.staging = true;
    r.local = options_.file.StagingPath();
    if (!r.rel.empty() && (parts->size() != 2 || r.rel.rfind(thing + ".", 0) != 0)) {
      return absl::InvalidArgumentError(absl::StrCat(field, " ", Quote(path), ": Thing \"", thing,
                                                     "\" reaches only its own staged files (",
                                                     kStagingName, "/", thing, ".*)"));
    }
    return r;
  }
  for (const auto& [name, local] : DirsOf(thing)) {
    if (name == r.vdir) {
      r.local = local;
      return r;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(field, " ", Quote(path), ": no virtual directory ",
                                                 Quote(r.vdir), " for Thing \"", thing, "\""));
}

absl::StatusOr<FileService::Resolved> FileService::ResolveParam(
    const std::string& thing, Params& params, const char* field,
    std::optional<std::string>* value) const {
  *value = params.String(field);
  if (!params.error().empty()) return absl::InvalidArgumentError(params.error());
  if (!*value) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", field, ": expected a STRING, found none"));
  }
  return Resolve(thing, **value, field);
}

absl::StatusOr<FileService::Located> FileService::Locate(const std::string& thing,
                                                         absl::string_view path,
                                                         absl::string_view field) const {
  absl::StatusOr<Resolved> r = Resolve(thing, path, field);
  if (!r.ok()) return r.status();
  if (r->root || r->rel.empty() || r->staging) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quote(path), ": expected a file in one of Thing \"", thing,
                     "\"'s virtual directories (/<directory>/<file>)"));
  }
  return Located{r->vdir, r->rel, r->file()};
}

absl::Status FileService::CheckRegularFile(const Located& located) const {
  std::string local;
  for (const config::VirtualDir& d : options_.file.virtual_dirs) {
    if (d.name == located.vdir) local = d.path;
  }
  Fd root = OpenDir(local);
  if (!root.ok()) return absl::NotFoundError(absl::StrCat("/", located.vdir, ": ", Errno(errno)));
  Fd f(OpenBeneath(root.get(), located.rel, O_PATH));
  struct stat st;
  if (!f.ok() || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("/", located.file, ": no such file"));
  }
  return absl::OkStatus();
}

FileService::Transfer* FileService::Find(const std::string& thing, const std::string& tid,
                                         const std::string& file) {
  for (auto& t : transfers_) {
    if (t->thing != thing) continue;
    if ((!tid.empty() && t->tid == tid) || (!file.empty() && t->file == file)) return t.get();
  }
  return nullptr;
}

void FileService::Close(Transfer* t, bool remove_part, absl::string_view why) {
  bool removed = false;
  if (remove_part && t->write && t->staging) {
    t->fd.reset();
    Fd root = OpenDir(t->local);
    removed = root.ok() && ::unlinkat(root.get(), t->rel.c_str(), 0) == 0;
  }
  if (!why.empty()) {
    LogWarning(absl::StrCat("file transfer ", Quote(t->tid), " of Thing \"", t->thing, "\" (",
                            Quote(t->target), ") ended: ", why,
                            removed ? absl::StrCat("; ", Quote(t->file), " removed") : ""));
    TransferEvent e{TransferEvent::Kind::kFailed,
                    t->thing,
                    t->tid,
                    t->target,
                    t->done,
                    t->size,
                    std::string(why)};
    Emit(e);
  }
  transfers_.erase(std::find_if(transfers_.begin(), transfers_.end(),
                                [t](const std::unique_ptr<Transfer>& p) { return p.get() == t; }));
}

uint64_t FileService::StagedBytes() const {
  uint64_t total = 0;
  for (const auto& t : transfers_) {
    if (t->write && t->staging && t->fd.ok()) total += t->size;
  }
  return total;
}

void FileService::Sweep() {
  auto now = Now();
  auto limit = std::chrono::milliseconds(options_.file.idle_timeout);
  for (size_t i = 0; i < transfers_.size();) {
    Transfer* t = transfers_[i].get();
    if (now - t->last > limit) {
      Close(t, true,
            absl::StrCat("idle for more than file.idle_timeout (", options_.file.idle_timeout,
                         " ms)"));
      continue;
    }
    ++i;
  }
}

FileAnswer FileService::Handle(const std::string& thing, const std::string& service,
                               const std::optional<InfoTable>& params) {
  FileAnswer answer = Dispatch(thing, service, params ? &*params : nullptr);
  if (answer.status == Code::kBadRequest && answer.reason) {
    LogWarning(absl::StrCat("file service ", service, " for Thing \"", thing,
                            "\" refused (BAD_REQUEST): ", *answer.reason));
  }
  return answer;
}

FileAnswer FileService::Dispatch(const std::string& thing, const std::string& service,
                                 const InfoTable* params) {
  Sweep();
  if (service == "GetTransferInfo") return TransferInfo();
  if (service == "GetDirectoryStructure") return DirectoryStructure(thing);
  if (service == "GetFileListing") {
    return Bad("GetFileListing is not implemented (use BrowseDirectory or ListFiles)");
  }
  // Every other service needs its parameters (section 1.6).
  if (params == nullptr || params->rows.empty()) {
    return Bad(absl::StrCat(service, ": expected a parameter infotable, found none"));
  }
  const InfoTable& p = *params;
  if (service == "BrowseDirectory") return Browse(thing, p, false, false);
  if (service == "ListFiles") return Browse(thing, p, true, false);
  if (service == "ListDirectories") return Browse(thing, p, false, true);
  if (service == "GetFileInfo") return FileInfo(thing, p);
  if (service == "DeleteFile") return Delete(thing, p);
  if (service == "MoveFile" || service == "RenameFile") return Move(thing, p);
  if (service == "MakeDirectory") return MakeDirectory(thing, p);
  if (service == "CreateBinaryFile") return CreateBinary(thing, p);
  if (service == "GetFileChecksum") return Checksum(thing, p);
  if (service == "StartFileTransfer") return StartTransfer(thing, p);
  if (service == "ReadFromBinaryFile") return Read(thing, p);
  if (service == "WriteToBinaryFile") return Write(thing, p);
  if (service == "CompleteFileTransfer") return Finish(thing, p, false);
  if (service == "CancelFileTransfer") return Finish(thing, p, true);
  return Fail(Code::kNotFound, absl::StrCat("no file service ", Quote(service)));
}

// ---- The services --------------------------------------------------------------------------

FileAnswer FileService::TransferInfo() const {
  InfoTable t;
  t.fields = {Field("blockSize", BaseType::kInteger), Field("maxFileSize", BaseType::kNumber),
              Field("stagingDir", BaseType::kString)};
  t.rows.push_back({Value::Integer(static_cast<int32_t>(options_.file.buffer_size)),
                    Value::Number(static_cast<double>(options_.file.max_file_size)),
                    Value::String(kStagingName)});
  return Ok(std::move(t));
}

// BrowseDirectory, ListFiles (files_only) and ListDirectories (dirs_only): sections 2.3.1-3.
FileAnswer FileService::Browse(const std::string& thing, const InfoTable& p, bool files_only,
                               bool dirs_only) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  std::string mask = params.String("nameMask").value_or("*");
  if (!params.error().empty()) return Bad(params.error());
  InfoTable out = dirs_only ? DirEntryShape() : FileEntryShape();
  if (r->root) {
    if (files_only) return Ok(std::move(out));  // No files at the root.
    for (const auto& [name, local] : DirsOf(thing)) {
      struct stat st;
      if (::stat(local.c_str(), &st) != 0) continue;  // Skipped, as the SDK does.
      if (dirs_only) {
        AddDirEntry(&out, name, "/" + name, "/");
      } else {
        AddFileEntry(&out, name, "/" + name, st);
      }
    }
    return Ok(std::move(out));
  }
  Fd root = OpenDir(r->local);
  if (!root.ok()) return Ok(std::move(out));
  int fd = OpenBeneath(root.get(), r->rel, O_RDONLY | O_DIRECTORY);
  if (LeadsOutside(fd)) return Outside("path", *path, r->vdir);
  if (fd < 0) return Ok(std::move(out));  // Not there, or not a directory: no rows.
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return Ok(std::move(out));
  }
  std::string trimmed = TrimOneSeparator(*path);
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (r->staging && name.rfind(thing + ".", 0) != 0) continue;  // Others' staged files.
    if (out.rows.size() >= options_.max_listing_rows) {
      LogWarning(absl::StrCat("listing of ", Quote(*path), " for Thing \"", thing, "\" cut at ",
                              options_.max_listing_rows, " entries"));
      break;
    }
    std::string child = r->rel.empty() ? name : absl::StrCat(r->rel, "/", name);
    Fd entry(OpenBeneath(root.get(), child, O_PATH));  // A link leading out is not listed.
    struct stat st;
    if (!entry.ok() || ::fstat(entry.get(), &st) != 0) continue;
    bool is_dir = S_ISDIR(st.st_mode);
    if (!is_dir && !S_ISREG(st.st_mode)) continue;
    if (dirs_only) {
      if (is_dir) AddDirEntry(&out, name, absl::StrCat(trimmed, "/", name), trimmed);
    } else if (files_only) {
      if (!is_dir && ::fnmatch(mask.c_str(), name.c_str(), 0) == 0) {
        AddFileEntry(&out, name, trimmed, st);
      }
    } else {
      AddFileEntry(&out, name, *path, st);
    }
  }
  ::closedir(dir);
  return Ok(std::move(out));
}

FileAnswer FileService::DirectoryStructure(const std::string& thing) {
  InfoTable out = DirEntryShape();
  struct Walk {
    FileService* self;
    InfoTable* out;
    int root;
    bool full = false;
    void Dir(const std::string& rel, const std::string& wire, size_t depth) {
      if (depth >= self->options_.max_depth || full) return;
      int fd = OpenBeneath(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (fd < 0) return;
      DIR* dir = ::fdopendir(fd);
      if (dir == nullptr) {
        ::close(fd);
        return;
      }
      std::vector<std::string> subdirs;
      while (struct dirent* e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st;
        // Real directories only: a link is not walked (it could loop, or lead out).
        if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
          continue;
        }
        subdirs.push_back(name);
      }
      ::closedir(dir);
      for (const std::string& name : subdirs) {
        if (out->rows.size() >= self->options_.max_listing_rows) {
          full = true;
          return;
        }
        std::string path = absl::StrCat(wire, "/", name);
        AddDirEntry(out, name, path, wire);
        Dir(rel.empty() ? name : absl::StrCat(rel, "/", name), path, depth + 1);
      }
    }
  };
  for (const auto& [name, local] : DirsOf(thing)) {
    Fd root = OpenDir(local);
    if (!root.ok()) continue;
    AddDirEntry(&out, name, "/" + name, "/");
    Walk walk{this, &out, root.get()};
    walk.Dir("", "/" + name, 0);
    if (walk.full) {
      LogWarning(absl::StrCat("directory structure for Thing \"", thing, "\" cut at ",
                              options_.max_listing_rows, " directories"));
      break;
    }
  }
  return Ok(std::move(out));
}

FileAnswer FileService::FileInfo(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  if (r->root) return Fail(Code::kNotFound, "\"/\" is the list of virtual directories");
  Fd root = OpenDir(r->local);
  int fd = root.ok() ? OpenBeneath(root.get(), r->rel, O_PATH) : -ENOENT;
  if (LeadsOutside(fd)) return Outside("path", *path, r->vdir);
  Fd f(fd);
  struct stat st;
  if (!f.ok() || ::fstat(f.get(), &st) != 0) {
    return Fail(Code::kNotFound, absl::StrCat("nothing at ", Quote(*path)));
  }
  size_t cut = path->find_last_of('/');
  if (cut == std::string::npos) cut = path->find_last_of('\\');
  std::string name = cut == std::string::npos ? *path : path->substr(cut + 1);
  InfoTable out = FileEntryShape();
  AddFileEntry(&out, name, *path, st);
  return Ok(std::move(out));
}

FileAnswer FileService::Delete(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  if (r->root || r->rel.empty()) {
    return Bad(
        absl::StrCat("path ", Quote(*path), ": a virtual directory itself cannot be deleted"));
  }
  // A file in an active transfer is left alone, and that is SUCCESS (section 2.3.6).
  if (Transfer* t = Find(thing, "", r->file()); t != nullptr && t->fd.ok()) return Ok();
  Fd root = OpenDir(r->local);
  if (!root.ok()) return Ok();
  int pfd = OpenBeneath(root.get(), Parent(r->rel), O_PATH | O_DIRECTORY);
  if (LeadsOutside(pfd)) return Outside("path", *path, r->vdir);
  Fd parent(pfd);
  if (!parent.ok()) return Ok();  // Nothing there: nothing to do.
  std::string name = Base(r->rel);
  struct stat st;
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Ok();
  if (::unlinkat(parent.get(), name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
    return Fail(Code::kInternalServerError,
                absl::StrCat("cannot delete ", Quote(*path), ": ", Errno(errno)));
  }
  return Ok();
}

FileAnswer FileService::Move(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> from, to;
  // Both checked, unlike the SDK (section 5.5).
  absl::StatusOr<Resolved> src = ResolveParam(thing, params, "sourcePath", &from);
  if (!src.ok()) return Bad(std::string(src.status().message()));
  absl::StatusOr<Resolved> dst = ResolveParam(thing, params, "targetPath", &to);
  if (!dst.ok()) return Bad(std::string(dst.status().message()));
  bool overwrite = params.Boolean("overwrite", false);
  if (!params.error().empty()) return Bad(params.error());
  if (src->root || src->rel.empty() || dst->root || dst->rel.empty()) {
    return Bad("a virtual directory itself cannot be moved or replaced");
  }
  Fd src_root = OpenDir(src->local);
  Fd dst_root = OpenDir(dst->local);
  if (!src_root.ok() || !dst_root.ok()) {
    return Fail(Code::kInternalServerError, "a virtual directory is not there");
  }
  int spfd = OpenBeneath(src_root.get(), Parent(src->rel), O_PATH | O_DIRECTORY);
  int dpfd = OpenBeneath(dst_root.get(), Parent(dst->rel), O_PATH | O_DIRECTORY);
  Fd src_parent(spfd), dst_parent(dpfd);
  if (LeadsOutside(spfd)) return Outside("sourcePath", *from, src->vdir);
  if (LeadsOutside(dpfd)) return Outside("targetPath", *to, dst->vdir);
  std::string src_name = Base(src->rel), dst_name = Base(dst->rel);
  struct stat st;
  if (!src_parent.ok() ||
      ::fstatat(src_parent.get(), src_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Fail(Code::kInternalServerError, absl::StrCat("nothing at ", Quote(*from)));
  }
  if (!dst_parent.ok()) {
    return Fail(Code::kInternalServerError,
                absl::StrCat("the directory of ", Quote(*to), " does not exist"));
  }
  struct stat existing;
  if (::fstatat(dst_parent.get(), dst_name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
      !overwrite) {
    return Fail(Code::kPreconditionFailed,
                absl::StrCat(Quote(*to), " exists and overwrite is not true"));
  }
  // The source's handle is closed first; its transfer stays open until Complete/Cancel.
  if (Transfer* t = Find(thing, "", src->file()); t != nullptr) t->fd.reset();
  unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(src_parent.get(), src_name.c_str(), dst_parent.get(), dst_name.c_str(), flags) ==
      0) {
    return Ok();
  }
  if (errno != EXDEV) {
    return Fail(errno == EEXIST ? Code::kPreconditionFailed : Code::kInternalServerError,
                absl::StrCat("cannot move ", Quote(*from), " to ", Quote(*to), ": ", Errno(errno)));
  }
  // Another file system: copied next to the target, then renamed into place (atomic there).
  if (!S_ISREG(st.st_mode)) {
    return Fail(Code::kInternalServerError, absl::StrCat("cannot move the directory ", Quote(*from),
                                                         " to another file system"));
  }
  Fd in(::openat(src_parent.get(), src_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  std::string tmp = absl::StrCat(".", dst_name.substr(0, 200), ".edged-", ::getpid(), ".tmp");
  Fd out(::openat(dst_parent.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  bool copied = in.ok() && out.ok();
  std::string buffer(64 * 1024, '\0');
  while (copied) {
    ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) copied = false;
    if (n <= 0) break;
    copied = WriteAll(out.get(), absl::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  int err = errno;
  if (copied && ::fsync(out.get()) == 0 &&
      ::renameat2(dst_parent.get(), tmp.c_str(), dst_parent.get(), dst_name.c_str(), flags) == 0) {
    ::unlinkat(src_parent.get(), src_name.c_str(), 0);
    return Ok();
  }
  if (out.ok()) ::unlinkat(dst_parent.get(), tmp.c_str(), 0);
  return Fail(Code::kInternalServerError,
              absl::StrCat("cannot copy ", Quote(*from), " to ", Quote(*to), ": ", Errno(err)));
}

FileAnswer FileService::MakeDirectory(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  if (r->root || r->rel.empty()) return Ok();
  if (r->staging) return Bad("no directories can be made in the staging directory");
  Fd root = OpenDir(r->local);
  if (!root.ok()) {
    return Fail(Code::kInternalServerError, absl::StrCat("/", r->vdir, " is not there"));
  }
  // Component by component, with its missing parents, each made in a parent resolved
  // beneath the virtual directory (a link that stays inside is followed; one out is not).
  absl::StatusOr<std::vector<std::string>> parts = SplitWirePath(r->rel, "path");
  if (!parts.ok()) return Bad(std::string(parts.status().message()));
  Fd cur(::fcntl(root.get(), F_DUPFD_CLOEXEC, 0));
  std::string prefix;
  for (const std::string& part : *parts) {
    if (::mkdirat(cur.get(), part.c_str(), 0750) != 0 && errno != EEXIST) {
      return Fail(Code::kInternalServerError,
                  absl::StrCat("cannot make ", Quote(*path), ": ", Errno(errno)));
    }
    prefix = prefix.empty() ? part : absl::StrCat(prefix, "/", part);
    int next = OpenBeneath(root.get(), prefix, O_PATH | O_DIRECTORY);
    if (LeadsOutside(next)) {
      return Outside("path", *path, r->vdir);
    }
    if (next < 0) {
      return Fail(Code::kInternalServerError,
                  absl::StrCat("cannot make ", Quote(*path), ": ", Quote(part),
                               " exists and is not a directory"));
    }
    cur.reset(next);
  }
  return Ok();
}

FileAnswer FileService::CreateBinary(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  bool overwrite = params.Boolean("overwrite", false);
  std::optional<std::string> data = params.Blob("data");
  if (!params.error().empty()) return Bad(params.error());
  if (r->root || r->rel.empty()) return Bad("a virtual directory itself is not a file");
  Fd root = OpenDir(r->local);
  if (!root.ok())
    return Fail(Code::kInternalServerError, absl::StrCat("/", r->vdir, " is not there"));
  int probe = OpenBeneath(root.get(), r->rel, O_PATH);
  if (LeadsOutside(probe)) return Outside("path", *path, r->vdir);
  bool exists = probe >= 0;
  if (probe >= 0) ::close(probe);
  if (exists && !overwrite) return Ok();  // Nothing happens (section 2.3.9).
  // The file of an open put: emptied or appended to through its own handle.
  if (Transfer* t = Find(thing, "", r->file()); t != nullptr && t->write && t->fd.ok()) {
    if (!data) {
      if (::ftruncate(t->fd.get(), 0) != 0) {
        return Fail(Code::kInternalServerError, absl::StrCat("cannot empty ", Quote(*path)));
      }
      t->size = 0;
      t->done = 0;
      return Ok();
    }
    return Append(t, *data);
  }
  if (data && static_cast<int64_t>(data->size()) > options_.file.max_file_size) {
    return Fail(Code::kEntityTooLarge,
                absl::StrCat(Quote(*path), " would be larger than file.max_file_size (",
                             options_.file.max_file_size, " bytes)"));
  }
  int flags = O_WRONLY | O_CREAT | (data ? O_APPEND : O_TRUNC);
  Fd f(OpenBeneath(root.get(), r->rel, flags, 0640));
  if (!f.ok()) {
    return Fail(Code::kInternalServerError, absl::StrCat("cannot create ", Quote(*path)));
  }
  if (data) {
    struct stat st;
    if (::fstat(f.get(), &st) == 0 &&
        st.st_size + static_cast<int64_t>(data->size()) > options_.file.max_file_size) {
      return Fail(Code::kEntityTooLarge,
                  absl::StrCat(Quote(*path), " would be larger than file.max_file_size (",
                               options_.file.max_file_size, " bytes)"));
    }
    if (!WriteAll(f.get(), *data)) {
      return Fail(Code::kInternalServerError,
                  absl::StrCat("cannot write ", Quote(*path), ": ", Errno(errno)));
    }
  }
  return Ok();
}

FileAnswer FileService::Checksum(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  if (r->root) return Fail(Code::kNotFound, "\"/\" is not a file");
  absl::StatusOr<std::string> md5;
  if (Transfer* t = Find(thing, "", r->file()); t != nullptr && t->fd.ok()) {
    t->last = Now();
    md5 = Md5Of(t->fd.get());  // The open handle, from 0 (section 2.3.11).
  } else {
    Fd root = OpenDir(r->local);
    int fd = root.ok() ? OpenBeneath(root.get(), r->rel, O_RDONLY) : -ENOENT;
    if (LeadsOutside(fd)) return Outside("path", *path, r->vdir);
    if (fd == -ENOENT) return Fail(Code::kNotFound, absl::StrCat("nothing at ", Quote(*path)));
    if (fd < 0) {
      return Fail(Code::kInternalServerError,
                  absl::StrCat("cannot read ", Quote(*path), ": ", Errno(-fd)));
    }
    Fd f(fd);
    md5 = Md5Of(f.get());
  }
  if (!md5.ok()) {
    return Fail(Code::kInternalServerError,
                absl::StrCat("cannot read ", Quote(*path), ": ", md5.status().message()));
  }
  InfoTable out;
  out.fields = {Field("result", BaseType::kString)};
  out.rows.push_back({Value::String(*md5)});
  return Ok(std::move(out));
}

absl::StatusOr<FileService::Transfer*> FileService::Open(const std::string& thing,
                                                         const std::string& tid,
                                                         const Resolved& where, bool write,
                                                         bool staging) {
  int64_t of_thing = std::count_if(transfers_.begin(), transfers_.end(),
                                   [&](const auto& t) { return t->thing == thing; });
  if (static_cast<int64_t>(transfers_.size()) >= options_.max_transfers) {
    return absl::ResourceExhaustedError(absl::StrCat("edged has ", transfers_.size(),
                                                     " transfers open (edged.file_max_transfers)"));
  }
  if (of_thing >= options_.max_transfers_per_thing) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Thing \"", thing, "\" has ", of_thing,
                     " transfers open (edged.file_max_transfers_per_thing)"));
  }
  Fd root = OpenDir(where.local);
  if (!root.ok())
    return absl::FailedPreconditionError(absl::StrCat("/", where.vdir, " is not there"));
  int fd = write ? OpenBeneath(root.get(), where.rel, O_RDWR | O_CREAT | O_APPEND, 0640)
                 : OpenBeneath(root.get(), where.rel, O_RDONLY);
  if (LeadsOutside(fd)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(where.wire()), " leads outside /", where.vdir));
  }
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", Quote(where.wire()), ": ", Errno(-fd)));
  }
  auto t = std::make_unique<Transfer>();
  t->fd.reset(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (write && staging) ::unlinkat(root.get(), where.rel.c_str(), 0);
    return absl::FailedPreconditionError(absl::StrCat(Quote(where.wire()), " is not a file"));
  }
  t->thing = thing;
  t->tid = tid;
  t->file = where.file();
  t->target = t->file;
  t->local = where.local;
  t->rel = where.rel;
  t->write = write;
  t->staging = staging;
  t->size = static_cast<uint64_t>(st.st_size);
  t->last = Now();
  transfers_.push_back(std::move(t));
  return transfers_.back().get();
}

FileAnswer FileService::StartTransfer(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  std::optional<std::string> mode = params.String("mode");
  std::optional<std::string> tid = params.String("tid");
  if (!params.error().empty()) return Bad(params.error());
  if (!mode) return Bad("parameter mode: expected \"read\" or \"write\", found none");
  if (!tid || tid->empty()) {
    return Fail(Code::kInternalServerError, "parameter tid: expected a transfer id, found none");
  }
  if (tid->size() > kMaxTid) {
    return Bad(absl::StrCat("parameter tid: longer than ", kMaxTid, " bytes"));
  }
  if (r->root || r->rel.empty() || r->staging) {
    return Fail(Code::kPreconditionFailed,
                absl::StrCat(Quote(*path), ": expected a file in a virtual directory"));
  }
  Resolved where = *r;
  bool write = *mode == "write";
  if (write) {
    // Where the file is to go must not lead outside: refused now, not after every block.
    Fd root = OpenDir(r->local);
    int parent =
        root.ok() ? OpenBeneath(root.get(), Parent(r->rel), O_PATH | O_DIRECTORY) : -ENOENT;
    if (parent >= 0) ::close(parent);
    if (LeadsOutside(parent)) {
      return Outside("path", *path, r->vdir);
    }
    std::string name = StagedName(thing, *path);
    if (name.size() > NAME_MAX || name.find_first_of("/\\") != std::string::npos) {
      return Fail(Code::kPreconditionFailed,
                  absl::StrCat(Quote(*path), ": its staged name would not be one file name"));
    }
    where.vdir = kStagingName;
    where.local = options_.file.StagingPath();
    where.rel = name;
    where.staging = true;
  } else if (*mode != "read") {
    return Fail(
        Code::kPreconditionFailed,
        absl::StrCat("parameter mode: expected \"read\" or \"write\", found ", Quote(*mode)));
  }
  if (Find(thing, *tid, where.file()) != nullptr) {
    return Fail(Code::kPreconditionFailed, absl::StrCat("transfer ", Quote(*tid), " or its file ",
                                                        Quote(*path), " is in a transfer already"));
  }
  absl::StatusOr<Transfer*> t = Open(thing, *tid, where, write, write);
  if (!t.ok()) {
    if (absl::IsInvalidArgument(t.status())) return Bad(std::string(t.status().message()));
    return Fail(absl::IsResourceExhausted(t.status()) ? Code::kServiceUnavailable
                                                      : Code::kPreconditionFailed,
                std::string(t.status().message()));
  }
  (*t)->target = r->file();
  LogInfo(absl::StrCat("file transfer ", Quote(*tid), " of Thing \"", thing,
                       "\": ", write ? "put onto " : "get of ", Quote(r->wire())));
  Emit({TransferEvent::Kind::kStarted, thing, *tid, (*t)->target, 0, write ? 0 : (*t)->size, ""});
  return Ok();
}

FileAnswer FileService::Read(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  std::optional<double> offset = params.Number("offset");
  std::optional<int64_t> count = params.Integer("count");
  std::optional<std::string> tid = params.String("tid");
  if (!params.error().empty()) return Bad(params.error());
  double off = offset.value_or(0);
  if (!std::isfinite(off) || off < 0 || off != std::floor(off) || off > 9e18) {
    return Bad(absl::StrCat("parameter offset: expected a whole number of bytes, found ", off));
  }
  int64_t n = count.value_or(0);
  // The SDK allocates whatever is asked; here a block is at most file.buffer_size.
  if (n > options_.file.buffer_size) {
    return Bad(absl::StrCat("parameter count: ", n, " is more than the block size (",
                            options_.file.buffer_size, ", file.buffer_size)"));
  }
  Transfer* t = Find(thing, "", r->file());
  if (t == nullptr) {
    if (!tid || tid->empty()) {
      return Fail(Code::kInternalServerError, "no transfer open for this file and no tid given");
    }
    if (tid->size() > kMaxTid) {
      return Bad(absl::StrCat("parameter tid: longer than ", kMaxTid, " bytes"));
    }
    absl::StatusOr<Transfer*> opened = Open(thing, *tid, *r, false, false);
    if (!opened.ok()) {
      return Fail(
          absl::IsInvalidArgument(opened.status()) ? Code::kBadRequest : Code::kInternalServerError,
          std::string(opened.status().message()));
    }
    t = *opened;
  }
  if (!t->fd.ok() || t->write) {
    return Fail(Code::kInternalServerError, absl::StrCat(Quote(*path), " is not open for reading"));
  }
  t->last = Now();
  std::string data(static_cast<size_t>(std::max<int64_t>(n, 0)), '\0');
  ssize_t got = 0;
  while (n > 0) {
    got = ::pread(t->fd.get(), data.data(), data.size(), static_cast<off_t>(off));
    if (got < 0 && errno == EINTR) continue;
    break;
  }
  if (got <= 0) {  // Zero bytes is an error (section 2.3.12).
    return Fail(Code::kInternalServerError,
                absl::StrCat("nothing to read at offset ", static_cast<uint64_t>(off), " of ",
                             Quote(*path)));
  }
  data.resize(static_cast<size_t>(got));
  t->done = std::max<uint64_t>(t->done, static_cast<uint64_t>(off) + got);
  bool eof = got < n && static_cast<uint64_t>(off) + got == t->size;
  InfoTable out;
  out.fields = {Field("count", BaseType::kInteger), Field("data", BaseType::kBlob),
                Field("eof", BaseType::kBoolean)};
  // `count` goes typed NUMBER although declared INTEGER, byte for byte as the SDK.
  out.rows.push_back({Value::Number(static_cast<double>(got)), Value::Bytes(std::move(data)),
                      Value::Boolean(eof)});
  Emit({TransferEvent::Kind::kProgress, thing, t->tid, t->target, t->done, t->size, ""});
  return Ok(std::move(out));
}

FileAnswer FileService::Append(Transfer* t, const std::string& data) {
  if (static_cast<int64_t>(t->size + data.size()) > options_.file.max_file_size) {
    std::string why = absl::StrCat(Quote(t->target), " would be larger than file.max_file_size (",
                                   options_.file.max_file_size, " bytes)");
    Close(t, true, why);
    return Fail(Code::kEntityTooLarge, why);
  }
  if (t->staging &&
      static_cast<int64_t>(StagedBytes() + data.size()) > options_.max_staging_bytes) {
    std::string why =
        absl::StrCat("the staged files would hold more than edged.file_max_staging_bytes (",
                     options_.max_staging_bytes, " bytes)");
    Close(t, true, why);
    return Fail(Code::kEntityTooLarge, why);
  }
  if (!WriteAll(t->fd.get(), data)) {
    std::string why = absl::StrCat("cannot write ", Quote(t->file), ": ", Errno(errno));
    Close(t, true, why);
    return Fail(Code::kInternalServerError, why);
  }
  t->size += data.size();
  t->done = t->size;
  t->last = Now();
  Emit({TransferEvent::Kind::kProgress, t->thing, t->tid, t->target, t->done, 0, ""});
  return Ok();
}

FileAnswer FileService::Write(const std::string& thing, const InfoTable& p) {
  Params params(p);
  std::optional<std::string> path;
  absl::StatusOr<Resolved> r = ResolveParam(thing, params, "path", &path);
  if (!r.ok()) return Bad(std::string(r.status().message()));
  std::optional<double> offset = params.Number("offset");
  std::optional<std::string> data = params.Blob("data");
  if (!params.error().empty()) return Bad(params.error());
  if (!data) return Bad("parameter data: expected a BLOB, found none");
  if (r->root || r->rel.empty()) return Bad("a virtual directory itself is not a file");
  if (data->empty()) return Fail(Code::kInternalServerError, "an empty block writes nothing");
  Transfer* t = Find(thing, "", r->file());
  if (t == nullptr) {
    // Opened on the spot, as the SDK does (section 2.3.13); bounded like any transfer.
    absl::StatusOr<Transfer*> opened = Open(thing, "", *r, true, r->staging);
    if (!opened.ok()) {
      return Fail(absl::IsInvalidArgument(opened.status())     ? Code::kBadRequest
                  : absl::IsResourceExhausted(opened.status()) ? Code::kServiceUnavailable
                                                               : Code::kInternalServerError,
                  std::string(opened.status().message()));
    }
    t = *opened;
  }
  if (!t->fd.ok() || !t->write) {
    return Fail(Code::kInternalServerError, absl::StrCat(Quote(*path), " is not open for writing"));
  }
  // Writes append (section 2.3.13): a block must continue where the file ends, so a lost,
  // repeated or reordered block fails here instead of corrupting the file.
  if (offset && *offset != static_cast<double>(t->size)) {
    return Fail(Code::kPreconditionFailed,
                absl::StrCat("block at offset ", *offset, " does not continue ", Quote(*path), " (",
                             t->size, " bytes so far)"));
  }
  return Append(t, *data);
}

FileAnswer FileService::Finish(const std::string& thing, const InfoTable& p, bool cancel) {
  Params params(p);
  const InfoTable* job = params.Table("job");
  if (!params.error().empty()) return Bad(params.error());
  if (job == nullptr) return Bad("parameter job: expected a FileTransferJob INFOTABLE, found none");
  Params j(*job);
  std::string tid = j.String("transferId").value_or("");
  std::string target_path = j.String("targetPath").value_or("");
  std::string target_file = j.String("targetFile").value_or("");
  std::optional<std::string> state = j.String("state");
  std::optional<std::string> message = j.String("message");
  bool complete = j.Boolean("isComplete", !cancel);
  if (absl::StatusOr<std::vector<std::string>> parts = SplitWirePath(target_path, "job.targetPath");
      !parts.ok()) {
    return Bad(std::string(parts.status().message()));
  }
  std::vector<Transfer*> found;
  for (auto& t : transfers_) {
    if (t->thing == thing && !tid.empty() && t->tid == tid) found.push_back(t.get());
  }
  if (found.empty()) {
    // The staged name from the job's target (section 2.3.15 (b)), with and without its file.
    for (const std::string& candidate :
         {target_path, absl::StrCat(target_path, "/", target_file)}) {
      if (Transfer* t =
              Find(thing, "", absl::StrCat(kStagingName, "/", StagedName(thing, candidate)))) {
        found.push_back(t);
        break;
      }
    }
  }
  if (found.empty()) {
    return Fail(Code::kInternalServerError,
                absl::StrCat("no open transfer ", Quote(tid), " for Thing \"", thing, "\""));
  }
  // The job's outcome (section 7.1): Cancel, a failed state or isComplete false end badly.
  std::string s = state.value_or("");
  bool failed_state = s == "ERROR" || s == "FAILED" || s == "CANCELLED" || s == "CANCELED";
  bool ok = !cancel && complete && !failed_state;
  for (Transfer* t : found) {
    if (ok) {
      LogInfo(absl::StrCat("file transfer ", Quote(t->tid), " of Thing \"", thing, "\" (",
                           Quote(t->target), ") complete: ", t->done, " bytes",
                           s.empty() ? "" : absl::StrCat(", ", Quote(s))));
      Emit({TransferEvent::Kind::kCompleted, thing, t->tid, t->target, t->done, t->size, s});
      // A staged file never moved into place is not left behind.
      Close(t, true, "");
    } else {
      Close(t, true,
            absl::StrCat(cancel ? "cancelled by the platform" : "the platform reports it failed",
                         s.empty() ? "" : absl::StrCat(" (", Quote(s), ")"),
                         message && !message->empty() ? absl::StrCat(": ", Quote(*message)) : ""));
    }
  }
  return Ok();
}

}  // namespace edge::edged

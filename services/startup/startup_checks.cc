#include "services/startup/startup_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "services/common/file_util.h"
#include "services/common/log.h"
#include "services/config/loader.h"
#include "services/local_rpc/caller_policy.h"
#include "services/local_rpc/uds_listener.h"
#include "services/metrics/metrics_server.h"
#include "services/trust/master_key.h"
#include "services/trust/sealed_secret.h"

namespace edge::startup {
namespace {

using config::Config;
using config::Diagnostics;

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// An error whose message starts with its field ("edged.callers[1].user: expected ..."),
// recorded with that field as its path.
void ErrorNamingItsField(absl::string_view message, Diagnostics* diags) {
  size_t colon = message.find(": ");
  if (colon == absl::string_view::npos ||
      message.substr(0, colon).find(' ') != absl::string_view::npos) {
    diags->Error("", std::string(message));
    return;
  }
  diags->Error(std::string(message.substr(0, colon)), std::string(message.substr(colon + 2)));
}

bool Has(const std::vector<Daemon>& daemons, Daemon d) {
  return std::find(daemons.begin(), daemons.end(), d) != daemons.end();
}

// Every secret of the file with its field path.
std::vector<std::pair<std::string, const config::Secret*>> Secrets(const Config& c) {
  std::vector<std::pair<std::string, const config::Secret*>> out = {
      {"appKey", &c.app_key},
      {"http_server.passphrase", &c.http_server.passphrase},
      {"http_server.password", &c.http_server.password},
      {"certificates.key_passphrase", &c.certificates.key_passphrase},
  };
  for (size_t i = 0; i < c.auto_bind.size(); ++i) {
    out.emplace_back(absl::StrCat("auto_bind[", i, "].password"), &c.auto_bind[i].password);
  }
  return out;
}

// A sealed value that no key can open is said so now, whether or not a master key exists.
void CheckSealedValues(const Config& c, Diagnostics* diags) {
  for (const auto& [field, secret] : Secrets(c)) {
    if (!secret->sealed()) continue;
    if (absl::Status s = trust::CheckSealedForm(secret->value, field); !s.ok()) {
      ErrorNamingItsField(s.message(), diags);
    }
  }
}

// The master key is needed only to unseal: a file whose secrets are all plaintext (an EMS
// config.json as it is) starts without one.
void CheckMasterKey(const Config& c, Diagnostics* diags) {
  const std::string& path = c.trustd.master_key_file;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    absl::StatusOr<trust::MasterKey> key = trust::MasterKey::Load(path);
    if (!key.ok()) diags->Error("trustd.master_key_file", std::string(key.status().message()));
    return;
  }
  bool any_sealed = false, any_plaintext = false;
  for (const auto& [field, secret] : Secrets(c)) {
    if (secret->empty()) continue;
    // A value no key opens (a legacy EMS one) was reported as such; it needs no key.
    if (secret->sealed() && !trust::CheckSealedForm(secret->value, field).ok()) continue;
    (secret->sealed() ? any_sealed : any_plaintext) = true;
  }
  std::string dir = DirName(path);
  if (any_sealed) {
    diags->Error("trustd.master_key_file",
                 absl::StrCat("the configuration holds sealed values but the master key ", path,
                              " does not exist; restore the key they were sealed under, or "
                              "seal them again with `trustctl encrypt --master-key ",
                              path, " -`"));
  } else if (!IsDirectory(dir)) {
    diags->Warning("trustd.master_key_file",
                   absl::StrCat("no master key (", path, ") and no directory ", dir,
                                " for one: nothing here is sealed, so none is needed",
                                any_plaintext ? " (the secrets are plaintext)" : "",
                                "; to seal secrets, run `trustctl encrypt --master-key ", path,
                                " -` (it creates ", dir, " 0700 and the key 0600)"));
  }
}

void CheckSocket(const std::string& field, const std::string& path, Diagnostics* diags) {
  if (absl::Status s = local_rpc::CheckSocketPath(path); !s.ok()) {
    diags->Error(field, std::string(s.message()));
  }
}

// User and group names resolve on this machine (the message names the entry).
void CheckCallers(const std::vector<config::CallerConfig>& callers, absl::string_view group,
                  Diagnostics* diags) {
  auto policy = local_rpc::CallerPolicyFromConfig(callers, group);
  if (!policy.ok()) ErrorNamingItsField(policy.status().message(), diags);
}

// A directory a daemon keeps its state in: there and writable, or creatable with its
// missing parents. `owner`: "edged", "trustd"; `private_keys`: it holds keys, so a mode
// open to others is worth a warning.
void CheckStateDirectory(const std::string& dir, const char* field, const char* owner,
                         bool private_keys, Diagnostics* diags) {
  std::string user = absl::AsciiStrToUpper(absl::StrCat(owner, "_USER"));
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      diags->Error(field, absl::StrCat("expected a directory, found a file: ", dir));
    } else if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
      diags->Error(field, absl::StrCat("expected a directory ", owner, " can write, found one it "
                                       "cannot (",
                                       std::strerror(errno), "): ", dir,
                                       "; chown it to the user ", owner, " runs as"));
    } else if (private_keys && (st.st_mode & 0077)) {
      diags->Warning(field, absl::StrFormat("%s holds private keys but is open to others (mode "
                                            "%04o); chmod 700 %s",
                                            dir, st.st_mode & 07777, dir));
    }
    return;
  }
  // The daemon creates it, with its missing parents, when it may.
  if (absl::Status can = CanMakeDirectories(dir); !can.ok()) {
    diags->Error(field, absl::StrCat(dir, " does not exist and cannot be created: ", can.message(),
                                     "; create it: install -d -m 0700 -o ", user, " ", dir));
  }
}

// What OfflineStore::Open needs.
void CheckOfflineStoreDirectory(const Config& c, Diagnostics* diags) {
  if (!c.offline_msg_store.enabled) return;
  CheckStateDirectory(c.offline_msg_store.directory, "offline_msg_store.directory", "edged",
                      /*private_keys=*/false, diags);
}

// What edged's file services need (EMS's `file` group): each virtual directory there, a
// directory, not writable by everyone (anyone could plant a file for the platform to fetch,
// or a symlink); the staging directory as a state directory of edged's, not open to others.
void CheckFileDirectories(const Config& c, Diagnostics* diags) {
  if (!c.file.enabled()) return;
  for (size_t i = 0; i < c.file.virtual_dirs.size(); ++i) {
    const config::VirtualDir& d = c.file.virtual_dirs[i];
    if (d.path.empty() || d.path[0] != '/') continue;  // Reported by the file's rules.
    std::string field = absl::StrCat("file.virtual_dirs[", i, "]");
    struct stat st;
    if (::stat(d.path.c_str(), &st) != 0) {
      diags->Error(field, absl::StrCat("the directory \"", d.name, "\" (", d.path,
                                       ") does not exist: ", std::strerror(errno),
                                       "; create it: install -d -m 0750 -o EDGED_USER ", d.path));
    } else if (!S_ISDIR(st.st_mode)) {
      diags->Error(field, absl::StrCat("expected a directory, found a file: ", d.path));
    } else if (st.st_mode & S_IWOTH) {
      diags->Error(field, absl::StrFormat("%s is writable by everyone (mode %04o): anyone could "
                                          "plant files or links for the platform; chmod o-w %s",
                                          d.path, st.st_mode & 07777, d.path));
    } else if (::access(d.path.c_str(), R_OK | X_OK) != 0) {
      diags->Error(field, absl::StrCat("expected a directory edged can read, found one it "
                                       "cannot (", std::strerror(errno), "): ", d.path));
    } else if (::access(d.path.c_str(), W_OK) != 0) {
      diags->Warning(field, absl::StrCat("edged cannot write to ", d.path,
                                         ": the platform can read the directory \"", d.name,
                                         "\" but not put files into it"));
    }
  }
  std::string staging = c.file.StagingPath();
  CheckStateDirectory(staging, "file.staging_dir", "edged", /*private_keys=*/false, diags);
  struct stat st;
  if (::stat(staging.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0007)) {
    diags->Error("file.staging_dir",
                 absl::StrFormat("%s is open to others (mode %04o): files from the platform "
                                 "wait there; chmod o-rwx %s",
                                 staging, st.st_mode & 07777, staging));
  }
}

// What trustd's ACME client needs: keys, chains and its status.
void CheckAcmeStateDirectory(const Config& c, Diagnostics* diags) {
  if (!c.trustd.acme.enabled()) return;
  CheckStateDirectory(c.trustd.acme.state_directory, "trustd.acme.state_directory", "trustd",
                      /*private_keys=*/true, diags);
}

const char* DaemonName(Daemon daemon) {
  switch (daemon) {
    case Daemon::kTrustd: return "trustd";
    case Daemon::kEdged: return "edged";
    case Daemon::kRestd: return "restd";
  }
  return "edge";
}

// What RotatingLogFile::Open needs: the directory (or its parent, to create it in), and
// each daemon's file in it writable. One problem of the directory is one error, however
// many daemons are checked.
void CheckLogDirectory(const Config& c, const std::vector<Daemon>& daemons,
                       Diagnostics* diags) {
  const std::string& dir = c.logger.publish_directory;
  if (dir.empty() || daemons.empty()) return;
  const char* field = "logger.publish_directory";
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    std::string parent = DirName(dir);
    if (!IsDirectory(parent)) {
      diags->Error(field, absl::StrCat(dir, " does not exist, nor does its parent ", parent,
                                       "; create it: install -d -m 0750 -o DAEMON_USER ", dir));
    } else if (::access(parent.c_str(), W_OK | X_OK) != 0) {
      diags->Error(field, absl::StrCat(dir, " does not exist and cannot be created in ", parent,
                                       " (", std::strerror(errno),
                                       "); create it: install -d -m 0750 -o DAEMON_USER ", dir));
    }
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    diags->Error(field, absl::StrCat("expected a directory, found a file: ", dir));
    return;
  }
  for (Daemon daemon : daemons) {
    std::string name = DaemonName(daemon);
    std::string file = absl::StrCat(dir, "/", name, ".log");
    bool file_exists = ::access(file.c_str(), F_OK) == 0;
    if (file_exists ? ::access(file.c_str(), W_OK) == 0
                    : ::access(dir.c_str(), W_OK | X_OK) == 0) {
      continue;
    }
    diags->Error(field, absl::StrCat("expected a directory ", name, " can write its log in, "
                                     "found one where it cannot write ",
                                     file_exists ? file : dir, " (", std::strerror(errno),
                                     "); chown it to the user ", name, " runs as"));
  }
}

}  // namespace

bool CheckedConfig::has_errors() const {
  for (const config::Diagnostic& d : diagnostics) {
    if (d.severity == config::Diagnostic::Severity::kError) return true;
  }
  return false;
}

// `<group>.metrics.address`: what MetricsServer::Start would refuse (services/metrics).
void CheckMetrics(const config::MetricsConfig& m, const std::string& group, Diagnostics* diags) {
  if (m.address.empty()) return;
  std::string field = group + ".metrics";
  absl::Status s = metrics::CheckAddress(m, field);
  if (s.ok()) return;
  diags->Error(field + ".address",
               std::string(absl::StripPrefix(s.message(), field + ".address: ")));
}

void CheckStartup(const Config& config, Daemon daemon, Diagnostics* diags) {
  CheckMetrics(daemon == Daemon::kTrustd  ? config.trustd.metrics
               : daemon == Daemon::kEdged ? config.edged.metrics
                                          : config.restd.metrics,
               DaemonName(daemon), diags);
  switch (daemon) {
    case Daemon::kTrustd:
      CheckSocket("trustd.socket", config.trustd.socket, diags);
      CheckCallers(config.trustd.callers, "trustd", diags);
      CheckMasterKey(config, diags);
      CheckAcmeStateDirectory(config, diags);
      break;
    case Daemon::kEdged:
      CheckSocket("edged.socket", config.edged.socket, diags);
      CheckCallers(config.edged.callers, "edged", diags);
      CheckOfflineStoreDirectory(config, diags);
      CheckFileDirectories(config, diags);
      break;
    case Daemon::kRestd:
      break;
  }
}

CheckedConfig CheckConfigText(absl::string_view text, absl::string_view source_name,
                              const std::string& base_dir, const std::vector<Daemon>& daemons) {
  CheckedConfig checked;
  checked.diagnostics = config::CheckConfigText(text, source_name, base_dir, &checked.config,
                                                /*check_files=*/Has(daemons, Daemon::kTrustd));
  // An error without a field path is the file as a whole (not YAML or JSON, not an
  // object): there are no groups to check further.
  for (const config::Diagnostic& d : checked.diagnostics) {
    if (d.severity == config::Diagnostic::Severity::kError && d.path.empty()) return checked;
  }
  Diagnostics diags;
  CheckSealedValues(checked.config, &diags);
  std::vector<Daemon> checked_daemons;
  for (Daemon d : {Daemon::kTrustd, Daemon::kEdged, Daemon::kRestd}) {
    if (Has(daemons, d)) checked_daemons.push_back(d);
  }
  CheckLogDirectory(checked.config, checked_daemons, &diags);
  for (Daemon d : checked_daemons) CheckStartup(checked.config, d, &diags);
  for (config::Diagnostic& d : diags.Take()) checked.diagnostics.push_back(std::move(d));
  return checked;
}

bool ReportAtStart(const CheckedConfig& checked, absl::string_view daemon) {
  // The log file first, so that it holds the warnings too.
  if (!checked.has_errors()) {
    if (absl::Status s = ApplyLogger(checked.config.logger); !s.ok()) {
      std::cerr << "error: logger.publish_directory: " << s.message() << "\n"
                << daemon << ": not started: fix " << checked.config.source << "\n";
      return false;
    }
  }
  for (const config::Diagnostic& d : checked.diagnostics) {
    if (d.severity == config::Diagnostic::Severity::kError) {
      std::cerr << d.ToString() << "\n";
    } else {
      LogWarning(d.ToLogMessage());  // The line says WARNING itself.
    }
  }
  if (!checked.has_errors()) return true;
  std::cerr << daemon << ": not started: fix " << checked.config.source << "\n";
  return false;
}

absl::Status ApplyLogger(const config::Logger& logger) {
  LogSettings settings;
  // Checked by the loader; a name it refused never gets here.
  settings.level = ParseLogLevel(logger.level).value_or(LogLevel::kInfo);
  if (!logger.publish_level_follows_level()) {
    settings.publish_level = ParseLogLevel(logger.publish_level).value_or(settings.level);
  }
  settings.publish_directory = logger.publish_directory;
  settings.max_file_storage = static_cast<uint64_t>(logger.max_file_storage);
  settings.auto_flush = logger.auto_flush;
  return ApplyLogSettings(settings);
}

CheckedConfig CheckConfigFile(const std::string& path, const std::vector<Daemon>& daemons) {
  absl::StatusOr<std::string> text = ReadFile(path, 4 * 1024 * 1024);
  if (!text.ok()) {
    CheckedConfig checked;
    checked.config.source = path;
    checked.diagnostics.push_back(
        {config::Diagnostic::Severity::kError, "",
         absl::StrCat("cannot read the configuration: ", text.status().message())});
    return checked;
  }
  return CheckConfigText(*text, path, DirName(path), daemons);
}

}  // namespace edge::startup

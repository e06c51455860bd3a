// The checks a daemon makes of its configuration file before it starts, and that
// `trustctl check-config` makes for all three daemons: one function, so that a file
// check-config calls valid starts, and a file a daemon refuses was reported by check-config
// first with the same line.
//
//   CheckedConfig checked = CheckConfigFile("/etc/edge/config.json", {Daemon::kEdged});
//   for (const config::Diagnostic& d : checked.diagnostics) std::cerr << d.ToString() << "\n";
//   if (checked.has_errors()) return 1;  // "edged: not started"
//   ... start with checked.config ...
//
// What is checked, in order: the file's fields and rules (services/config: types, ranges,
// rules across groups, and for trustd the files it names), then per daemon what start-up
// needs of this machine:
//   every daemon  sealed values have our form (a legacy EMS value is named as such, with or
//                 without a master key); logger.publish_directory (exists, or can be created
//                 in its parent) and the daemon's log file in it are writable
//   trustd        trustd.socket's directory; trustd.callers' user and group names; the master
//                 key (mode 0600, 32 bytes; needed only when something is sealed)
//   edged         edged.socket's directory; edged.callers' names; offline_msg_store.directory
//                 (exists and is writable, or can be created in its parent); with a `file`
//                 group, each virtual directory (a directory edged can read, not writable
//                 by everyone) and file.staging_dir (like the store's, not open to others)
// trustd's deeper checks (keys match certificates, passphrases and sealed values decrypt,
// CRLs parse) need its private state and run after these (trustd/trust_state.h); they are
// shared by trustd and check-config the same way.
//
// The checks read the file system as the calling user: run check-config as the user the
// daemons run as (or as root, which can read everything) to see what they will see.
#ifndef SERVICES_STARTUP_STARTUP_CHECKS_H_
#define SERVICES_STARTUP_STARTUP_CHECKS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/config/config.h"
#include "services/config/diagnostic.h"

namespace edge::startup {

enum class Daemon { kTrustd, kEdged, kRestd };

struct CheckedConfig {
  config::Config config;                        // Filled as far as the file allowed.
  std::vector<config::Diagnostic> diagnostics;  // Errors, warnings and unsupported, in order.
  bool has_errors() const;
};

// Reads and checks the configuration file at `path` as every daemon in `daemons` does at
// start. The files the configuration names (certificates, keys, CRLs) are checked when
// trustd is among `daemons`: edged and restd are not meant to be able to read them. A file
// that cannot be read is one error ("cannot read the configuration: ...").
CheckedConfig CheckConfigFile(const std::string& path, const std::vector<Daemon>& daemons);

// The same for text: `source_name` names it, `base_dir` resolves its relative paths.
CheckedConfig CheckConfigText(absl::string_view text, absl::string_view source_name,
                              const std::string& base_dir, const std::vector<Daemon>& daemons);

// What a daemon does with `checked` at start: errors on stderr, exactly the lines
// check-config prints, then "DAEMON: not started: fix FILE"; without errors, the `logger`
// group applied (ApplyLogger), then warnings and unsupported settings logged (each line says
// WARNING once). False when there are errors (do not start).
bool ReportAtStart(const CheckedConfig& checked, absl::string_view daemon);

// Applies EMS's `logger` group, checked, for this daemon (the log name is set): the
// threshold on standard error (`level`, unless the daemon was given --log-level), the file
// publish_directory/DAEMON.log with its own threshold (`publish_level`, or the same) rotated
// within max_file_storage, fdatasync per line with auto_flush (log.h). The settings are read
// once, at start: a change takes a restart. Errors are the file's (rotating_log_file.h).
absl::Status ApplyLogger(const config::Logger& logger);

// Only the start-up checks of `daemon` (not the file's own rules), on a loaded config.
void CheckStartup(const config::Config& config, Daemon daemon, config::Diagnostics* diags);

}  // namespace edge::startup

#endif  // SERVICES_STARTUP_STARTUP_CHECKS_H_

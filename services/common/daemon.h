// What every daemon's main() does the same way: its command line (`--config FILE`,
// `--log-level LEVEL` (an EMS level name: log.h), `--help`, `--version`; anything else
// prints the usage and exits 2), SIGINT and SIGTERM
// taken by one thread with sigwait, SIGPIPE ignored.
//
//   int main(int argc, char** argv) {
//     return edge::DaemonMain(argc, argv, "edged", "Keeps the platform session.",
//                             [](const std::string& config) {
//       ... start ...
//       edge::AwaitTerminationSignal();
//       ... stop ...
//       return 0;
//     });
//   }
#ifndef SERVICES_COMMON_DAEMON_H_
#define SERVICES_COMMON_DAEMON_H_

#include <functional>
#include <string>

#include "services/common/command_line.h"

namespace edge {

// The command line of daemon `name`: `--config FILE` (required), `--log-level LEVEL`, its
// help and `summary`.
CommandSpec DaemonCommandSpec(const char* name, const char* summary);

// Sets the log name; answers --help and --version (exit 0) and a wrong or missing flag or a
// --log-level that is not a level (the usage on stderr, exit 2) without starting; otherwise
// puts --log-level in force (SetCommandLineLogLevel: it wins over logger.level), blocks SIGINT/SIGTERM (before any
// thread starts, so every thread inherits the mask), ignores SIGPIPE and returns
// run(config).
int DaemonMain(int argc, char** argv, const char* name, const char* summary,
               const std::function<int(const std::string& config)>& run);

// Waits for SIGINT or SIGTERM, logs "stopping on signal N" (FORCE: in every log), returns N.
int AwaitTerminationSignal();

}  // namespace edge

#endif  // SERVICES_COMMON_DAEMON_H_

// What every daemon's main() does the same way: `--config FILE` (nothing else), SIGINT and
// SIGTERM taken by one thread with sigwait, SIGPIPE ignored.
//
//   int main(int argc, char** argv) {
//     return edge::DaemonMain(argc, argv, "edged", [](const std::string& config) {
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

namespace edge {

// Sets the log name, blocks SIGINT/SIGTERM (before any thread starts, so every thread
// inherits the mask) and ignores SIGPIPE, parses `--config FILE` or `--config=FILE`, then
// returns run(config). Exit code 2 with the usage for anything else on the command line.
int DaemonMain(int argc, char** argv, const char* name,
               const std::function<int(const std::string& config)>& run);

// Waits for SIGINT or SIGTERM, logs "stopping on signal N", returns N.
int AwaitTerminationSignal();

}  // namespace edge

#endif  // SERVICES_COMMON_DAEMON_H_

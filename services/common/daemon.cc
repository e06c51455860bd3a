#include "services/common/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/log.h"

namespace edge {
namespace {

sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

CommandSpec DaemonCommandSpec(const char* name, const char* summary) {
  CommandSpec spec;
  spec.name = name;
  spec.synopsis = "--config FILE [--log-level LEVEL]";
  spec.summary = summary;
  spec.flags = {{"config", "FILE",
                 "the configuration file: YAML, or an EMS config.json as it is (required)"},
                {"log-level", "LEVEL",
                 absl::StrCat("the threshold on standard error, over logger.level: ",
                              kLogLevelNames)}};
  return spec;
}

int DaemonMain(int argc, char** argv, const char* name, const char* summary,
               const std::function<int(const std::string& config)>& run) {
  SetLogName(name);
#ifdef NDEBUG
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a graph lookup
  // per lock, a few percent of the session thread's time in edged_bench). Test builds keep
  // the check; optimized daemons go without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  CommandSpec spec = DaemonCommandSpec(name, summary);
  absl::StatusOr<CommandLine> args =
      ParseCommandLine(spec, std::vector<std::string>(argv + 1, argv + argc));
  if (args.ok() && !args->help() && !args->version() && args->Value("config").empty()) {
    args = absl::InvalidArgumentError("--config FILE is required");
  }
  std::optional<LogLevel> level;
  if (args.ok() && args->Has("log-level")) {
    absl::StatusOr<LogLevel> parsed = ParseLogLevel(args->Value("log-level"));
    if (parsed.ok()) {
      level = *parsed;
    } else {
      args = absl::InvalidArgumentError(absl::StrCat("--log-level: ", parsed.status().message()));
    }
  }
  if (std::optional<int> done = AnswerHelpVersionOrError(spec, args, std::cout, std::cerr)) {
    return *done;
  }
  if (level) SetCommandLineLogLevel(*level);
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return run(args->Value("config"));
}

int AwaitTerminationSignal() {
  sigset_t signals = TerminationSignals();
  int sig = 0;
  sigwait(&signals, &sig);
  LogForce(absl::StrCat("stopping on signal ", sig));
  return sig;
}

}  // namespace edge

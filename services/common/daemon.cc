#include "services/common/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "absl/strings/str_cat.h"
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
  spec.synopsis = "--config FILE";
  spec.summary = summary;
  spec.flags = {{"config", "FILE",
                 "the configuration file: YAML, or an EMS config.json as it is (required)"}};
  return spec;
}

int DaemonMain(int argc, char** argv, const char* name, const char* summary,
               const std::function<int(const std::string& config)>& run) {
  SetLogName(name);
  CommandSpec spec = DaemonCommandSpec(name, summary);
  absl::StatusOr<CommandLine> args =
      ParseCommandLine(spec, std::vector<std::string>(argv + 1, argv + argc));
  if (args.ok() && !args->help() && !args->version() && args->Value("config").empty()) {
    args = absl::InvalidArgumentError("--config FILE is required");
  }
  if (std::optional<int> done = AnswerHelpVersionOrError(spec, args, std::cout, std::cerr)) {
    return *done;
  }
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return run(args->Value("config"));
}

int AwaitTerminationSignal() {
  sigset_t signals = TerminationSignals();
  int sig = 0;
  sigwait(&signals, &sig);
  LogInfo(absl::StrCat("stopping on signal ", sig));
  return sig;
}

}  // namespace edge

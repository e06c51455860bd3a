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

int DaemonMain(int argc, char** argv, const char* name,
               const std::function<int(const std::string& config)>& run) {
  SetLogName(name);
  std::string usage = absl::StrCat("usage: ", name, " --config FILE\n");
  std::string config;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config = a.substr(9);
    } else {
      std::cerr << name << ": unknown argument \"" << a << "\"\n" << usage;
      return 2;
    }
  }
  if (config.empty()) {
    std::cerr << usage;
    return 2;
  }
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return run(config);
}

int AwaitTerminationSignal() {
  sigset_t signals = TerminationSignals();
  int sig = 0;
  sigwait(&signals, &sig);
  LogInfo(absl::StrCat("stopping on signal ", sig));
  return sig;
}

}  // namespace edge

// DelayProxy: a slow trustd (or any slow local gRPC server) for tests. It listens on a Unix
// socket and forwards every connection to another one, holding each byte the server sends
// for `delay` (settable while it runs) before the client gets it: every answer arrives
// `delay` late, streams keep their order, and nothing in the server is changed for it.
//
//   ::rename(trustd_socket, real);              // trustd keeps serving at `real`
//   auto proxy = DelayProxy::Start(trustd_socket, real);
//   (*proxy)->set_delay(absl::Milliseconds(200));
#ifndef TESTS_TESTING_DELAY_PROXY_H_
#define TESTS_TESTING_DELAY_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace edge::testing {

class DelayProxy {
 public:
  static absl::StatusOr<std::unique_ptr<DelayProxy>> Start(const std::string& listen_path,
                                                           const std::string& target_path);
  ~DelayProxy();  // Closes every connection and joins its threads.

  void set_delay(absl::Duration delay) { delay_us_ = absl::ToInt64Microseconds(delay); }
  int connections() const { return connections_; }

 private:
  DelayProxy(std::string target, int listener, int stop_read, int stop_write);
  void AcceptLoop();
  // One connection: client -> server at once, server -> client after the delay.
  void Serve(int client, int server);

  const std::string target_;
  const int listener_, stop_read_, stop_write_;
  std::atomic<int64_t> delay_us_{0};
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);  // Open connection sockets, shut down on stop.
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

}  // namespace edge::testing

#endif  // TESTS_TESTING_DELAY_PROXY_H_

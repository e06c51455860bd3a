// UdsListener: accepts local connections on a Unix domain socket itself, reads each
// caller's credentials (SO_PEERCRED) and only then hands the connection to a gRPC server
// (grpc::AddInsecureChannelFromFd). Services look the caller up by ServerContext::peer().
//
//   auto listener = UdsListener::Listen("/run/edge/trustd.sock", 0660);
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();  // no ports
//   (*listener)->Start(server.get());
//   ...
//   std::optional<PeerCredentials> who = (*listener)->registry().Lookup(context->peer());
//
// Thread-safe. The socket file is removed when the listener is destroyed, unless another
// process has bound a new socket at the path meanwhile.
#ifndef SERVICES_LOCAL_RPC_UDS_LISTENER_H_
#define SERVICES_LOCAL_RPC_UDS_LISTENER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace grpc {
class Server;
}

namespace edge::local_rpc {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Maps gRPC peer strings ("fd:12") to the credentials read when that fd was accepted.
class PeerRegistry {
 public:
  void Set(int fd, PeerCredentials creds);
  std::optional<PeerCredentials> Lookup(const std::string& grpc_peer) const;

 private:
  mutable absl::Mutex mu_;
  std::unordered_map<int, PeerCredentials> by_fd_ ABSL_GUARDED_BY(mu_);
};

// The checks Listen makes of `path` before it touches anything, for start-up checks that
// run before a daemon listens (trustctl check-config): not longer than a socket address
// holds (kInvalidArgument); its directory exists and is not writable by others without the
// sticky bit (kFailedPrecondition, saying the command that fixes it).
absl::Status CheckSocketPath(const std::string& path);

class UdsListener {
 public:
  // Creates the socket at `path` with permission bits `mode` (e.g. 0660). Refuses what
  // CheckSocketPath refuses, and (kFailedPrecondition) when a process still accepts
  // connections on `path` ("trustd already serves PATH (pid N)"); replaces a stale socket
  // file left by a previous run (but never a regular file).
  static absl::StatusOr<std::unique_ptr<UdsListener>> Listen(const std::string& path,
                                                             int mode);
  ~UdsListener();

  // Starts accepting in a thread of its own; connections go to `server`, which must
  // outlive Stop().
  void Start(grpc::Server* server);
  // Stops accepting and removes the socket file if it is still the one this listener
  // created; open connections stay with the gRPC server. A successor may bind the path
  // as soon as Stop() returns.
  void Stop();

  const PeerRegistry& registry() const { return registry_; }
  const std::string& path() const { return path_; }

 private:
  UdsListener(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void AcceptLoop(grpc::Server* server);

  std::string path_;
  int fd_;
  dev_t device_ = 0;  // The socket file this listener created.
  ino_t inode_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  PeerRegistry registry_;
};

}  // namespace edge::local_rpc

#endif  // SERVICES_LOCAL_RPC_UDS_LISTENER_H_

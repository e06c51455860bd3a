// PlatformSession: edged's AlwaysOn connection to the platform (shared/specs/
// alwayson-protocol.md, "Session"): WebSocket over TLS (the platform's chain judged by
// trustd), AUTH, BIND, requests both ways matched by request id, keep-alive pings, and
// reconnection with fall-over to the next of `ws_servers`. The session state machine
// lives here; its parts each have one job: WsConnection (the WebSocket), RequestTracker
// (ids, deadlines, failing in order) and ReconnectPolicy (backoff and what is logged).
// Every request has a deadline (msg_timeout): a call that passes it fails alone; an AUTH or
// a BIND that passes it drops the connection and the next attempt starts over.
//
//   PlatformSession session(options, callbacks);
//   session.Start();
//   session.Call(Code::kPut, body, [](absl::StatusOr<Message> answer) { ... });
//
// One I/O thread does all the work; every public method may be called from any thread and
// never blocks on the network. `app_key` and `tls_context` are called on a thread of their
// own (they may wait for trustd); the other callbacks run on the I/O thread and must not
// block.
#ifndef EDGED_PLATFORM_SESSION_H_
#define EDGED_PLATFORM_SESSION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/alwayson/message.h"
#include "edged/ws_connection.h"
#include "services/config/config.h"
#include "services/tls/peer_verifier.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace edge::edged {

class EdgedMetrics;

struct SessionOptions {
  std::vector<config::WsServer> servers;
  bool tls = true;
  config::WsConnection ws;
  config::DutyCycle duty;
  // Asked before every connection (trustd's RevealSecret("app_key")), so a rotated key is
  // used from the next connection on. Never logged.
  std::function<absl::StatusOr<std::string>()> app_key;
  // The SSL_CTX for the next connection: trustd's peer validation installed
  // (tls::InstallPeerValidation, purpose platform), and the client identity if any. The
  // session sets SNI and the expected peer name. Null: connecting fails with that reason.
  std::function<std::shared_ptr<SSL_CTX>()> tls_context;
  // EMS's `proxy` group: edged reaches the platform through this HTTP proxy (CONNECT) when
  // proxy.host is set; TLS and trustd's verdict are the same through the tunnel.
  config::Proxy proxy;
  // The proxy's password (trustd's RevealSecret("proxy/password")), asked before each
  // connection when proxy.user is set. Never logged.
  std::function<absl::StatusOr<std::string>()> proxy_password;
  // Test hook: the random part of the reconnect delay, 0..1 (default: uniform random).
  std::function<double()> jitter;
  // The longest wait between attempts once the backoff has doubled it
  // (edged.max_reconnect_delay); see reconnect_policy.h.
  std::chrono::milliseconds max_reconnect_delay{300000};
  // Where the session's figures are counted (edged_metrics.h); null: not counted. Must
  // outlive the session.
  EdgedMetrics* metrics = nullptr;
  // Test hooks, so that the state machine is tested without a network or real time
  // (platform_session_test). `now`: the clock every deadline, ping, duty cycle and
  // reconnect wait is measured by (default: steady_clock); the session looks at it every
  // `tick`. `new_connection`: makes each connection (default: NewWsConnection).
  std::function<std::chrono::steady_clock::time_point()> now;
  std::chrono::milliseconds tick{50};
  std::function<std::shared_ptr<WsConnection>(boost::asio::io_context&, SSL_CTX*,
                                              tls::HandshakePool&)>
      new_connection;
};

struct SessionCallbacks {
  // The Things to bind after each AUTH.
  std::function<std::vector<std::string>()> things;
  // A GET/PUT/POST/DELETE from the platform; answer with Respond(request_id, ...).
  std::function<void(const alwayson::Message& request)> on_request;
  // Authenticated and bound (after every (re)connection).
  std::function<void()> on_online;
  // The connection was lost or closed.
  std::function<void()> on_offline;
};

struct SessionStatus {
  enum class State { kDisconnected, kConnecting, kConnected };
  State state = State::kDisconnected;
  std::string server;
  std::vector<std::string> bound;
  std::string last_error;
  uint64_t reconnects = 0;
};

class PlatformSession {
 public:
  using Done = std::function<void(absl::StatusOr<alwayson::Message>)>;

  PlatformSession(SessionOptions options, SessionCallbacks callbacks);
  ~PlatformSession();  // Stops.

  void Start();
  void Stop();

  // Sends a request to the platform; `done` runs exactly once, on the I/O thread, with the
  // platform's response (any status), or kUnavailable when there is no session (or it was
  // lost before the answer), or kDeadlineExceeded after `msg_timeout`. Requests that fail
  // together are reported in the order they were sent.
  void Call(alwayson::Code method, alwayson::RequestBody body, Done done);
  // Answers a platform request.
  void Respond(uint32_t request_id, alwayson::Code status, alwayson::ResponseBody body);
  // Binds or unbinds Things now when connected (the `things` callback covers reconnects).
  void Bind(std::vector<std::string> names);
  void Unbind(std::vector<std::string> names);

  bool online() const;
  SessionStatus status() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

absl::string_view StateName(SessionStatus::State state);

}  // namespace edge::edged

#endif  // EDGED_PLATFORM_SESSION_H_

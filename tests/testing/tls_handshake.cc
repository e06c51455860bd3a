#include "tests/testing/tls_handshake.h"

#include <openssl/err.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "services/tls/peer_verifier.h"

namespace edge::testing {

HandshakeOutcome Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                           const std::string& expected_name) {
  ::signal(SIGPIPE, SIG_IGN);
  HandshakeOutcome out;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return out;
  SSL* server = SSL_new(server_ctx);
  SSL* client = SSL_new(client_ctx);
  SSL_set_fd(server, fds[0]);
  SSL_set_fd(client, fds[1]);
  if (!expected_name.empty()) tls::SetExpectedPeerName(client, expected_name);
  std::thread client_thread([&] {
    out.client_ok = SSL_connect(client) == 1;
    ::shutdown(fds[1], SHUT_RDWR);  // A refusing client must not leave the server waiting.
  });
  out.server_ok = SSL_accept(server) == 1;
  ::shutdown(fds[0], SHUT_RDWR);
  client_thread.join();
  out.decision = tls::LastDecision(client);
  out.protocol = SSL_get_version(client);
  ERR_clear_error();
  SSL_free(server);
  SSL_free(client);
  ::close(fds[0]);
  ::close(fds[1]);
  return out;
}

}  // namespace edge::testing

// One real TLS handshake over a socketpair, for tests and benchmarks: the server side runs on
// the calling thread (as a daemon's I/O thread would), the client on a thread of its own.
//
//   HandshakeOutcome out = Handshake(server_ctx, client_ctx, "platform.example");
//   EXPECT_TRUE(out.client_ok);
#ifndef TESTS_TESTING_TLS_HANDSHAKE_H_
#define TESTS_TESTING_TLS_HANDSHAKE_H_

#include <openssl/ssl.h>

#include <optional>
#include <string>

#include "services/trust/decision.h"

namespace edge::testing {

struct HandshakeOutcome {
  bool client_ok = false;
  bool server_ok = false;
  // What the client's PeerValidator decided (services/tls/peer_verifier.h), if it asked.
  std::optional<trust::Decision> decision;
  std::string protocol;  // "TLSv1.3"...
};

// `expected_name` is handed to the client's PeerValidator (empty: none). Ignores SIGPIPE,
// since a peer that hangs up after an alert must not end the process.
HandshakeOutcome Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                           const std::string& expected_name = "");

}  // namespace edge::testing

#endif  // TESTS_TESTING_TLS_HANDSHAKE_H_

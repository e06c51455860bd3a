// Peer validation for OpenSSL by trustd: the whole certificate decision of a handshake is
// made by a PeerValidator (trustd's ValidatePeer), never by OpenSSL's own store.
//
//   InstallPeerValidation(ctx, validator, trust::Purpose::kPlatform);
//   SSL* ssl = SSL_new(ctx);
//   SetExpectedPeerName(ssl, "platform.example");
//   if (SSL_connect(ssl) != 1) {
//     if (auto d = LastDecision(ssl)) log("platform certificate refused: " + d->Summary());
//   }
//
// A refusal fails the handshake with an alert (the OpenSSL verify code of the decision, or
// X509_V_ERR_APPLICATION_VERIFICATION); a validator that cannot answer refuses.
#ifndef SERVICES_TLS_PEER_VERIFIER_H_
#define SERVICES_TLS_PEER_VERIFIER_H_

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/trust/decision.h"

namespace edge::tls {

class PeerValidator {
 public:
  virtual ~PeerValidator() = default;
  // Thread-safe; called from handshakes.
  virtual trust::Decision Validate(const std::vector<std::string>& chain_der,
                                   trust::Purpose purpose, const std::string& peer_name) = 0;
};

// Sets SSL_VERIFY_PEER (plus FAIL_IF_NO_PEER_CERT when `require_peer_certificate`) and a
// certificate verification callback that asks `validator`. `ctx` keeps a reference.
void InstallPeerValidation(SSL_CTX* ctx, std::shared_ptr<PeerValidator> validator,
                           trust::Purpose purpose, bool require_peer_certificate = true);

// The host name or IP address `ssl`'s peer must prove; empty: no name check.
void SetExpectedPeerName(SSL* ssl, const std::string& name);

// A client's connection to `host` (a name or an IP address): SNI for a name, and `host` as
// the name the server's certificate must prove.
void ExpectServer(SSL* ssl, const std::string& host);

// The decision taken for `ssl`'s peer, once its certificate was seen.
std::optional<trust::Decision> LastDecision(const SSL* ssl);

}  // namespace edge::tls

#endif  // SERVICES_TLS_PEER_VERIFIER_H_

// The listener that answers an ACME CA's validation requests while an order is pending:
// http-01 (RFC 8555 section 8.3: GET /.well-known/acme-challenge/<token> answered with the
// key authorization) or tls-alpn-01 (RFC 8737: a TLS handshake that negotiates
// "acme-tls/1" answered with a self-signed certificate carrying the acmeIdentifier
// extension). It listens from Start until it is destroyed, so the port is open only while
// trustd has an order pending.
//
//   auto server = ChallengeServer::Start("http-01", *ParseListenAddress("0.0.0.0:80", f));
//   AcmeClient::Obtain(names, key, server->get(), "");
//
// Bounded: at most 64 connections at once, each with a 10 s deadline, request heads of at
// most 4 KB; nothing else is served (404, or a handshake that fails).
#ifndef SERVICES_ACME_CHALLENGE_SERVER_H_
#define SERVICES_ACME_CHALLENGE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/acme/acme_client.h"
#include "services/common/host_port.h"

namespace boost::asio {
class io_context;
}

namespace edge::acme {

class ChallengeServer : public ChallengeResponder {
 public:
  // `type`: "http-01" or "tls-alpn-01". kUnavailable naming the address when it cannot
  // listen (in use, no permission for a port under 1024).
  static absl::StatusOr<std::unique_ptr<ChallengeServer>> Start(const std::string& type,
                                                                const HostPort& address);
  ~ChallengeServer() override;

  std::string type() const override;
  absl::Status Publish(const Identifier& identifier, const std::string& token,
                       const std::string& key_authorization) override;
  void Withdraw() override;

  int port() const;
  // Requests answered with a key authorization since Start.
  int answered() const;

  struct Impl;

 private:
  ChallengeServer(std::unique_ptr<boost::asio::io_context> io, std::shared_ptr<Impl> impl);
  std::unique_ptr<boost::asio::io_context> io_;
  std::shared_ptr<Impl> impl_;
};

// The name a tls-alpn-01 validation of `identifier` sends as SNI: the DNS name itself, or
// for an IP address its reverse-mapping name (RFC 8738 section 6: "1.0.0.127.in-addr.arpa").
std::string TlsAlpnServerName(const Identifier& identifier);

}  // namespace edge::acme

#endif  // SERVICES_ACME_CHALLENGE_SERVER_H_

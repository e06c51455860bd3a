// EndpointClient: restd's HTTP(S) client for `auto_bind` edge endpoints, on the same Beast
// HTTP layer as the server. HTTPS peers are judged by trustd (purpose `edge`:
// http_client_ca_certs or cert_chain, the host name, then fingerprint_allowlist); a refused
// endpoint fails the request with the reason, and there is no fall back to plain HTTP.
//
//   EndpointClient client(trustd_validator);
//   absl::StatusOr<Response> r = client.Send(endpoint, http::verb::get, "/Thingworx/...", "");
//
// Thread-safe; Send blocks up to the endpoint's `timeout`.
#ifndef RESTD_ENDPOINT_CLIENT_H_
#define RESTD_ENDPOINT_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "restd/rest_api.h"
#include "services/config/config.h"
#include "services/tls/peer_verifier.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace edge::restd {

class EndpointClient {
 public:
  // `cipher_list`: certificates.cipher_suite (tls::ApplyCipherSuite).
  explicit EndpointClient(std::shared_ptr<tls::PeerValidator> validator,
                          const std::string& cipher_list = "");

  // `target` is appended to the endpoint's path. `password`: the revealed auto_bind password
  // (empty: no Authorization header). Errors: kUnavailable (cannot connect),
  // kPermissionDenied (certificate refused, with trustd's reason), kDeadlineExceeded.
  absl::StatusOr<Response> Send(const config::AutoBind& endpoint,
                                boost::beast::http::verb method, const std::string& target,
                                const std::string& body, const std::string& password) const;

 private:
  std::shared_ptr<SSL_CTX> ctx_;
};

// "https://lsr.local:8443/base" for logs.
std::string EndpointUrl(const config::AutoBind& endpoint);

}  // namespace edge::restd

#endif  // RESTD_ENDPOINT_CLIENT_H_

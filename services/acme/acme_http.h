// HTTPS to the ACME CA: one request per connection, the CA's certificate judged by the
// trust engine (purpose `acme`: trustd.acme.ca_certificates, the URL's host name) before a
// byte is sent, every response bounded.
//
//   HttpsTransport https(validator, absl::Seconds(30));
//   absl::StatusOr<HttpResponse> r = https.Send("GET", directory_url, "", "");
#ifndef SERVICES_ACME_ACME_HTTP_H_
#define SERVICES_ACME_ACME_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/tls/peer_verifier.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace edge::acme {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string location;
  std::string replay_nonce;
  std::string retry_after;
  std::vector<std::string> links;  // Every Link header (RFC 8288), as sent.
  std::string body;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // `method`: "GET", "HEAD" or "POST". Errors: kUnavailable (cannot connect, TLS failed),
  // kPermissionDenied (the CA's certificate refused, with the engine's reason),
  // kDeadlineExceeded, kResourceExhausted (a response over the limits).
  virtual absl::StatusOr<HttpResponse> Send(const std::string& method, const std::string& url,
                                            const std::string& body,
                                            const std::string& content_type) = 0;
};

struct HttpsUrl {
  std::string host;  // Without brackets.
  std::string port = "443";
  std::string target = "/";
};
// Only https:// URLs; kInvalidArgument naming the URL otherwise.
absl::StatusOr<HttpsUrl> ParseHttpsUrl(const std::string& url);

class HttpsTransport : public Transport {
 public:
  // Bodies over `max_body_bytes` are refused; a certificate chain is larger than any other
  // ACME resource and stays well under the default.
  static constexpr size_t kDefaultMaxBodyBytes = 1 << 20;
  HttpsTransport(std::shared_ptr<tls::PeerValidator> validator, absl::Duration timeout,
                 size_t max_body_bytes = kDefaultMaxBodyBytes);

  absl::StatusOr<HttpResponse> Send(const std::string& method, const std::string& url,
                                    const std::string& body,
                                    const std::string& content_type) override;

  // Polled every 100 ms during a request: true abandons it (kCancelled), so that a daemon
  // that is stopping does not wait out the timeout.
  void set_cancelled(std::function<bool()> cancelled) { cancelled_ = std::move(cancelled); }

 private:
  std::function<bool()> cancelled_;
  std::shared_ptr<SSL_CTX> ctx_;
  absl::Duration timeout_;
  size_t max_body_bytes_;
};

}  // namespace edge::acme

#endif  // SERVICES_ACME_ACME_HTTP_H_

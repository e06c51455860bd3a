// An ACME client (RFC 8555) for trustd: an account, then orders for the names of one
// identity, answered with http-01 or tls-alpn-01 by a ChallengeResponder, finalized with a
// CSR of a key that never leaves trustd, and the certificate chain downloaded. ACME
// Renewal Information (RFC 9773) is read when the CA's directory offers it.
//
//   AcmeClient acme(&https, directory_url, account_key.get(), wait);
//   if (absl::Status s = acme.Register(contact, eab_kid, eab_key); !s.ok()) ...
//   absl::StatusOr<std::string> pem = acme.Obtain(names, key.get(), "http-01", &responder, "");
//
// Every failure is a Status whose message names the step and, when the CA answered with a
// problem document (RFC 8555 section 6.7, RFC 7807), its type and detail; last_problem()
// gives both apart. Everything the CA sends is bounded before it is kept or shown.
// Not thread-safe: one client per thread.
#ifndef SERVICES_ACME_ACME_CLIENT_H_
#define SERVICES_ACME_ACME_CLIENT_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/acme/acme_http.h"
#include "services/common/openssl_util.h"
#include "services/json/json.h"

namespace edge::acme {

// A problem document, shortened and escaped for logs.
struct Problem {
  std::string type;    // "urn:ietf:params:acme:error:rejectedIdentifier"
  std::string detail;
  int status = 0;      // The HTTP status it came with.
  std::string ToString() const;  // "urn:...:connection: detail (HTTP 400)"
};

// An identifier as the CA sees it (RFC 8555 section 9.7.7; "ip" from RFC 8738).
struct Identifier {
  std::string type;   // "dns" or "ip".
  std::string value;
};
Identifier IdentifierFor(const std::string& name);

// What answers the CA's validation requests while an order is pending.
class ChallengeResponder {
 public:
  virtual ~ChallengeResponder() = default;
  // "http-01" or "tls-alpn-01".
  virtual std::string type() const = 0;
  // Answer for `identifier` with `key_authorization` (token "." thumbprint).
  virtual absl::Status Publish(const Identifier& identifier, const std::string& token,
                               const std::string& key_authorization) = 0;
  // Forget everything published.
  virtual void Withdraw() = 0;
};

struct RenewalWindow {
  absl::Time start;
  absl::Time end;
};

class AcmeClient {
 public:
  // `wait(d)` sleeps for `d` between polls; false when trustd is stopping (the order is
  // abandoned). `poll_limit`: how long an authorization or an order may stay pending.
  AcmeClient(Transport* transport, std::string directory_url, EVP_PKEY* account_key,
             std::function<bool(absl::Duration)> wait,
             absl::Duration poll_limit = absl::Minutes(5));

  // Reads the directory and creates the account (or finds the one of this key: RFC 8555
  // section 7.3.1). `eab_key_id` empty: no External Account Binding.
  absl::Status Register(const std::vector<std::string>& contact, const std::string& eab_key_id,
                        const std::string& eab_hmac_key);

  // One order for `names`, the certificate for `key`: the PEM chain, leaf first.
  // `replaces`: the ARI CertID of the certificate this one renews (RFC 9773 section 5), or
  // empty.
  absl::StatusOr<std::string> Obtain(const std::vector<std::string>& names, EVP_PKEY* key,
                                     ChallengeResponder* responder, const std::string& replaces);

  // The CA's suggested renewal window for `cert` when its directory has renewalInfo;
  // nullopt when it has none.
  absl::StatusOr<std::optional<RenewalWindow>> RenewalInfo(X509* cert);

  const std::string& account_url() const { return account_url_; }
  const std::optional<Problem>& last_problem() const { return last_problem_; }

 private:
  struct Directory {
    std::string new_nonce, new_account, new_order, renewal_info;
    bool external_account_required = false;
  };

  absl::Status LoadDirectory();
  // A signed POST; `payload` empty: POST-as-GET. A badNonce is retried with the nonce it
  // came with. Non-2xx answers become errors naming `step` and the problem.
  absl::StatusOr<HttpResponse> Post(const std::string& url, const std::string& payload,
                                    const std::string& step, bool use_jwk = false);
  absl::StatusOr<json::Value> PostJson(const std::string& url, const std::string& payload,
                                       const std::string& step, HttpResponse* response = nullptr);
  absl::Status Authorize(const std::string& authz_url, ChallengeResponder* responder);
  absl::StatusOr<json::Value> PollUntil(const std::string& url, const std::string& step,
                                        const std::vector<std::string>& pending);
  absl::Status Refused(const std::string& step, const HttpResponse& response);

  Transport* transport_;
  std::string directory_url_;
  EVP_PKEY* account_key_;
  std::function<bool(absl::Duration)> wait_;
  absl::Duration poll_limit_;
  std::optional<Directory> directory_;
  std::string nonce_;
  std::string account_url_;
  std::string thumbprint_;
  std::optional<Problem> last_problem_;
};

// The ARI CertID of `cert` (RFC 9773 section 4.1): base64url(authorityKeyIdentifier's
// keyIdentifier) "." base64url(the serial number's DER content octets). Empty when the
// certificate has no key identifier.
std::string AriCertId(X509* cert);

}  // namespace edge::acme

#endif  // SERVICES_ACME_ACME_CLIENT_H_

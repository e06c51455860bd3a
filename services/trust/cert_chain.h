// Loading a PEM certificate chain file (a server's own chain, or a trust-anchor file) and
// checking its order: leaf, then each issuer, then the root.
//
//   auto chain = LoadCertificateChain(pem, "http_server.certificate (/etc/edge/restd.pem)");
//   for (const std::string& w : chain->warnings) log(w);
#ifndef SERVICES_TRUST_CERT_CHAIN_H_
#define SERVICES_TRUST_CERT_CHAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/openssl_util.h"

namespace edge::trust {

struct LoadedChain {
  std::vector<UniqueX509> certs;      // In file order.
  std::vector<std::string> warnings;  // E.g. the order is not leaf -> root.
};

// Every certificate of a PEM file. kInvalidArgument when the file holds no certificate,
// a block that is not one (a private key pasted in: named by its type, never printed), or
// an unparseable certificate.
absl::StatusOr<LoadedChain> LoadCertificateChain(absl::string_view pem, absl::string_view what);

// `certs` as a chain starting at certs[0], each followed by its issuer, when the file holds
// one in some order; empty when there is none. Does not take ownership.
std::vector<X509*> OrderedChain(const std::vector<UniqueX509>& certs);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_CERT_CHAIN_H_

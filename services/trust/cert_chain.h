// Loading a PEM certificate chain file (a server's own chain, or a trust-anchor file) and
// checking its order: leaf, then each issuer, then the root.
//
//   auto chain = LoadCertificateChain(pem, "http_server.certificate (/etc/edge/restd.pem)");
//   for (const std::string& w : chain->warnings) log(w);
#ifndef SERVICES_TRUST_CERT_CHAIN_H_
#define SERVICES_TRUST_CERT_CHAIN_H_

#include <optional>
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

// When `certs` (a chain as sent or configured, leaf first) has its leaf elsewhere: the
// index of the one certificate that is not a CA (no basicConstraints cA, RFC 5280
// 4.2.1.9) and issued none of the others, while certs[0] issued one of them (by name and
// key identifiers). nullopt when the first certificate is the leaf, or no single
// certificate can be told to be it. RFC 5246 7.4.2 and RFC 8446 4.4.2: "The sender's
// certificate MUST come in the first CertificateEntry in the list."
std::optional<size_t> MisplacedLeaf(const std::vector<X509*>& certs);

// "the leaf must come first; found at position 3 (\"CN=a.example\")": positions count
// from 1, as a file or a handshake lists them.
std::string MisplacedLeafHint(const std::vector<X509*>& certs, size_t leaf_index);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_CERT_CHAIN_H_

// Loading private keys (PEM: PKCS#8, encrypted PKCS#8, traditional RSA/EC) and checking
// that a key belongs to its certificate. RSA and ECDSA only.
//
//   auto key = LoadPrivateKey(pem, passphrase, "http_server.private_key (/etc/edge/restd.key)",
//                             "http_server.passphrase");
//
// Messages name the key file and the passphrase field; never the passphrase or key bytes.
// OpenSSL never prompts on a terminal: a passphrase callback is always supplied.
#ifndef SERVICES_TRUST_PRIVATE_KEY_H_
#define SERVICES_TRUST_PRIVATE_KEY_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/openssl_util.h"

namespace edge::trust {

// kInvalidArgument: not a PEM private key; encrypted but no passphrase; wrong passphrase;
// a key type other than RSA or EC.
absl::StatusOr<UniqueEvpPkey> LoadPrivateKey(absl::string_view pem, absl::string_view passphrase,
                                             absl::string_view what,
                                             absl::string_view passphrase_field);

// kInvalidArgument naming both when `key` is not the private half of `cert`'s public key.
absl::Status CheckKeyMatchesCertificate(EVP_PKEY* key, X509* cert, absl::string_view key_what,
                                        absl::string_view cert_what);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_PRIVATE_KEY_H_

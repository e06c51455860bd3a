// Identity: a certificate chain with its private key, as trustd holds it for the roles it
// signs for (restd's HTTPS server, edged's client certificate).
//
//   auto id = LoadIdentity({.cert_path = ..., .cert_field = "http_server.certificate",
//                           .key_path = ..., .key_field = "http_server.private_key",
//                           .passphrase = config.http_server.passphrase.value,
//                           .passphrase_field = "http_server.passphrase"}, &master_key);
#ifndef SERVICES_TRUST_IDENTITY_H_
#define SERVICES_TRUST_IDENTITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/openssl_util.h"
#include "services/trust/master_key.h"

namespace edge::trust {

struct IdentityFiles {
  std::string cert_path;
  std::string cert_field;
  std::string key_path;
  std::string key_field;
  std::string passphrase;  // Plaintext or sealed ("AES:..."); may be empty.
  std::string passphrase_field;
};

struct Identity {
  std::vector<UniqueX509> chain;  // Leaf first, in the order a TLS peer should receive it.
  UniqueEvpPkey key;
  std::string leaf_sha256;
  std::vector<std::string> warnings;
};

// Reads both files, unseals the passphrase, loads the chain and key, and checks that the key
// matches the leaf. Errors name the file and field.
absl::StatusOr<Identity> LoadIdentity(const IdentityFiles& files, const MasterKey* master_key);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_IDENTITY_H_

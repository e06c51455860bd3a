// Keyless signing, trustd's side: signs a TLS handshake's signature input with a private
// key that never leaves trustd. Only well-formed signature inputs are signed, so that no
// caller can use trustd as a raw RSA decryption service.
//
//   absl::StatusOr<std::string> sig = SignWithKey(key, trust::v1::ECDSA_SHA256, digest);
#ifndef SERVICES_TRUST_KEY_SIGNER_H_
#define SERVICES_TRUST_KEY_SIGNER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/trust/v1/trust.pb.h"
#include "services/common/openssl_util.h"

namespace edge::trust {

// `input`: for PKCS#1 v1.5 and ECDSA the message digest (its length must be the hash's);
// for PSS the EMSA-PSS encoded message (RFC 8017 9.1.1) of the modulus size, whose
// structure is checked (trailer 0xBC, zero padding, 0x01 separator, salt as long as the
// hash) before the private-key operation. kInvalidArgument for anything else, for an
// algorithm that does not fit the key, and for MD5-SHA1.
absl::StatusOr<std::string> SignWithKey(EVP_PKEY* key, ::trust::v1::SignatureAlgorithm algorithm,
                                        absl::string_view input);

// The EMSA-PSS structure check on its own: kInvalidArgument unless `em` is a PSS encoding
// for a `modulus_bits` key with hash `md` and salt length = hash length.
absl::Status CheckPssEncoding(absl::string_view em, int modulus_bits, const EVP_MD* md);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_KEY_SIGNER_H_

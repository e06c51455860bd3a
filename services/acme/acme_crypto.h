// The cryptography of ACME (RFC 8555) for trustd's client: JSON Web Keys and their
// thumbprints, the JWS that signs every request, External Account Binding, the keys trustd
// generates, the CSR it finalizes an order with, and the tls-alpn-01 certificate.
//
//   UniqueEvpPkey account = *GenerateKey("ec-p256");
//   std::string jws = *SignJws(account.get(), protected_header_json, payload_json);
//
// OpenSSL 3 only (EVP_EC_gen, encoded public keys): trustd's ACME client is not part of the
// trust engine that also builds against BoringSSL.
#ifndef SERVICES_ACME_ACME_CRYPTO_H_
#define SERVICES_ACME_ACME_CRYPTO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/openssl_util.h"
#include "services/json/json.h"

namespace edge::acme {

// base64url without padding (RFC 7515 section 2).
std::string Base64Url(absl::string_view bytes);

// "ec-p256" (the default) or "rsa-2048".
absl::StatusOr<UniqueEvpPkey> GenerateKey(absl::string_view key_type);

// The public JWK of an EC P-256 or RSA key, with exactly the required members in
// lexicographic order (RFC 7638 section 3.2), so that its text is also the thumbprint input.
absl::StatusOr<json::Value> PublicJwk(EVP_PKEY* key);
// base64url(SHA-256(the JWK text)) (RFC 7638 section 3).
absl::StatusOr<std::string> JwkThumbprint(EVP_PKEY* key);

// "ES256" for P-256 keys, "RS256" for RSA (RFC 7518 section 3.1).
absl::StatusOr<std::string> JwsAlgorithm(EVP_PKEY* key);

// The flattened JWS JSON serialization (RFC 7515 section 7.2.2) of `payload` under
// `protected_header`: {"protected", "payload", "signature"}. An empty payload is the
// POST-as-GET form (RFC 8555 section 6.3). ES256 signatures are R || S, 32 bytes each
// (RFC 7518 section 3.4), not DER.
absl::StatusOr<json::Value> SignJws(EVP_PKEY* key, const json::Value& protected_header,
                                    absl::string_view payload);

// The externalAccountBinding member of a newAccount request (RFC 8555 section 7.3.4): a JWS
// over the account's public JWK, HS256 with the CA's MAC key (base64url, as CAs hand it out),
// its protected header {"alg": "HS256", "kid": key_id, "url": new_account_url}.
absl::StatusOr<json::Value> ExternalAccountBinding(EVP_PKEY* account_key,
                                                   const std::string& key_id,
                                                   const std::string& hmac_key_b64url,
                                                   const std::string& new_account_url);

// A PKCS#10 request (DER) for `names` (DNS names or IP addresses, RFC 8738) as
// subjectAltName, signed with `key`; the first DNS name of at most 64 characters is also
// the common name.
absl::StatusOr<std::string> MakeCsr(EVP_PKEY* key, const std::vector<std::string>& names);

// The self-signed certificate a tls-alpn-01 responder presents for `identifier` (RFC 8737
// section 3): its only subjectAltName the identifier, and the critical acmeIdentifier
// extension holding SHA-256 of the key authorization.
absl::StatusOr<UniqueX509> TlsAlpn01Certificate(EVP_PKEY* key, const std::string& identifier,
                                                const std::string& key_authorization);

// PEM of a private key (PKCS#8, not encrypted) and back.
absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key);
absl::StatusOr<UniqueEvpPkey> PrivateKeyFromPem(absl::string_view pem, absl::string_view what);

}  // namespace edge::acme

#endif  // SERVICES_ACME_ACME_CRYPTO_H_

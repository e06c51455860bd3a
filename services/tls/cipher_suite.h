// The TLS versions and TLS 1.2 cipher suites of every context the daemons make: restd's
// HTTPS server, edged's platform connection, restd's auto_bind endpoint client.
//
//   ApplyCipherSuite(ctx, config.certificates.cipher_suite);
//
// TLS 1.3 suites are OpenSSL's (all AEAD); `certificates.cipher_suite` (EMS: an OpenSSL
// cipher string) chooses the TLS 1.2 suites.
#ifndef SERVICES_TLS_CIPHER_SUITE_H_
#define SERVICES_TLS_CIPHER_SUITE_H_

#include <openssl/ssl.h>

#include <string>

namespace edge::tls {

// TLS 1.2 suites when certificates.cipher_suite is not set: forward secret AEAD only.
inline constexpr char kDefaultTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// TLS 1.2 at least, and the TLS 1.2 suites of `configured` (empty: kDefaultTls12Ciphers).
// A string that names no suite OpenSSL knows is logged as a warning naming
// certificates.cipher_suite, and the default applies.
void ApplyCipherSuite(SSL_CTX* ctx, const std::string& configured);

}  // namespace edge::tls

#endif  // SERVICES_TLS_CIPHER_SUITE_H_

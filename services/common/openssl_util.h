// OpenSSL ownership and error helpers shared by every module that touches OpenSSL.
//
// Every OpenSSL handle is owned by a unique_ptr with its deleter:
//
//   bssl_compat::UniqueX509 cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
//   if (!cert) return OpenSslError("reading certificate from ca.pem");
//
// Written against the API that OpenSSL 3 and BoringSSL share.
#ifndef SERVICES_COMMON_OPENSSL_UTIL_H_
#define SERVICES_COMMON_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/openssl_compat.h"

namespace edge {

struct BioDeleter { void operator()(BIO* p) const { BIO_free(p); } };
struct X509Deleter { void operator()(X509* p) const { X509_free(p); } };
struct X509CrlDeleter { void operator()(X509_CRL* p) const { X509_CRL_free(p); } };
struct X509StoreDeleter { void operator()(X509_STORE* p) const { X509_STORE_free(p); } };
struct X509StoreCtxDeleter { void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); } };
struct EvpPkeyDeleter { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct EvpPkeyCtxDeleter { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct EvpCipherCtxDeleter { void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); } };
struct EvpMdCtxDeleter { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
struct X509StackDeleter { void operator()(STACK_OF(X509)* p) const { sk_X509_pop_free(p, X509_free); } };
struct GeneralNamesDeleter { void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); } };

using UniqueBio = std::unique_ptr<BIO, BioDeleter>;
using UniqueX509 = std::unique_ptr<X509, X509Deleter>;
using UniqueX509Crl = std::unique_ptr<X509_CRL, X509CrlDeleter>;
using UniqueX509Store = std::unique_ptr<X509_STORE, X509StoreDeleter>;
using UniqueX509StoreCtx = std::unique_ptr<X509_STORE_CTX, X509StoreCtxDeleter>;
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using UniqueEvpPkeyCtx = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxDeleter>;
using UniqueEvpCipherCtx = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxDeleter>;
using UniqueEvpMdCtx = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;
using UniqueX509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;
using UniqueGeneralNames = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;

// Returns a Status of `code` whose message is `context` followed by the reasons on
// OpenSSL's error queue for this thread ("context: PEM routines::no start line"). Clears
// the queue. Never includes key material: OpenSSL's reasons are library text.
absl::Status OpenSslError(absl::string_view context,
                          absl::StatusCode code = absl::StatusCode::kInvalidArgument);

// Clears this thread's OpenSSL error queue (after an expected failure).
void ClearOpenSslErrors();

// A read-only memory BIO over `data`; `data` must outlive the BIO.
UniqueBio MemBio(absl::string_view data);

// The DER encoding of `cert`.
std::string CertToDer(const X509* cert);

// Parses one DER certificate. kInvalidArgument naming `what` when it is not one.
absl::StatusOr<UniqueX509> CertFromDer(absl::string_view der, absl::string_view what);

// Every certificate in a PEM text, in file order. kInvalidArgument when a block is not a
// certificate or the text holds none; `what` names the source ("certificates.cert_chain
// file /etc/ca.pem").
absl::StatusOr<std::vector<UniqueX509>> CertsFromPem(absl::string_view pem,
                                                     absl::string_view what);

// The certificate as PEM text.
std::string CertToPem(const X509* cert);

// SHA-256 of the DER certificate, as "AA:BB:..." (openssl x509 -fingerprint -sha256).
std::string Sha256Fingerprint(const X509* cert);

// SHA-256 of the certificate's SubjectPublicKeyInfo (DER), as "AA:BB:...".
std::string SpkiSha256Fingerprint(const X509* cert);

// Upper-case hex with ':' between bytes.
std::string ColonHex(absl::string_view bytes);

// A distinguished name in OpenSSL's one-line RFC 2253 form ("CN=x,O=y").
std::string NameToString(const X509_NAME* name);

// An ASN.1 UTCTime or GeneralizedTime (RFC 5280 4.1.2.5) as an absl::Time; InfinitePast
// when `t` is null or not a valid time.
absl::Time Asn1TimeToTime(const ASN1_TIME* t);

// Whether `name` is an IPv4 or IPv6 address literal ("192.0.2.1", "2001:db8::1") rather
// than a host name: such a name is matched against iPAddress SANs and never sent as SNI
// (RFC 6066, section 3).
bool IsIpLiteral(absl::string_view name);

}  // namespace edge

#endif  // SERVICES_COMMON_OPENSSL_UTIL_H_

// The few OpenSSL 3 functions the trust engine uses that Debian's BoringSSL
// (android-libboringssl-dev, BORINGSSL_API_VERSION 17) names differently or lacks, given
// their OpenSSL 3 meaning on top of what it has. Everything else the engine calls is API
// the two libraries share. Nothing here is compiled against OpenSSL.
//
// Built with --config=boringssl (.bazelrc); included by openssl_util.h.
#ifndef SERVICES_COMMON_OPENSSL_COMPAT_H_
#define SERVICES_COMMON_OPENSSL_COMPAT_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef OPENSSL_IS_BORINGSSL
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/mem.h>
#include <openssl/obj.h>

// The key as the certificate holds it, borrowed. BoringSSL's X509_get_pubkey returns a new
// reference to the key its X509_PUBKEY keeps decoded, so dropping that reference leaves
// the certificate's own.
inline EVP_PKEY* X509_get0_pubkey(const X509* cert) {
  EVP_PKEY* key = X509_get_pubkey(const_cast<X509*>(cert));
  EVP_PKEY_free(key);
  return key;
}

// OpenSSL 3's name for EVP_PKEY_cmp: 1 when the two public keys are equal.
inline int EVP_PKEY_eq(const EVP_PKEY* a, const EVP_PKEY* b) { return EVP_PKEY_cmp(a, b); }

// The curve's short name ("prime256v1") of an EC key, as OpenSSL 3 writes it; 0 when the
// key is not EC or its curve has no name (BoringSSL decodes named curves only).
inline int EVP_PKEY_get_group_name(const EVP_PKEY* key, char* out, size_t out_size,
                                   size_t* len) {
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(const_cast<EVP_PKEY*>(key));
  const EC_GROUP* group = ec != nullptr ? EC_KEY_get0_group(ec) : nullptr;
  const char* name = group != nullptr ? OBJ_nid2sn(EC_GROUP_get_curve_name(group)) : nullptr;
  if (name == nullptr) return 0;
  size_t n = strlen(name);
  if (n + 1 > out_size) return 0;
  memcpy(out, name, n + 1);
  *len = n;
  return 1;
}

// OpenSSL 3's name for the generic stack and its size.
using OPENSSL_STACK = _STACK;
inline int OPENSSL_sk_num(const OPENSSL_STACK* stack) { return static_cast<int>(sk_num(stack)); }

// OpenSSL 3's name for setting the trusted certificates of one verification.
inline void X509_STORE_CTX_set0_trusted_stack(X509_STORE_CTX* ctx, STACK_OF(X509)* trusted) {
  X509_STORE_CTX_trusted_stack(ctx, trusted);
}
#endif  // OPENSSL_IS_BORINGSSL

#endif  // SERVICES_COMMON_OPENSSL_COMPAT_H_

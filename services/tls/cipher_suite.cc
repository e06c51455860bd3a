#include "services/tls/cipher_suite.h"

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/openssl_util.h"

namespace edge::tls {

void ApplyCipherSuite(SSL_CTX* ctx, const std::string& configured) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(ctx, configured.empty() ? kDefaultTls12Ciphers
                                                      : configured.c_str()) == 1) {
    return;
  }
  ClearOpenSslErrors();
  LogWarning(absl::StrCat("certificates.cipher_suite \"", configured,
                          "\" names no cipher OpenSSL knows; using the forward-secret AEAD "
                          "suites"));
  SSL_CTX_set_cipher_list(ctx, kDefaultTls12Ciphers);
}

}  // namespace edge::tls

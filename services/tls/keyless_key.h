// A keyless private key for OpenSSL: the public half is the certificate's, and every
// private-key operation of a TLS handshake is sent to a RemoteSigner (trustd's Sign), so the
// key itself never enters this process.
//
//   auto key = MakeKeylessKey(leaf, std::make_shared<TrustdSigner>(client, key_id));
//   SSL_CTX_use_certificate(ctx, leaf);
//   SSL_CTX_use_PrivateKey(ctx, key->get());
//
// OpenSSL 3 path: an RSA / EC_KEY with a method of our own makes the EVP_PKEY "foreign", so
// OpenSSL signs through the legacy key methods: RSA PKCS#1 v1.5 arrives in rsa_sign with the
// digest, RSA-PSS in rsa_priv_enc as an EMSA-PSS block (its hash is read off the block's
// structure), ECDSA in the EC_KEY_METHOD sign callback with the digest. A signer error fails
// the handshake; there is no fallback.
#ifndef SERVICES_TLS_KEYLESS_KEY_H_
#define SERVICES_TLS_KEYLESS_KEY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/trust/v1/trust.pb.h"
#include "services/common/openssl_util.h"

namespace edge::tls {

class RemoteSigner {
 public:
  virtual ~RemoteSigner() = default;
  // The signature of `input` (see trust.v1.SignRequest.input). Called from handshakes on
  // any thread: must be thread-safe.
  virtual absl::StatusOr<std::string> Sign(::trust::v1::SignatureAlgorithm algorithm,
                                           absl::string_view input) = 0;
};

// kInvalidArgument when the certificate's key is neither RSA nor EC.
absl::StatusOr<UniqueEvpPkey> MakeKeylessKey(X509* leaf, std::shared_ptr<RemoteSigner> signer);

// The hash of an EMSA-PSS block for a key of `modulus_bits` (salt = hash length), or
// nullptr when it is none of SHA-256/384/512.
const EVP_MD* PssHashOf(absl::string_view em, int modulus_bits);

}  // namespace edge::tls

#endif  // SERVICES_TLS_KEYLESS_KEY_H_

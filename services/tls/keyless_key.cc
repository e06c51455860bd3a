#include "services/tls/keyless_key.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "services/trust/key_signer.h"

namespace edge::tls {
namespace {

namespace v1 = ::trust::v1;

struct SignerHolder {
  std::shared_ptr<RemoteSigner> signer;
};

void FreeHolder(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                void* /*argp*/) {
  delete static_cast<SignerHolder*>(ptr);
}

int RsaIndex() {
  static const int index = RSA_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeHolder);
  return index;
}

int EcIndex() {
  static const int index = EC_KEY_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeHolder);
  return index;
}

RemoteSigner* RsaSigner(const RSA* rsa) {
  auto* holder = static_cast<SignerHolder*>(RSA_get_ex_data(rsa, RsaIndex()));
  return holder != nullptr ? holder->signer.get() : nullptr;
}

bool CopyOut(const absl::StatusOr<std::string>& signature, unsigned char* out, size_t max,
             size_t* len) {
  if (!signature.ok() || signature->size() > max) return false;
  std::memcpy(out, signature->data(), signature->size());
  *len = signature->size();
  return true;
}

// PKCS#1 v1.5 signatures (TLS 1.2 rsa_pkcs1_*): OpenSSL hands over the digest and its type.
int RsaSign(int type, const unsigned char* m, unsigned int m_length, unsigned char* sigret,
            unsigned int* siglen, const RSA* rsa) {
  v1::SignatureAlgorithm algorithm;
  switch (type) {
    case NID_sha256: algorithm = v1::RSA_PKCS1_SHA256; break;
    case NID_sha384: algorithm = v1::RSA_PKCS1_SHA384; break;
    case NID_sha512: algorithm = v1::RSA_PKCS1_SHA512; break;
    default: return 0;  // MD5-SHA1 (TLS 1.0/1.1) and anything else: refused.
  }
  RemoteSigner* signer = RsaSigner(rsa);
  if (signer == nullptr) return 0;
  size_t len = 0;
  if (!CopyOut(signer->Sign(algorithm, absl::string_view(reinterpret_cast<const char*>(m), m_length)),
               sigret, static_cast<size_t>(RSA_size(rsa)), &len)) {
    return 0;
  }
  *siglen = static_cast<unsigned int>(len);
  return 1;
}

// RSA-PSS (TLS 1.3, and TLS 1.2 rsa_pss_rsae_*): OpenSSL pads itself and asks for the raw
// private operation on the EMSA-PSS block. Only such a block is forwarded.
int RsaPrivEnc(int flen, const unsigned char* from, unsigned char* to, RSA* rsa, int padding) {
  if (padding != RSA_NO_PADDING) return -1;
  RemoteSigner* signer = RsaSigner(rsa);
  if (signer == nullptr) return -1;
  absl::string_view em(reinterpret_cast<const char*>(from), static_cast<size_t>(flen));
  const EVP_MD* md = PssHashOf(em, RSA_bits(rsa));
  if (md == nullptr) return -1;
  v1::SignatureAlgorithm algorithm = EVP_MD_get_type(md) == NID_sha256   ? v1::RSA_PSS_SHA256
                                     : EVP_MD_get_type(md) == NID_sha384 ? v1::RSA_PSS_SHA384
                                                                         : v1::RSA_PSS_SHA512;
  size_t len = 0;
  if (!CopyOut(signer->Sign(algorithm, em), to, static_cast<size_t>(RSA_size(rsa)), &len)) {
    return -1;
  }
  return static_cast<int>(len);
}

const RSA_METHOD* KeylessRsaMethod() {
  static const RSA_METHOD* method = [] {
    RSA_METHOD* m = RSA_meth_dup(RSA_PKCS1_OpenSSL());
    RSA_meth_set1_name(m, "edge keyless RSA");
    RSA_meth_set_sign(m, RsaSign);
    RSA_meth_set_priv_enc(m, RsaPrivEnc);
    RSA_meth_set_priv_dec(m, nullptr);  // No decryption, ever.
    return m;
  }();
  return method;
}

int EcSign(int /*type*/, const unsigned char* dgst, int dlen, unsigned char* sig,
           unsigned int* siglen, const BIGNUM* /*kinv*/, const BIGNUM* /*r*/, EC_KEY* eckey) {
  v1::SignatureAlgorithm algorithm;
  switch (dlen) {
    case 32: algorithm = v1::ECDSA_SHA256; break;
    case 48: algorithm = v1::ECDSA_SHA384; break;
    case 64: algorithm = v1::ECDSA_SHA512; break;
    default: return 0;
  }
  auto* holder = static_cast<SignerHolder*>(EC_KEY_get_ex_data(eckey, EcIndex()));
  if (holder == nullptr) return 0;
  size_t len = 0;
  if (!CopyOut(holder->signer->Sign(algorithm, absl::string_view(
                                                   reinterpret_cast<const char*>(dgst),
                                                   static_cast<size_t>(dlen))),
               sig, static_cast<size_t>(ECDSA_size(eckey)), &len)) {
    return 0;
  }
  *siglen = static_cast<unsigned int>(len);
  return 1;
}

ECDSA_SIG* EcSignSig(const unsigned char* dgst, int dlen, const BIGNUM* kinv, const BIGNUM* r,
                     EC_KEY* eckey) {
  std::string der(static_cast<size_t>(ECDSA_size(eckey)), '\0');
  unsigned int len = 0;
  if (EcSign(0, dgst, dlen, reinterpret_cast<unsigned char*>(der.data()), &len, kinv, r, eckey) != 1) {
    return nullptr;
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  return d2i_ECDSA_SIG(nullptr, &p, len);
}

int EcSignSetup(EC_KEY* /*eckey*/, BN_CTX* /*ctx*/, BIGNUM** /*kinv*/, BIGNUM** /*r*/) {
  return 1;  // Nothing to precompute: trustd does the whole signature.
}

const EC_KEY_METHOD* KeylessEcMethod() {
  static const EC_KEY_METHOD* method = [] {
    EC_KEY_METHOD* m = EC_KEY_METHOD_new(EC_KEY_get_default_method());
    EC_KEY_METHOD_set_sign(m, EcSign, EcSignSetup, EcSignSig);
    return m;
  }();
  return method;
}

}  // namespace

const EVP_MD* PssHashOf(absl::string_view em, int modulus_bits) {
  for (const EVP_MD* md : {EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
    if (trust::CheckPssEncoding(em, modulus_bits, md).ok()) return md;
  }
  return nullptr;
}

absl::StatusOr<UniqueEvpPkey> MakeKeylessKey(X509* leaf, std::shared_ptr<RemoteSigner> signer) {
  EVP_PKEY* pub = X509_get0_pubkey(leaf);
  if (pub == nullptr) return OpenSslError("keyless key: the certificate has no public key");
  UniqueEvpPkey pkey(EVP_PKEY_new());
  switch (EVP_PKEY_base_id(pub)) {
    case EVP_PKEY_RSA: {
      const RSA* src = EVP_PKEY_get0_RSA(pub);
      const BIGNUM *n = nullptr, *e = nullptr;
      RSA_get0_key(src, &n, &e, nullptr);
      RSA* rsa = RSA_new();
      RSA_set_method(rsa, KeylessRsaMethod());
      RSA_set0_key(rsa, BN_dup(n), BN_dup(e), nullptr);
      RSA_set_ex_data(rsa, RsaIndex(), new SignerHolder{std::move(signer)});
      EVP_PKEY_assign_RSA(pkey.get(), rsa);
      break;
    }
    case EVP_PKEY_EC: {
      const EC_KEY* src = EVP_PKEY_get0_EC_KEY(pub);
      EC_KEY* ec = EC_KEY_new();
      EC_KEY_set_method(ec, KeylessEcMethod());
      EC_KEY_set_group(ec, EC_KEY_get0_group(src));
      EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(src));
      EC_KEY_set_ex_data(ec, EcIndex(), new SignerHolder{std::move(signer)});
      EVP_PKEY_assign_EC_KEY(pkey.get(), ec);
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("keyless key: expected an RSA or EC certificate key, found ",
                       OBJ_nid2sn(EVP_PKEY_base_id(pub))));
  }
  return pkey;
}

}  // namespace edge::tls

#include "services/acme/acme_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace edge::acme {
namespace {

struct BnDeleter { void operator()(BIGNUM* p) const { BN_free(p); } };
using UniqueBn = std::unique_ptr<BIGNUM, BnDeleter>;
struct EcdsaSigDeleter { void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); } };
struct X509ReqDeleter { void operator()(X509_REQ* p) const { X509_REQ_free(p); } };

std::string BnBytes(const BIGNUM* bn, int width) {
  std::string out(width > 0 ? width : BN_num_bytes(bn), '\0');
  if (width > 0) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width);
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  return out;
}

json::Value Str(std::string s) { return json::Value::String(std::move(s)); }

std::string Sha256(absl::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

bool IsP256(EVP_PKEY* key) {
  char curve[64] = {0};
  size_t len = 0;
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
         EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                        &len) == 1 &&
         std::string(curve, len) == "prime256v1";
}

// Adds the subjectAltName of `names` to `exts`.
absl::Status AddSubjectAltName(const std::vector<std::string>& names,
                               STACK_OF(X509_EXTENSION) * exts, X509* cert) {
  UniqueGeneralNames gens(sk_GENERAL_NAME_new_null());
  for (const std::string& name : names) {
    GENERAL_NAME* gen = nullptr;
    if (IsIpLiteral(name)) {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
      if (ip == nullptr) return OpenSslError(absl::StrCat("IP address ", name));
      gen = GENERAL_NAME_new();
      GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
    } else {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size()));
      gen = GENERAL_NAME_new();
      GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
    }
    sk_GENERAL_NAME_push(gens.get(), gen);
  }
  if (cert != nullptr) {
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) != 1) {
      return OpenSslError("adding subjectAltName");
    }
    return absl::OkStatus();
  }
  if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding subjectAltName");
  }
  return absl::OkStatus();
}

}  // namespace

std::string Base64Url(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

absl::StatusOr<UniqueEvpPkey> GenerateKey(absl::string_view key_type) {
  EVP_PKEY* key = nullptr;
  if (key_type == "ec-p256" || key_type.empty()) {
    key = EVP_EC_gen("P-256");
  } else if (key_type == "rsa-2048") {
    key = EVP_RSA_gen(2048);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("expected key type \"ec-p256\" or \"rsa-2048\", found \"",
                     absl::CEscape(key_type.substr(0, 32)), "\""));
  }
  if (key == nullptr) return OpenSslError("generating a key", absl::StatusCode::kInternal);
  return UniqueEvpPkey(key);
}

absl::StatusOr<json::Value> PublicJwk(EVP_PKEY* key) {
  if (IsP256(key)) {
    unsigned char* point = nullptr;
    size_t len = EVP_PKEY_get1_encoded_public_key(key, &point);
    std::string encoded(reinterpret_cast<char*>(point), len);
    OPENSSL_free(point);
    if (len != 65 || encoded[0] != 0x04) {
      return absl::InternalError("the EC public key is not an uncompressed P-256 point");
    }
    // RFC 7518 section 6.2.1: x and y, 32 bytes each, big-endian.
    return json::Value::MakeObject({{"crv", Str("P-256")},
                                    {"kty", Str("EC")},
                                    {"x", Str(Base64Url(encoded.substr(1, 32)))},
                                    {"y", Str(Base64Url(encoded.substr(33, 32)))}});
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      return OpenSslError("reading the RSA public key", absl::StatusCode::kInternal);
    }
    UniqueBn n_owner(n), e_owner(e);
    // RFC 7518 section 6.3.1: unsigned big-endian, no leading zero octets.
    return json::Value::MakeObject({{"e", Str(Base64Url(BnBytes(e, 0)))},
                                    {"kty", Str("RSA")},
                                    {"n", Str(Base64Url(BnBytes(n, 0)))}});
  }
  return absl::InvalidArgumentError("expected an EC P-256 or RSA key");
}

absl::StatusOr<std::string> JwkThumbprint(EVP_PKEY* key) {
  absl::StatusOr<json::Value> jwk = PublicJwk(key);
  if (!jwk.ok()) return jwk.status();
  return Base64Url(Sha256(json::Write(*jwk)));
}

absl::StatusOr<std::string> JwsAlgorithm(EVP_PKEY* key) {
  if (IsP256(key)) return std::string("ES256");
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) return std::string("RS256");
  return absl::InvalidArgumentError("expected an EC P-256 or RSA key");
}

absl::StatusOr<json::Value> SignJws(EVP_PKEY* key, const json::Value& protected_header,
                                    absl::string_view payload) {
  bool ec = IsP256(key);
  std::string protected_b64 = Base64Url(json::Write(protected_header));
  std::string payload_b64 = payload.empty() ? "" : Base64Url(payload);
  std::string input = absl::StrCat(protected_b64, ".", payload_b64);
  UniqueEvpMdCtx md(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return OpenSslError("signing an ACME request", absl::StatusCode::kInternal);
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return OpenSslError("signing an ACME request", absl::StatusCode::kInternal);
  }
  sig.resize(sig_len);
  if (ec) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> parsed(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!parsed) return OpenSslError("encoding an ES256 signature", absl::StatusCode::kInternal);
    sig = absl::StrCat(BnBytes(ECDSA_SIG_get0_r(parsed.get()), 32),
                       BnBytes(ECDSA_SIG_get0_s(parsed.get()), 32));
  }
  return json::Value::MakeObject({{"protected", Str(protected_b64)},
                                  {"payload", Str(payload_b64)},
                                  {"signature", Str(Base64Url(sig))}});
}

absl::StatusOr<json::Value> ExternalAccountBinding(EVP_PKEY* account_key,
                                                   const std::string& key_id,
                                                   const std::string& hmac_key_b64url,
                                                   const std::string& new_account_url) {
  std::string mac_key;
  if (!absl::WebSafeBase64Unescape(hmac_key_b64url, &mac_key) || mac_key.empty()) {
    return absl::InvalidArgumentError(
        "trustd.acme.external_account_binding.hmac_key: expected the base64url MAC key the CA "
        "handed out, found text that is not base64url");
  }
  absl::StatusOr<json::Value> jwk = PublicJwk(account_key);
  if (!jwk.ok()) return jwk.status();
  json::Value header = json::Value::MakeObject(
      {{"alg", Str("HS256")}, {"kid", Str(key_id)}, {"url", Str(new_account_url)}});
  std::string protected_b64 = Base64Url(json::Write(header));
  std::string payload_b64 = Base64Url(json::Write(*jwk));
  std::string input = absl::StrCat(protected_b64, ".", payload_b64);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  bool ok = HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(mac_key.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                 &mac_len) != nullptr;
  OPENSSL_cleanse(mac_key.data(), mac_key.size());
  if (!ok) return OpenSslError("computing the EAB MAC", absl::StatusCode::kInternal);
  return json::Value::MakeObject(
      {{"protected", Str(protected_b64)},
       {"payload", Str(payload_b64)},
       {"signature", Str(Base64Url(std::string(reinterpret_cast<char*>(mac), mac_len)))}});
}

absl::StatusOr<std::string> MakeCsr(EVP_PKEY* key, const std::vector<std::string>& names) {
  if (names.empty()) return absl::InvalidArgumentError("a CSR needs at least one name");
  std::unique_ptr<X509_REQ, X509ReqDeleter> req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  for (const std::string& name : names) {
    if (!IsIpLiteral(name) && name.size() <= 64) {
      X509_NAME* subject = X509_REQ_get_subject_name(req.get());
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
      break;
    }
  }
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  absl::Status san = AddSubjectAltName(names, exts, nullptr);
  if (san.ok() && X509_REQ_add_extensions(req.get(), exts) != 1) {
    san = OpenSslError("adding the CSR's extensions");
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!san.ok()) return san;
  if (X509_REQ_set_pubkey(req.get(), key) != 1 ||
      X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the CSR", absl::StatusCode::kInternal);
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return OpenSslError("encoding the CSR", absl::StatusCode::kInternal);
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<UniqueX509> TlsAlpn01Certificate(EVP_PKEY* key, const std::string& identifier,
                                                const std::string& key_authorization) {
  UniqueX509 cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7F;
  UniqueBn bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("ACME challenge"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  absl::Status san = AddSubjectAltName({identifier}, nullptr, cert.get());
  if (!san.ok()) return san;
  // id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), critical: extnValue is the DER of an OCTET
  // STRING holding SHA-256 of the key authorization (RFC 8737 section 3).
  std::string digest = Sha256(key_authorization);
  ASN1_OCTET_STRING* inner = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(inner, reinterpret_cast<const unsigned char*>(digest.data()),
                        static_cast<int>(digest.size()));
  unsigned char* der = nullptr;
  int der_len = i2d_ASN1_OCTET_STRING(inner, &der);
  ASN1_OCTET_STRING_free(inner);
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(value, der, der_len);
  OPENSSL_free(der);
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, value);
  ASN1_OBJECT_free(oid);
  ASN1_OCTET_STRING_free(value);
  bool added = ext != nullptr && X509_add_ext(cert.get(), ext, -1) == 1;
  X509_EXTENSION_free(ext);
  if (!added) return OpenSslError("adding the acmeIdentifier extension", absl::StatusCode::kInternal);
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the tls-alpn-01 certificate", absl::StatusCode::kInternal);
  }
  return cert;
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("encoding a private key", absl::StatusCode::kInternal);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, len);
  OPENSSL_cleanse(data, len);
  return pem;
}

absl::StatusOr<UniqueEvpPkey> PrivateKeyFromPem(absl::string_view pem, absl::string_view what) {
  UniqueBio bio = MemBio(pem);
  // Never a passphrase prompt on a terminal: these keys are not encrypted.
  pem_password_cb* no_prompt = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_prompt, nullptr);
  if (key == nullptr) return OpenSslError(absl::StrCat(what, ": not a PEM private key"));
  return UniqueEvpPkey(key);
}

}  // namespace edge::acme

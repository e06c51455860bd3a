#include "tests/pki/test_pki.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace edge::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "test_pki: %s: %s\n", what.c_str(),
               OpenSslError("openssl").ToString().c_str());
  std::abort();
}

void Check(bool ok, const std::string& what) {
  if (!ok) Die(what);
}

const EVP_MD* Digest(SigHash hash) {
  switch (hash) {
    case SigHash::kSha256: return EVP_sha256();
    case SigHash::kSha384: return EVP_sha384();
    case SigHash::kSha1: return EVP_sha1();
    case SigHash::kMd5: return EVP_md5();
  }
  return EVP_sha256();
}

void AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str());
  Check(ext != nullptr, absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

void SetTime(ASN1_TIME* field, absl::Time t) {
  Check(ASN1_TIME_set(field, absl::ToTimeT(t)) != nullptr, "ASN1_TIME_set");
}

void AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (value.empty()) return;
  Check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                   -1, 0) == 1,
        absl::StrCat("name entry ", field));
}

}  // namespace

#ifdef OPENSSL_IS_BORINGSSL
// No EVP_PKEY_Q_keygen: the EVP_PKEY_CTX steps it stands for.
EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char* type, const char* curve) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr);
  EVP_PKEY* key = nullptr;
  int nid = std::string(curve) == "P-384" ? NID_secp384r1 : NID_X9_62_prime256v1;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, nid) != 1 ||
      EVP_PKEY_keygen(ctx, &key) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  return key;
}
EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char* type, size_t bits) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, static_cast<int>(bits)) != 1 ||
      EVP_PKEY_keygen(ctx, &key) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  return key;
}
#endif

UniqueEvpPkey GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kEcP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kRsa1024:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
      break;
    case KeyType::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
      break;
    case KeyType::kRsa3072:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
  }
  Check(key != nullptr, "key generation");
  return UniqueEvpPkey(key);
}

EVP_PKEY* PooledKey(KeyType type, int index) {
  static auto* pool = new std::map<std::pair<KeyType, int>, UniqueEvpPkey>();
  auto& slot = (*pool)[{type, index}];
  if (!slot) slot = GenerateKey(type);
  return slot.get();
}

CertSpec CertSpec::Ca(std::string cn) {
  CertSpec spec;
  spec.common_name = std::move(cn);
  spec.is_ca = true;
  return spec;
}

CertSpec CertSpec::Server(std::string dns_name) {
  CertSpec spec;
  spec.common_name = dns_name;
  spec.dns_names = {std::move(dns_name)};
  spec.ext_key_usage = {"serverAuth"};
  return spec;
}

CertSpec CertSpec::Client(std::string cn) {
  CertSpec spec;
  spec.common_name = cn;
  spec.dns_names = {std::move(cn)};
  spec.ext_key_usage = {"clientAuth"};
  return spec;
}

CertSpec CertSpec::SelfSignedLikeOpensslReq(std::string cn) {
  CertSpec spec;
  spec.common_name = std::move(cn);
  spec.is_ca = true;         // v3_ca: basicConstraints = critical,CA:true
  spec.key_usage = false;    // v3_ca leaves keyUsage commented out.
  // v3_ca: authorityKeyIdentifier = keyid:always,issuer (the keyid suffices, so no issuer).
  spec.extensions = {{"authorityKeyIdentifier", "keyid:always"}};
  // OpenSSL 3's req: 159 random bits, a positive 20-byte serial.
  unsigned char rnd[20];
  RAND_bytes(rnd, sizeof(rnd));
  rnd[0] = (rnd[0] & 0x7f) | 0x01;
  spec.serial_hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(rnd), sizeof(rnd)));
  return spec;
}

TestCert::TestCert(UniqueX509 cert, EVP_PKEY* key) : cert_(std::move(cert)) {
  EVP_PKEY_up_ref(key);
  key_.reset(key);
}

TestCert::TestCert(const TestCert& other) { *this = other; }

TestCert& TestCert::operator=(const TestCert& other) {
  if (this == &other) return *this;
  cert_.reset(other.cert_ ? X509_dup(other.cert_.get()) : nullptr);
  if (other.key_) EVP_PKEY_up_ref(other.key_.get());
  key_.reset(other.key_.get());
  return *this;
}

std::string TestCert::Pem() const { return CertToPem(cert_.get()); }
std::string TestCert::Der() const { return CertToDer(cert_.get()); }
std::string TestCert::Sha256() const { return Sha256Fingerprint(cert_.get()); }
std::string TestCert::SpkiSha256() const { return SpkiSha256Fingerprint(cert_.get()); }

std::string TestCert::KeyPem(const std::string& passphrase) const {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  int ok;
  if (passphrase.empty()) {
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr);
  } else {
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), EVP_aes_256_cbc(),
                                       const_cast<char*>(passphrase.data()),
                                       static_cast<int>(passphrase.size()), nullptr, nullptr);
  }
  Check(ok == 1, "PEM_write_bio_PKCS8PrivateKey");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string TestCert::TraditionalKeyPem() const {
  UniqueBio bio(BIO_new(BIO_s_mem()));
#ifdef OPENSSL_IS_BORINGSSL
  // No PEM_write_bio_PrivateKey_traditional: the type's own writer.
  bool written =
      EVP_PKEY_id(key_.get()) == EVP_PKEY_RSA
          ? PEM_write_bio_RSAPrivateKey(bio.get(), EVP_PKEY_get0_RSA(key_.get()), nullptr,
                                        nullptr, 0, nullptr, nullptr) == 1
          : PEM_write_bio_ECPrivateKey(bio.get(), EVP_PKEY_get0_EC_KEY(key_.get()), nullptr,
                                       nullptr, 0, nullptr, nullptr) == 1;
  Check(written, "PEM_write_bio_*PrivateKey");
#else
  Check(PEM_write_bio_PrivateKey_traditional(bio.get(), key_.get(), nullptr, nullptr, 0,
                                             nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey_traditional");
#endif
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

TestPki::TestPki() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/pki.XXXXXX");
  Check(mkdtemp(templ.data()) != nullptr, "mkdtemp");
  dir_ = templ;
}

TestCert TestPki::Root(const std::string& cn) { return SelfSigned(CertSpec::Ca(cn)); }

TestCert TestPki::SelfSigned(CertSpec spec) { return Make(spec, nullptr); }

TestCert TestPki::Issue(const TestCert& issuer, CertSpec spec) { return Make(spec, &issuer); }

TestCert TestPki::Make(const CertSpec& spec, const TestCert* issuer) {
  UniqueEvpPkey fresh;
  EVP_PKEY* key;
  if (spec.fresh_key) {
    fresh = GenerateKey(spec.key_type);
    key = fresh.get();
  } else {
    key = PooledKey(spec.key_type, spec.key_index);
  }

  UniqueX509 cert(X509_new());
  Check(X509_set_version(cert.get(), spec.version - 1) == 1, "X509_set_version");

  BIGNUM* bn = BN_new();
  if (spec.serial_hex.empty()) {
    unsigned char rnd[16];
    RAND_bytes(rnd, sizeof(rnd));
    rnd[0] = (rnd[0] & 0x7f) | 0x01;
    BN_bin2bn(rnd, sizeof(rnd), bn);
  } else {
    Check(BN_hex2bn(&bn, spec.serial_hex.c_str()) > 0, "serial hex");
  }
  Check(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr, "serial");
  BN_free(bn);

  X509_NAME* subject = X509_get_subject_name(cert.get());
  AddNameEntry(subject, "O", spec.organization);
  AddNameEntry(subject, "OU", spec.organizational_unit);
  // X.520 caps each OU value at 64 characters: a long name is many of them.
  for (size_t i = 0; i * 60 < spec.subject_padding_bytes; ++i) {
    AddNameEntry(subject, "OU",
                 absl::StrCat(absl::Dec(i, absl::kZeroPad6), std::string(54, 'p')));
  }
  AddNameEntry(subject, "CN", spec.common_name);
  X509* issuer_cert = issuer != nullptr ? issuer->cert() : cert.get();
  Check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert)) == 1, "issuer");

  absl::Time now = absl::Now();
  SetTime(X509_getm_notBefore(cert.get()), spec.not_before.value_or(now - absl::Hours(1)));
  SetTime(X509_getm_notAfter(cert.get()), spec.not_after.value_or(now + absl::Hours(24 * 30)));
  Check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");

  if (spec.version >= 3) {
    // Knobs that spec.extensions replaces.
    auto replaced = [&spec](int nid) {
      for (const auto& [name, value] : spec.extensions) {
        if (OBJ_txt2nid(name.c_str()) == nid) return true;
      }
      return false;
    };
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
    if (spec.basic_constraints && !replaced(NID_basic_constraints)) {
      std::string bc = spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
      if (spec.is_ca && spec.path_len >= 0) absl::StrAppend(&bc, ",pathlen:", spec.path_len);
      AddExt(cert.get(), &ctx, NID_basic_constraints, bc);
    }
    if (spec.key_usage && !replaced(NID_key_usage)) {
      AddExt(cert.get(), &ctx, NID_key_usage,
             spec.is_ca ? "critical,keyCertSign,cRLSign"
                        : "critical,digitalSignature,keyEncipherment");
    }
    if (!spec.ext_key_usage.empty() && !replaced(NID_ext_key_usage)) {
      AddExt(cert.get(), &ctx, NID_ext_key_usage, absl::StrJoin(spec.ext_key_usage, ","));
    }
    std::vector<std::string> sans;
    for (const auto& n : spec.dns_names) sans.push_back("DNS:" + n);
    for (const auto& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
    if (!sans.empty() && !replaced(NID_subject_alt_name)) {
      AddExt(cert.get(), &ctx, NID_subject_alt_name, absl::StrJoin(sans, ","));
    }
    if (!replaced(NID_subject_key_identifier)) {
      AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    }
    if (issuer != nullptr && !replaced(NID_authority_key_identifier)) {
      // The issuer's key id; a self-signed root carries none.
      X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
      AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    }
    std::vector<std::string> nc;
    for (const auto& d : spec.permitted_dns) nc.push_back("permitted;DNS:" + d);
    for (const auto& d : spec.excluded_dns) nc.push_back("excluded;DNS:" + d);
    if (!nc.empty() && !replaced(NID_name_constraints)) {
      AddExt(cert.get(), &ctx, NID_name_constraints, "critical," + absl::StrJoin(nc, ","));
    }
    if (!spec.crl_distribution_points.empty()) {
      std::vector<std::string> uris;
      for (const auto& u : spec.crl_distribution_points) uris.push_back("URI:" + u);
      AddExt(cert.get(), &ctx, NID_crl_distribution_points, absl::StrJoin(uris, ","));
    }
    if (!spec.policies.empty()) {
      CERTIFICATEPOLICIES* pols = sk_POLICYINFO_new_null();
      for (const std::string& oid : spec.policies) {
        POLICYINFO* info = POLICYINFO_new();
        ASN1_OBJECT_free(info->policyid);
        info->policyid = OBJ_txt2obj(oid.c_str(), 1);
        Check(info->policyid != nullptr, "policy OID " + oid);
        sk_POLICYINFO_push(pols, info);
      }
      Check(X509_add1_ext_i2d(cert.get(), NID_certificate_policies, pols, 0, 0) == 1,
            "certificatePolicies");
      CERTIFICATEPOLICIES_free(pols);
    }
    for (const auto& [name, value] : spec.extensions) {
      // An empty value omits the extension (e.g. {"authorityKeyIdentifier", ""}).
      if (value.empty()) continue;
      int nid = OBJ_txt2nid(name.c_str());
      Check(nid != NID_undef, "extension name " + name);
      AddExt(cert.get(), &ctx, nid, value);
    }
    for (const CertSpec::RawExtension& raw : spec.raw_extensions) {
      ASN1_OBJECT* oid = OBJ_txt2obj(raw.oid.c_str(), 1);
      Check(oid != nullptr, "extension OID " + raw.oid);
      ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(value, reinterpret_cast<const unsigned char*>(raw.der.data()),
                            static_cast<int>(raw.der.size()));
      X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid, raw.critical, value);
      Check(ext != nullptr && X509_add_ext(cert.get(), ext, -1) == 1, "raw extension");
      X509_EXTENSION_free(ext);
      ASN1_OCTET_STRING_free(value);
      ASN1_OBJECT_free(oid);
    }
  }

  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key() : key;
  if (spec.signing_key_override != nullptr) signing_key = spec.signing_key_override;
  Check(X509_sign(cert.get(), signing_key, Digest(spec.signature_hash)) > 0, "X509_sign");
  return TestCert(std::move(cert), key);
}

std::string TestPki::CrlPem(const TestCert& ca, const std::vector<const TestCert*>& revoked,
                            std::optional<absl::Time> this_update) {
  CrlSpec spec;
  spec.this_update = this_update;
  return CrlPem(ca, revoked, spec);
}

std::string TestPki::CrlPem(const TestCert& ca, const std::vector<const TestCert*>& revoked,
                            const CrlSpec& spec) {
  UniqueX509Crl crl(X509_CRL_new());
  Check(X509_CRL_set_version(crl.get(), 1) == 1, "CRL version");
  Check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert())) == 1,
        "CRL issuer");
  absl::Time from = spec.this_update.value_or(absl::Now() - absl::Hours(1));
  ASN1_TIME* t = ASN1_TIME_new();
  SetTime(t, from);
  X509_CRL_set1_lastUpdate(crl.get(), t);
  SetTime(t, from + spec.validity);
  X509_CRL_set1_nextUpdate(crl.get(), t);
  for (const TestCert* r : revoked) {
    X509_REVOKED* entry = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(r->cert()));
    SetTime(t, from);
    X509_REVOKED_set_revocationDate(entry, t);
    X509_CRL_add0_revoked(crl.get(), entry);
  }
  ASN1_TIME_free(t);
  X509_CRL_sort(crl.get());

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.cert(), nullptr, nullptr, crl.get(), 0);
  X509_EXTENSION* aki = X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier,
                                            "keyid:always");
  Check(aki != nullptr, "CRL AKI");
  X509_CRL_add_ext(crl.get(), aki, -1);
  X509_EXTENSION_free(aki);
  if (spec.crl_number) {
    ASN1_INTEGER* number = ASN1_INTEGER_new();
    ASN1_INTEGER_set(number, 1);
    X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number, 0, 0);
    ASN1_INTEGER_free(number);
  }

  EVP_PKEY* key = spec.signing_key != nullptr ? spec.signing_key : ca.key();
  Check(X509_CRL_sign(crl.get(), key, EVP_sha256()) > 0, "X509_CRL_sign");
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_CRL(bio.get(), crl.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string TestPki::WriteFile(const std::string& name, const std::string& content, int mode) {
  std::string path = absl::StrCat(dir_, "/", name);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    Check(out.good(), "write " + path);
  }
  Check(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0, "chmod " + path);
  return path;
}

}  // namespace edge::testing

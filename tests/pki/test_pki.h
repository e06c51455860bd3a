// Test PKI: mints real certificates, keys and CRLs in memory for tests.
//
//   TestPki pki;
//   TestCert root = pki.Root("Test Root");
//   TestCert ica = pki.Issue(root, CertSpec::Ca("Test Intermediate"));
//   TestCert leaf = pki.Issue(ica, CertSpec::Server("platform.example"));
//   std::string chain_pem = leaf.Pem() + ica.Pem();
//
// Every knob a trust test needs is in CertSpec: names, EKU, key type and size, dates,
// signature hash, version, serial, basic constraints, name constraints. Keys are drawn from
// a per-process pool (RSA generation is slow); `fresh_key` asks for a new one.
// Not thread-safe; use one TestPki per test.
#ifndef TESTS_PKI_TEST_PKI_H_
#define TESTS_PKI_TEST_PKI_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "services/common/openssl_util.h"

namespace edge::testing {

enum class KeyType { kEcP256, kEcP384, kRsa1024, kRsa2048, kRsa3072 };
enum class SigHash { kSha256, kSha384, kSha1, kMd5 };

struct CertSpec {
  std::string common_name;
  std::string organization;
  std::string organizational_unit;
  std::vector<std::string> dns_names;     // SAN dNSName entries.
  std::vector<std::string> ip_addresses;  // SAN iPAddress entries ("127.0.0.1", "::1").
  bool is_ca = false;
  int path_len = -1;                      // -1: no pathLenConstraint.
  bool basic_constraints = true;          // false: omit the extension entirely.
  std::vector<std::string> ext_key_usage; // "serverAuth", "clientAuth", "codeSigning"...
  bool key_usage = true;                  // digitalSignature (leaf) / keyCertSign+cRLSign (CA).
  KeyType key_type = KeyType::kEcP256;
  bool fresh_key = false;                 // A key of its own instead of the pool's.
  int key_index = 0;                      // Which pooled key of `key_type` (distinct keys).
  SigHash signature_hash = SigHash::kSha256;  // Hash the *issuer* signs this cert with.
  std::optional<absl::Time> not_before;   // Default: now - 1h.
  std::optional<absl::Time> not_after;    // Default: now + 30 days.
  int version = 3;                        // 1 or 3.
  std::string serial_hex;                 // Default: 16 random bytes, positive.
  std::vector<std::string> permitted_dns; // Name constraints (CA only).
  std::vector<std::string> excluded_dns;
  std::vector<std::string> crl_distribution_points;
  // certificatePolicies: policy OIDs in dotted text ("2.5.29.32.0" is anyPolicy).
  std::vector<std::string> policies;
  // More extensions in OpenSSL's configuration syntax (x509v3_config), added last:
  // {"extendedKeyUsage", "critical,serverAuth"}, {"policyConstraints",
  // "requireExplicitPolicy:0"}, {"authorityInfoAccess", "OCSP;URI:http://ocsp.test"}.
  // One whose name is an extension the knobs above would add replaces it.
  std::vector<std::pair<std::string, std::string>> extensions;
  // Extensions as raw DER, for the malformed ones OpenSSL would not write: the OID in
  // dotted text, criticality, and the DER of the extnValue's content.
  struct RawExtension {
    std::string oid;
    bool critical = false;
    std::string der;
  };
  std::vector<RawExtension> raw_extensions;
  // The issuer signs with this key instead of its own (a certificate whose signature does
  // not verify under its issuer's key). Borrowed; null: the issuer's key.
  EVP_PKEY* signing_key_override = nullptr;
  // Adds OU entries of 60 characters to the subject, this many bytes of them (rounded up):
  // the oversized names of a hostile peer. 0: none.
  size_t subject_padding_bytes = 0;

  static CertSpec Ca(std::string cn);
  static CertSpec Server(std::string dns_name);  // serverAuth, SAN = dns_name, CN = dns_name.
  static CertSpec Client(std::string cn);        // clientAuth, SAN = cn.
  // What `openssl req -x509 -subj /CN=<cn>` makes with Debian's openssl.cnf (its v3_ca
  // section), for TestPki::SelfSigned: subject CN=<cn> only, basicConstraints critical
  // CA:TRUE, subject and authority key identifiers, a random 20-byte serial; no keyUsage,
  // no extendedKeyUsage, no subjectAltName. The self-signed certificate of EMS installs.
  static CertSpec SelfSignedLikeOpensslReq(std::string cn);
};

// What a CRL minted by TestPki::CrlPem looks like.
struct CrlSpec {
  std::optional<absl::Time> this_update;  // Default: now - 1h.
  absl::Duration validity = absl::Hours(24 * 7);  // nextUpdate = thisUpdate + validity.
  bool crl_number = true;                 // false: no CRLNumber extension (malformed).
  EVP_PKEY* signing_key = nullptr;        // Borrowed; null: the CA's own key.
};

class TestCert {
 public:
  TestCert() = default;
  TestCert(UniqueX509 cert, EVP_PKEY* key);  // Takes a reference on key.
  TestCert(const TestCert& other);
  TestCert& operator=(const TestCert& other);
  TestCert(TestCert&&) = default;
  TestCert& operator=(TestCert&&) = default;

  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  std::string Pem() const;
  std::string Der() const;
  std::string Sha256() const;  // "AA:BB:..."
  std::string SpkiSha256() const;
  // The private key as PKCS#8 PEM; encrypted with AES-256-CBC when passphrase is not empty.
  std::string KeyPem(const std::string& passphrase = "") const;
  // The private key in the traditional format ("BEGIN RSA PRIVATE KEY"/"BEGIN EC PRIVATE KEY").
  std::string TraditionalKeyPem() const;

 private:
  UniqueX509 cert_;
  UniqueEvpPkey key_;
};

class TestPki {
 public:
  TestPki();

  // A self-signed CA certificate (spec defaults to CertSpec::Ca(cn)).
  TestCert Root(const std::string& cn);
  TestCert SelfSigned(CertSpec spec);
  // A certificate for `spec`, signed by `issuer`'s key.
  TestCert Issue(const TestCert& issuer, CertSpec spec);
  // A CRL issued by `ca` that revokes `revoked`, valid from `this_update` for 7 days.
  std::string CrlPem(const TestCert& ca, const std::vector<const TestCert*>& revoked,
                     std::optional<absl::Time> this_update = std::nullopt);
  std::string CrlPem(const TestCert& ca, const std::vector<const TestCert*>& revoked,
                     const CrlSpec& spec);

  // Writes `content` to a new file in this PKI's temp directory with `mode`; returns its path.
  std::string WriteFile(const std::string& name, const std::string& content, int mode = 0644);
  const std::string& dir() const { return dir_; }

 private:
  TestCert Make(const CertSpec& spec, const TestCert* issuer);
  std::string dir_;
};

// The pooled key for (type, index); generated once per process.
EVP_PKEY* PooledKey(KeyType type, int index);
UniqueEvpPkey GenerateKey(KeyType type);

}  // namespace edge::testing

#endif  // TESTS_PKI_TEST_PKI_H_

#include "services/trust/identity.h"

#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/trust/cert_chain.h"
#include "services/trust/private_key.h"
#include "services/trust/sealed_secret.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using ::edge::testing::CertSpec;
using ::edge::testing::KeyType;
using ::edge::testing::TestCert;
using ::edge::testing::TestPki;

class IdentityTest : public ::testing::Test {
 protected:
  IdentityTest()
      : root_(pki_.Root("Root")),
        ica_(pki_.Issue(root_, CertSpec::Ca("Intermediate"))),
        leaf_(pki_.Issue(ica_, CertSpec::Server("localhost"))),
        key_(*MasterKey::FromBytes(std::string(32, 'm'))) {}

  IdentityFiles Files(const std::string& chain_pem, const std::string& key_pem,
                      const std::string& passphrase) {
    IdentityFiles f;
    int n = files_++;
    f.cert_path = pki_.WriteFile(absl::StrCat("chain", n, ".pem"), chain_pem);
    f.cert_field = "http_server.certificate";
    f.key_path = pki_.WriteFile(absl::StrCat("key", n, ".pem"), key_pem, 0600);
    f.key_field = "http_server.private_key";
    f.passphrase = passphrase;
    f.passphrase_field = "http_server.passphrase";
    return f;
  }

  TestPki pki_;
  TestCert root_, ica_, leaf_;
  MasterKey key_;
  int files_ = 0;
};

TEST_F(IdentityTest, LoadsAChainWithAnEncryptedKeyAndASealedPassphrase) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kRsa2048}) {
    CertSpec spec = CertSpec::Server("localhost");
    spec.key_type = type;
    TestCert leaf = pki_.Issue(ica_, spec);
    auto id = LoadIdentity(Files(leaf.Pem() + ica_.Pem(), leaf.KeyPem("pass phrase"),
                                 Seal(key_, "pass phrase")),
                           &key_);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->chain.size(), 2u);
    EXPECT_EQ(id->leaf_sha256, leaf.Sha256());
    EXPECT_TRUE(id->warnings.empty());
  }
}

TEST_F(IdentityTest, LoadsTraditionalAndUnencryptedKeys) {
  EXPECT_TRUE(LoadIdentity(Files(leaf_.Pem(), leaf_.TraditionalKeyPem(), ""), &key_).ok());
  EXPECT_TRUE(LoadIdentity(Files(leaf_.Pem(), leaf_.KeyPem(), ""), &key_).ok());
}

TEST_F(IdentityTest, ReordersAChainFileThatIsOutOfOrderAndSaysSo) {
  auto id = LoadIdentity(Files(leaf_.Pem() + root_.Pem() + ica_.Pem(), leaf_.KeyPem(), ""), &key_);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_EQ(id->chain.size(), 3u);
  EXPECT_EQ(NameToString(X509_get_subject_name(id->chain[1].get())), "CN=Intermediate");
  EXPECT_EQ(id->warnings.size(), 1u);

  auto chain = LoadCertificateChain(leaf_.Pem() + root_.Pem() + ica_.Pem(), "ca.pem");
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->warnings.size(), 1u);
  EXPECT_EQ(chain->warnings[0],
            "ca.pem: certificate 2 (\"CN=Root\") did not issue certificate 1 "
            "(\"CN=localhost\"); expected the order leaf, intermediates, root: "
            "\"CN=localhost\", \"CN=Intermediate\", \"CN=Root\"");
  std::vector<X509*> ordered = OrderedChain(chain->certs);
  ASSERT_EQ(ordered.size(), 3u);
  EXPECT_EQ(NameToString(X509_get_subject_name(ordered[1])), "CN=Intermediate");
}

TEST_F(IdentityTest, RefusesAChainFileWhoseLeafIsNotFirstAndSaysWhereItIs) {
  IdentityFiles files = Files(ica_.Pem() + leaf_.Pem() + root_.Pem(), leaf_.KeyPem(), "");
  auto id = LoadIdentity(files, &key_);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(),
            absl::StrCat("http_server.certificate (", files.cert_path,
                         "): the leaf must come first; found at position 2 "
                         "(\"CN=localhost\"); expected the order leaf, intermediates, root"));
}

TEST_F(IdentityTest, ExplainsEveryWayAnIdentityCanBeWrong) {
  TestCert other = pki_.Issue(ica_, [] {
    CertSpec s = CertSpec::Server("other");
    s.key_index = 1;  // A different key.
    return s;
  }());
  std::string secret = "pass phrase";
  struct Row {
    const char* name;
    IdentityFiles files;
    std::string expected_suffix;
  };
  IdentityFiles wrong_pass = Files(leaf_.Pem(), leaf_.KeyPem(secret), "not it");
  std::string key_path = wrong_pass.key_path;
  std::vector<Row> rows = {
      {"wrong passphrase", wrong_pass,
       "http_server.private_key (" + key_path +
           "): wrong passphrase (http_server.passphrase): the key does not decrypt with it"},
      {"missing passphrase", Files(leaf_.Pem(), leaf_.KeyPem(secret), ""),
       "the key is encrypted; expected its passphrase in http_server.passphrase, found none"},
      {"key of another certificate", Files(leaf_.Pem(), other.KeyPem(), ""),
       "the private key does not match the certificate \"CN=localhost\" in "
       "http_server.certificate"},
      {"no key at all", Files(leaf_.Pem(), leaf_.Pem(), ""),
       "expected a PEM private key (\"-----BEGIN ... PRIVATE KEY-----\"), found none"},
      {"key in the chain file", Files(leaf_.Pem() + leaf_.KeyPem(), leaf_.KeyPem(), ""),
       "expected PEM certificates, found a \"PRIVATE KEY\" block (block 2)"},
      {"sealed passphrase under another key",
       Files(leaf_.Pem(), leaf_.KeyPem(secret),
             Seal(*MasterKey::FromBytes(std::string(32, 'x')), secret)),
       "http_server.passphrase: the sealed value does not decrypt: it was sealed under a "
       "different master key, or it is corrupted"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto id = LoadIdentity(row.files, &key_);
    ASSERT_FALSE(id.ok());
    std::string message(id.status().message());
    EXPECT_NE(message.find(row.expected_suffix), std::string::npos) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_EQ(message.find("BEGIN PRIVATE KEY"), std::string::npos) << message;
  }
}

TEST_F(IdentityTest, RefusesKeysOtherThanRsaAndEc) {
  UniqueEvpPkey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), ed.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long len = BIO_get_mem_data(bio.get(), &data);
  auto key = LoadPrivateKey(std::string(data, len), "", "k.pem", "p");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message(), "k.pem: expected an RSA or ECDSA key, found ED25519");
}

}  // namespace
}  // namespace edge::trust

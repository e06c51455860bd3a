#include "tests/pki/test_pki.h"

#include <openssl/x509_vfy.h>

#include "gtest/gtest.h"

namespace edge::testing {
namespace {

// The helper's certificates must verify with plain OpenSSL, or every trust test built on
// them proves nothing.
TEST(TestPkiTest, MintsAChainThatOpenSslVerifies) {
  TestPki pki;
  TestCert root = pki.Root("Test Root");
  TestCert ica = pki.Issue(root, CertSpec::Ca("Test Intermediate"));
  TestCert leaf = pki.Issue(ica, CertSpec::Server("platform.example"));

  UniqueX509Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root.cert());
  UniqueX509Stack untrusted(sk_X509_new_null());
  X509_up_ref(ica.cert());
  sk_X509_push(untrusted.get(), ica.cert());
  UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.cert(), untrusted.get()), 1);
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

TEST(TestPkiTest, EncryptedKeyPemIsPkcs8) {
  TestPki pki;
  TestCert root = pki.Root("Test Root");
  EXPECT_NE(root.KeyPem("secret").find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos);
  EXPECT_NE(root.KeyPem().find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(TestPkiTest, FingerprintHasOpenSslFormat) {
  TestPki pki;
  TestCert root = pki.Root("Test Root");
  EXPECT_EQ(root.Sha256().size(), 32u * 3 - 1);
}

}  // namespace
}  // namespace edge::testing

#include "services/tls/cipher_suite.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace edge::tls {
namespace {

std::vector<std::string> Tls12Suites(SSL_CTX* ctx) {
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx), SSL_free);
  std::vector<std::string> out;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (std::string(SSL_CIPHER_get_version(c)) != "TLSv1.3") out.push_back(SSL_CIPHER_get_name(c));
  }
  return out;
}

TEST(ApplyCipherSuiteTest, OffersOnlyForwardSecretAeadSuitesByDefaultAndForNonsense) {
  for (const char* configured : {"", "NO-SUCH-CIPHER"}) {
    SCOPED_TRACE(configured);
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
    ApplyCipherSuite(ctx.get(), configured);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
    std::vector<std::string> suites = Tls12Suites(ctx.get());
    ASSERT_EQ(suites.size(), 6u);
    for (const std::string& s : suites) {
      SCOPED_TRACE(s);
      EXPECT_EQ(s.rfind("ECDHE-", 0), 0u);
      EXPECT_TRUE(s.find("GCM") != std::string::npos || s.find("CHACHA20") != std::string::npos);
    }
  }
}

TEST(ApplyCipherSuiteTest, TakesTheConfiguredSuites) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  ApplyCipherSuite(ctx.get(), "ECDHE-RSA-AES256-GCM-SHA384");
  EXPECT_EQ(Tls12Suites(ctx.get()), std::vector<std::string>{"ECDHE-RSA-AES256-GCM-SHA384"});
}

}  // namespace
}  // namespace edge::tls

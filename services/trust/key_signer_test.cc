#include "services/trust/key_signer.h"

#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "gtest/gtest.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

namespace v1 = ::trust::v1;
using ::edge::testing::KeyType;
using ::edge::testing::PooledKey;

std::string Digest(const EVP_MD* md, absl::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(message.data(), message.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

bool Verify(EVP_PKEY* key, const EVP_MD* md, int padding, absl::string_view message,
            absl::string_view signature) {
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1) return false;
  if (padding != 0) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, padding);
    if (padding == RSA_PKCS1_PSS_PADDING) EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string PssEncode(EVP_PKEY* key, const EVP_MD* md, absl::string_view digest) {
  std::string em(static_cast<size_t>(EVP_PKEY_get_size(key)), '\0');
  const RSA* rsa = EVP_PKEY_get0_RSA(key);
  RSA_padding_add_PKCS1_PSS_mgf1(const_cast<RSA*>(rsa), reinterpret_cast<unsigned char*>(em.data()),
                                 reinterpret_cast<const unsigned char*>(digest.data()), md, md,
                                 RSA_PSS_SALTLEN_DIGEST);
  return em;
}

TEST(KeySignerTest, SignaturesVerifyWithThePublicKey) {
  const std::string message = "handshake transcript";
  EVP_PKEY* rsa = PooledKey(KeyType::kRsa2048, 0);
  EVP_PKEY* ec = PooledKey(KeyType::kEcP256, 0);
  struct Row {
    v1::SignatureAlgorithm algorithm;
    EVP_PKEY* key;
    const EVP_MD* md;
    int padding;
  };
  for (const Row& row : {Row{v1::RSA_PKCS1_SHA256, rsa, EVP_sha256(), RSA_PKCS1_PADDING},
                         Row{v1::RSA_PKCS1_SHA384, rsa, EVP_sha384(), RSA_PKCS1_PADDING},
                         Row{v1::RSA_PKCS1_SHA512, rsa, EVP_sha512(), RSA_PKCS1_PADDING},
                         Row{v1::RSA_PSS_SHA256, rsa, EVP_sha256(), RSA_PKCS1_PSS_PADDING},
                         Row{v1::RSA_PSS_SHA384, rsa, EVP_sha384(), RSA_PKCS1_PSS_PADDING},
                         Row{v1::RSA_PSS_SHA512, rsa, EVP_sha512(), RSA_PKCS1_PSS_PADDING},
                         Row{v1::ECDSA_SHA256, ec, EVP_sha256(), 0},
                         Row{v1::ECDSA_SHA384, ec, EVP_sha384(), 0},
                         Row{v1::ECDSA_SHA512, ec, EVP_sha512(), 0}}) {
    SCOPED_TRACE(v1::SignatureAlgorithm_Name(row.algorithm));
    std::string digest = Digest(row.md, message);
    std::string input =
        row.padding == RSA_PKCS1_PSS_PADDING ? PssEncode(row.key, row.md, digest) : digest;
    auto signature = SignWithKey(row.key, row.algorithm, input);
    ASSERT_TRUE(signature.ok()) << signature.status();
    EXPECT_TRUE(Verify(row.key, row.md, row.padding, message, *signature));
  }
}

TEST(KeySignerTest, RefusesRandomBytesAsAPssInput) {
  EVP_PKEY* rsa = PooledKey(KeyType::kRsa2048, 0);
  for (int i = 0; i < 100; ++i) {
    std::string random(256, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), 256);
    random[0] &= 0x7f;  // Below the modulus, as a ciphertext would be.
    auto signature = SignWithKey(rsa, v1::RSA_PSS_SHA256, random);
    ASSERT_FALSE(signature.ok());
    EXPECT_EQ(signature.status().message().rfind("not a well-formed EMSA-PSS encoding: ", 0), 0u);
  }
}

TEST(KeySignerTest, RefusesWrongLengthsAlgorithmsAndKeyTypes) {
  EVP_PKEY* rsa = PooledKey(KeyType::kRsa2048, 0);
  EVP_PKEY* ec = PooledKey(KeyType::kEcP256, 0);
  struct Row {
    EVP_PKEY* key;
    v1::SignatureAlgorithm algorithm;
    std::string input;
    std::string expected;
  };
  for (const Row& row : {
           Row{ec, v1::ECDSA_SHA256, std::string(20, 'x'),
               "expected a 32-byte SHA256 digest, got 20 bytes"},
           Row{rsa, v1::RSA_PKCS1_SHA384, std::string(32, 'x'),
               "expected a 48-byte SHA384 digest, got 32 bytes"},
           Row{rsa, v1::ECDSA_SHA256, std::string(32, 'x'),
               "signature algorithm ECDSA_SHA256 does not fit the key, which is RSA"},
           Row{ec, v1::RSA_PSS_SHA256, std::string(32, 'x'),
               "signature algorithm RSA_PSS_SHA256 does not fit the key, which is EC"},
           Row{rsa, v1::RSA_PKCS1_MD5_SHA1, std::string(36, 'x'),
               "signature algorithm RSA_PKCS1_MD5_SHA1 is not offered (TLS 1.2 and 1.3 only: "
               "PKCS#1 v1.5, PSS, ECDSA)"},
           Row{rsa, v1::RSA_PSS_SHA256, std::string(32, 'x'),
               "not a well-formed EMSA-PSS encoding: expected 256 bytes (the modulus size), "
               "got 32"},
       }) {
    SCOPED_TRACE(row.expected);
    auto signature = SignWithKey(row.key, row.algorithm, row.input);
    ASSERT_FALSE(signature.ok());
    EXPECT_EQ(signature.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(signature.status().message(), row.expected);
  }
}

}  // namespace
}  // namespace edge::trust

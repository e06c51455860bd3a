// Real TLS handshakes in one process, over a socketpair: the server's key is keyless (its
// signatures come from a RemoteSigner that signs with the real key through trustd's own
// SignWithKey), and the client decides about the server through a PeerValidator.
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include <atomic>

#include "gtest/gtest.h"
#include "services/tls/keyless_key.h"
#include "services/tls/peer_verifier.h"
#include "services/trust/chain_validator.h"
#include "services/trust/key_signer.h"
#include "tests/pki/test_pki.h"
#include "tests/pki/test_policy.h"
#include "tests/testing/tls_handshake.h"

namespace edge::tls {
namespace {

namespace v1 = ::trust::v1;
using ::edge::testing::CertSpec;
using ::edge::testing::KeyType;
using ::edge::testing::TestCert;
using ::edge::testing::TestPki;

class LocalSigner : public RemoteSigner {
 public:
  explicit LocalSigner(EVP_PKEY* key) : key_(key) {}
  absl::StatusOr<std::string> Sign(v1::SignatureAlgorithm algorithm,
                                   absl::string_view input) override {
    ++calls;
    last_algorithm = algorithm;
    return trust::SignWithKey(key_, algorithm, input);
  }
  std::atomic<int> calls{0};
  std::atomic<v1::SignatureAlgorithm> last_algorithm{v1::SIGNATURE_ALGORITHM_UNSPECIFIED};

 private:
  EVP_PKEY* key_;
};

class FailingSigner : public RemoteSigner {
 public:
  absl::StatusOr<std::string> Sign(v1::SignatureAlgorithm, absl::string_view) override {
    return absl::UnavailableError("trustd is down");
  }
};

class EngineValidator : public PeerValidator {
 public:
  explicit EngineValidator(std::unique_ptr<trust::ChainValidator> v) : v_(std::move(v)) {}
  trust::Decision Validate(const std::vector<std::string>& chain, trust::Purpose purpose,
                           const std::string& name) override {
    return v_->Validate(chain, purpose, name, absl::Now());
  }

 private:
  std::unique_ptr<trust::ChainValidator> v_;
};

class UnavailableValidator : public PeerValidator {
 public:
  trust::Decision Validate(const std::vector<std::string>&, trust::Purpose,
                           const std::string&) override {
    trust::Decision d;
    d.reason = trust::Reason::kTrustdUnavailable;
    d.detail = "trustd ValidatePeer: connection refused";
    return d;
  }
};

struct Result {
  bool client_ok = false;
  bool server_ok = false;
  std::optional<trust::Decision> decision;
  std::string protocol;
};

class KeylessTlsTest : public ::testing::Test {
 protected:
  KeylessTlsTest() : root_(pki_.Root("Root")) {}

  std::shared_ptr<PeerValidator> Validator() {
    return std::make_shared<EngineValidator>(
        testing::ValidatorTrusting(root_, trust::Purpose::kPlatform));
  }

  // One handshake: server with `leaf` and a keyless key over `signer`; client validating
  // through `validator` for `name`.
  Result Handshake(const TestCert& leaf, std::shared_ptr<RemoteSigner> signer,
                   std::shared_ptr<PeerValidator> validator, const std::string& name,
                   int version, const char* sigalgs = nullptr) {
    SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(server_ctx, version);
    SSL_CTX_set_max_proto_version(server_ctx, version);
    auto key = MakeKeylessKey(leaf.cert(), std::move(signer));
    EXPECT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(SSL_CTX_use_certificate(server_ctx, leaf.cert()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(server_ctx, key->get()), 1)
        << OpenSslError("use key").message();
    EXPECT_EQ(SSL_CTX_check_private_key(server_ctx), 1);
    SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(client_ctx, version);
    SSL_CTX_set_max_proto_version(client_ctx, version);
    if (sigalgs != nullptr) SSL_CTX_set1_sigalgs_list(client_ctx, sigalgs);
    InstallPeerValidation(client_ctx, std::move(validator), trust::Purpose::kPlatform);

    testing::HandshakeOutcome out = testing::Handshake(server_ctx, client_ctx, name);
    Result r{out.client_ok, out.server_ok, out.decision, out.protocol};
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    return r;
  }

  TestPki pki_;
  TestCert root_;
};

TEST_F(KeylessTlsTest, HandshakesSucceedWithEveryKeyTypeAndVersion) {
  struct Row {
    const char* name;
    KeyType key;
    int version;
    const char* sigalgs;
    v1::SignatureAlgorithm expected;
  };
  for (const Row& row : {
           Row{"TLS 1.3 EC", KeyType::kEcP256, TLS1_3_VERSION, nullptr, v1::ECDSA_SHA256},
           Row{"TLS 1.2 EC", KeyType::kEcP256, TLS1_2_VERSION, nullptr, v1::ECDSA_SHA256},
           Row{"TLS 1.3 RSA", KeyType::kRsa2048, TLS1_3_VERSION, nullptr, v1::RSA_PSS_SHA256},
           Row{"TLS 1.2 RSA PSS", KeyType::kRsa2048, TLS1_2_VERSION, "RSA-PSS+SHA256",
               v1::RSA_PSS_SHA256},
           Row{"TLS 1.2 RSA PKCS#1", KeyType::kRsa2048, TLS1_2_VERSION, "RSA+SHA256",
               v1::RSA_PKCS1_SHA256},
           Row{"TLS 1.2 RSA PKCS#1 SHA-384", KeyType::kRsa2048, TLS1_2_VERSION, "RSA+SHA384",
               v1::RSA_PKCS1_SHA384},
       }) {
    SCOPED_TRACE(row.name);
    CertSpec spec = CertSpec::Server("platform.example");
    spec.key_type = row.key;
    TestCert leaf = pki_.Issue(root_, spec);
    auto signer = std::make_shared<LocalSigner>(leaf.key());
    Result r = Handshake(leaf, signer, Validator(), "platform.example", row.version, row.sigalgs);
    EXPECT_TRUE(r.client_ok);
    EXPECT_TRUE(r.server_ok);
    EXPECT_EQ(signer->calls, 1);  // The handshake's one signature came from the signer.
    EXPECT_EQ(signer->last_algorithm, row.expected);
    ASSERT_TRUE(r.decision.has_value());
    EXPECT_TRUE(r.decision->allowed);
  }
}

TEST_F(KeylessTlsTest, ASignerFailureFailsTheHandshake) {
  TestCert leaf = pki_.Issue(root_, CertSpec::Server("platform.example"));
  Result r = Handshake(leaf, std::make_shared<FailingSigner>(), Validator(), "platform.example",
                       TLS1_3_VERSION);
  EXPECT_FALSE(r.client_ok);
  EXPECT_FALSE(r.server_ok);
}

TEST_F(KeylessTlsTest, ARefusedPeerFailsTheHandshakeWithTheDecisionKept) {
  TestCert leaf = pki_.Issue(root_, CertSpec::Server("platform.example"));
  Result r = Handshake(leaf, std::make_shared<LocalSigner>(leaf.key()), Validator(),
                       "evil.example", TLS1_3_VERSION);
  EXPECT_FALSE(r.client_ok);
  EXPECT_FALSE(r.server_ok);  // The server got the client's alert.
  ASSERT_TRUE(r.decision.has_value());
  EXPECT_EQ(r.decision->reason, trust::Reason::kNameMismatch);
}

TEST_F(KeylessTlsTest, AValidatorThatCannotAnswerRefuses) {
  TestCert leaf = pki_.Issue(root_, CertSpec::Server("platform.example"));
  Result r = Handshake(leaf, std::make_shared<LocalSigner>(leaf.key()),
                       std::make_shared<UnavailableValidator>(), "platform.example",
                       TLS1_3_VERSION);
  EXPECT_FALSE(r.client_ok);
  ASSERT_TRUE(r.decision.has_value());
  EXPECT_EQ(r.decision->reason, trust::Reason::kTrustdUnavailable);
}

TEST(PssHashOfTest, ReadsTheHashOffAWellFormedBlockOnly) {
  EVP_PKEY* key = ::edge::testing::PooledKey(KeyType::kRsa2048, 0);
  std::string digest(48, 'd');
  std::string em(256, '\0');
  RSA_padding_add_PKCS1_PSS_mgf1(const_cast<RSA*>(EVP_PKEY_get0_RSA(key)),
                                 reinterpret_cast<unsigned char*>(em.data()),
                                 reinterpret_cast<const unsigned char*>(digest.data()),
                                 EVP_sha384(), EVP_sha384(), -1);
  EXPECT_EQ(PssHashOf(em, 2048), EVP_sha384());
  EXPECT_EQ(PssHashOf(std::string(256, '\x11'), 2048), nullptr);
}

}  // namespace
}  // namespace edge::tls

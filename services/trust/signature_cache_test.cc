#include "services/trust/signature_cache.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using testing::CertSpec;
using testing::TestCert;
using testing::TestPki;

class SignatureCacheTest : public ::testing::Test {
 protected:
  TestPki pki_;
  TestCert root_ = pki_.Root("Cache Root");
  TestCert ica_ = pki_.Issue(root_, CertSpec::Ca("Cache Intermediate"));
};

TEST_F(SignatureCacheTest, RemembersASignatureThatVerifies) {
  SignatureCache cache(16, 1 << 20);
  EXPECT_TRUE(cache.Verify(ica_.cert(), root_.cert()));
  EXPECT_TRUE(cache.Verify(ica_.cert(), root_.cert()));
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(SignatureCacheTest, NeverRemembersASignatureThatDoesNotVerify) {
  UniqueEvpPkey other_key = testing::GenerateKey(testing::KeyType::kEcP256);
  CertSpec spec = CertSpec::Server("bad.example");
  spec.signing_key_override = other_key.get();
  TestCert forged = pki_.Issue(ica_, spec);
  SignatureCache cache(16, 1 << 20);
  EXPECT_FALSE(cache.Verify(forged.cert(), ica_.cert()));
  EXPECT_FALSE(cache.Verify(forged.cert(), ica_.cert()));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits(), 0u);
}

TEST_F(SignatureCacheTest, AnEntryHoldsOnlyForThatIssuer) {
  // Same name, another key: the leaf's signature is not its, whatever was remembered for
  // the real intermediate.
  CertSpec twin_spec = CertSpec::Ca("Cache Intermediate");
  twin_spec.key_index = 1;
  TestCert twin = pki_.Issue(root_, twin_spec);
  TestCert leaf = pki_.Issue(ica_, CertSpec::Server("a.example"));
  SignatureCache cache(16, 1 << 20);
  EXPECT_TRUE(cache.Verify(leaf.cert(), ica_.cert()));
  EXPECT_FALSE(cache.Verify(leaf.cert(), twin.cert()));
}

TEST_F(SignatureCacheTest, ForgetsTheOldestEntryWhenFull) {
  SignatureCache cache(2, 1 << 20);
  std::vector<TestCert> leaves;
  for (int i = 0; i < 3; ++i) leaves.push_back(pki_.Issue(ica_, CertSpec::Server("x.example")));
  for (const TestCert& leaf : leaves) EXPECT_TRUE(cache.Verify(leaf.cert(), ica_.cert()));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Verify(leaves[2].cert(), ica_.cert()));  // Kept.
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_TRUE(cache.Verify(leaves[0].cert(), ica_.cert()));  // Forgotten: checked again.
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(SignatureCacheTest, IsBoundedByBytesAsWellAsEntries) {
  SignatureCache cache(1000, 3 * SignatureCache::kEntryBytes);
  EXPECT_EQ(cache.capacity(), 3u);
  for (int i = 0; i < 10; ++i) {
    TestCert leaf = pki_.Issue(ica_, CertSpec::Server("y.example"));
    cache.Verify(leaf.cert(), ica_.cert());
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(SignatureCache(0, 0).capacity(), 1u);
}

TEST_F(SignatureCacheTest, MayBeUsedFromSeveralThreadsAtOnce) {
  std::vector<TestCert> leaves;
  for (int i = 0; i < 8; ++i) leaves.push_back(pki_.Issue(ica_, CertSpec::Server("z.example")));
  SignatureCache cache(4, 1 << 20);
  std::vector<std::thread> threads;
  std::vector<int> verified(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (const TestCert& leaf : leaves) verified[t] += cache.Verify(leaf.cert(), ica_.cert());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int v : verified) EXPECT_EQ(v, 50 * 8);
  EXPECT_LE(cache.size(), 4u);
}

}  // namespace
}  // namespace edge::trust

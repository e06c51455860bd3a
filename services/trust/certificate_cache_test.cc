#include "services/trust/certificate_cache.h"

#include <malloc.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using testing::CertSpec;
using testing::KeyType;
using testing::TestCert;
using testing::TestPki;

class CertificateCacheTest : public ::testing::Test {
 protected:
  TestPki pki_;
  TestCert root_ = pki_.Root("Cache Root");
  TestCert ica_ = pki_.Issue(root_, CertSpec::Ca("Cache Intermediate"));
};

TEST_F(CertificateCacheTest, ParsesACertificateOnceWhenAskedToRememberIt) {
  CertificateCache cache(16, 1 << 20);
  std::string der = ica_.Der();
  auto first = cache.Parse(der, "peer certificate 1", /*remember=*/true);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = cache.Parse(der, "peer certificate 1", /*remember=*/true);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(X509_cmp(second->get(), ica_.cert()), 0);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST_F(CertificateCacheTest, DoesNotKeepWhatItIsNotAskedToRemember) {
  CertificateCache cache(16, 1 << 20);
  TestCert leaf = pki_.Issue(ica_, CertSpec::Server("a.example"));
  ASSERT_TRUE(cache.Parse(leaf.Der(), "peer certificate 0", /*remember=*/false).ok());
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(CertificateCacheTest, GivesARememberedAnchorForItsDer) {
  CertificateCache cache(16, 1 << 20);
  cache.Remember(root_.cert());
  auto parsed = cache.Parse(root_.Der(), "peer certificate 2", /*remember=*/false);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->get(), root_.cert());
}

TEST_F(CertificateCacheTest, MatchesOnlyTheExactBytes) {
  CertificateCache cache(16, 1 << 20);
  std::string der = ica_.Der();
  ASSERT_TRUE(cache.Parse(der, "c", true).ok());
  std::string trailing = der + std::string(1, '\0');
  auto parsed = cache.Parse(trailing, "peer certificate 1", true);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            "peer certificate 1: trailing bytes after the DER certificate");
  EXPECT_EQ(cache.size(), 1u);  // A failure is not remembered.
}

TEST_F(CertificateCacheTest, ForgetsTheOldestWhenFullInEntriesOrBytes) {
  std::vector<TestCert> cas;
  for (int i = 0; i < 4; ++i) {
    cas.push_back(pki_.Issue(root_, CertSpec::Ca("CA " + std::to_string(i))));
  }
  CertificateCache by_entries(2, 1 << 20);
  for (const TestCert& ca : cas) ASSERT_TRUE(by_entries.Parse(ca.Der(), "c", true).ok());
  EXPECT_EQ(by_entries.size(), 2u);
  ASSERT_TRUE(by_entries.Parse(cas[3].Der(), "c", true).ok());
  EXPECT_EQ(by_entries.hits(), 1u);  // The newest is kept...
  ASSERT_TRUE(by_entries.Parse(cas[0].Der(), "c", true).ok());
  EXPECT_EQ(by_entries.hits(), 1u);  // ...the oldest was forgotten.

  // ECDSA signatures vary in length by a byte or two: charge for the largest.
  size_t each = 0;
  for (const TestCert& ca : cas) {
    each = std::max(each, CertificateCache::EntryBytes(ca.Der().size()));
  }
  CertificateCache by_bytes(100, 3 * each);
  for (const TestCert& ca : cas) ASSERT_TRUE(by_bytes.Parse(ca.Der(), "c", true).ok());
  EXPECT_EQ(by_bytes.size(), 3u);
  EXPECT_LE(by_bytes.bytes(), 3 * each);
}

// EntryBytes bounds what an entry really holds: the heap that parsing and keeping
// certificates takes (OpenSSL's allocations included, seen by malloc) is no more than the
// cache charges, for RSA and EC keys alike.
TEST_F(CertificateCacheTest, ChargesAtLeastTheHeapAnEntryHolds) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    SCOPED_TRACE(static_cast<int>(type));
    std::vector<std::string> ders;
    for (int i = 0; i < 50; ++i) {
      CertSpec spec = CertSpec::Ca("Measured CA " + std::to_string(i));
      spec.key_type = type;
      spec.organization = "Measured Organization";
      ders.push_back(pki_.Issue(root_, spec).Der());
    }
    CertificateCache cache(1000, 64 << 20);
    // One parse first, so that OpenSSL's one-time tables are not counted.
    ASSERT_TRUE(CertificateCache(1, 1 << 20).Parse(ders[0], "warm-up", true).ok());
    size_t before = mallinfo2().uordblks;
    for (const std::string& der : ders) ASSERT_TRUE(cache.Parse(der, "c", true).ok());
    size_t held = mallinfo2().uordblks - before;
    EXPECT_LE(held, cache.bytes());
    std::cout << "held " << held / ders.size() << " bytes per certificate, charged "
              << cache.bytes() / ders.size() << "\n";
  }
}

TEST_F(CertificateCacheTest, MayBeUsedFromSeveralThreadsAtOnce) {
  std::vector<std::string> ders;
  for (int i = 0; i < 6; ++i) {
    ders.push_back(pki_.Issue(root_, CertSpec::Ca("T" + std::to_string(i))).Der());
  }
  CertificateCache cache(4, 1 << 20);
  std::vector<std::thread> threads;
  std::vector<int> parsed(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (const std::string& der : ders) parsed[t] += cache.Parse(der, "c", true).ok();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int p : parsed) EXPECT_EQ(p, 20 * 6);
  EXPECT_LE(cache.size(), 4u);
}

}  // namespace
}  // namespace edge::trust

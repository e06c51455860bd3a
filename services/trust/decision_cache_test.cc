#include "services/trust/decision_cache.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/heap_counter.h"

namespace edge::trust {
namespace {

constexpr size_t kManyEntries = 10000;
constexpr size_t kManyBytes = 64 << 20;

Decision Allowed(absl::Time not_after) {
  Decision d;
  d.allowed = true;
  d.reason = Reason::kOk;
  CertificateSummary leaf;
  leaf.not_after = not_after;
  CertificateSummary root;
  root.not_after = not_after + absl::Hours(1000);
  d.chain = {leaf, root};
  return d;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(DecisionCacheTest, KeysDifferForEveryInput) {
  std::vector<std::string> chain = {"leaf", "ica"};
  std::string base = DecisionCache::Key(chain, Purpose::kPlatform, "a.example", 1);
  EXPECT_NE(base, DecisionCache::Key({"leaf"}, Purpose::kPlatform, "a.example", 1));
  EXPECT_NE(base, DecisionCache::Key(chain, Purpose::kEdge, "a.example", 1));
  EXPECT_NE(base, DecisionCache::Key(chain, Purpose::kPlatform, "b.example", 1));
  EXPECT_NE(base, DecisionCache::Key(chain, Purpose::kPlatform, "a.example", 2));
  // Field boundaries count: ("leafica") is not ("leaf", "ica").
  EXPECT_NE(base, DecisionCache::Key({"leafica"}, Purpose::kPlatform, "a.example", 1));
  EXPECT_EQ(base, DecisionCache::Key(chain, Purpose::kPlatform, "a.example", 1));
}

TEST(DecisionCacheTest, ReturnsADecisionUntilTheEarliestNotAfter) {
  DecisionCache cache(10, kManyBytes);
  cache.Insert("k", Allowed(kNow + absl::Hours(1)), kNow);
  ASSERT_TRUE(cache.Lookup("k", kNow + absl::Minutes(59)).has_value());
  EXPECT_FALSE(cache.Lookup("k", kNow + absl::Minutes(61)).has_value());
  EXPECT_EQ(cache.size(), 0u);  // The stale entry is gone.
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(DecisionCacheTest, DoesNotCacheNotYetValid) {
  DecisionCache cache(10, kManyBytes);
  Decision d = Allowed(kNow + absl::Hours(1));
  d.allowed = false;
  d.reason = Reason::kNotYetValid;
  cache.Insert("k", d, kNow);
  EXPECT_FALSE(cache.Lookup("k", kNow).has_value());
}

TEST(DecisionCacheTest, EvictsTheLeastRecentlyUsed) {
  DecisionCache cache(2, kManyBytes);
  cache.Insert("a", Allowed(kNow + absl::Hours(1)), kNow);
  cache.Insert("b", Allowed(kNow + absl::Hours(1)), kNow);
  ASSERT_TRUE(cache.Lookup("a", kNow).has_value());  // "b" is now the oldest.
  cache.Insert("c", Allowed(kNow + absl::Hours(1)), kNow);
  EXPECT_TRUE(cache.Lookup("a", kNow).has_value());
  EXPECT_FALSE(cache.Lookup("b", kNow).has_value());
  EXPECT_TRUE(cache.Lookup("c", kNow).has_value());
}

// A refusal as a hostile peer can make it, had nothing bounded it: 40 certificates with
// 60 KB names and sentences that quote them (what the report's UNKNOWN_ISSUER decisions
// held). The cache must stay within its byte bound whatever it is given.
Decision Huge(absl::Time not_after, char fill) {
  Decision d;
  d.reason = Reason::kUnknownIssuer;
  std::string name(60 * 1024, fill);
  d.detail = name;
  d.hint = name + name;
  d.failing_subject = name;
  d.failing_issuer = name;
  for (int i = 0; i < 40; ++i) {
    CertificateSummary c;
    c.subject = name;
    c.issuer = name;
    c.not_after = not_after;
    d.chain.push_back(c);
  }
  return d;
}

TEST(DecisionCacheTest, HoldsNoMoreBytesThanItsBoundWithHugeDecisions) {
  constexpr size_t kBound = 16 << 20;
  const Decision huge = Huge(kNow + absl::Hours(1), 'x');
  const size_t each = DecisionCache::EntryBytes("k", huge);
  ASSERT_GT(each, 5000000u);  // About 5.2 MB: three fit in the bound, not four.
  long long heap_before = testing::LiveHeapBytes();
  {
    DecisionCache cache(kManyEntries, kBound);
    for (int i = 0; i < 288; ++i) {
      cache.Insert(absl::StrCat("peer-", i), huge, kNow);
      ASSERT_LE(cache.bytes(), kBound) << "after " << i + 1 << " inserts";
    }
    EXPECT_EQ(cache.size(), kBound / each);
    // What it charges bounds what it holds: the real heap of the cache is no larger.
    long long held = testing::LiveHeapBytes() - heap_before;
    EXPECT_LE(held, static_cast<long long>(cache.bytes())) << "charged " << cache.bytes();
    EXPECT_GT(held, static_cast<long long>(cache.bytes() * 9 / 10))
        << "charged " << cache.bytes() << " for " << held << " held: too pessimistic";
    // The most recent ones are kept.
    EXPECT_TRUE(cache.Lookup("peer-287", kNow).has_value());
    EXPECT_FALSE(cache.Lookup("peer-0", kNow).has_value());
  }
  EXPECT_EQ(testing::LiveHeapBytes(), heap_before);
}

TEST(DecisionCacheTest, ChargesTypicalDecisionsWithinTheirRealHeap) {
  // Small strings too (in the small-string buffer, or just above it), many entries.
  DecisionCache cache(kManyEntries, kManyBytes);
  long long heap_before = testing::LiveHeapBytes();
  Decision d = Allowed(kNow + absl::Hours(1));
  d.chain[0].subject = "CN=platform.example";
  d.chain[0].issuer = "CN=Edge Test Intermediate";
  d.chain[0].sha256 = std::string(95, 'A');
  d.leaf_sha256 = d.chain[0].sha256;
  d.warnings = {"host name not checked (certificates.disable_hostname_validation)"};
  for (int i = 0; i < 2000; ++i) {
    cache.Insert(DecisionCache::Key({absl::StrCat(i)}, Purpose::kPlatform, "a", 1), d, kNow);
  }
  long long held = testing::LiveHeapBytes() - heap_before;
  EXPECT_LE(held, static_cast<long long>(cache.bytes()));
  EXPECT_EQ(cache.size(), 2000u);
}

TEST(DecisionCacheTest, DoesNotCacheADecisionLargerThanTheWholeBound) {
  DecisionCache cache(kManyEntries, 1 << 20);
  cache.Insert("small", Allowed(kNow + absl::Hours(1)), kNow);
  cache.Insert("huge", Huge(kNow + absl::Hours(1), 'y'), kNow);
  EXPECT_FALSE(cache.Lookup("huge", kNow).has_value());
  // And it evicted nothing to make room for it.
  EXPECT_TRUE(cache.Lookup("small", kNow).has_value());
}

TEST(DecisionCacheTest, EvictsByBytesInLeastRecentlyUsedOrder) {
  Decision d = Allowed(kNow + absl::Hours(1));
  d.detail = std::string(1000, 'd');
  const size_t each = DecisionCache::EntryBytes("a", d);
  DecisionCache cache(kManyEntries, 2 * each);
  cache.Insert("a", d, kNow);
  cache.Insert("b", d, kNow);
  ASSERT_TRUE(cache.Lookup("a", kNow).has_value());  // "b" is now the oldest.
  cache.Insert("c", d, kNow);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), 2 * each);
  EXPECT_TRUE(cache.Lookup("a", kNow).has_value());
  EXPECT_FALSE(cache.Lookup("b", kNow).has_value());
  EXPECT_TRUE(cache.Lookup("c", kNow).has_value());
}

TEST(DecisionCacheTest, GivesBackTheBytesOfExpiredAndReplacedEntries) {
  DecisionCache cache(kManyEntries, kManyBytes);
  Decision d = Allowed(kNow + absl::Hours(1));
  d.detail = std::string(1000, 'd');
  cache.Insert("k", d, kNow);
  cache.Insert("k", d, kNow);  // Replaced, not counted twice.
  EXPECT_EQ(cache.bytes(), DecisionCache::EntryBytes("k", d));
  EXPECT_FALSE(cache.Lookup("k", kNow + absl::Hours(2)).has_value());
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace edge::trust

#include "services/trust/decision_cache.h"

#include "gtest/gtest.h"

namespace edge::trust {
namespace {

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
  DecisionCache cache(10);
  cache.Insert("k", Allowed(kNow + absl::Hours(1)), kNow);
  ASSERT_TRUE(cache.Lookup("k", kNow + absl::Minutes(59)).has_value());
  EXPECT_FALSE(cache.Lookup("k", kNow + absl::Minutes(61)).has_value());
  EXPECT_EQ(cache.size(), 0u);  // The stale entry is gone.
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(DecisionCacheTest, DoesNotCacheNotYetValid) {
  DecisionCache cache(10);
  Decision d = Allowed(kNow + absl::Hours(1));
  d.allowed = false;
  d.reason = Reason::kNotYetValid;
  cache.Insert("k", d, kNow);
  EXPECT_FALSE(cache.Lookup("k", kNow).has_value());
}

TEST(DecisionCacheTest, EvictsTheLeastRecentlyUsed) {
  DecisionCache cache(2);
  cache.Insert("a", Allowed(kNow + absl::Hours(1)), kNow);
  cache.Insert("b", Allowed(kNow + absl::Hours(1)), kNow);
  ASSERT_TRUE(cache.Lookup("a", kNow).has_value());  // "b" is now the oldest.
  cache.Insert("c", Allowed(kNow + absl::Hours(1)), kNow);
  EXPECT_TRUE(cache.Lookup("a", kNow).has_value());
  EXPECT_FALSE(cache.Lookup("b", kNow).has_value());
  EXPECT_TRUE(cache.Lookup("c", kNow).has_value());
}

}  // namespace
}  // namespace edge::trust

#include "services/trust/path_builder.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using ::edge::testing::CertSpec;
using ::edge::testing::TestCert;
using ::edge::testing::TestPki;

std::string Names(const std::vector<X509*>& path) {
  std::string out;
  for (X509* c : path) {
    if (!out.empty()) out += " > ";
    out += NameToString(X509_get_subject_name(c));
  }
  return out;
}

// Every path ForEachPath offers, none accepted.
std::vector<std::string> AllPaths(PathBuilder& builder, X509* leaf) {
  std::vector<std::string> paths;
  builder.ForEachPath(leaf, absl::Now(), [&](const std::vector<X509*>& path) {
    paths.push_back(Names(path));
    return PathVerdict::Next();
  });
  return paths;
}

CertSpec CaWithKey(const std::string& cn, int key_index) {
  CertSpec spec = CertSpec::Ca(cn);
  spec.key_index = key_index;
  return spec;
}

TEST(PathBuilderTest, OffersEveryPathThroughAlternateIntermediatesInTheOrderGiven) {
  TestPki pki;
  TestCert root = pki.Root("Root");
  TestCert other_root = pki.SelfSigned(CaWithKey("Other Root", 1));
  // The same intermediate (name and key) issued by two roots.
  TestCert ica_by_other = pki.Issue(other_root, CaWithKey("ICA", 2));
  TestCert ica_by_root = pki.Issue(root, CaWithKey("ICA", 2));
  TestCert leaf = pki.Issue(ica_by_root, CertSpec::Server("a.test"));

  PathBuilder builder({root.cert(), other_root.cert()},
                      {ica_by_other.cert(), ica_by_root.cert()}, {});
  EXPECT_EQ(AllPaths(builder, leaf.cert()),
            (std::vector<std::string>{"CN=a.test > CN=ICA > CN=Other Root",
                                      "CN=a.test > CN=ICA > CN=Root"}));
}

TEST(PathBuilderTest, StopsAtTheFirstAcceptedPath) {
  TestPki pki;
  TestCert root = pki.Root("Root");
  TestCert other_root = pki.SelfSigned(CaWithKey("Other Root", 1));
  TestCert ica_by_root = pki.Issue(root, CaWithKey("ICA", 2));
  TestCert ica_by_other = pki.Issue(other_root, CaWithKey("ICA", 2));
  TestCert leaf = pki.Issue(ica_by_root, CertSpec::Server("a.test"));
  PathBuilder builder({root.cert(), other_root.cert()},
                      {ica_by_root.cert(), ica_by_other.cert()}, {});
  int calls = 0;
  bool accepted = false;
  int offered = builder.ForEachPath(
      leaf.cert(), absl::Now(),
      [&](const std::vector<X509*>&) {
        // The first path is refused (say, a name constraint), the second accepted.
        return ++calls == 1 ? PathVerdict::Next() : PathVerdict::Accept();
      },
      &accepted);
  EXPECT_TRUE(accepted);
  EXPECT_EQ(offered, 2);
}

TEST(PathBuilderTest, FollowsAKeyRolloverCrossCertificate) {
  TestPki pki;
  // The CA rolled its key over: the new root is trusted nowhere yet; old-key root issued a
  // cross-certificate for the new key.
  TestCert old_root = pki.SelfSigned(CaWithKey("Rolling Root", 1));
  TestCert new_root = pki.SelfSigned(CaWithKey("Rolling Root", 2));
  TestCert cross = pki.Issue(old_root, CaWithKey("Rolling Root", 2));
  TestCert leaf = pki.Issue(new_root, CertSpec::Server("a.test"));
  PathBuilder builder({old_root.cert()}, {new_root.cert(), cross.cert()}, {});
  std::vector<X509*> first;
  builder.ForEachPath(leaf.cert(), absl::Now(), [&](const std::vector<X509*>& path) {
    first = path;
    return PathVerdict::Accept();
  });
  // The cross-certificate first, not the new self-signed root (which is no anchor).
  EXPECT_EQ(first, (std::vector<X509*>{leaf.cert(), cross.cert(), old_root.cert()}));
}

TEST(PathBuilderTest, NeverRepeatsACertificateInACycleOfCrossSignedCas) {
  TestPki pki;
  TestCert a = pki.SelfSigned(CaWithKey("A", 1));
  TestCert b = pki.SelfSigned(CaWithKey("B", 2));
  TestCert a_by_b = pki.Issue(b, CaWithKey("A", 1));
  TestCert b_by_a = pki.Issue(a, CaWithKey("B", 2));
  TestCert leaf = pki.Issue(a, CertSpec::Server("a.test"));
  TestPki other;
  TestCert stranger = other.Root("Stranger");
  PathBuilder builder({stranger.cert()}, {a_by_b.cert(), b_by_a.cert()}, {});
  EXPECT_TRUE(AllPaths(builder, leaf.cert()).empty());
  EXPECT_FALSE(builder.exhausted());
}

TEST(PathBuilderTest, CountsSelfIssuedIntermediatesOnlyAgainstTheHardCap) {
  TestPki pki;
  TestCert root = pki.Root("Root");
  TestCert ica_old = pki.Issue(root, CaWithKey("ICA", 1));
  TestCert ica_new = pki.Issue(ica_old, CaWithKey("ICA", 2));  // Self-issued rollover.
  TestCert leaf = pki.Issue(ica_new, CertSpec::Server("a.test"));
  PathBuilder::Limits one_logical;
  one_logical.max_logical_intermediates = 1;
  PathBuilder builder({root.cert()}, {ica_new.cert(), ica_old.cert()}, one_logical);
  EXPECT_EQ(AllPaths(builder, leaf.cert()).size(), 1u);

  PathBuilder::Limits one_in_all;
  one_in_all.max_intermediates = 1;
  PathBuilder capped({root.cert()}, {ica_new.cert(), ica_old.cert()}, one_in_all);
  EXPECT_TRUE(AllPaths(capped, leaf.cert()).empty());
}

TEST(PathBuilderTest, OffersALeafThatIsItselfAnAnchorAsAPathOfOne) {
  TestPki pki;
  TestCert root = pki.Root("Root");
  TestCert leaf = pki.Issue(root, CertSpec::Server("a.test"));
  PathBuilder builder({leaf.cert()}, {}, {});
  EXPECT_EQ(AllPaths(builder, leaf.cert()), std::vector<std::string>{"CN=a.test"});
}

TEST(PathBuilderTest, GivesUpAfterMaxStepsOnAHostileBagOfSameNamedCas) {
  TestPki pki;
  TestCert root = pki.Root("Root");
  // Ten CAs named alike with distinct keys, each issued by every other: 10! paths.
  std::vector<TestCert> cas;
  for (int i = 0; i < 10; ++i) cas.push_back(pki.SelfSigned(CaWithKey("Loop", i + 1)));
  std::vector<TestCert> bag;
  for (int i = 0; i < 10; ++i) {
    for (int j = 0; j < 10; ++j) {
      if (i != j) bag.push_back(pki.Issue(cas[j], CaWithKey("Loop", i + 1)));
    }
  }
  std::vector<X509*> intermediates;
  for (const TestCert& c : bag) intermediates.push_back(c.cert());
  TestCert leaf = pki.Issue(cas[0], CertSpec::Server("a.test"));
  PathBuilder::Limits limits;
  limits.max_steps = 500;
  PathBuilder builder({root.cert()}, intermediates, limits);
  EXPECT_TRUE(AllPaths(builder, leaf.cert()).empty());
  EXPECT_TRUE(builder.exhausted());
}

TEST(PathBuilderTest, SkipsAnIssuerWhoseSignatureWasReportedBad) {
  TestPki pki;
  TestCert root = pki.Root("Root");
  TestCert ica_a = pki.Issue(root, CaWithKey("ICA", 1));
  TestCert ica_b = pki.Issue(root, CaWithKey("ICA", 2));
  TestCert sub = pki.Issue(ica_a, CaWithKey("Sub", 3));
  TestCert leaf = pki.Issue(sub, CertSpec::Server("a.test"));
  // Without key identifiers both ICAs are candidates for Sub; Sub > ICA(key 2) is bad.
  PathBuilder builder({root.cert()}, {sub.cert(), ica_b.cert(), ica_a.cert()}, {});
  std::vector<std::string> seen;
  builder.ForEachPath(leaf.cert(), absl::Now(), [&](const std::vector<X509*>& path) {
    seen.push_back(Names(path));
    return PathVerdict::Next(path[2] == ica_b.cert() ? 1 : -1);
  });
  // AKI/SKI rule out ICA(key 2) as Sub's issuer before any signature is checked.
  EXPECT_EQ(seen, std::vector<std::string>{"CN=a.test > CN=Sub > CN=ICA > CN=Root"});
}

}  // namespace
}  // namespace edge::trust

// The web-PKI profile and RFC 5280 rules, one row per rule, each through the whole engine
// (ChainValidator) with certificates from the test PKI. Every row is a chain that only the
// rule it names refuses: with that rule removed, the row's chain is accepted.
#include "services/trust/strict_checks.h"

#include <functional>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/trust/chain_validator.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using ::edge::testing::CertSpec;
using ::edge::testing::TestCert;
using ::edge::testing::TestPki;

constexpr char kHost[] = "platform.example";

// A chain root -> intermediate -> leaf; each row changes one of the three specs.
struct Row {
  const char* rule;
  std::function<void(CertSpec* root, CertSpec* ica, CertSpec* leaf)> change;
  Reason reason;
  const char* detail_has;
};

class StrictChecksTest : public ::testing::Test {
 protected:
  // Validates root -> ica -> leaf as changed by `change`, trusting the root.
  Decision Run(const std::function<void(CertSpec*, CertSpec*, CertSpec*)>& change,
               StrictPolicy strict = {}) {
    CertSpec root_spec = CertSpec::Ca("Profile Root");
    CertSpec ica_spec = CertSpec::Ca("Profile Intermediate");
    ica_spec.key_index = 1;
    CertSpec leaf_spec = CertSpec::Server(kHost);
    leaf_spec.key_index = 2;
    change(&root_spec, &ica_spec, &leaf_spec);
    TestCert root = pki_.SelfSigned(root_spec);
    TestCert ica = pki_.Issue(root, ica_spec);
    TestCert leaf = pki_.Issue(ica, leaf_spec);
    return Validate(root, {&leaf, &ica}, strict);
  }

  Decision Validate(const TestCert& anchor, std::vector<const TestCert*> chain,
                    StrictPolicy strict = {}) {
    auto store = std::make_shared<TrustStore>();
    store->source = "certificates.cert_chain (ca.pem)";
    store->anchors.emplace_back(X509_dup(anchor.cert()));
    PurposePolicy pp;
    pp.store = store;
    pp.strict = strict;
    TrustPolicy policy;
    policy.purposes[Purpose::kPlatform] = pp;
    auto validator = ChainValidator::Create(std::move(policy));
    EXPECT_TRUE(validator.ok());
    std::vector<std::string> der;
    for (const TestCert* c : chain) der.push_back(c->Der());
    return (*validator)->Validate(der, Purpose::kPlatform, "", absl::Now());
  }

  void ExpectRows(const std::vector<Row>& rows) {
    for (const Row& row : rows) {
      SCOPED_TRACE(row.rule);
      Decision d = Run(row.change);
      EXPECT_FALSE(d.allowed);
      EXPECT_EQ(ReasonName(d.reason), ReasonName(row.reason)) << d.Summary();
      // Where the TLS library's verification finds the rule first (OpenSSL 3's X509_STRICT,
      // BoringSSL's purpose check), its words are the detail.
      if (d.openssl_error != 0) continue;
      EXPECT_TRUE(absl::StrContains(d.detail, row.detail_has)) << d.detail;
    }
  }

  TestPki pki_;
};

TEST_F(StrictChecksTest, AcceptsTheUnchangedChain) {
  Decision d = Run([](CertSpec*, CertSpec*, CertSpec*) {});
  EXPECT_TRUE(d.allowed) << d.Summary();
}

TEST_F(StrictChecksTest, RefusesALeafWhoseCommonNameIsNotOneOfItsSanValues) {
  ExpectRows({
      {"BR 7.1.4.3: a CN that no SAN holds",
       [](CertSpec*, CertSpec*, CertSpec* leaf) { leaf->common_name = "other.example"; },
       Reason::kMalformedCertificate, "is not one of its subjectAltName DNS names"},
      {"BR 7.1.4.3: character for character, no case folding",
       [](CertSpec*, CertSpec*, CertSpec* leaf) { leaf->common_name = "Platform.Example"; },
       Reason::kMalformedCertificate, "is not one of its subjectAltName DNS names"},
      {"BR 7.1.4.3: an IP address CN in canonical form only",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->common_name = "127.000.000.001";
         leaf->ip_addresses = {"127.0.0.1"};
       },
       Reason::kMalformedCertificate, "is an IP address not written in canonical form"},
      {"BR 7.1.4.3: an IP address CN that is no SAN address",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->common_name = "10.0.0.1";
         leaf->ip_addresses = {"127.0.0.1"};
       },
       Reason::kMalformedCertificate, "is not one of its subjectAltName IP addresses"},
  });
}

TEST_F(StrictChecksTest, AcceptsACommonNameThatIsOneOfTheSanValuesOfItsKind) {
  for (const char* cn : {kHost, "127.0.0.1", ""}) {
    SCOPED_TRACE(cn);
    Decision d = Run([cn](CertSpec*, CertSpec*, CertSpec* leaf) {
      leaf->common_name = cn;
      leaf->organization = "Example Org";  // A subject that is not empty.
      leaf->ip_addresses = {"127.0.0.1"};
    });
    EXPECT_TRUE(d.allowed) << d.Summary();
  }
}

TEST_F(StrictChecksTest, RefusesALeafExtendedKeyUsageTheSubscriberProfileForbids) {
  ExpectRows({
      {"BR 7.1.2.7.10: anyExtendedKeyUsage in a leaf",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->ext_key_usage = {"serverAuth", "anyExtendedKeyUsage"};
       },
       Reason::kWrongUsage, "anyExtendedKeyUsage"},
      {"BR 7.1.2.7.6: a critical extKeyUsage in a leaf",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->extensions = {{"extendedKeyUsage", "critical,serverAuth"}};
       },
       Reason::kMalformedCertificate, "its extendedKeyUsage is critical"},
      {"Netscape Server Gated Crypto is not serverAuth",
       [](CertSpec*, CertSpec*, CertSpec* leaf) { leaf->ext_key_usage = {"nsSGC"}; },
       Reason::kWrongUsage, "does not include serverAuth"},
  });
}

TEST_F(StrictChecksTest, RefusesExtendedKeyUsageInCaCertificatesThatDoesNotAllowThePurpose) {
  ExpectRows({
      {"BR 7.1.2.1.2: a root with extKeyUsage",
       [](CertSpec* root, CertSpec*, CertSpec*) { root->ext_key_usage = {"serverAuth"}; },
       Reason::kPolicyViolation, "roots may not have"},
      {"an intermediate whose EKU is Server Gated Crypto only",
       [](CertSpec*, CertSpec* ica, CertSpec*) { ica->ext_key_usage = {"nsSGC"}; },
       Reason::kWrongUsage, "a CA whose extendedKeyUsage does not include serverAuth"},
  });
}

TEST_F(StrictChecksTest, RefusesExtensionsThatMustBeCriticalWhenTheyAreNot) {
  ExpectRows({
      {"RFC 5280 4.2.1.10: nameConstraints",
       [](CertSpec*, CertSpec* ica, CertSpec*) {
         ica->extensions = {{"nameConstraints", "permitted;DNS:platform.example"}};
       },
       Reason::kMalformedCertificate, "its nameConstraints extension is not critical"},
      {"RFC 5280 4.2.1.11: policyConstraints",
       [](CertSpec*, CertSpec* ica, CertSpec*) {
         ica->extensions = {{"policyConstraints", "requireExplicitPolicy:5"}};
       },
       Reason::kMalformedCertificate, "its policyConstraints extension is not critical"},
      {"RFC 5280 4.2.1.14: inhibitAnyPolicy",
       [](CertSpec*, CertSpec* ica, CertSpec*) {
         ica->extensions = {{"inhibitAnyPolicy", "5"}};
       },
       Reason::kMalformedCertificate, "its inhibitAnyPolicy extension is not critical"},
  });
}

// RFC 5280's rules on the presence and criticality of extensions (X509_STRICT's in OpenSSL
// 3, the engine's own under BoringSSL): refused with either library.
TEST_F(StrictChecksTest, RefusesExtensionsMissingOrMarkedAgainstRfc5280) {
  ExpectRows({
      {"4.2.1.1: a critical authorityKeyIdentifier",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->extensions = {{"authorityKeyIdentifier", "critical,keyid:always"}};
       },
       Reason::kMalformedCertificate, "authorityKeyIdentifier is critical"},
      {"4.2.1.2: a CA without subjectKeyIdentifier",
       [](CertSpec*, CertSpec* ica, CertSpec* leaf) {
         ica->extensions = {{"subjectKeyIdentifier", ""}};
         // The leaf still names a key identifier (SEQUENCE { [0] 01020304 }).
         leaf->extensions = {{"authorityKeyIdentifier", ""}};
         leaf->raw_extensions = {
             {"2.5.29.35", false, std::string("\x30\x06\x80\x04\x01\x02\x03\x04", 8)}};
       },
       Reason::kMalformedCertificate, "without subjectKeyIdentifier"},
      {"4.2.1.9: a CA whose basicConstraints is not critical",
       [](CertSpec*, CertSpec* ica, CertSpec*) {
         ica->extensions = {{"basicConstraints", "CA:TRUE"}};
       },
       Reason::kMalformedCertificate, "basicConstraints is not critical"},
      {"4.2.1.3: keyCertSign in a certificate that is not a CA",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->extensions = {{"keyUsage", "critical,digitalSignature,keyCertSign"}};
       },
       Reason::kMalformedCertificate, "keyCertSign but it is not a CA"},
      {"4.2: an unknown critical extension in the root",
       [](CertSpec* root, CertSpec*, CertSpec*) {
         root->raw_extensions = {{"1.3.6.1.4.1.55738.666.1", true, std::string("\x05\x00", 2)}};
       },
       Reason::kMalformedCertificate, "critical extension"},
  });
}

// RFC 5280 4.2.1.10: iPAddress constraints hold for a subject's IP addresses (BoringSSL does
// not process them; the engine does).
TEST_F(StrictChecksTest, HoldsIpAddressesToTheirCasNameConstraints) {
  auto constrained = [](const char* ip) {
    return [ip](CertSpec*, CertSpec* ica, CertSpec* leaf) {
      ica->extensions = {{"nameConstraints", "critical,permitted;IP:10.0.0.0/255.0.0.0,"
                                             "permitted;DNS:platform.example"}};
      leaf->ip_addresses = {ip};
    };
  };
  Decision inside = Run(constrained("10.1.2.3"));
  EXPECT_TRUE(inside.allowed) << inside.Summary();
  ExpectRows({{"an IPv4 address outside the permitted subtree", constrained("192.168.1.1"),
               Reason::kNameConstraintViolation, "outside the name constraints"}});
}

TEST_F(StrictChecksTest, RefusesNameConstraintsInAnEndEntityCertificate) {
  ExpectRows({
      {"RFC 5280 4.2.1.10: critical",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->extensions = {{"nameConstraints", "critical,permitted;DNS:platform.example"}};
       },
       Reason::kMalformedCertificate, "only CA certificates may have"},
      {"RFC 5280 4.2.1.10: non-critical",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->extensions = {{"nameConstraints", "permitted;DNS:platform.example"}};
       },
       Reason::kMalformedCertificate, "only CA certificates may have"},
  });
}

TEST_F(StrictChecksTest, RefusesSanNamesThatAreNotInTheirPreferredSyntax) {
  auto dns = [](const char* name) {
    return [name](CertSpec*, CertSpec*, CertSpec* leaf) {
      leaf->common_name = name;
      leaf->dns_names = {name};
    };
  };
  ExpectRows({
      {"RFC 5280 4.2.1.6: an underscore is not LDH", dns("under_score.example"),
       Reason::kMalformedCertificate, "malformed DNS name"},
      {"RFC 1123 2.1: a label may not start with a hyphen", dns("-lead.example"),
       Reason::kMalformedCertificate, "malformed DNS name"},
      {"RFC 1123 2.1: a label may not end with a hyphen", dns("trail-.example"),
       Reason::kMalformedCertificate, "malformed DNS name"},
      {"BR 3.2.2.6: a wildcard only as the whole left-most label", dns("foo.*.example"),
       Reason::kMalformedCertificate, "malformed DNS name"},
      {"BR 3.2.2.6: no partial wildcard label", dns("f*.example"),
       Reason::kMalformedCertificate, "malformed DNS name"},
      {"BR 3.2.2.6: no wildcard over a public suffix (ICANN section)", dns("*.co.uk"),
       Reason::kMalformedCertificate, "a wildcard over a public suffix"},
      {"BR 3.2.2.6: no wildcard over a public suffix (private section)",
       dns("*.s3.amazonaws.com"), Reason::kMalformedCertificate,
       "a wildcard over a public suffix"},
      {"RFC 5280 4.2.1.6: an rfc822Name is a mailbox",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->extensions = {
             {"subjectAltName", "DNS:platform.example,email:bad@address@example.com"}};
       },
       Reason::kMalformedCertificate, "malformed email address"},
  });
}

TEST_F(StrictChecksTest, AcceptsWellFormedWildcardsAndMailboxes) {
  for (const char* san : {"DNS:*.platform.example", "DNS:xn--bcher-kva.example",
                          "DNS:platform.example,email:first.last+tag@example.com",
                          "DNS:platform.example,email:\"odd@local\"@example.com"}) {
    SCOPED_TRACE(san);
    Decision d = Run([san](CertSpec*, CertSpec*, CertSpec* leaf) {
      leaf->common_name = "";
      leaf->organization = "Example Org";
      leaf->extensions = {{"subjectAltName", san}};
    });
    EXPECT_TRUE(d.allowed) << d.Summary();
  }
}

TEST_F(StrictChecksTest, RefusesExtensionsThatAreNotWellFormed) {
  ExpectRows({
      {"BR 7.1.2.7.7, RFC 5280 4.2.2.1: an AIA without AccessDescriptions",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->raw_extensions = {{"1.3.6.1.5.5.7.1.1", false, std::string("\x30\x00", 2)}};
       },
       Reason::kMalformedCertificate, "Authority Information Access extension is empty"},
      {"RFC 5280 4.2.2.1: an AIA that does not decode",
       [](CertSpec*, CertSpec*, CertSpec* leaf) {
         leaf->raw_extensions = {{"1.3.6.1.5.5.7.1.1", false, std::string("\x04\x01x", 3)}};
       },
       Reason::kMalformedCertificate, "Authority Information Access extension cannot be decoded"},
      {"RFC 5280 4.2.1.4: certificatePolicies without a policy",
       [](CertSpec*, CertSpec* ica, CertSpec*) {
         ica->raw_extensions = {{"2.5.29.32", false, std::string("\x30\x00", 2)}};
       },
       Reason::kMalformedCertificate, "Certificate Policies extension is empty"},
  });
}

TEST_F(StrictChecksTest, RefusesACrossSignedTrustAnchorWithoutAuthorityKeyIdentifier) {
  // RFC 5280 4.2.1.1: every certificate that is not self-signed carries an AKI; a trust
  // anchor issued by another CA is one, whoever trusts it.
  TestCert root = pki_.Root("Profile Root");
  CertSpec anchor_spec = CertSpec::Ca("Cross-Signed Anchor");
  anchor_spec.key_index = 1;
  anchor_spec.extensions = {{"authorityKeyIdentifier", ""}};
  TestCert anchor = pki_.Issue(root, anchor_spec);
  CertSpec leaf_spec = CertSpec::Server(kHost);
  leaf_spec.key_index = 2;
  TestCert leaf = pki_.Issue(anchor, leaf_spec);
  Decision d = Validate(anchor, {&leaf});
  EXPECT_EQ(d.reason, Reason::kMalformedCertificate) << d.Summary();
  EXPECT_TRUE(absl::StrContains(d.detail, "it has no authorityKeyIdentifier")) << d.detail;

  anchor_spec.extensions.clear();
  TestCert with_aki = pki_.Issue(root, anchor_spec);
  TestCert leaf2 = pki_.Issue(with_aki, leaf_spec);
  EXPECT_TRUE(Validate(with_aki, {&leaf2}).allowed);
}

// RFC 5280 6.1 policy processing, as the CA certificates require it.
TEST_F(StrictChecksTest, RefusesAPathWithoutThePolicyACaRequires) {
  auto require = [](const char* leaf_policies, const char* ica_extra) {
    return [=](CertSpec*, CertSpec* ica, CertSpec* leaf) {
      ica->policies = {"1.3.6.1.4.1.99999.1"};
      ica->extensions = {{"policyConstraints", "critical,requireExplicitPolicy:0"}};
      if (*ica_extra != '\0') ica->extensions.push_back({"inhibitAnyPolicy", ica_extra});
      leaf->policies = {leaf_policies};
    };
  };
  ExpectRows({
      {"requireExplicitPolicy, the leaf has another policy",
       require("1.3.6.1.4.1.99999.2", ""), Reason::kPolicyViolation, "no explicit policy"},
      {"inhibitAnyPolicy: anyPolicy in the leaf does not count",
       require("2.5.29.32.0", "critical,0"), Reason::kPolicyViolation, "no explicit policy"},
  });
  Decision d = Run(require("1.3.6.1.4.1.99999.1", ""));
  EXPECT_TRUE(d.allowed) << d.Summary();
}

}  // namespace
}  // namespace edge::trust

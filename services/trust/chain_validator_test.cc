#include "services/trust/chain_validator.h"

#include <iostream>

#include <openssl/pem.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/fingerprint.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using ::edge::testing::CertSpec;
using ::edge::testing::CrlSpec;
using ::edge::testing::KeyType;
using ::edge::testing::SigHash;
using ::edge::testing::TestCert;
using ::edge::testing::TestPki;

#ifdef OPENSSL_IS_BORINGSSL
constexpr bool kTlsLibraryIsBoringSsl = true;
#else
constexpr bool kTlsLibraryIsBoringSsl = false;
#endif

// One PKI for the whole file: root -> intermediate -> leaves.
class ChainValidatorTest : public ::testing::Test {
 protected:
  ChainValidatorTest()
      : root_(pki_.Root("Test Root")),
        ica_(pki_.Issue(root_, CertSpec::Ca("Test Intermediate"))),
        leaf_(pki_.Issue(ica_, CertSpec::Server("platform.example"))),
        other_root_(pki_.Root("Other Root")) {}

  std::shared_ptr<TrustStore> Store(std::vector<const TestCert*> anchors,
                                    std::vector<std::string> crl_pems = {}) {
    auto store = std::make_shared<TrustStore>();
    store->source = "certificates.cert_chain (ca.pem)";
    for (const TestCert* a : anchors) store->anchors.emplace_back(X509_dup(a->cert()));
    for (const std::string& pem : crl_pems) {
      UniqueBio bio = MemBio(pem);
      store->crls.emplace_back(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    }
    return store;
  }

  PurposePolicy Policy() {
    PurposePolicy pp;
    pp.store = Store({&root_});
    return pp;
  }

  Decision Validate(const PurposePolicy& pp, std::vector<const TestCert*> chain,
                    const std::string& name, Purpose purpose = Purpose::kPlatform,
                    absl::Time now = absl::Now()) {
    TrustPolicy policy;
    policy.purposes[purpose] = pp;
    auto validator = ChainValidator::Create(std::move(policy));
    EXPECT_TRUE(validator.ok());
    std::vector<std::string> der;
    for (const TestCert* c : chain) der.push_back(c->Der());
    return (*validator)->Validate(der, purpose, name, now);
  }

  TestPki pki_;
  TestCert root_;
  TestCert ica_;
  TestCert leaf_;
  TestCert other_root_;
};

TEST_F(ChainValidatorTest, AcceptsAChainToATrustedRoot) {
  Decision d = Validate(Policy(), {&leaf_, &ica_}, "platform.example");
  EXPECT_TRUE(d.allowed) << d.Summary();
  EXPECT_EQ(d.reason, Reason::kOk);
  EXPECT_EQ(d.leaf_sha256, leaf_.Sha256());
  ASSERT_EQ(d.chain.size(), 3u);
  EXPECT_EQ(d.chain[2].subject, "CN=Test Root");
  EXPECT_TRUE(d.warnings.empty());
}

TEST_F(ChainValidatorTest, RefusesAnUnknownIssuerWithOpenSslCode20AndAHint) {
  TestCert stranger = pki_.Issue(other_root_, CertSpec::Server("platform.example"));
  Decision d = Validate(Policy(), {&stranger}, "platform.example");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kUnknownIssuer);
  EXPECT_EQ(d.openssl_error, 20);
  EXPECT_EQ(d.openssl_error_text, "unable to get local issuer certificate");
  EXPECT_EQ(d.failing_subject, "CN=platform.example");
  EXPECT_EQ(d.failing_issuer, "CN=Other Root");
  EXPECT_EQ(d.hint,
            "add the certificate of \"CN=Other Root\" (the issuer of \"CN=platform.example\") "
            "to certificates.cert_chain (ca.pem), or have the peer send its intermediate "
            "certificates");
}

TEST_F(ChainValidatorTest, RefusesAMissingIntermediateAsUnknownIssuer) {
  Decision d = Validate(Policy(), {&leaf_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kUnknownIssuer);
  EXPECT_EQ(d.openssl_error, 20);
}

// Every name and sentence of `d` within its limit, and valid UTF-8 is kept (cut on
// character boundaries): what a hostile peer's chain may cost a Decision.
void ExpectBounded(const Decision& d) {
  EXPECT_LE(d.chain.size(), kMaxSummaryCertificates);
  for (const CertificateSummary& c : d.chain) {
    EXPECT_LE(c.subject.size(), kMaxNameBytes);
    EXPECT_LE(c.issuer.size(), kMaxNameBytes);
  }
  EXPECT_LE(d.failing_subject.size(), kMaxNameBytes);
  EXPECT_LE(d.failing_issuer.size(), kMaxNameBytes);
  EXPECT_LE(d.detail.size(), kMaxSentenceBytes);
  EXPECT_LE(d.hint.size(), kMaxSentenceBytes);
  EXPECT_LE(d.warnings.size(), kMaxWarnings);
}

TEST_F(ChainValidatorTest, SummarizesOnlyTheBuiltPathOfAHostileUnknownIssuerChain) {
  // The report's request: 40 certificates with 60 KB subjects, none issuing another.
  std::vector<TestCert> certs;
  for (int i = 0; i < 40; ++i) {
    CertSpec spec = CertSpec::Server("platform.example");
    spec.subject_padding_bytes = 60 * 1024;
    certs.push_back(pki_.Issue(other_root_, spec));
  }
  std::vector<const TestCert*> chain;
  for (const TestCert& c : certs) chain.push_back(&c);
  Decision d = Validate(Policy(), chain, "platform.example");
  EXPECT_EQ(d.reason, Reason::kUnknownIssuer);
  ExpectBounded(d);
  // The path OpenSSL built is the leaf alone: the others did not chain.
  ASSERT_EQ(d.chain.size(), 1u);
  EXPECT_EQ(d.chain[0].sha256, certs[0].Sha256());
  EXPECT_EQ(d.chain[0].subject.substr(0, 10), "CN=platfor");
  EXPECT_EQ(d.chain[0].subject.substr(kMaxNameBytes - 3), "...");
  // Printed only as far as kept, the same text as the whole name cut.
  EXPECT_EQ(d.chain[0].subject,
            TruncateUtf8(NameToString(X509_get_subject_name(certs[0].cert())), kMaxNameBytes));
  EXPECT_EQ(d.chain[0].issuer, "CN=Other Root");
  // The hint still ends with what to do, the names in it cut.
  EXPECT_TRUE(absl::EndsWith(d.hint, "or have the peer send its intermediate certificates"))
      << d.hint;
  EXPECT_LT(d.ToJson().size(), 4096u);
}

TEST_F(ChainValidatorTest, SummarizesAtMostTheMaximalPathOfALongHostileChain) {
  // 30 CAs with 20 KB names, each issuing the next: a path longer than any trustd builds.
  std::vector<TestCert> cas;
  cas.push_back(pki_.Issue(other_root_, CertSpec::Ca("Hostile 0")));
  for (int i = 1; i < 30; ++i) {
    CertSpec spec = CertSpec::Ca(absl::StrCat("Hostile ", i));
    spec.subject_padding_bytes = 20 * 1024;
    cas.push_back(pki_.Issue(cas.back(), spec));
  }
  CertSpec leaf_spec = CertSpec::Server("platform.example");
  leaf_spec.subject_padding_bytes = 20 * 1024;
  TestCert leaf = pki_.Issue(cas.back(), leaf_spec);
  std::vector<const TestCert*> chain = {&leaf};
  for (auto it = cas.rbegin(); it != cas.rend(); ++it) chain.push_back(&*it);
  Decision d = Validate(Policy(), chain, "platform.example");
  EXPECT_FALSE(d.allowed);
  ExpectBounded(d);
  EXPECT_EQ(d.chain.front().sha256, leaf.Sha256());
  EXPECT_LT(d.ToJson().size(), kMaxSummaryCertificates * 700 + 4 * kMaxSentenceBytes);
}

TEST_F(ChainValidatorTest, RefusesAnUntrustedSelfSignedRootInTheChain) {
  TestCert ica2 = pki_.Issue(other_root_, CertSpec::Ca("Other Intermediate"));
  TestCert leaf2 = pki_.Issue(ica2, CertSpec::Server("platform.example"));
  Decision d = Validate(Policy(), {&leaf2, &ica2, &other_root_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kSelfSignedInChain);
  EXPECT_EQ(d.openssl_error, 19);
}

TEST_F(ChainValidatorTest, RefusesASelfSignedLeafUnlessAllowed) {
  CertSpec spec = CertSpec::Server("platform.example");
  TestCert self = pki_.SelfSigned(spec);
  Decision d = Validate(Policy(), {&self}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kSelfSignedLeaf);
  EXPECT_EQ(d.openssl_error, 18);

  PurposePolicy pp = Policy();
  pp.allow_self_signed = true;
  d = Validate(pp, {&self}, "platform.example");
  EXPECT_TRUE(d.allowed) << d.Summary();
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0], "accepted the self-signed certificate \"CN=platform.example\" "
                           "(certificates.allow_self_signed)");
  // Allowing self-signed certificates does not switch off the name check.
  EXPECT_EQ(Validate(pp, {&self}, "other.example").reason, Reason::kNameMismatch);
}

// EMS habit: a device's certificate made with a plain `openssl req -x509` (no EKU, no SAN,
// a CN, CA:TRUE) is accepted under certificates.allow_self_signed, with a warning naming
// what the web-PKI profile would have refused.
TEST_F(ChainValidatorTest, AcceptsAnOpensslReqSelfSignedLeafWithAWarningWhenAllowed) {
  TestCert self = pki_.SelfSigned(CertSpec::SelfSignedLikeOpensslReq("edge.local"));
  EXPECT_EQ(Validate(Policy(), {&self}, "edge.local").reason, Reason::kSelfSignedLeaf);

  PurposePolicy pp = Policy();
  pp.allow_self_signed = true;
  for (Purpose purpose : {Purpose::kPlatform, Purpose::kEdge, Purpose::kClient}) {
    SCOPED_TRACE(PurposeName(purpose));
    Decision d = Validate(pp, {&self}, "edge.local", purpose);
    EXPECT_TRUE(d.allowed) << d.Summary();
    ASSERT_EQ(d.warnings.size(), 1u);
    EXPECT_EQ(d.warnings[0],
              "accepted the self-signed certificate \"CN=edge.local\" "
              "(certificates.allow_self_signed) without extendedKeyUsage or subjectAltName, "
              "matched on its CN");
  }
  // Its CN is its name: another name is still refused.
  EXPECT_EQ(Validate(pp, {&self}, "other.local").reason, Reason::kNameMismatch);
}

// allow_self_signed lets through that one self-signed leaf and relaxes nothing else: not
// the rules it still has to meet, not a CA-issued leaf, not a self-signed CA in a chain.
TEST_F(ChainValidatorTest, RelaxesNothingButTheSelfSignedLeafItself) {
  PurposePolicy pp = Policy();
  pp.allow_self_signed = true;
  auto like_req = [](void (*edit)(CertSpec*)) {
    CertSpec spec = CertSpec::SelfSignedLikeOpensslReq("edge.local");
    edit(&spec);
    return spec;
  };
  TestCert sha1 = pki_.SelfSigned(like_req([](CertSpec* s) {
    s->signature_hash = SigHash::kSha1;
  }));
  TestCert weak = pki_.SelfSigned(like_req([](CertSpec* s) {
    s->key_type = KeyType::kRsa1024;
  }));
  TestCert expired = pki_.SelfSigned(like_req([](CertSpec* s) {
    s->not_before = absl::Now() - absl::Hours(48);
    s->not_after = absl::Now() - absl::Hours(24);
  }));
  TestCert client_only = pki_.SelfSigned(like_req([](CertSpec* s) {
    s->ext_key_usage = {"clientAuth"};
  }));
  UniqueEvpPkey other_key = testing::GenerateKey(KeyType::kEcP256);
  CertSpec forged_spec = CertSpec::SelfSignedLikeOpensslReq("edge.local");
  forged_spec.signing_key_override = other_key.get();
  TestCert forged = pki_.SelfSigned(forged_spec);
  TestCert self_ca = pki_.SelfSigned(CertSpec::SelfSignedLikeOpensslReq("Device CA"));
  TestCert under_self_ca = pki_.Issue(self_ca, CertSpec::Server("edge.local"));
  CertSpec no_eku_spec = CertSpec::Server("platform.example");
  no_eku_spec.ext_key_usage.clear();
  TestCert no_eku = pki_.Issue(ica_, no_eku_spec);
  CertSpec no_san_spec = CertSpec::Server("platform.example");
  no_san_spec.dns_names.clear();
  TestCert no_san = pki_.Issue(ica_, no_san_spec);
  struct Row {
    const char* name;
    std::vector<const TestCert*> chain;
    std::string host;
    Reason reason;
  } rows[] = {
      {"a SHA-1 signature", {&sha1}, "edge.local", Reason::kWeakSignature},
      {"an RSA-1024 key", {&weak}, "edge.local", Reason::kWeakKey},
      {"expired", {&expired}, "edge.local", Reason::kExpired},
      {"a self-signature that does not verify", {&forged}, "edge.local",
       Reason::kInvalidChain},
      {"an EKU without serverAuth", {&client_only}, "edge.local", Reason::kWrongUsage},
      {"a leaf under a self-signed CA", {&under_self_ca, &self_ca}, "edge.local",
       Reason::kSelfSignedInChain},
      {"a CA-issued leaf without EKU", {&no_eku, &ica_}, "platform.example",
       Reason::kWrongUsage},
      {"a CA-issued leaf without SAN", {&no_san, &ica_}, "platform.example",
       Reason::kMissingSan},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Decision d = Validate(pp, row.chain, row.host);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(ReasonName(d.reason), ReasonName(row.reason)) << d.Summary();
  }
}

// A peer that sends its chain with the leaf elsewhere than first is told so, not the
// symptom (the CA judged as the peer's own certificate).
TEST_F(ChainValidatorTest, SaysWhereTheLeafIsInAChainGivenOutOfOrder) {
  struct Row {
    const char* name;
    std::vector<const TestCert*> chain;
    std::string position;
  } rows[] = {
      {"intermediate first", {&ica_, &leaf_}, "2"},
      {"root and intermediate first", {&root_, &ica_, &leaf_}, "3"},
      {"intermediate, leaf, root", {&ica_, &leaf_, &root_}, "2"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Decision d = Validate(Policy(), row.chain, "platform.example");
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, Reason::kInvalidChain) << d.Summary();
    EXPECT_EQ(d.hint, absl::StrCat("the leaf must come first; found at position ",
                                   row.position,
                                   " (\"CN=platform.example\"): the peer must send its own "
                                   "certificate first, then each issuer"));
    EXPECT_EQ(d.failing_subject, "CN=platform.example");
    EXPECT_NE(d.Summary().find("hint: the leaf must come first"), std::string::npos);
  }
  // In order, or a lone CA that issued nothing here: no such diagnosis.
  EXPECT_TRUE(Validate(Policy(), {&leaf_, &ica_, &root_}, "platform.example").allowed);
  Decision lone = Validate(Policy(), {&ica_}, "platform.example");
  EXPECT_EQ(lone.hint.find("the leaf must come first"), std::string::npos) << lone.hint;
}

TEST_F(ChainValidatorTest, RefusesExpiredAndNotYetValidLeaves) {
  absl::Time now = absl::Now();
  CertSpec expired = CertSpec::Server("platform.example");
  expired.not_before = now - absl::Hours(48);
  expired.not_after = now - absl::Hours(24);
  TestCert old_leaf = pki_.Issue(ica_, expired);
  Decision d = Validate(Policy(), {&old_leaf, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kExpired);
  EXPECT_EQ(d.openssl_error, 10);
  EXPECT_NE(d.hint.find("expired on"), std::string::npos) << d.hint;

  CertSpec future = CertSpec::Server("platform.example");
  future.not_before = now + absl::Hours(24);
  TestCert new_leaf = pki_.Issue(ica_, future);
  d = Validate(Policy(), {&new_leaf, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kNotYetValid);
  EXPECT_EQ(d.openssl_error, 9);
}

TEST_F(ChainValidatorTest, UsesTheInjectedTime) {
  // The same leaf, judged a year from now, has expired.
  Decision d = Validate(Policy(), {&leaf_, &ica_}, "platform.example", Purpose::kPlatform,
                        absl::Now() + absl::Hours(24 * 365));
  EXPECT_EQ(d.reason, Reason::kExpired);
}

TEST_F(ChainValidatorTest, RefusesAWrongHostNameWithCode62) {
  Decision d = Validate(Policy(), {&leaf_, &ica_}, "evil.example");
  EXPECT_EQ(d.reason, Reason::kNameMismatch);
  EXPECT_EQ(d.openssl_error, 62);
  EXPECT_EQ(d.detail, "expected \"evil.example\", the certificate is for DNS:platform.example");
}

TEST_F(ChainValidatorTest, ChecksIpAddressesAgainstIpSans) {
  CertSpec spec = CertSpec::Server("platform.example");
  spec.ip_addresses = {"127.0.0.1"};
  TestCert ip_leaf = pki_.Issue(ica_, spec);
  EXPECT_TRUE(Validate(Policy(), {&ip_leaf, &ica_}, "127.0.0.1").allowed);
  Decision d = Validate(Policy(), {&ip_leaf, &ica_}, "127.0.0.2");
  EXPECT_EQ(d.reason, Reason::kNameMismatch);
  EXPECT_EQ(d.openssl_error, 64);
}

TEST_F(ChainValidatorTest, SkipsTheNameCheckWhenDisabledWithAWarning) {
  PurposePolicy pp = Policy();
  pp.check_name = false;
  Decision d = Validate(pp, {&leaf_, &ica_}, "evil.example");
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0], "host name not checked (certificates.disable_hostname_validation)");
}

TEST_F(ChainValidatorTest, RefusesALeafWithoutSanUnlessRelaxed) {
  CertSpec spec = CertSpec::Server("platform.example");
  spec.dns_names.clear();
  TestCert cn_only = pki_.Issue(ica_, spec);
  Decision d = Validate(Policy(), {&cn_only, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kMissingSan);
  EXPECT_EQ(d.hint, "reissue the certificate, or set trustd.policy.allow_missing_san: true "
                    "to accept it (insecure)");

  PurposePolicy pp = Policy();
  pp.strict.allow_missing_san = true;
  d = Validate(pp, {&cn_only, &ica_}, "platform.example");
  EXPECT_TRUE(d.allowed) << d.Summary();  // CN is used when there is no SAN.
  EXPECT_EQ(d.warnings.size(), 1u);
}

TEST_F(ChainValidatorTest, AppliesTheFingerprintAllowlistAfterChainValidation) {
  PurposePolicy pp = Policy();
  pp.leaf_allowlist = {NormalizeFingerprint(ica_.Sha256())};
  pp.leaf_allowlist_field = "certificates.fingerprint_allowlist";
  Decision d = Validate(pp, {&leaf_, &ica_}, "platform.example", Purpose::kEdge);
  EXPECT_EQ(d.reason, Reason::kNotAllowlisted);
  EXPECT_EQ(d.hint, "if this endpoint is the one you trust, add " + leaf_.Sha256() +
                        " to certificates.fingerprint_allowlist");

  pp.leaf_allowlist.push_back(NormalizeFingerprint(leaf_.Sha256()));
  EXPECT_TRUE(Validate(pp, {&leaf_, &ica_}, "platform.example", Purpose::kEdge).allowed);

  // The allowlist never rescues a chain that fails validation.
  TestCert stranger = pki_.Issue(other_root_, CertSpec::Server("platform.example"));
  pp.leaf_allowlist.push_back(NormalizeFingerprint(stranger.Sha256()));
  EXPECT_EQ(Validate(pp, {&stranger}, "platform.example", Purpose::kEdge).reason,
            Reason::kUnknownIssuer);
}

TEST_F(ChainValidatorTest, PinsMatchAnyCertificateOrKeyInTheVerifiedChain) {
  PurposePolicy pp = Policy();
  pp.pins = {NormalizeFingerprint(other_root_.Sha256())};
  Decision d = Validate(pp, {&leaf_, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kPinMismatch);

  // A root pin survives a leaf renewal; a key (SPKI) pin survives a reissue of the CA.
  pp.pins.push_back(NormalizeFingerprint(root_.Sha256()));
  TestCert renewed = pki_.Issue(ica_, CertSpec::Server("platform.example"));
  EXPECT_TRUE(Validate(pp, {&renewed, &ica_}, "platform.example").allowed);
  pp.pins = {NormalizeFingerprint(ica_.SpkiSha256())};
  TestCert ica_reissued = pki_.Issue(root_, CertSpec::Ca("Test Intermediate"));
  EXPECT_TRUE(Validate(pp, {&leaf_, &ica_reissued}, "platform.example").allowed);
}

TEST_F(ChainValidatorTest, RefusesWeakSignatures) {
  CertSpec sha1 = CertSpec::Server("platform.example");
  sha1.signature_hash = SigHash::kSha1;
  TestCert sha1_leaf = pki_.Issue(ica_, sha1);
  Decision d = Validate(Policy(), {&sha1_leaf, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kWeakSignature);
  EXPECT_EQ(d.detail, "\"CN=platform.example\": it is signed with SHA-1");

  PurposePolicy pp = Policy();
  pp.strict.allow_sha1_signatures = true;
  d = Validate(pp, {&sha1_leaf, &ica_}, "platform.example");
  EXPECT_TRUE(d.allowed) << d.Summary();
  EXPECT_EQ(d.warnings.size(), 1u);

  CertSpec rsa_ca = CertSpec::Ca("RSA Intermediate");
  rsa_ca.key_type = KeyType::kRsa2048;
  TestCert rsa_ica = pki_.Issue(root_, rsa_ca);
  CertSpec md5 = CertSpec::Server("platform.example");
  md5.signature_hash = SigHash::kMd5;
  TestCert md5_leaf = pki_.Issue(rsa_ica, md5);
  d = Validate(pp, {&md5_leaf, &rsa_ica}, "platform.example");  // Even when SHA-1 is allowed.
  EXPECT_EQ(d.reason, Reason::kWeakSignature) << d.Summary();
}

TEST_F(ChainValidatorTest, RefusesWeakKeys) {
  CertSpec spec = CertSpec::Server("platform.example");
  spec.key_type = KeyType::kRsa1024;
  TestCert weak = pki_.Issue(ica_, spec);
  Decision d = Validate(Policy(), {&weak, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kWeakKey);
  EXPECT_EQ(d.detail, "\"CN=platform.example\": the certificate has an RSA key of 1024 bits; "
                      "at least 2048 are required");
}

TEST_F(ChainValidatorTest, RefusesTheWrongExtendedKeyUsage) {
  TestCert client = pki_.Issue(ica_, CertSpec::Client("platform.example"));
  Decision d = Validate(Policy(), {&client, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kWrongUsage);
  EXPECT_EQ(d.openssl_error, 26);
  // The same certificate is fine for a client.
  EXPECT_TRUE(Validate(Policy(), {&client, &ica_}, "", Purpose::kClient).allowed);

  CertSpec no_eku = CertSpec::Server("platform.example");
  no_eku.ext_key_usage.clear();
  TestCert bare = pki_.Issue(ica_, no_eku);
  d = Validate(Policy(), {&bare, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kWrongUsage);
  EXPECT_EQ(d.detail, "\"CN=platform.example\": the certificate has no extendedKeyUsage; "
                      "serverAuth is required");
}

TEST_F(ChainValidatorTest, RefusesACertificateOnAConfiguredCrl) {
  TestCert revoked = pki_.Issue(ica_, CertSpec::Server("platform.example"));
  PurposePolicy pp = Policy();
  pp.store = Store({&root_}, {pki_.CrlPem(ica_, {&revoked}), pki_.CrlPem(root_, {})});
  Decision d = Validate(pp, {&revoked, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kRevoked);
  EXPECT_EQ(d.openssl_error, 23);
  // Others from the same CA pass; the root, the trust anchor, needs no CRL.
  EXPECT_TRUE(Validate(pp, {&leaf_, &ica_}, "platform.example").allowed);
}

// RFC 5280 6.3: with CRLs configured, a certificate whose status no usable CRL gives is
// refused (REVOCATION_UNKNOWN), never taken as good.
TEST_F(ChainValidatorTest, RefusesACertificateWhoseRevocationStatusCannotBeEstablished) {
  CertSpec stranger_spec = CertSpec::Ca("Test Intermediate");  // Same name, another key.
  stranger_spec.key_index = 7;
  TestCert stranger = pki_.SelfSigned(stranger_spec);
  CrlSpec expired;
  expired.this_update = absl::Now() - absl::Hours(24 * 30);
  CrlSpec no_number;
  no_number.crl_number = false;
  CrlSpec wrong_key;
  wrong_key.signing_key = stranger.key();
  struct Case {
    const char* name;
    std::vector<std::string> crls;  // Besides the root's own, which covers the ICA.
    const char* detail_has;
  };
  for (const Case& c : std::vector<Case>{
           {"no CRL from the leaf's issuer", {}, "unable to get certificate CRL"},
           {"an expired CRL", {pki_.CrlPem(ica_, {}, expired)}, "CRL has expired"},
           {"a CRL without CRLNumber", {pki_.CrlPem(ica_, {}, no_number)},
            "has no CRLNumber extension (RFC 5280 5.2.3) and was not used"},
           {"a CRL signed by the wrong key", {pki_.CrlPem(ica_, {}, wrong_key)},
            "CRL signature failure"},
       }) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> crls = c.crls;
    crls.push_back(pki_.CrlPem(root_, {}));
    PurposePolicy pp = Policy();
    pp.store = Store({&root_}, crls);
    Decision d = Validate(pp, {&leaf_, &ica_}, "platform.example");
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, Reason::kRevocationUnknown);
    EXPECT_TRUE(absl::StrContains(d.detail, c.detail_has)) << d.detail;
    EXPECT_TRUE(absl::StrContains(d.hint, "add a current CRL signed by \"CN=Test Intermediate\""))
        << d.hint;
  }
}

TEST_F(ChainValidatorTest, AppliesValidationCriteria) {
  CertSpec spec = CertSpec::Server("platform.example");
  spec.organization = "Acme";
  TestCert acme = pki_.Issue(ica_, spec);
  PurposePolicy pp = Policy();
  pp.criteria.cert_organization = "Acme";
  pp.criteria.ca_cert_common_name = "Test Intermediate";
  EXPECT_TRUE(Validate(pp, {&acme, &ica_}, "platform.example").allowed);

  pp.criteria.cert_organization = "Umbrella";
  Decision d = Validate(pp, {&acme, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kCriteriaMismatch);
  EXPECT_EQ(d.detail, "certificates.validation_criteria.Cert_Organization expects "
                      "\"Umbrella\", \"CN=platform.example,O=Acme\" has \"Acme\"");
}

TEST_F(ChainValidatorTest, RefusesBytesThatAreNotACertificate) {
  TrustPolicy policy;
  policy.purposes[Purpose::kPlatform] = Policy();
  auto validator = ChainValidator::Create(std::move(policy));
  ASSERT_TRUE(validator.ok());
  Decision d = (*validator)->Validate({"not a certificate"}, Purpose::kPlatform, "x", absl::Now());
  EXPECT_EQ(d.reason, Reason::kMalformedCertificate);
  EXPECT_EQ(d.detail.rfind("peer certificate 0: not a DER X.509 certificate", 0), 0u)
      << d.detail;
}

TEST_F(ChainValidatorTest, AppliesNameConstraintsToWildcardLeaves) {
  CertSpec ca = CertSpec::Ca("Constrained Intermediate");
  ca.excluded_dns = {"bar.example.com"};
  TestCert constrained = pki_.Issue(root_, ca);
  CertSpec spec = CertSpec::Server("*.example.com");
  TestCert wildcard = pki_.Issue(constrained, spec);
  Decision d = Validate(Policy(), {&wildcard, &constrained}, "foo.example.com");
  EXPECT_EQ(d.reason, Reason::kNameConstraintViolation) << d.Summary();
}

TEST_F(ChainValidatorTest, RefusesAChainLongerThanAPathLengthAllows) {
  CertSpec capped = CertSpec::Ca("Capped Intermediate");
  capped.path_len = 0;
  TestCert ica0 = pki_.Issue(root_, capped);
  TestCert ica1 = pki_.Issue(ica0, CertSpec::Ca("Too Deep"));
  TestCert deep = pki_.Issue(ica1, CertSpec::Server("platform.example"));
  Decision d = Validate(Policy(), {&deep, &ica1, &ica0}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kPathLengthExceeded);
  EXPECT_EQ(d.openssl_error, 25);
}

TEST_F(ChainValidatorTest, RefusesAZeroSerialNumberAsAPolicyViolation) {
  CertSpec spec = CertSpec::Server("platform.example");
  spec.serial_hex = "00";
  TestCert zero = pki_.Issue(ica_, spec);
  Decision d = Validate(Policy(), {&zero, &ica_}, "platform.example");
  EXPECT_EQ(d.reason, Reason::kPolicyViolation);
  EXPECT_EQ(d.detail, "\"CN=platform.example\": the certificate has serial number zero");
}

TEST_F(ChainValidatorTest, RefusesALeafIssuedByANonCa) {
  CertSpec not_ca = CertSpec::Server("intermediate.example");
  TestCert fake_ica = pki_.Issue(root_, not_ca);
  TestCert leaf = pki_.Issue(fake_ica, CertSpec::Server("platform.example"));
  Decision d = Validate(Policy(), {&leaf, &fake_ica}, "platform.example");
  EXPECT_FALSE(d.allowed);
  // BoringSSL does not take a certificate whose keyUsage forbids keyCertSign for an issuer
  // at all (OpenSSL 3 does, then refuses it as not a CA): no issuer, no path.
  EXPECT_EQ(d.reason, kTlsLibraryIsBoringSsl ? Reason::kUnknownIssuer : Reason::kInvalidChain)
      << d.Summary();
}

TEST_F(ChainValidatorTest, AcceptsAnythingWhenValidationIsOffWithAWarning) {
  PurposePolicy pp = Policy();
  pp.validate = false;
  TestCert stranger = pki_.Issue(other_root_, CertSpec::Server("x.example"));
  Decision d = Validate(pp, {&stranger}, "platform.example");
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0],
            "certificates.validate is false: the peer was accepted without any validation");
}

TEST_F(ChainValidatorTest, RefusesAPurposeWithoutPolicy) {
  Decision d = Validate(Policy(), {&leaf_, &ica_}, "platform.example", Purpose::kPlatform);
  ASSERT_TRUE(d.allowed);
  TrustPolicy policy;
  policy.purposes[Purpose::kPlatform] = Policy();
  auto validator = ChainValidator::Create(std::move(policy));
  ASSERT_TRUE(validator.ok());
  d = (*validator)->Validate({leaf_.Der()}, Purpose::kEdge, "platform.example", absl::Now());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.detail, "no trust policy for purpose edge");
}

TEST(DecisionTest, SerializesToOneJsonObject) {
  Decision d;
  d.reason = Reason::kNameMismatch;
  d.openssl_error = 62;
  d.hint = "say \"hi\"";
  std::string json = d.ToJson();
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find("\"allowed\":false"), std::string::npos);
  EXPECT_NE(json.find("\"reason\":\"NAME_MISMATCH\""), std::string::npos);
  EXPECT_NE(json.find("\"openssl_error\":62"), std::string::npos);
  EXPECT_NE(json.find("\"hint\":\"say \\\"hi\\\"\""), std::string::npos);
}

}  // namespace
}  // namespace edge::trust

// Path building: the tests below need a second path, or bound the search.
namespace edge::trust {
namespace {

using ::edge::testing::CertSpec;
using ::edge::testing::TestCert;
using ::edge::testing::TestPki;

CertSpec CaSpec(const std::string& cn, int key_index) {
  CertSpec spec = CertSpec::Ca(cn);
  spec.key_index = key_index;
  return spec;
}

class PathBuildingTest : public ::testing::Test {
 protected:
  Decision Validate(std::vector<const TestCert*> anchors, std::vector<const TestCert*> chain,
                    int max_depth = -1) {
    auto store = std::make_shared<TrustStore>();
    store->source = "certificates.cert_chain (ca.pem)";
    for (const TestCert* a : anchors) store->anchors.emplace_back(X509_dup(a->cert()));
    PurposePolicy pp;
    pp.store = store;
    pp.max_depth = max_depth;
    TrustPolicy policy;
    policy.purposes[Purpose::kPlatform] = pp;
    auto validator = ChainValidator::Create(std::move(policy));
    EXPECT_TRUE(validator.ok());
    std::vector<std::string> der;
    for (const TestCert* c : chain) der.push_back(c->Der());
    return (*validator)->Validate(der, Purpose::kPlatform, "platform.example", absl::Now());
  }
  TestPki pki_;
};

TEST_F(PathBuildingTest, AcceptsAnAlternateIntermediateWhenTheFirstPathBreaksANameConstraint) {
  TestCert root_a = pki_.SelfSigned(CaSpec("Root A", 1));
  TestCert root_b = pki_.SelfSigned(CaSpec("Root B", 2));
  CertSpec constrained = CaSpec("Constrained CA", 3);
  constrained.excluded_dns = {"platform.example"};
  TestCert ica_a = pki_.Issue(root_a, constrained);
  // One logical intermediate (name and key), certified under both roots.
  TestCert shared_under_a = pki_.Issue(ica_a, CaSpec("Shared CA", 4));
  TestCert shared_under_b = pki_.Issue(root_b, CaSpec("Shared CA", 4));
  TestCert leaf = pki_.Issue(shared_under_a, CertSpec::Server("platform.example"));

  Decision d = Validate({&root_a, &root_b}, {&leaf, &shared_under_a, &ica_a, &shared_under_b});
  EXPECT_TRUE(d.allowed) << d.Summary();
  ASSERT_EQ(d.chain.size(), 3u);
  EXPECT_EQ(d.chain[2].subject, "CN=Root B");

  // Without the second certificate, the only path is refused for the constraint.
  d = Validate({&root_a, &root_b}, {&leaf, &shared_under_a, &ica_a});
  EXPECT_EQ(d.reason, Reason::kNameConstraintViolation) << d.Summary();
}

TEST_F(PathBuildingTest, AcceptsAChainValidOnlyThroughAKeyRolloverCrossCertificate) {
  TestCert old_root = pki_.SelfSigned(CaSpec("Rolling Root", 1));
  TestCert new_root = pki_.SelfSigned(CaSpec("Rolling Root", 2));
  TestCert cross = pki_.Issue(old_root, CaSpec("Rolling Root", 2));
  TestCert leaf = pki_.Issue(new_root, CertSpec::Server("platform.example"));
  // The peer sends its new root first: OpenSSL's single path would end there, untrusted.
  Decision d = Validate({&old_root}, {&leaf, &new_root, &cross});
  EXPECT_TRUE(d.allowed) << d.Summary();
  ASSERT_EQ(d.chain.size(), 3u);
  EXPECT_EQ(d.chain[1].sha256, cross.Sha256());
}

TEST_F(PathBuildingTest, AbandonsAnExpiredIntermediateForAValidCertificateOfTheSameCa) {
  TestCert root = pki_.Root("Root");
  CertSpec expired = CaSpec("Issuing CA", 1);
  expired.not_before = absl::Now() - absl::Hours(48);
  expired.not_after = absl::Now() - absl::Hours(24);
  TestCert ica_expired = pki_.Issue(root, expired);
  TestCert ica = pki_.Issue(root, CaSpec("Issuing CA", 1));
  TestCert leaf = pki_.Issue(ica, CertSpec::Server("platform.example"));
  Decision d = Validate({&root}, {&leaf, &ica_expired, &ica});
  EXPECT_TRUE(d.allowed) << d.Summary();
  EXPECT_EQ(d.chain[1].sha256, ica.Sha256());
  EXPECT_EQ(Validate({&root}, {&leaf, &ica_expired}).reason, Reason::kExpired);
}

TEST_F(PathBuildingTest, CountsSelfIssuedIntermediatesNotAgainstTheDepthLimit) {
  TestCert root = pki_.Root("Root");
  TestCert ica_old = pki_.Issue(root, CaSpec("Issuing CA", 1));
  TestCert ica_new = pki_.Issue(ica_old, CaSpec("Issuing CA", 2));  // Key rollover.
  TestCert leaf = pki_.Issue(ica_new, CertSpec::Server("platform.example"));
  Decision d = Validate({&root}, {&leaf, &ica_new, &ica_old}, /*max_depth=*/1);
  EXPECT_TRUE(d.allowed) << d.Summary();

  TestCert sub = pki_.Issue(ica_old, CaSpec("Sub CA", 3));
  TestCert leaf2 = pki_.Issue(sub, CertSpec::Server("platform.example"));
  d = Validate({&root}, {&leaf2, &sub, &ica_old}, /*max_depth=*/1);
  EXPECT_FALSE(d.allowed);
  if (!kTlsLibraryIsBoringSsl) {  // BoringSSL stops at the depth limit without saying so.
    EXPECT_EQ(d.reason, Reason::kPathLengthExceeded) << d.Summary();
    EXPECT_EQ(d.openssl_error, 22);
  }
}

TEST_F(PathBuildingTest, BoundsTheWorkOnAHostileBagOfCertificates) {
  // Ten CAs of one name, each certified by every other and all expired, under a trusted
  // root of that name: thousands of paths reach the anchor and each fails.
  TestCert root = pki_.SelfSigned(CaSpec("Loop", 1));
  std::vector<TestCert> bag;
  for (int i = 2; i <= 11; ++i) {
    for (int j = 1; j <= 11; ++j) {
      if (i == j) continue;
      CertSpec spec = CaSpec("Loop", i);
      spec.not_before = absl::Now() - absl::Hours(48);
      spec.not_after = absl::Now() - absl::Hours(24);
      TestCert issuer = j == 1 ? root : pki_.SelfSigned(CaSpec("Loop", j));
      bag.push_back(pki_.Issue(issuer, spec));
    }
  }
  TestCert issuer = pki_.SelfSigned(CaSpec("Loop", 2));
  TestCert leaf = pki_.Issue(issuer, CertSpec::Server("platform.example"));
  std::vector<const TestCert*> chain = {&leaf};
  for (const TestCert& c : bag) chain.push_back(&c);
  absl::Time start = absl::Now();
  Decision d = Validate({&root}, chain);
  absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kExpired) << d.Summary();
  // The bound is in work (candidate paths and signature checks: path_builder.h), not in
  // time: a figure, not an assertion (a sanitizer build is several times slower).
  std::cerr << "a hostile bag of " << bag.size() << " certificates judged in " << took << "\n";
}

}  // namespace
}  // namespace edge::trust

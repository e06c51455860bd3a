// Writes path_builder_fuzzer's fixed trust anchors (and the CRL of one of them) and its
// seed corpus: bags of DER certificates that chain to those anchors in the ways path
// building must handle. The anchors' keys are not kept: regenerating replaces the anchors
// and every seed together.
//
//   bazel run //services/trust:path_builder_fuzzer_corpus -- "$PWD/services/trust/testdata/fuzz"
//
// Every certificate is valid from 2026-01-01 to 2031-01-01 (the expired ones until
// 2027-01-01) and the fuzzer judges at path_builder_fuzzer.h's kFuzzTime, 2027-06-01, so
// the seeds do not age.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/pki/test_pki.h"

namespace edge::trust {
namespace {

using testing::CertSpec;
using testing::CrlSpec;
using testing::KeyType;
using testing::TestCert;
using testing::TestPki;

absl::Time At(int year, int month, int day) {
  return absl::FromCivil(absl::CivilDay(year, month, day), absl::UTCTimeZone());
}

CertSpec Dated(CertSpec spec) {
  spec.not_before = At(2026, 1, 1);
  spec.not_after = At(2031, 1, 1);
  return spec;
}

CertSpec Ca(const std::string& cn, int key_index) {
  CertSpec spec = Dated(CertSpec::Ca(cn));
  spec.key_index = key_index;
  return spec;
}

// One seed: the option byte (path_builder_fuzzer.cc) and the certificates' DER, back to back.
void WriteSeed(const std::string& dir, const std::string& name, uint8_t options,
               const std::vector<const TestCert*>& bag) {
  std::string bytes(1, static_cast<char>(options));
  for (const TestCert* c : bag) bytes += c->Der();
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: path_builder_fuzzer_corpus DIR (services/trust/testdata/fuzz)\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string seeds = dir + "/path_builder";
  TestPki pki;
  TestCert root_a = pki.SelfSigned(Ca("Fuzz Root A", 1));
  TestCert root_b = pki.SelfSigned(Ca("Fuzz Root B", 2));
  TestCert ica = pki.Issue(root_a, Ca("Fuzz Intermediate", 3));
  TestCert leaf = pki.Issue(ica, Dated(CertSpec::Server("fuzz.example")));
  TestCert client = pki.Issue(root_b, Dated(CertSpec::Client("fuzz.example")));

  // Root B cross-signed by root A, and an intermediate under B: reachable from either.
  TestCert cross = pki.Issue(root_a, Ca("Fuzz Root B", 2));
  TestCert ica_b = pki.Issue(root_b, Ca("Fuzz Intermediate B", 4));
  TestCert leaf_b = pki.Issue(ica_b, Dated(CertSpec::Server("fuzz.example")));

  // The same intermediate name twice: one expired, one valid (the builder must go on).
  CertSpec old_spec = Ca("Fuzz Intermediate", 3);
  old_spec.not_after = At(2027, 1, 1);
  TestCert ica_expired = pki.Issue(root_a, old_spec);

  // Name constraints that the leaf breaks, and an alternate path around them.
  CertSpec nc_spec = Ca("Fuzz Intermediate", 3);
  nc_spec.permitted_dns = {"other.example"};
  TestCert ica_constrained = pki.Issue(root_a, nc_spec);

  // A two-level chain with RSA, a path length limit and a policy.
  CertSpec rsa_spec = Ca("Fuzz RSA Intermediate", 0);
  rsa_spec.key_type = KeyType::kRsa2048;
  rsa_spec.path_len = 0;
  rsa_spec.policies = {"2.23.140.1.2.1"};
  TestCert ica_rsa = pki.Issue(root_a, rsa_spec);
  CertSpec rsa_leaf_spec = Dated(CertSpec::Server("fuzz.example"));
  rsa_leaf_spec.policies = {"2.23.140.1.2.1"};
  TestCert leaf_rsa = pki.Issue(ica_rsa, rsa_leaf_spec);

  // A self-signed leaf as `openssl req -x509` makes it, and a revoked leaf.
  TestCert self = pki.SelfSigned(Dated(CertSpec::SelfSignedLikeOpensslReq("fuzz.example")));
  TestCert revoked = pki.Issue(root_a, Dated(CertSpec::Server("fuzz.example")));

  // Same-subject CAs under distinct keys that issue each other: a loop to get lost in.
  std::vector<TestCert> loop;
  for (int i = 0; i < 6; ++i) {
    const TestCert& issuer = i == 0 ? root_a : loop.back();
    loop.push_back(pki.Issue(issuer, Ca("Fuzz Loop", 5 + i % 3)));
  }
  TestCert loop_leaf = pki.Issue(loop.back(), Dated(CertSpec::Server("fuzz.example")));

  CrlSpec crl;
  crl.this_update = At(2027, 5, 1);
  crl.validity = absl::Hours(24 * 365);
  std::ofstream(dir + "/path_builder_anchors.pem")
      << root_a.Pem() << root_b.Pem() << pki.CrlPem(root_a, {&revoked}, crl);

  // Option bytes: bit 0-1 purpose (0 platform, 1 edge with the CRL, 2 client), bit 2
  // allow_self_signed, bit 3 a max_depth of 1, bit 4 allow_missing_eku.
  WriteSeed(seeds, "chain", 0, {&leaf, &ica});
  WriteSeed(seeds, "chain_with_root", 0, {&leaf, &ica, &root_a});
  WriteSeed(seeds, "out_of_order", 0, {&ica, &leaf});
  WriteSeed(seeds, "cross_signed", 0, {&leaf_b, &ica_b, &cross});
  WriteSeed(seeds, "expired_then_valid", 0, {&leaf, &ica_expired, &ica});
  WriteSeed(seeds, "constrained_then_free", 0, {&leaf, &ica_constrained, &ica});
  WriteSeed(seeds, "rsa_policy_pathlen", 8, {&leaf_rsa, &ica_rsa});
  WriteSeed(seeds, "self_signed", 4, {&self});
  WriteSeed(seeds, "revoked_with_crl", 1, {&revoked});
  WriteSeed(seeds, "client", 2, {&client});
  std::vector<const TestCert*> loop_bag = {&loop_leaf};
  for (auto it = loop.rbegin(); it != loop.rend(); ++it) loop_bag.push_back(&*it);
  loop_bag.push_back(&cross);
  WriteSeed(seeds, "loop", 16, loop_bag);
  std::ofstream(seeds + "/not_der", std::ios::binary) << std::string("\x00\x30\x82\xff\xff\x02", 6);
  std::printf("wrote %s/path_builder_anchors.pem and the seeds in %s\n", dir.c_str(),
              seeds.c_str());
  return 0;
}

}  // namespace
}  // namespace edge::trust

int main(int argc, char** argv) { return edge::trust::Main(argc, argv); }

// Fuzz target: path building and the whole decision over arbitrary bags of DER
// certificates. Whatever a peer sends, ChainValidator must return a bounded Decision
// (never crash, leak, or run unbounded) and never accept a chain that does not lead to one
// of its anchors, unless the leaf is self-signed and allow_self_signed is set.
//
// Input: one option byte, then certificates' DER back to back (split at each DER header;
// what is left when a header does not parse is one last blob). Option bits 0-1: the purpose
// (0 platform, 1 edge, whose store has root A's CRL, 2 and 3 client); bit 2
// allow_self_signed; bit 3 a max_depth of 1; bit 4 allow_missing_eku. The anchors are
// fixed: testdata/fuzz/path_builder_anchors.pem (root A, root B, the CRL of root A),
// written with the seeds by path_builder_fuzzer_corpus.cc.
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/common/openssl_util.h"
#include "services/trust/chain_validator.h"

namespace edge::trust {
namespace {

constexpr char kAnchorsPem[] =
#include "services/trust/path_builder_anchors.inc"
    ;

// A peer may send this many certificates (trustd's ValidatePeer allows 16).
constexpr size_t kMaxBlobs = 24;

// The length of the DER element at the start of `in` (header included), capped at
// `in.size()`; 0 when no header parses there.
size_t DerElementLength(const std::string& in, size_t pos) {
  size_t left = in.size() - pos;
  if (left < 2) return 0;
  auto byte = [&](size_t i) { return static_cast<uint8_t>(in[pos + i]); };
  size_t header = 2;
  size_t length = byte(1);
  if (length & 0x80) {
    size_t octets = length & 0x7f;
    if (octets == 0 || octets > 3 || left < 2 + octets) return 0;
    length = 0;
    for (size_t i = 0; i < octets; ++i) length = (length << 8) | byte(2 + i);
    header += octets;
  }
  return std::min(left, header + length);
}

std::vector<std::string> SplitDer(const std::string& in) {
  std::vector<std::string> blobs;
  size_t pos = 0;
  while (pos < in.size() && blobs.size() < kMaxBlobs) {
    size_t n = DerElementLength(in, pos);
    if (n == 0) n = in.size() - pos;
    blobs.push_back(in.substr(pos, n));
    pos += n;
  }
  return blobs;
}

struct Anchors {
  std::vector<UniqueX509> certs;  // Root A, root B.
  std::vector<UniqueX509Crl> crls;
};

const Anchors& FixedAnchors() {
  static const Anchors* anchors = [] {
    auto* a = new Anchors;
    UniqueBio bio = MemBio(kAnchorsPem);
    for (;;) {
      char* name = nullptr;
      char* header = nullptr;
      unsigned char* data = nullptr;
      long len = 0;
      if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
      const unsigned char* p = data;
      if (std::string(name) == "CERTIFICATE") {
        a->certs.emplace_back(d2i_X509(nullptr, &p, len));
      } else if (std::string(name) == "X509 CRL") {
        a->crls.emplace_back(d2i_X509_CRL(nullptr, &p, len));
      }
      OPENSSL_free(name);
      OPENSSL_free(header);
      OPENSSL_free(data);
    }
    ClearOpenSslErrors();
    if (a->certs.size() != 2 || a->crls.size() != 1 || !a->certs[0] || !a->certs[1] ||
        !a->crls[0]) {
      std::abort();  // The embedded anchors are broken: regenerate them.
    }
    return a;
  }();
  return *anchors;
}

std::shared_ptr<TrustStore> Store(std::vector<X509*> anchors, X509_CRL* crl) {
  auto store = std::make_shared<TrustStore>();
  store->source = "fuzz anchors";
  for (X509* a : anchors) {
    X509_up_ref(a);
    store->anchors.emplace_back(a);
  }
  if (crl != nullptr) {
    X509_CRL_up_ref(crl);
    store->crls.emplace_back(crl);
  }
  return store;
}

}  // namespace
}  // namespace edge::trust

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edge::trust;
  using edge::Sha256Fingerprint;
  using edge::UniqueX509;
  if (size < 1) return 0;
  const uint8_t options = data[0];
  const Anchors& anchors = FixedAnchors();
  X509* root_a = anchors.certs[0].get();
  X509* root_b = anchors.certs[1].get();

  Purpose purpose = Purpose::kPlatform;
  PurposePolicy pp;
  switch (options & 3) {
    case 0:
      pp.store = Store({root_a, root_b}, nullptr);
      break;
    case 1:
      purpose = Purpose::kEdge;
      pp.store = Store({root_a}, anchors.crls[0].get());
      break;
    default:
      purpose = Purpose::kClient;
      pp.store = Store({root_b}, nullptr);
      break;
  }
  pp.allow_self_signed = (options & 4) != 0;
  if (options & 8) pp.max_depth = 1;
  pp.strict.allow_missing_eku = (options & 16) != 0;
  TrustPolicy policy;
  policy.purposes[purpose] = pp;
  auto validator = ChainValidator::Create(std::move(policy));
  if (!validator.ok()) std::abort();

  std::vector<std::string> bag =
      SplitDer(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (bag.empty()) return 0;
  // 2027-06-01: every seed certificate is valid then (path_builder_fuzzer_corpus.cc).
  const absl::Time now = absl::FromUnixSeconds(1811808000);
  Decision d = (*validator)->Validate(bag, purpose, "fuzz.example", now);

  // Bounded whatever was sent (decision.h).
  if (d.chain.size() > kMaxSummaryCertificates || d.warnings.size() > kMaxWarnings ||
      d.detail.size() > kMaxSentenceBytes || d.hint.size() > kMaxSentenceBytes) {
    std::abort();
  }
  if (d.allowed) {
    // An accepted chain ends at an anchor, or is the self-signed leaf alone when allowed.
    if (d.chain.empty()) std::abort();
    bool at_anchor = false;
    for (const UniqueX509& a : pp.store->anchors) {
      if (d.chain.back().sha256 == Sha256Fingerprint(a.get())) at_anchor = true;
    }
    bool self_signed_alone = pp.allow_self_signed && d.chain.size() == 1;
    if (!at_anchor && !self_signed_alone) std::abort();
  }
  return 0;
}

// PathBuilder: candidate certification paths from a peer's certificate to a trust anchor,
// for ChainValidator to verify one after the other (RFC 4158 in spirit, bounded).
//
//   PathBuilder builder(anchors, peer_intermediates, limits);
//   builder.ForEachPath(leaf, now, [&](const std::vector<X509*>& path) {
//     return Verify(path) ? PathVerdict::Accept() : PathVerdict::Next();
//   });
//
// A certificate's issuer candidates are the anchors and intermediates whose subject is its
// issuer name and whose subjectKeyIdentifier does not contradict its
// authorityKeyIdentifier (X509_check_issued). Candidates are tried in this order: trust
// anchors before intermediates (a path ends at the first anchor), self-signed
// intermediates last, a matching key identifier
// before none, valid at `now` before expired or not yet valid, issuers allowed to sign
// certificates (keyUsage) before those that are not, then the order given. No certificate
// appears twice in a path. Nothing here checks a signature: the callback verifies, and may
// report an issuer/subject pair whose signature is bad so that no later path uses it.
//
// Bounded whatever the input: at most `max_intermediates` certificates between the leaf
// and the anchor (`max_logical_intermediates` not counting self-issued ones, RFC 5280
// 6.1.4 (l)), at most `max_steps` issuer candidates examined, and the callback's own budget
// (it stops the search with PathVerdict::Stop()). Not thread-safe; cheap to construct.
#ifndef SERVICES_TRUST_PATH_BUILDER_H_
#define SERVICES_TRUST_PATH_BUILDER_H_

#include <cstdint>
#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "services/common/openssl_util.h"

namespace edge::trust {

// What a path's verification tells the builder.
struct PathVerdict {
  enum class Kind { kAccept, kNext, kStop };
  Kind kind = Kind::kNext;
  // When >= 0: the signature of path[bad_edge] does not verify under path[bad_edge + 1]'s
  // key; no other path will pair those two.
  int bad_edge = -1;

  static PathVerdict Accept() { return {Kind::kAccept, -1}; }
  static PathVerdict Next(int bad_edge = -1) { return {Kind::kNext, bad_edge}; }
  static PathVerdict Stop() { return {Kind::kStop, -1}; }
};

class PathBuilder {
 public:
  struct Limits {
    int max_intermediates = 16;          // Hard cap on the path's length.
    int max_logical_intermediates = 16;  // Not counting self-issued intermediates.
    int max_steps = 1000;                // Issuer candidates examined per ForEachPath.
  };

  // Borrows every certificate; they must outlive the builder. Duplicates (same DER) among
  // `intermediates`, or of an anchor, are ignored.
  PathBuilder(std::vector<X509*> anchors, std::vector<X509*> intermediates, Limits limits);

  // Calls `verify` with each candidate path (leaf first, trust anchor last; a leaf that is
  // itself an anchor is the path {leaf}) until it returns Accept or Stop, or the candidates
  // or the limits run out. Returns the number of paths offered; `accepted` (may be null)
  // tells whether one was accepted.
  int ForEachPath(X509* leaf, absl::Time now,
                  const std::function<PathVerdict(const std::vector<X509*>&)>& verify,
                  bool* accepted = nullptr);

  // Whether the last ForEachPath ran out of max_steps.
  bool exhausted() const { return exhausted_; }

 private:
  struct Candidate {
    X509* cert;
    bool anchor;
    int rank;  // Lower is tried first.
  };
  std::vector<Candidate> IssuersOf(X509* cert, absl::Time now) const;
  bool IsAnchor(X509* cert) const;
  // Depth-first search from path_.back(); returns false when the search must stop.
  bool Extend(absl::Time now, int logical,
              const std::function<PathVerdict(const std::vector<X509*>&)>& verify);

  std::vector<X509*> anchors_;
  std::vector<X509*> intermediates_;
  Limits limits_;
  std::vector<X509*> path_;
  std::set<std::pair<X509*, X509*>> bad_edges_;  // (subject, issuer).
  size_t unwind_to_ = SIZE_MAX;  // After a bad edge: return until path_ is this long.
  int steps_ = 0;
  int offered_ = 0;
  bool accepted_ = false;
  bool exhausted_ = false;
};

}  // namespace edge::trust

#endif  // SERVICES_TRUST_PATH_BUILDER_H_

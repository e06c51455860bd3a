#include "services/trust/path_builder.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>

namespace edge::trust {
namespace {

bool SameCert(X509* a, X509* b) { return a == b || X509_cmp(a, b) == 0; }

bool Contains(const std::vector<X509*>& certs, X509* cert) {
  for (X509* c : certs) {
    if (SameCert(c, cert)) return true;
  }
  return false;
}

bool SelfIssued(X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

bool ValidAt(X509* cert, absl::Time now) {
  time_t t = absl::ToTimeT(now);
  return X509_cmp_time(X509_get0_notBefore(cert), &t) <= 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &t) >= 0;
}

}  // namespace

PathBuilder::PathBuilder(std::vector<X509*> anchors, std::vector<X509*> intermediates,
                         Limits limits)
    : anchors_(std::move(anchors)), limits_(limits) {
  for (X509* c : intermediates) {
    if (!Contains(anchors_, c) && !Contains(intermediates_, c)) intermediates_.push_back(c);
  }
}

bool PathBuilder::IsAnchor(X509* cert) const { return Contains(anchors_, cert); }

std::vector<PathBuilder::Candidate> PathBuilder::IssuersOf(X509* cert, absl::Time now) const {
  std::vector<Candidate> out;
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert);
  auto consider = [&](X509* issuer, bool anchor) {
    int check = X509_check_issued(issuer, cert);
    ClearOpenSslErrors();
    // A keyUsage without keyCertSign is left to verification, which names the problem.
    if (check != X509_V_OK && check != X509_V_ERR_KEYUSAGE_NO_CERTSIGN) return;
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer);
    int rank = 0;
    // A self-signed certificate that is not an anchor continues a path only through
    // another certificate for its own key: the least promising issuer.
    if (!anchor && (X509_get_extension_flags(issuer) & EXFLAG_SS)) rank += 16;
    if (!anchor) rank += 8;
    if (aki == nullptr || ski == nullptr) rank += 4;
    if (!ValidAt(issuer, now)) rank += 2;
    if (check != X509_V_OK) rank += 1;
    out.push_back({issuer, anchor, rank});
  };
  for (X509* a : anchors_) consider(a, true);
  for (X509* i : intermediates_) consider(i, false);
  std::stable_sort(out.begin(), out.end(),
                   [](const Candidate& a, const Candidate& b) { return a.rank < b.rank; });
  return out;
}

int PathBuilder::ForEachPath(X509* leaf, absl::Time now,
                             const std::function<PathVerdict(const std::vector<X509*>&)>& verify,
                             bool* accepted) {
  path_.assign(1, leaf);
  steps_ = 0;
  offered_ = 0;
  accepted_ = false;
  exhausted_ = false;
  bad_edges_.clear();
  unwind_to_ = SIZE_MAX;
  if (IsAnchor(leaf)) {
    ++offered_;
    PathVerdict v = verify(path_);
    accepted_ = v.kind == PathVerdict::Kind::kAccept;
  } else {
    Extend(now, 0, verify);
  }
  if (accepted != nullptr) *accepted = accepted_;
  return offered_;
}

bool PathBuilder::Extend(absl::Time now, int logical,
                         const std::function<PathVerdict(const std::vector<X509*>&)>& verify) {
  X509* cert = path_.back();
  for (const Candidate& c : IssuersOf(cert, now)) {
    if (++steps_ > limits_.max_steps) {
      exhausted_ = true;
      return false;
    }
    if (Contains(path_, c.cert) || bad_edges_.count({cert, c.cert}) != 0) continue;
    if (c.anchor) {
      path_.push_back(c.cert);
      ++offered_;
      PathVerdict v = verify(path_);
      if (v.bad_edge >= 0 && static_cast<size_t>(v.bad_edge) + 1 < path_.size()) {
        bad_edges_.insert({path_[v.bad_edge], path_[v.bad_edge + 1]});
        // Every longer path through this prefix pairs those two again: resume at the level
        // whose certificate is path_[bad_edge].
        unwind_to_ = v.bad_edge + 1;
      }
      path_.pop_back();
      if (v.kind == PathVerdict::Kind::kAccept) {
        accepted_ = true;
        return false;
      }
      if (v.kind == PathVerdict::Kind::kStop) return false;
      if (path_.size() > unwind_to_) return true;
      unwind_to_ = SIZE_MAX;
      continue;
    }
    // path_ without the leaf, plus c.cert, are the intermediates.
    int intermediates = static_cast<int>(path_.size());
    // RFC 5280 6.1.4 (l): a self-issued intermediate does not count against a path length.
    int next_logical = logical + (SelfIssued(c.cert) ? 0 : 1);
    if (intermediates > limits_.max_intermediates ||
        next_logical > limits_.max_logical_intermediates) {
      continue;
    }
    path_.push_back(c.cert);
    bool go_on = Extend(now, next_logical, verify);
    path_.pop_back();
    if (!go_on) return false;
    if (path_.size() > unwind_to_) return true;
    unwind_to_ = SIZE_MAX;
  }
  return true;
}

}  // namespace edge::trust

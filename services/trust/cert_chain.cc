#include "services/trust/cert_chain.h"

#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/trust/decision.h"

namespace edge::trust {
namespace {

bool Issued(X509* issuer, X509* subject) { return X509_check_issued(issuer, subject) == X509_V_OK; }

// Issued by name and key identifiers, whatever the issuer's keyUsage says.
bool LooksIssued(X509* issuer, X509* subject) {
  int check = X509_check_issued(issuer, subject);
  return check == X509_V_OK || check == X509_V_ERR_KEYUSAGE_NO_CERTSIGN;
}

}  // namespace

std::optional<size_t> MisplacedLeaf(const std::vector<X509*>& certs) {
  if (certs.size() < 2) return std::nullopt;
  auto issued_another = [&](size_t i) {
    for (size_t j = 0; j < certs.size(); ++j) {
      if (j != i && LooksIssued(certs[i], certs[j])) return true;
    }
    return false;
  };
  std::optional<size_t> leaf;
  if (issued_another(0)) {
    for (size_t i = 1; i < certs.size(); ++i) {
      if ((X509_get_extension_flags(certs[i]) & EXFLAG_CA) || issued_another(i)) continue;
      if (leaf) {
        leaf.reset();  // Two candidates: which one is meant cannot be told.
        break;
      }
      leaf = i;
    }
  }
  ClearOpenSslErrors();
  return leaf;
}

std::string MisplacedLeafHint(const std::vector<X509*>& certs, size_t leaf_index) {
  std::string name =
      TruncateUtf8(NameToString(X509_get_subject_name(certs[leaf_index])), kMaxNameBytes);
  return absl::StrCat("the leaf must come first; found at position ", leaf_index + 1, " (\"",
                      name, "\")");
}

std::vector<X509*> OrderedChain(const std::vector<UniqueX509>& certs) {
  std::vector<X509*> out;
  if (certs.empty()) return out;
  out.push_back(certs[0].get());
  std::vector<bool> used(certs.size(), false);
  used[0] = true;
  for (;;) {
    X509* last = out.back();
    if (Issued(last, last)) break;  // Reached a self-signed root.
    bool found = false;
    for (size_t i = 0; i < certs.size(); ++i) {
      if (!used[i] && Issued(certs[i].get(), last)) {
        out.push_back(certs[i].get());
        used[i] = true;
        found = true;
        break;
      }
    }
    if (!found) break;
  }
  ClearOpenSslErrors();
  return out;
}

absl::StatusOr<LoadedChain> LoadCertificateChain(absl::string_view pem, absl::string_view what) {
  auto certs = CertsFromPem(pem, what);
  if (!certs.ok()) return certs.status();
  LoadedChain chain;
  chain.certs = *std::move(certs);
  for (size_t i = 0; i + 1 < chain.certs.size(); ++i) {
    if (Issued(chain.certs[i + 1].get(), chain.certs[i].get())) continue;
    std::vector<X509*> ordered = OrderedChain(chain.certs);
    std::vector<std::string> names;
    for (X509* c : ordered) names.push_back(absl::StrCat("\"", NameToString(X509_get_subject_name(c)), "\""));
    chain.warnings.push_back(absl::StrCat(
        what, ": certificate ", i + 2, " (\"",
        NameToString(X509_get_subject_name(chain.certs[i + 1].get())),
        "\") did not issue certificate ", i + 1, " (\"",
        NameToString(X509_get_subject_name(chain.certs[i].get())),
        "\"); expected the order leaf, intermediates, root",
        ordered.size() == chain.certs.size()
            ? absl::StrCat(": ", absl::StrJoin(names, ", "))
            : ""));
    break;
  }
  ClearOpenSslErrors();
  return chain;
}

}  // namespace edge::trust

#include "trustd/verify_text.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace edge::trustd {
namespace {

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

// "  label        value\n", continuation lines indented under the value.
void Field(std::string* out, absl::string_view label, absl::string_view value) {
  if (value.empty()) return;
  absl::StrAppend(out, "  ", label, std::string(13 - label.size(), ' '), value, "\n");
}

}  // namespace

std::string DecisionText(const trust::Decision& d, trust::Purpose purpose, absl::string_view name) {
  std::string out = absl::StrCat(
      d.allowed ? "allowed" : "refused", ": ", trust::PurposeName(purpose), " peer",
      name.empty() ? std::string(" (host name not checked)") : absl::StrCat(" \"", name, "\""));
  if (!d.allowed) {
    absl::StrAppend(&out, ": ", trust::ReasonName(d.reason));
    if (d.openssl_error != 0) {
      absl::StrAppend(&out, " (openssl error ", d.openssl_error, ": ", d.openssl_error_text, ")");
    }
  }
  absl::StrAppend(&out, "\n");
  Field(&out, "detail", d.detail);
  Field(&out, "hint", d.hint);
  if (!d.failing_subject.empty()) {
    Field(&out, "failing",
          absl::StrCat(d.failing_subject, d.failing_issuer.empty() ? "" : ", issued by ",
                       d.failing_issuer));
  }
  Field(&out, "leaf sha256", d.leaf_sha256);
  for (size_t i = 0; i < d.chain.size(); ++i) {
    const trust::CertificateSummary& c = d.chain[i];
    std::string indent(15 + 3, ' ');
    absl::StrAppend(&out, i == 0 ? "  chain        " : std::string(15, ' '), i, "  ", c.subject,
                    "\n", indent, "issued by ", c.issuer, ", valid ", Day(c.not_before), " to ",
                    Day(c.not_after), "\n", indent, "sha256 ", c.sha256, "\n");
  }
  for (const std::string& w : d.warnings) Field(&out, "warning", w);
  return out;
}

}  // namespace edge::trustd

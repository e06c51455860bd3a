#include "services/trust/decision.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace edge::trust {

absl::string_view PurposeName(Purpose purpose) {
  switch (purpose) {
    case Purpose::kPlatform: return "platform";
    case Purpose::kEdge: return "edge";
    case Purpose::kClient: return "client";
    case Purpose::kAcme: return "acme";
  }
  return "unknown";
}

bool ParsePurpose(absl::string_view name, Purpose* purpose) {
  for (Purpose p : {Purpose::kPlatform, Purpose::kEdge, Purpose::kClient, Purpose::kAcme}) {
    if (name == PurposeName(p)) {
      *purpose = p;
      return true;
    }
  }
  return false;
}

absl::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kOk: return "OK";
    case Reason::kUnknownIssuer: return "UNKNOWN_ISSUER";
    case Reason::kSelfSignedInChain: return "SELF_SIGNED_IN_CHAIN";
    case Reason::kSelfSignedLeaf: return "SELF_SIGNED_LEAF";
    case Reason::kExpired: return "EXPIRED";
    case Reason::kNotYetValid: return "NOT_YET_VALID";
    case Reason::kNameMismatch: return "NAME_MISMATCH";
    case Reason::kMissingSan: return "MISSING_SAN";
    case Reason::kNotAllowlisted: return "NOT_ALLOWLISTED";
    case Reason::kPinMismatch: return "PIN_MISMATCH";
    case Reason::kWeakSignature: return "WEAK_SIGNATURE";
    case Reason::kWeakKey: return "WEAK_KEY";
    case Reason::kWrongUsage: return "WRONG_USAGE";
    case Reason::kRevoked: return "REVOKED";
    case Reason::kRevocationUnknown: return "REVOCATION_UNKNOWN";
    case Reason::kCriteriaMismatch: return "CRITERIA_MISMATCH";
    case Reason::kMalformedCertificate: return "MALFORMED_CERTIFICATE";
    case Reason::kNameConstraintViolation: return "NAME_CONSTRAINT_VIOLATION";
    case Reason::kPathLengthExceeded: return "PATH_LENGTH_EXCEEDED";
    case Reason::kPolicyViolation: return "POLICY_VIOLATION";
    case Reason::kInvalidChain: return "INVALID_CHAIN";
    case Reason::kTrustdUnavailable: return "TRUSTD_UNAVAILABLE";
  }
  return "UNKNOWN";
}

std::string Decision::Summary() const {
  std::string out(ReasonName(reason));
  if (openssl_error != 0) {
    absl::StrAppend(&out, " (openssl error ", openssl_error, ": ",
                    TruncateUtf8(openssl_error_text, kMaxSentenceBytes), ")");
  }
  if (!detail.empty()) absl::StrAppend(&out, ": ", TruncateUtf8(detail, kMaxSentenceBytes));
  if (!hint.empty()) absl::StrAppend(&out, "; hint: ", TruncateUtf8(hint, kMaxSentenceBytes));
  return out;
}

std::string TruncateUtf8(absl::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  constexpr absl::string_view kEllipsis = "...";
  size_t keep = max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : max_bytes;
  // Back off continuation bytes (10xxxxxx) so that no character is cut in two.
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  std::string out(s.substr(0, keep));
  if (max_bytes >= kEllipsis.size()) out.append(kEllipsis.data(), kEllipsis.size());
  return out;
}

void BoundDecision(Decision* d) {
  auto cut = [](std::string* s, size_t max) {
    if (s->size() > max) *s = TruncateUtf8(*s, max);
  };
  cut(&d->openssl_error_text, kMaxSentenceBytes);
  cut(&d->detail, kMaxSentenceBytes);
  cut(&d->hint, kMaxSentenceBytes);
  cut(&d->failing_subject, kMaxNameBytes);
  cut(&d->failing_issuer, kMaxNameBytes);
  cut(&d->leaf_sha256, kMaxNameBytes);
  if (d->chain.size() > kMaxSummaryCertificates) d->chain.resize(kMaxSummaryCertificates);
  for (CertificateSummary& c : d->chain) {
    cut(&c.subject, kMaxNameBytes);
    cut(&c.issuer, kMaxNameBytes);
    cut(&c.sha256, kMaxNameBytes);
  }
  if (d->warnings.size() > kMaxWarnings) d->warnings.resize(kMaxWarnings);
  for (std::string& w : d->warnings) cut(&w, kMaxSentenceBytes);
}

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

static std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Decision::ToJson() const {
  std::vector<std::string> certs;
  for (const CertificateSummary& c : chain) {
    certs.push_back(absl::StrCat("{\"subject\":", JsonQuote(c.subject),
                                 ",\"issuer\":", JsonQuote(c.issuer),
                                 ",\"sha256\":", JsonQuote(c.sha256),
                                 ",\"not_before\":", JsonQuote(Rfc3339(c.not_before)),
                                 ",\"not_after\":", JsonQuote(Rfc3339(c.not_after)), "}"));
  }
  std::vector<std::string> warns;
  for (const std::string& w : warnings) warns.push_back(JsonQuote(w));
  return absl::StrCat(
      "{\"allowed\":", allowed ? "true" : "false", ",\"reason\":", JsonQuote(ReasonName(reason)),
      ",\"openssl_error\":", openssl_error,
      ",\"openssl_error_text\":", JsonQuote(openssl_error_text),
      ",\"detail\":", JsonQuote(detail), ",\"hint\":", JsonQuote(hint),
      ",\"failing_subject\":", JsonQuote(failing_subject),
      ",\"failing_issuer\":", JsonQuote(failing_issuer),
      ",\"leaf_sha256\":", JsonQuote(leaf_sha256), ",\"chain\":[", absl::StrJoin(certs, ","),
      "],\"warnings\":[", absl::StrJoin(warns, ","), "]}");
}

}  // namespace edge::trust

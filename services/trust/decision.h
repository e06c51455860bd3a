// Decision: what the trust engine says about one peer chain, and why.
//
//   Decision d = validator->Validate(chain, Purpose::kEdge, "lsr.local", absl::Now());
//   if (!d.allowed) LOG("refused: " + d.Summary());
//
// Everything in a Decision is safe to log: certificate names, fingerprints and dates,
// never key material or secrets. Its size is bounded whatever the peer sent (see the
// limits below): trustd keeps thousands of decisions in its cache, so a peer that sends
// certificates with 60 KB subjects must not make each one cost hundreds of KB.
#ifndef SERVICES_TRUST_DECISION_H_
#define SERVICES_TRUST_DECISION_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace edge::trust {

// Who the peer is to us; each purpose has its own trust anchors and pins.
enum class Purpose {
  kPlatform,  // edged -> the platform (AlwaysOn over wss): certificates.cert_chain.
  kEdge,      // restd -> auto_bind endpoints: http_client_ca_certs, else cert_chain.
  kClient,    // HTTPS clients presenting certificates to restd: certificates.cert_chain.
  kAcme,      // trustd -> its ACME CA (trustd.acme): trustd.acme.ca_certificates only.
};

absl::string_view PurposeName(Purpose purpose);  // "platform", "edge", "client", "acme".
// Parses "platform"/"edge"/"client"/"acme"; false when `name` is none of them.
bool ParsePurpose(absl::string_view name, Purpose* purpose);

// Why a chain was accepted or refused. Names (ReasonName) are stable: users search them.
enum class Reason {
  kOk,
  kUnknownIssuer,          // No path to a trust anchor (OpenSSL 2, 20, 21).
  kSelfSignedInChain,      // A self-signed certificate that is not trusted (19).
  kSelfSignedLeaf,         // The peer's own certificate is self-signed (18).
  kExpired,                // A certificate's notAfter has passed (10).
  kNotYetValid,            // A certificate's notBefore is in the future (9).
  kNameMismatch,           // The expected host name or IP is not in the leaf (62, 64).
  kMissingSan,             // Strict policy: the leaf has no subjectAltName.
  kNotAllowlisted,         // Leaf SHA-256 not in certificates.fingerprint_allowlist.
  kPinMismatch,            // No certificate or key in the chain matches a trustd pin.
  kWeakSignature,          // MD5 or SHA-1 signature (strict policy).
  kWeakKey,                // RSA under 2048 bits, odd RSA size, DSA, unusual curve.
  kWrongUsage,             // EKU/keyUsage does not allow the purpose (26).
  kRevoked,                // On a configured CRL (23).
  kRevocationUnknown,      // CRLs are configured but a certificate's status cannot be
                           // established: no usable CRL from its issuer (3, 12, 8, 44...).
  kCriteriaMismatch,       // certificates.validation_criteria not met.
  kMalformedCertificate,   // Not DER, or violates RFC 5280 encoding rules.
  kNameConstraintViolation,// A CA's name constraints exclude the leaf's names (47, 48).
  kPathLengthExceeded,     // A CA's pathLenConstraint or the depth limit (25, 22).
  kPolicyViolation,        // Another rule of the strict policy (v1 CA, serial number...).
  kInvalidChain,           // Any other verification failure (bad signature, not a CA...).
  kTrustdUnavailable,      // Set by callers when trustd cannot be asked: fail closed.
};

absl::string_view ReasonName(Reason reason);  // "UNKNOWN_ISSUER", ...

// What a Decision holds at most. ChainValidator applies them (BoundDecision) to every
// decision it returns; a string over its limit is cut on a UTF-8 character boundary and
// ends in "...".
// Entries of `chain`: a built path never has more (ChainValidator caps the depth there).
inline constexpr size_t kMaxSummaryCertificates = 20;
// Entries of `chain` when no path was built (the chain could not be parsed into a path, or
// validation is off): the leaf and at most three more, as presented.
inline constexpr size_t kMaxUnbuiltSummaryCertificates = 4;
// subject, issuer, failing_subject, failing_issuer (and each name quoted in a sentence).
inline constexpr size_t kMaxNameBytes = 256;
// detail, hint and each warning: one sentence that may quote a few names.
inline constexpr size_t kMaxSentenceBytes = 2048;
inline constexpr size_t kMaxWarnings = 16;
// Decision::Summary(): the reason, the OpenSSL error text, detail and hint.
inline constexpr size_t kMaxSummaryBytes = 3 * kMaxSentenceBytes + 128;

struct CertificateSummary {
  std::string subject;
  std::string issuer;
  std::string sha256;  // "AA:BB:..." (openssl x509 -noout -fingerprint -sha256).
  absl::Time not_before;
  absl::Time not_after;
};

struct Decision {
  bool allowed = false;
  Reason reason = Reason::kInvalidChain;
  int openssl_error = 0;           // X509_V_ERR_* where one applies ("error 20").
  std::string openssl_error_text;  // OpenSSL's text for that code.
  std::string detail;              // What exactly failed, one sentence.
  std::string hint;                // One line: what to change, in which file or field.
  std::string failing_subject;     // The certificate the failure is about.
  std::string failing_issuer;
  std::string leaf_sha256;
  std::vector<CertificateSummary> chain;  // As verified (leaf first), else as presented.
  std::vector<std::string> warnings;      // Relaxations that were used to accept.

  // One log line: "NAME_MISMATCH (openssl error 62: hostname mismatch): <detail>; hint:
  // <hint>" (the parts that are set). Bounded whatever the Decision holds: each part is cut
  // to kMaxSentenceBytes, so the line is under kMaxSummaryBytes.
  std::string Summary() const;
  // One JSON object: allowed, reason, openssl_error, openssl_error_text, detail, hint,
  // failing_subject, failing_issuer, leaf_sha256, chain[], warnings[].
  std::string ToJson() const;
};

// `s` when it has at most `max_bytes` bytes; else its longest prefix that ends on a UTF-8
// character boundary and leaves room for "...", followed by "..." (at most `max_bytes` in
// all; `max_bytes` under 3 gives a prefix of `s` without "..."). Valid UTF-8 in, valid
// UTF-8 out: proto3 string fields must be.
std::string TruncateUtf8(absl::string_view s, size_t max_bytes);

// Applies the limits above to `d`: cuts every string, keeps the first
// kMaxSummaryCertificates entries of `chain` and the first kMaxWarnings warnings.
void BoundDecision(Decision* d);

// JSON string literal for `s` (quotes included), escaping per RFC 8259.
std::string JsonQuote(absl::string_view s);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_DECISION_H_

#include "proto/trust/v1/decision_proto.h"

namespace edge::trust {
namespace {

struct ReasonPair {
  Reason reason;
  v1::Reason proto;
};

constexpr ReasonPair kReasons[] = {
    {Reason::kOk, v1::OK},
    {Reason::kUnknownIssuer, v1::UNKNOWN_ISSUER},
    {Reason::kSelfSignedInChain, v1::SELF_SIGNED_IN_CHAIN},
    {Reason::kSelfSignedLeaf, v1::SELF_SIGNED_LEAF},
    {Reason::kExpired, v1::EXPIRED},
    {Reason::kNotYetValid, v1::NOT_YET_VALID},
    {Reason::kNameMismatch, v1::NAME_MISMATCH},
    {Reason::kMissingSan, v1::MISSING_SAN},
    {Reason::kNotAllowlisted, v1::NOT_ALLOWLISTED},
    {Reason::kPinMismatch, v1::PIN_MISMATCH},
    {Reason::kWeakSignature, v1::WEAK_SIGNATURE},
    {Reason::kWeakKey, v1::WEAK_KEY},
    {Reason::kWrongUsage, v1::WRONG_USAGE},
    {Reason::kRevoked, v1::REVOKED},
    {Reason::kRevocationUnknown, v1::REVOCATION_UNKNOWN},
    {Reason::kCriteriaMismatch, v1::CRITERIA_MISMATCH},
    {Reason::kMalformedCertificate, v1::MALFORMED_CERTIFICATE},
    {Reason::kNameConstraintViolation, v1::NAME_CONSTRAINT_VIOLATION},
    {Reason::kPathLengthExceeded, v1::PATH_LENGTH_EXCEEDED},
    {Reason::kPolicyViolation, v1::POLICY_VIOLATION},
    {Reason::kInvalidChain, v1::INVALID_CHAIN},
    {Reason::kTrustdUnavailable, v1::TRUSTD_UNAVAILABLE},
};

}  // namespace

v1::Decision ToProto(const Decision& d) {
  v1::Decision out;
  out.set_allowed(d.allowed);
  out.set_reason(v1::INVALID_CHAIN);
  for (const ReasonPair& p : kReasons) {
    if (p.reason == d.reason) out.set_reason(p.proto);
  }
  out.set_openssl_error(d.openssl_error);
  out.set_openssl_error_text(d.openssl_error_text);
  out.set_detail(d.detail);
  out.set_hint(d.hint);
  out.set_leaf_sha256(d.leaf_sha256);
  out.set_failing_subject(d.failing_subject);
  out.set_failing_issuer(d.failing_issuer);
  for (const CertificateSummary& c : d.chain) {
    v1::CertificateSummary* s = out.add_chain();
    s->set_subject(c.subject);
    s->set_issuer(c.issuer);
    s->set_sha256(c.sha256);
    s->set_not_before_unix(absl::ToUnixSeconds(c.not_before));
    s->set_not_after_unix(absl::ToUnixSeconds(c.not_after));
  }
  for (const std::string& w : d.warnings) out.add_warnings(w);
  return out;
}

Decision FromProto(const v1::Decision& p) {
  Decision d;
  d.allowed = p.allowed();
  d.reason = Reason::kInvalidChain;
  for (const ReasonPair& r : kReasons) {
    if (r.proto == p.reason()) d.reason = r.reason;
  }
  // A decision that says "allowed" with a reason other than OK is not one we understand:
  // refuse rather than guess.
  if (d.allowed && d.reason != Reason::kOk) d.allowed = false;
  d.openssl_error = p.openssl_error();
  d.openssl_error_text = p.openssl_error_text();
  d.detail = p.detail();
  d.hint = p.hint();
  d.leaf_sha256 = p.leaf_sha256();
  d.failing_subject = p.failing_subject();
  d.failing_issuer = p.failing_issuer();
  for (const v1::CertificateSummary& s : p.chain()) {
    d.chain.push_back(CertificateSummary{s.subject(), s.issuer(), s.sha256(),
                                         absl::FromUnixSeconds(s.not_before_unix()),
                                         absl::FromUnixSeconds(s.not_after_unix())});
  }
  for (const std::string& w : p.warnings()) d.warnings.push_back(w);
  return d;
}

v1::Purpose ToProto(Purpose purpose) {
  switch (purpose) {
    case Purpose::kPlatform: return v1::PLATFORM;
    case Purpose::kEdge: return v1::EDGE;
    case Purpose::kClient: return v1::CLIENT;
    case Purpose::kAcme: return v1::ACME;
  }
  return v1::PURPOSE_UNSPECIFIED;
}

bool FromProto(v1::Purpose purpose, Purpose* out) {
  switch (purpose) {
    case v1::PLATFORM: *out = Purpose::kPlatform; return true;
    case v1::EDGE: *out = Purpose::kEdge; return true;
    case v1::CLIENT: *out = Purpose::kClient; return true;
    case v1::ACME: *out = Purpose::kAcme; return true;
    default: return false;
  }
}

}  // namespace edge::trust

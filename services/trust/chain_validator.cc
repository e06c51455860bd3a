#include "services/trust/chain_validator.h"

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/fingerprint.h"
#include "services/trust/cert_chain.h"
#include "services/trust/path_builder.h"
#include "services/trust/signature_cache.h"
#include "services/trust/strict_checks.h"

namespace edge::trust {
namespace {

// A BIO that keeps the first `limit` bytes written to it and then fails: X509_NAME_print_ex
// stops at the first failed write, so a name is printed only as far as it is kept.
struct BoundedSink {
  std::string out;
  size_t limit;
};

int BoundedSinkWrite(BIO* bio, const char* data, int len) {
  auto* sink = static_cast<BoundedSink*>(BIO_get_data(bio));
  if (len <= 0) return 0;
  size_t n = std::min(sink->limit - sink->out.size(), static_cast<size_t>(len));
  sink->out.append(data, n);
  return n == static_cast<size_t>(len) ? len : -1;
}

// NameToString's RFC 2253 text, only its first `limit` bytes (a prefix of NameToString).
std::string NamePrefix(const X509_NAME* name, size_t limit) {
  if (name == nullptr) return "";
  static BIO_METHOD* const kSink = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bounded name");
    BIO_meth_set_write(m, BoundedSinkWrite);
    return m;
  }();
  BoundedSink sink{std::string(), limit};
  UniqueBio bio(BIO_new(kSink));
  if (!bio) {
    ClearOpenSslErrors();
    return TruncateUtf8(NameToString(name), limit);
  }
  BIO_set_data(bio.get(), &sink);
  BIO_set_init(bio.get(), 1);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  ClearOpenSslErrors();
  return std::move(sink.out);
}

// A certificate name as Decisions hold it: RFC 2253, cut to kMaxNameBytes. Every name that
// goes into a Decision (summaries, failing_*, names quoted in details and hints) is cut
// here, before it is copied into sentences: a peer may send 60 KB subjects. Printed only as
// far as it is kept: printing every name of a 16-certificate chain of 13 KB names in full
// took a third of its validation time.
std::string BoundedName(const X509_NAME* name) {
  return TruncateUtf8(NamePrefix(name, kMaxNameBytes + 1), kMaxNameBytes);
}
std::string Subject(X509* cert) { return BoundedName(X509_get_subject_name(cert)); }
std::string Issuer(X509* cert) { return BoundedName(X509_get_issuer_name(cert)); }

// A path has at most this many intermediates, whatever pp.max_depth says: together with
// the leaf and the anchor, kMaxSummaryCertificates, so that the summary of a built path is
// always the whole path (the decision cache keeps a decision until the earliest notAfter in
// it). No real PKI comes near this.
constexpr int kMaxPathIntermediates = static_cast<int>(kMaxSummaryCertificates) - 2;

// SAN entries quoted in a name mismatch; the rest are counted.
constexpr size_t kMaxQuotedNames = 8;

CertificateSummary Summarize(X509* cert) {
  CertificateSummary s;
  s.subject = Subject(cert);
  s.issuer = Issuer(cert);
  s.sha256 = Sha256Fingerprint(cert);
  s.not_before = Asn1TimeToTime(X509_get0_notBefore(cert));
  s.not_after = Asn1TimeToTime(X509_get0_notAfter(cert));
  return s;
}

bool IsCrlError(int err);

Reason ReasonForOpenSslError(int err) {
  // RFC 5280 6.3: with CRLs configured, a certificate whose status no usable CRL gives is
  // neither good nor revoked.
  if (IsCrlError(err)) return Reason::kRevocationUnknown;
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return Reason::kUnknownIssuer;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return Reason::kSelfSignedLeaf;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return Reason::kSelfSignedInChain;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return Reason::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return Reason::kNotYetValid;
    case X509_V_ERR_NO_EXPLICIT_POLICY:
      return Reason::kPolicyViolation;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return Reason::kNameMismatch;
    case X509_V_ERR_CERT_REVOKED:
      return Reason::kRevoked;
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return Reason::kWrongUsage;
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return Reason::kPathLengthExceeded;
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
      return Reason::kNameConstraintViolation;
#ifndef OPENSSL_IS_BORINGSSL  // BoringSSL has no security levels.
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
      return Reason::kWeakKey;
    case X509_V_ERR_CA_MD_TOO_WEAK:
      return Reason::kWeakSignature;
#endif
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_INVALID_NON_CA:
      return Reason::kInvalidChain;
    default:
      // X509_STRICT's encoding rules (missing AKI/SKI, critical SAN with a subject, empty
      // names...) and unhandled critical extensions.
      if (err >= X509_V_ERR_INVALID_EXTENSION || err == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION ||
          err == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD ||
          err == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD) {
        return Reason::kMalformedCertificate;
      }
      return Reason::kInvalidChain;
  }
}

std::string NameField(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string SanList(X509* cert) {
  std::vector<std::string> names;
  UniqueGeneralNames sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      names.push_back(absl::StrCat("DNS:", absl::string_view(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s)))));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      if (ASN1_STRING_length(ip) == 4) {
        const unsigned char* p = ASN1_STRING_get0_data(ip);
        names.push_back(absl::StrCat("IP:", p[0], ".", p[1], ".", p[2], ".", p[3]));
      } else {
        names.push_back("IP:<v6>");
      }
    }
  }
  if (names.empty()) {
    std::string cn = TruncateUtf8(NameField(cert, NID_commonName), kMaxNameBytes);
    return cn.empty() ? "no names" : absl::StrCat("CN=", cn, " (no subjectAltName)");
  }
  size_t total = names.size();
  if (total > kMaxQuotedNames) names.resize(kMaxQuotedNames);
  for (std::string& n : names) n = TruncateUtf8(n, kMaxNameBytes);
  std::string out = absl::StrJoin(names, ", ");
  if (total > names.size()) absl::StrAppend(&out, " and ", total - names.size(), " more");
  return out;
}

std::string FormatDate(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

// Signature checks one decision may spend on candidate paths (each path costs one per
// certificate below its anchor, twice that when CRLs are checked): a hostile bag of
// certificates cannot make a decision expensive.
constexpr int kMaxSignatureChecks = 100;
// Issuer candidates the path builder may examine per decision.
constexpr int kMaxPathBuildingSteps = 1000;

// One step's refusal.
struct Failure {
  Reason reason = Reason::kInvalidChain;
  std::string detail;
  X509* cert = nullptr;  // The certificate it is about (borrowed); null: the leaf.
  std::string hint;
  int openssl_error = 0;
  // The same whichever path is tried (a rule about the leaf alone): no other path is tried.
  bool every_path = false;
};

// One candidate path, checked.
struct PathOutcome {
  std::vector<X509*> chain;  // Leaf first, as verified (or built as far as it was).
  std::optional<Failure> failure;
  std::vector<std::string> warnings;
  int bad_edge = -1;  // chain[bad_edge]'s signature does not verify under the next's key.
  // The chain is the leaf alone, self-signed, let through by certificates.allow_self_signed.
  bool self_signed_leaf = false;
};

bool IsCrlError(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
      return true;
    default:
      return false;
  }
}

// The hint for a refusal OpenSSL's verification found.
std::string HintForOpenSslFailure(Reason reason, X509* bad, const PurposePolicy& pp,
                                  bool server, const std::string& error_text) {
  std::string subject = Subject(bad);
  std::string issuer = Issuer(bad);
  switch (reason) {
    case Reason::kUnknownIssuer:
      return absl::StrCat("add the certificate of \"", issuer, "\" (the issuer of \"", subject,
                          "\") to ", pp.store->source,
                          ", or have the peer send its intermediate certificates");
    case Reason::kSelfSignedLeaf:
      return absl::StrCat("the peer's certificate \"", subject, "\" is self-signed: add it to ",
                          pp.store->source,
                          ", or set certificates.allow_self_signed (insecure)");
    case Reason::kSelfSignedInChain:
      return absl::StrCat("the chain ends at \"", subject,
                          "\", which is not trusted: add it to ", pp.store->source,
                          " if you trust it");
    case Reason::kExpired:
      return absl::StrCat("\"", subject, "\" expired on ",
                          FormatDate(Asn1TimeToTime(X509_get0_notAfter(bad))),
                          ": renew it on the peer (or check this machine's clock)");
    case Reason::kNotYetValid:
      return absl::StrCat("\"", subject, "\" is valid only from ",
                          FormatDate(Asn1TimeToTime(X509_get0_notBefore(bad))),
                          ": check this machine's clock");
    case Reason::kRevoked:
      return absl::StrCat("\"", subject, "\" is revoked by a CRL in ", pp.store->source,
                          ": the peer needs a new certificate");
    case Reason::kRevocationUnknown:
      return absl::StrCat("CRLs are configured for ", pp.store->source,
                          " but none usable says whether \"", subject,
                          "\" is revoked: add a current CRL signed by \"", issuer,
                          "\" (with a CRLNumber, RFC 5280 5.2.3), or remove that trust "
                          "store's CRL files to stop checking revocation");
    case Reason::kWrongUsage:
      return absl::StrCat("\"", subject, "\" may not be used as a TLS ",
                          server ? "server" : "client",
                          " certificate: reissue it with extendedKeyUsage ",
                          server ? "serverAuth" : "clientAuth");
    case Reason::kPathLengthExceeded:
      return "the chain is longer than a CA's pathLenConstraint or the depth limit allows";
    case Reason::kNameConstraintViolation:
      return "a CA in the chain is not allowed to issue for the peer's names";
    case Reason::kPolicyViolation:
      return "the chain has no certificate policy that every CA in it allows, and one of them "
             "requires an explicit policy (RFC 5280 6.1): reissue the certificates with the "
             "policies their CAs require";
    default:
      return absl::StrCat("the certificate \"", subject, "\" is not acceptable (", error_text,
                          ")");
  }
}

// What one X509_verify_cert call needs beyond OpenSSL's context: the errors the policy
// tolerates (and whether the tolerance was used), and the signatures already verified.
struct Tolerance {
  bool allow_self_signed;
  SignatureCache* signatures;
  time_t at;  // The verification time (X509_VERIFY_PARAM_set_time).
  bool self_signed_used = false;
};

#ifndef OPENSSL_IS_BORINGSSL
// OpenSSL 3 lets the signature step be replaced (X509_STORE_CTX_set_verify) and tells it
// how to report; BoringSSL has neither X509_STORE_CTX_get_verify_cb nor the setters of the
// error depth and certificate, so there its own step checks every signature.

// Reports `err` about `cert` at `depth` to the verification callback, as OpenSSL's own
// checks do; false when the callback says to stop.
bool ReportVerifyError(X509_STORE_CTX* ctx, X509* cert, int depth, int err) {
  X509_STORE_CTX_set_error_depth(ctx, depth);
  X509_STORE_CTX_set_current_cert(ctx, cert);
  X509_STORE_CTX_set_error(ctx, err);
  return X509_STORE_CTX_get_verify_cb(ctx)(0, ctx) != 0;
}

// RFC 5280 6.1.3 (a)(2): the certificate's validity period includes the verification time
// (the trust anchor's too, as OpenSSL checks it). X509_cmp_time: 0 is a malformed time.
bool CheckValidityPeriod(X509_STORE_CTX* ctx, X509* cert, int depth) {
  time_t at = static_cast<Tolerance*>(X509_STORE_CTX_get_app_data(ctx))->at;
  int cmp = X509_cmp_time(X509_get0_notBefore(cert), &at);
  if (cmp == 0 && !ReportVerifyError(ctx, cert, depth, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD)) {
    return false;
  }
  if (cmp > 0 && !ReportVerifyError(ctx, cert, depth, X509_V_ERR_CERT_NOT_YET_VALID)) {
    return false;
  }
  cmp = X509_cmp_time(X509_get0_notAfter(cert), &at);
  if (cmp == 0 && !ReportVerifyError(ctx, cert, depth, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD)) {
    return false;
  }
  return cmp > 0 || ReportVerifyError(ctx, cert, depth, X509_V_ERR_CERT_HAS_EXPIRED);
}

// The signature and validity step of X509_verify_cert (OpenSSL 3's internal_verify, in the
// same order and with the same errors), except that a signature the SignatureCache already
// verified is not checked again. From the top of the chain down: RFC 5280 6.1.4 (n) the
// issuer's keyUsage allows keyCertSign, 6.1.3 (a)(1) the signature verifies under the
// issuer's key, 6.1.3 (a)(2) the validity period includes the time. The top certificate is
// the trust anchor (X509_V_FLAG_PARTIAL_CHAIN: it need not be self-issued): trusted as
// configured (RFC 5280 6.1.1 (d)), only its validity is checked, as OpenSSL does.
int VerifySignaturesAndValidity(X509_STORE_CTX* ctx) {
  auto* t = static_cast<Tolerance*>(X509_STORE_CTX_get_app_data(ctx));
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  const int top = sk_X509_num(chain) - 1;
  for (int n = top; n >= 0; --n) {
    X509* subject = sk_X509_value(chain, n);
    if (n < top) {
      X509* issuer = sk_X509_value(chain, n + 1);
      // RFC 5280 6.1.4 (n); a proxy certificate (RFC 3820 3.8) needs digitalSignature.
      bool proxy = (X509_get_extension_flags(subject) & EXFLAG_PROXY) != 0;
      uint32_t needed = proxy ? KU_DIGITAL_SIGNATURE : KU_KEY_CERT_SIGN;
      if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
          !(X509_get_key_usage(issuer) & needed) &&
          !ReportVerifyError(ctx, issuer, n + 1,
                             proxy ? X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE
                                   : X509_V_ERR_KEYUSAGE_NO_CERTSIGN)) {
        return 0;
      }
      if (X509_get0_pubkey(issuer) == nullptr) {
        ClearOpenSslErrors();
        if (!ReportVerifyError(ctx, issuer, n + 1,
                               X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)) {
          return 0;
        }
      } else if (!t->signatures->Verify(subject, issuer) &&
                 !ReportVerifyError(ctx, subject, n, X509_V_ERR_CERT_SIGNATURE_FAILURE)) {
        return 0;
      }
    }
    if (!CheckValidityPeriod(ctx, subject, n)) return 0;
    // Success at this depth (an earlier tolerated error stays the context's error).
    X509_STORE_CTX_set_error_depth(ctx, n);
    X509_STORE_CTX_set_current_cert(ctx, subject);
    if (!X509_STORE_CTX_get_verify_cb(ctx)(1, ctx)) return 0;
  }
  return 1;
}
#endif  // OPENSSL_IS_BORINGSSL

// RFC 5280 section 6 by OpenSSL: signatures, validity, basic constraints and path length
// (self-issued certificates not counted), key usage, name constraints, certificate policies
// (initial policy set anyPolicy; explicit policy, mapping and inhibit anyPolicy as the CA
// certificates require), unknown critical extensions, the purpose's EKU, and revocation
// (every certificate below the anchor, when CRLs are configured; RFC 5280 6.3).
int VerifyCallback(int ok, X509_STORE_CTX* c) {
  if (ok) return 1;
  auto* t = static_cast<Tolerance*>(X509_STORE_CTX_get_app_data(c));
  int err = X509_STORE_CTX_get_error(c);
  // A trust anchor's revocation status is not checked (RFC 5280 6.3: revocation is part of
  // validating the path's certificates; the anchor is trusted as configured).
  if (err == X509_V_ERR_UNABLE_TO_GET_CRL) {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(c);
    if (chain != nullptr && X509_STORE_CTX_get_error_depth(c) == sk_X509_num(chain) - 1) {
      return 1;
    }
    return 0;
  }
#ifdef X509_V_ERR_CA_CERT_MISSING_KEY_USAGE  // Not in BoringSSL, which never reports it.
  // RFC 5280 4.2.1.3 makes keyUsage in CA certificates a SHOULD; X509_STRICT a MUST.
  if (err == X509_V_ERR_CA_CERT_MISSING_KEY_USAGE) return 1;
#endif
  // The validity period includes notAfter itself (RFC 5280 4.1.2.5); OpenSSL 3.0 treats
  // that last second as expired.
  if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
    X509* cert = X509_STORE_CTX_get_current_cert(c);
    int days = 0, secs = 0;
    ASN1_TIME* now = ASN1_TIME_set(nullptr, t->at);
    bool exact = cert != nullptr && now != nullptr &&
                 ASN1_TIME_diff(&days, &secs, X509_get0_notAfter(cert), now) == 1 &&
                 days == 0 && secs == 0;
    ASN1_TIME_free(now);
    if (exact) return 1;
  }
#ifdef OPENSSL_IS_BORINGSSL
  // BoringSSL does not process iPAddress name constraints: left to CheckStrictPolicy, which
  // does (RFC 5280 4.2.1.10), when they are the only kind BoringSSL lacks.
  if (err == X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE) {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(c);
    std::vector<X509*> certs;
    for (int i = 0; chain != nullptr && i < static_cast<int>(sk_X509_num(chain)); ++i) {
      certs.push_back(sk_X509_value(chain, i));
    }
    return OnlyKnownNameConstraintTypes(certs) ? 1 : 0;
  }
#endif
  if (err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT && t->allow_self_signed) {
    t->self_signed_used = true;
    return 1;
  }
  return 0;
}

// The verification parameters of step 1: X509_STRICT, partial chains (an anchor need not be
// self-signed), policy processing from anyPolicy, CRLs for every certificate when the trust
// store has some (with extended scope and deltas), the purpose, time and depth.
void ConfigureVerification(X509_VERIFY_PARAM* param, const PurposePolicy& pp, bool server,
                           absl::Time now, int depth) {
  unsigned long flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN |
                        X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_POLICY_CHECK;
  if (!pp.store->crls.empty()) {
    flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
             X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
  }
  X509_VERIFY_PARAM_set_flags(param, flags);
  // RFC 5280 6.1.1 (c): user-initial-policy-set = {anyPolicy}. OpenSSL takes an empty set
  // as "no policy acceptable" once a CA requires an explicit policy.
  X509_VERIFY_PARAM_add0_policy(param, OBJ_dup(OBJ_nid2obj(NID_any_policy)));
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  X509_VERIFY_PARAM_set_purpose(param, server ? X509_PURPOSE_SSL_SERVER
                                              : X509_PURPOSE_SSL_CLIENT);
  X509_VERIFY_PARAM_set_depth(param, depth);
}

// Step 1 of a path: OpenSSL's RFC 5280 verification. With `anchor` set, of exactly the
// path leaf, `intermediates`, anchor; else OpenSSL builds a path itself from the store and
// `intermediates` (the diagnosis when no candidate path exists).
PathOutcome VerifyWithOpenSsl(X509_STORE* store, const PurposePolicy& pp, bool server,
                              absl::Time now, X509* leaf,
                              const std::vector<X509*>& intermediates, X509* anchor,
                              int depth, SignatureCache* signatures) {
  PathOutcome out;
  UniqueX509Stack untrusted(sk_X509_new_null());
  for (X509* c : intermediates) {
    X509_up_ref(c);
    sk_X509_push(untrusted.get(), c);
  }
  UniqueX509Stack trusted;
  UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store, leaf, untrusted.get()) != 1) {
    out.failure = Failure{Reason::kInvalidChain,
                          std::string(OpenSslError("X509_STORE_CTX_init").message())};
    return out;
  }
  if (anchor != nullptr) {
    trusted.reset(sk_X509_new_null());
    X509_up_ref(anchor);
    sk_X509_push(trusted.get(), anchor);
    X509_STORE_CTX_set0_trusted_stack(ctx.get(), trusted.get());
  }
  ConfigureVerification(X509_STORE_CTX_get0_param(ctx.get()), pp, server, now, depth);
  Tolerance tolerance{pp.allow_self_signed, signatures, absl::ToTimeT(now)};
  X509_STORE_CTX_set_app_data(ctx.get(), &tolerance);
  X509_STORE_CTX_set_verify_cb(ctx.get(), VerifyCallback);
#ifndef OPENSSL_IS_BORINGSSL
  X509_STORE_CTX_set_verify(ctx.get(), VerifySignaturesAndValidity);
#endif

  int ok = X509_verify_cert(ctx.get());
  UniqueX509Stack verified(X509_STORE_CTX_get1_chain(ctx.get()));
  // The chain holds references of its own; the certificates outlive this call because
  // they are the caller's (the presented ones and the store's anchors).
  for (int i = 0; verified && i < sk_X509_num(verified.get()); ++i) {
    X509* c = sk_X509_value(verified.get(), i);
    out.chain.push_back(c);
  }
  if (ok == 1) {
    out.self_signed_leaf = tolerance.self_signed_used && out.chain.size() == 1;
    return out;
  }
  int err = X509_STORE_CTX_get_error(ctx.get());
  X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
  if (bad == nullptr) bad = leaf;
  ClearOpenSslErrors();
  Reason reason = ReasonForOpenSslError(err);
  if (err == X509_V_ERR_CERT_SIGNATURE_FAILURE) {
    out.bad_edge = X509_STORE_CTX_get_error_depth(ctx.get());
  }
  std::string text = X509_verify_cert_error_string(err);
  Failure f;
  f.reason = reason;
  f.openssl_error = err;
  f.cert = bad;
  f.detail = absl::StrCat("\"", Subject(bad), "\": ", text);
  f.hint = HintForOpenSslFailure(reason, bad, pp, server, text);
  out.failure = std::move(f);
  return out;
}

// Step 2: the web-PKI profile (strict_checks.h).
std::optional<Failure> CheckWebPkiProfile(const std::vector<X509*>& chain, bool server,
                                          const PurposePolicy& pp, SignatureCache* signatures,
                                          bool self_signed_leaf,
                                          std::vector<std::string>* warnings) {
  StrictOptions options;
  options.signatures = signatures;
  options.self_signed_leaf = self_signed_leaf;
  auto f = CheckStrictPolicy(chain, server, pp.strict, warnings, options);
  if (!f) return std::nullopt;
  std::string hint =
      f->relaxation.empty()
          ? "reissue the certificate so that it meets the rule"
          : absl::StrCat("reissue the certificate, or set ", f->relaxation,
                         ": true to accept it (insecure)");
  return Failure{f->reason, absl::StrCat("\"", Subject(f->cert), "\": ", f->detail), f->cert,
                 hint};
}

// Step 3: the expected host name or IP address is the leaf's (RFC 6125; SAN only unless
// allow_missing_san, or the leaf is a self-signed certificate let through by
// allow_self_signed: then its CN when it has no SAN, RFC 6125 6.4.4).
std::optional<Failure> CheckExpectedName(X509* leaf, const PurposePolicy& pp,
                                         absl::string_view expected_name,
                                         bool self_signed_leaf,
                                         std::vector<std::string>* warnings) {
  if (!pp.check_name) {
    warnings->push_back("host name not checked (certificates.disable_hostname_validation)");
    return std::nullopt;
  }
  if (expected_name.empty()) return std::nullopt;
  std::string name = absl::AsciiStrToLower(expected_name);
  int match;
  int code;
  if (IsIpLiteral(name)) {
    match = X509_check_ip_asc(leaf, name.c_str(), 0);
    code = X509_V_ERR_IP_ADDRESS_MISMATCH;
  } else {
    unsigned int host_flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
    if (!pp.strict.allow_missing_san && !self_signed_leaf) {
      host_flags |= X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    }
    match = X509_check_host(leaf, name.data(), name.size(), host_flags, nullptr);
    code = X509_V_ERR_HOSTNAME_MISMATCH;
  }
  ClearOpenSslErrors();
  if (match == 1) return std::nullopt;
  Failure f{Reason::kNameMismatch,
            absl::StrCat("expected \"", expected_name, "\", the certificate is for ",
                         SanList(leaf)),
            leaf,
            absl::StrCat("connect to a name the certificate holds, or reissue it with "
                         "subjectAltName DNS:",
                         expected_name,
                         " (certificates.disable_hostname_validation turns this check off: "
                         "insecure)"),
            code, true};
  return f;
}

// Step 4: certificates.validation_criteria on the leaf and its issuer.
std::optional<Failure> CheckValidationCriteria(const std::vector<X509*>& chain,
                                               const PurposePolicy& pp) {
  if (pp.criteria.empty()) return std::nullopt;
  X509* leaf = chain.front();
  X509* ca = chain.size() > 1 ? chain[1] : leaf;
  struct Rule {
    const std::optional<std::string>& want;
    X509* cert;
    int nid;
    const char* key;
  };
  const ValidationCriteria& c = pp.criteria;
  for (const Rule& r : {Rule{c.cert_common_name, leaf, NID_commonName, "Cert_Common_Name"},
                        Rule{c.cert_organization, leaf, NID_organizationName,
                             "Cert_Organization"},
                        Rule{c.cert_organizational_unit, leaf, NID_organizationalUnitName,
                             "Cert_Organizational_Name"},
                        Rule{c.ca_cert_common_name, ca, NID_commonName, "CA_Cert_Common_Name"},
                        Rule{c.ca_cert_organization, ca, NID_organizationName,
                             "CA_Cert_Organization"},
                        Rule{c.ca_cert_organizational_unit, ca, NID_organizationalUnitName,
                             "CA_Cert_Organizational_Name"}}) {
    if (!r.want) continue;
    std::string have = NameField(r.cert, r.nid);
    if (have == *r.want) continue;
    return Failure{Reason::kCriteriaMismatch,
                   absl::StrCat("certificates.validation_criteria.", r.key, " expects \"",
                                *r.want, "\", \"", Subject(r.cert), "\" has \"",
                                TruncateUtf8(have, kMaxNameBytes), "\""),
                   r.cert,
                   absl::StrCat("correct certificates.validation_criteria.", r.key,
                                " or connect to the intended server")};
  }
  return std::nullopt;
}

// Step 5: the leaf's fingerprint is in certificates.fingerprint_allowlist, when one is set.
std::optional<Failure> CheckLeafAllowlist(X509* leaf, const std::string& leaf_sha256,
                                          const PurposePolicy& pp) {
  if (pp.leaf_allowlist.empty()) return std::nullopt;
  std::string leaf_hex = NormalizeFingerprint(leaf_sha256);
  for (const std::string& fp : pp.leaf_allowlist) {
    if (fp == leaf_hex) return std::nullopt;
  }
  Failure f{Reason::kNotAllowlisted,
            absl::StrCat("the leaf's SHA-256 fingerprint ", leaf_sha256, " is not in ",
                         pp.leaf_allowlist_field),
            leaf,
            absl::StrCat("if this endpoint is the one you trust, add ", leaf_sha256, " to ",
                         pp.leaf_allowlist_field)};
  f.every_path = true;
  return f;
}

// Step 6: some certificate or key of the path matches a trustd pin, when pins are set.
std::optional<Failure> CheckPins(const std::vector<X509*>& chain, const PurposePolicy& pp,
                                 Purpose purpose, const std::string& leaf_sha256) {
  if (pp.pins.empty()) return std::nullopt;
  for (X509* c : chain) {
    std::string cert_hex = NormalizeFingerprint(Sha256Fingerprint(c));
    std::string spki_hex = NormalizeFingerprint(SpkiSha256Fingerprint(c));
    for (const std::string& pin : pp.pins) {
      if (pin == cert_hex || pin == spki_hex) return std::nullopt;
    }
  }
  return Failure{Reason::kPinMismatch,
                 "no certificate or public key in the verified chain matches a pin in "
                 "trustd.pins." + std::string(PurposeName(purpose)),
                 chain.front(),
                 absl::StrCat("pin the root or the key (SPKI SHA-256) so renewals keep "
                              "matching; the leaf is ", leaf_sha256)};
}

// What a Decision that accepted a self-signed leaf under certificates.allow_self_signed
// says, naming what the web-PKI profile would have refused in it (StrictOptions).
std::string SelfSignedWarning(X509* leaf) {
  std::string out = absl::StrCat("accepted the self-signed certificate \"", Subject(leaf),
                                 "\" (certificates.allow_self_signed)");
  bool no_eku = !(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE);
  bool no_san = X509_get_ext_by_NID(leaf, NID_subject_alt_name, -1) < 0;
  if (no_eku && no_san) {
    absl::StrAppend(&out, " without extendedKeyUsage or subjectAltName, matched on its CN");
  } else if (no_eku) {
    absl::StrAppend(&out, " without extendedKeyUsage");
  } else if (no_san) {
    absl::StrAppend(&out, " without subjectAltName, matched on its CN");
  }
  return out;
}

// Steps 2 to 6 on a path that OpenSSL verified.
void CheckVerifiedPath(const PurposePolicy& pp, Purpose purpose, bool server,
                       absl::string_view expected_name, const std::string& leaf_sha256,
                       SignatureCache* signatures, PathOutcome* out) {
  const std::vector<X509*>& chain = out->chain;
  X509* leaf = chain.front();
  std::optional<Failure> f = CheckWebPkiProfile(chain, server, pp, signatures,
                                                out->self_signed_leaf, &out->warnings);
  if (!f) f = CheckExpectedName(leaf, pp, expected_name, out->self_signed_leaf, &out->warnings);
  if (!f) f = CheckValidationCriteria(chain, pp);
  if (!f) f = CheckLeafAllowlist(leaf, leaf_sha256, pp);
  if (!f) f = CheckPins(chain, pp, purpose, leaf_sha256);
  if (!f && out->self_signed_leaf) {
    out->warnings.insert(out->warnings.begin(), SelfSignedWarning(leaf));
  }
  out->failure = std::move(f);
}

// Self-issued (subject and issuer names, and key identifiers, match) and signed by its own
// key.
bool IsSelfSignedLeaf(X509* leaf, SignatureCache* signatures) {
  if (X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) != 0) {
    return false;
  }
  int check = X509_check_issued(leaf, leaf);
  ClearOpenSslErrors();
  if (check != X509_V_OK && check != X509_V_ERR_KEYUSAGE_NO_CERTSIGN) return false;
  return signatures->Verify(leaf, leaf);
}

// The refusal of a self-signed leaf when certificates.allow_self_signed is off, as OpenSSL
// words it (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT).
PathOutcome SelfSignedLeafRefusal(X509* leaf, const PurposePolicy& pp, bool server) {
  PathOutcome out;
  out.chain = {leaf};
  Failure f;
  f.reason = Reason::kSelfSignedLeaf;
  f.openssl_error = X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
  f.cert = leaf;
  std::string text = X509_verify_cert_error_string(f.openssl_error);
  f.detail = absl::StrCat("\"", Subject(leaf), "\": ", text);
  f.hint = HintForOpenSslFailure(f.reason, leaf, pp, server, text);
  out.failure = std::move(f);
  return out;
}

// The first candidate path that passes every step; else the first path's failure (or,
// when no candidate reaches an anchor, OpenSSL's diagnosis of the chain as presented).
PathOutcome FindValidPath(X509_STORE* store, const std::vector<X509*>& presented,
                          const PurposePolicy& pp, Purpose purpose,
                          absl::string_view expected_name, absl::Time now,
                          const std::string& leaf_sha256, SignatureCache* signatures) {
  const bool server = purpose != Purpose::kClient;
  X509* leaf = presented.front();
  std::vector<X509*> anchors;
  for (const UniqueX509& a : pp.store->anchors) anchors.push_back(a.get());
  std::vector<X509*> intermediates(presented.begin() + 1, presented.end());
  int max_depth = pp.max_depth >= 0 ? std::min(pp.max_depth, kMaxPathIntermediates)
                                    : kMaxPathIntermediates;
  PathBuilder::Limits limits;
  limits.max_intermediates = kMaxPathIntermediates;
  limits.max_logical_intermediates = max_depth;
  limits.max_steps = kMaxPathBuildingSteps;
  PathBuilder builder(anchors, intermediates, limits);

  const int cost_factor = pp.store->crls.empty() ? 1 : 2;
  int signature_checks = 0;
  std::optional<PathOutcome> first_failure;
  std::optional<PathOutcome> accepted;
  builder.ForEachPath(leaf, now, [&](const std::vector<X509*>& path) {
    int cost = std::max<int>(1, static_cast<int>(path.size()) - 1) * cost_factor;
    if (signature_checks + cost > kMaxSignatureChecks) return PathVerdict::Stop();
    signature_checks += cost;
    std::vector<X509*> middle;
    if (path.size() > 2) middle.assign(path.begin() + 1, path.end() - 1);
    PathOutcome outcome = VerifyWithOpenSsl(store, pp, server, now, path.front(), middle,
                                            path.back(), kMaxPathIntermediates, signatures);
    if (!outcome.failure) {
      CheckVerifiedPath(pp, purpose, server, expected_name, leaf_sha256, signatures,
                        &outcome);
    }
    if (!outcome.failure) {
      accepted = std::move(outcome);
      return PathVerdict::Accept();
    }
    int bad_edge = outcome.bad_edge;
    bool every_path = outcome.failure->every_path;
    if (!first_failure) first_failure = std::move(outcome);
    return every_path ? PathVerdict::Stop() : PathVerdict::Next(bad_edge);
  });
  if (accepted) return std::move(*accepted);
  if (first_failure) return std::move(*first_failure);

  // No candidate path reaches an anchor. A self-signed leaf (self-issued, its signature
  // verifying under its own key: RFC 5280 6.1) is told by the engine itself, since the TLS
  // libraries disagree on what self-signed is (BoringSSL also requires a keyUsage that
  // allows keyCertSign): refused as such, or under allow_self_signed verified as the one
  // certificate it is trusted as, its own anchor.
  if (IsSelfSignedLeaf(leaf, signatures)) {
    if (!pp.allow_self_signed) return SelfSignedLeafRefusal(leaf, pp, server);
    // A store of its own: BoringSSL finds a partial chain's anchor in the store only.
    UniqueX509Store own(X509_STORE_new());
    if (!own || X509_STORE_add_cert(own.get(), leaf) != 1) ClearOpenSslErrors();
    PathOutcome outcome = VerifyWithOpenSsl(own ? own.get() : store, pp, server, now, leaf, {},
                                            leaf, kMaxPathIntermediates, signatures);
    if (!outcome.failure) {
      outcome.self_signed_leaf = true;
      CheckVerifiedPath(pp, purpose, server, expected_name, leaf_sha256, signatures,
                        &outcome);
    }
    return outcome;
  }
  // Else OpenSSL's own path building says why (unknown issuer, too long).
  PathOutcome outcome =
      VerifyWithOpenSsl(store, pp, server, now, leaf, intermediates, nullptr, max_depth,
                        signatures);
  if (!outcome.failure) {
    CheckVerifiedPath(pp, purpose, server, expected_name, leaf_sha256, signatures, &outcome);
  }
  return outcome;
}

// On a refusal, a chain whose leaf is not first is refused for that (MisplacedLeaf), not
// for the symptom: the CA certificate sent first, judged as the peer's own, lacks the
// serverAuth usage or the name. A peer cannot be accepted that way anyway: TLS takes the
// first certificate's key as the peer's (RFC 8446 4.4.2).
std::optional<Failure> CheckLeafComesFirst(const std::vector<X509*>& presented) {
  std::optional<size_t> at = MisplacedLeaf(presented);
  if (!at) return std::nullopt;
  Failure f;
  f.reason = Reason::kInvalidChain;
  f.cert = presented[*at];
  f.detail = absl::StrCat("the certificates are out of order: the first, \"",
                          Subject(presented[0]), "\", is a CA certificate, and the peer's own, \"",
                          Subject(presented[*at]), "\", comes at position ", *at + 1);
  f.hint = absl::StrCat(MisplacedLeafHint(presented, *at),
                        ": the peer must send its own certificate first, then each issuer");
  return f;
}

// Why a configured CRL cannot be used, if it cannot: RFC 5280 5.2.3, "conforming CRL
// issuers MUST include" the CRLNumber extension, and it is non-critical. OpenSSL uses a
// CRL without one; this engine does not, so certificates it would cover have an unknown
// status.
std::optional<std::string> CrlProblem(X509_CRL* crl) {
  int idx = X509_CRL_get_ext_by_NID(crl, NID_crl_number, -1);
  std::string issuer = BoundedName(X509_CRL_get_issuer(crl));
  if (idx < 0) {
    return absl::StrCat("the CRL of \"", issuer,
                        "\" has no CRLNumber extension (RFC 5280 5.2.3) and was not used");
  }
  if (X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, idx))) {
    return absl::StrCat("the CRL of \"", issuer,
                        "\" has a critical CRLNumber extension (RFC 5280 5.2.3: "
                        "non-critical) and was not used");
  }
  return std::nullopt;
}

}  // namespace

bool ValidationCriteria::empty() const {
  return !cert_common_name && !cert_organization && !cert_organizational_unit &&
         !ca_cert_common_name && !ca_cert_organization && !ca_cert_organizational_unit;
}

absl::StatusOr<std::unique_ptr<ChainValidator>> ChainValidator::Create(TrustPolicy policy,
                                                                       Caches caches) {
  std::unique_ptr<ChainValidator> validator(new ChainValidator(std::move(policy)));
  if (caches.signatures == nullptr) {
    caches.signatures =
        std::make_shared<SignatureCache>(kDefaultSignatureEntries, kDefaultSignatureBytes);
  }
  if (caches.certificates == nullptr) {
    caches.certificates = std::make_shared<CertificateCache>(kDefaultCertificateEntries,
                                                             kDefaultCertificateBytes);
  }
  validator->caches_ = std::move(caches);
  for (auto& [purpose, pp] : validator->policy_.purposes) {
    if (pp.store == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("purpose ", PurposeName(purpose), ": no trust store"));
    }
    UniqueX509Store store(X509_STORE_new());
    for (const UniqueX509& anchor : pp.store->anchors) {
      if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) ClearOpenSslErrors();
      validator->caches_.certificates->Remember(anchor.get());
    }
    for (const UniqueX509Crl& crl : pp.store->crls) {
      if (auto problem = CrlProblem(crl.get())) {
        validator->unusable_crls_[purpose].push_back(*problem);
        continue;
      }
      if (X509_STORE_add_crl(store.get(), crl.get()) != 1) ClearOpenSslErrors();
    }
    validator->stores_[purpose] = std::move(store);
  }
  return validator;
}

Decision ChainValidator::Validate(const std::vector<std::string>& chain_der, Purpose purpose,
                                  absl::string_view expected_name, absl::Time now) const {
  std::vector<UniqueX509> owned;
  for (size_t i = 0; i < chain_der.size(); ++i) {
    // Every certificate after the leaf is a CA certificate that other peers send too.
    auto cert = caches_.certificates->Parse(chain_der[i], absl::StrCat("peer certificate ", i),
                                            /*remember=*/i > 0);
    if (!cert.ok()) {
      ClearOpenSslErrors();
      Decision d;
      d.reason = Reason::kMalformedCertificate;
      d.detail = std::string(cert.status().message());
      d.hint = "the peer sent bytes that are not an X.509 certificate; check what listens there";
      BoundDecision(&d);
      return d;
    }
    owned.push_back(*std::move(cert));
  }
  std::vector<X509*> chain;
  for (const UniqueX509& c : owned) chain.push_back(c.get());
  return ValidateCerts(chain, purpose, expected_name, now);
}

Decision ChainValidator::ValidateCerts(const std::vector<X509*>& presented, Purpose purpose,
                                       absl::string_view expected_name, absl::Time now) const {
  Decision d = Decide(presented, purpose, expected_name, now);
  BoundDecision(&d);
  return d;
}

Decision ChainValidator::Decide(const std::vector<X509*>& presented, Purpose purpose,
                                absl::string_view expected_name, absl::Time now) const {
  Decision d;
  if (presented.empty()) {
    d.reason = Reason::kInvalidChain;
    d.detail = "the peer presented no certificate";
    d.hint = "the peer must send a certificate";
    return d;
  }
  auto pp_it = policy_.purposes.find(purpose);
  if (pp_it == policy_.purposes.end()) {
    d.reason = Reason::kInvalidChain;
    d.detail = absl::StrCat("no trust policy for purpose ", PurposeName(purpose));
    d.hint = "configure trust anchors for this purpose in certificates.cert_chain";
    return d;
  }
  const PurposePolicy& pp = pp_it->second;
  X509* leaf = presented.front();
  d.leaf_sha256 = Sha256Fingerprint(leaf);
  // Until a path is built, the summary is what was presented, as far as it is useful: the
  // leaf and a few more, not every certificate a peer chose to send.
  for (size_t i = 0; i < presented.size() && i < kMaxUnbuiltSummaryCertificates; ++i) {
    d.chain.push_back(Summarize(presented[i]));
  }
  if (!pp.validate) {
    d.allowed = true;
    d.reason = Reason::kOk;
    d.warnings.push_back(
        "certificates.validate is false: the peer was accepted without any validation");
    return d;
  }

  PathOutcome outcome = FindValidPath(stores_.at(purpose).get(), presented, pp, purpose,
                                      expected_name, now, d.leaf_sha256,
                                      caches_.signatures.get());
  if (!outcome.chain.empty()) {
    d.chain.clear();
    for (X509* c : outcome.chain) d.chain.push_back(Summarize(c));
  }
  if (outcome.failure) {
    if (auto misplaced = CheckLeafComesFirst(presented)) outcome.failure = std::move(misplaced);
    Failure& f = *outcome.failure;
    X509* cert = f.cert != nullptr ? f.cert : leaf;
    d.allowed = false;
    d.reason = f.reason;
    d.detail = std::move(f.detail);
    d.hint = std::move(f.hint);
    d.failing_subject = Subject(cert);
    d.failing_issuer = Issuer(cert);
    d.openssl_error = f.openssl_error;
    if (f.openssl_error != 0) d.openssl_error_text = X509_verify_cert_error_string(f.openssl_error);
    auto unusable = unusable_crls_.find(purpose);
    if (d.reason == Reason::kRevocationUnknown && unusable != unusable_crls_.end()) {
      absl::StrAppend(&d.detail, "; ", absl::StrJoin(unusable->second, "; "));
    }
    return d;
  }
  d.allowed = true;
  d.reason = Reason::kOk;
  d.warnings = std::move(outcome.warnings);
  return d;
}

}  // namespace edge::trust

#include "services/trust/strict_checks.h"

#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/trust/public_suffix.h"

namespace edge::trust {
namespace {

std::string Subject(X509* cert) { return NameToString(X509_get_subject_name(cert)); }

bool IsSelfIssued(X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

std::optional<StrictFailure> CheckKey(X509* cert, const StrictPolicy& policy,
                                      std::vector<std::string>* warnings) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    return StrictFailure{Reason::kMalformedCertificate, "its public key cannot be parsed",
                         cert, ""};
  }
  std::string problem;
  switch (EVP_PKEY_base_id(key)) {
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_bits(key);
      if (bits < 2048) {
        problem = absl::StrCat("an RSA key of ", bits, " bits; at least 2048 are required");
      } else if (bits % 8 != 0) {
        problem = absl::StrCat("an RSA key of ", bits, " bits, not a multiple of 8");
      }
      break;
    }
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) {
        problem = "an EC key with explicit curve parameters; only named curves are allowed";
        ClearOpenSslErrors();
        break;
      }
      std::string g(group, len);
      if (g != "prime256v1" && g != "P-256" && g != "secp384r1" && g != "P-384" &&
          g != "secp521r1" && g != "P-521") {
        problem = absl::StrCat("an EC key on curve ", g, "; P-256, P-384 or P-521 required");
      }
      break;
    }
    case EVP_PKEY_ED25519:
      break;
    default:
      problem = absl::StrCat("a ", OBJ_nid2sn(EVP_PKEY_base_id(key)),
                             " key; only RSA and ECDSA (and Ed25519) are allowed");
  }
  if (problem.empty()) return std::nullopt;
  if (policy.allow_weak_keys) {
    warnings->push_back(absl::StrCat("accepted \"", Subject(cert), "\" with ", problem,
                                     " (trustd.policy.allow_weak_keys)"));
    return std::nullopt;
  }
  return StrictFailure{Reason::kWeakKey, absl::StrCat("the certificate has ", problem), cert,
                       "trustd.policy.allow_weak_keys"};
}

std::optional<StrictFailure> CheckSignature(X509* cert, const StrictPolicy& policy,
                                            std::vector<std::string>* warnings) {
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid)) {
    return std::nullopt;  // RSA-PSS, Ed25519: the digest is not in the OID.
  }
  if (md_nid == NID_md5 || md_nid == NID_md4 || md_nid == NID_md2) {
    return StrictFailure{Reason::kWeakSignature,
                         absl::StrCat("it is signed with ", OBJ_nid2sn(md_nid),
                                      ", which is broken and never accepted"),
                         cert, ""};
  }
  if (md_nid == NID_sha1) {
    if (policy.allow_sha1_signatures) {
      warnings->push_back(absl::StrCat("accepted a SHA-1 signature on \"", Subject(cert),
                                       "\" (trustd.policy.allow_sha1_signatures)"));
      return std::nullopt;
    }
    return StrictFailure{Reason::kWeakSignature, "it is signed with SHA-1", cert,
                         "trustd.policy.allow_sha1_signatures"};
  }
  return std::nullopt;
}

std::optional<StrictFailure> CheckSerial(X509* cert, const StrictPolicy& policy,
                                         std::vector<std::string>* warnings) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  std::string problem;
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
    problem = "a negative serial number";
  } else if (ASN1_STRING_length(serial) > 20) {
    problem = absl::StrCat("a serial number of ", ASN1_STRING_length(serial),
                           " octets; at most 20 are allowed");
  } else {
    bool zero = true;
    const unsigned char* p = ASN1_STRING_get0_data(serial);
    for (int i = 0; i < ASN1_STRING_length(serial); ++i) zero = zero && p[i] == 0;
    if (zero) problem = "serial number zero";
  }
  if (problem.empty()) return std::nullopt;
  if (policy.allow_invalid_serial) {
    warnings->push_back(absl::StrCat("accepted \"", Subject(cert), "\" with ", problem,
                                     " (trustd.policy.allow_invalid_serial)"));
    return std::nullopt;
  }
  return StrictFailure{Reason::kPolicyViolation, absl::StrCat("the certificate has ", problem),
                       cert, "trustd.policy.allow_invalid_serial"};
}

std::optional<StrictFailure> CheckVersion(X509* cert, const StrictPolicy& policy,
                                          std::vector<std::string>* warnings) {
  long version = X509_get_version(cert) + 1;
  if (version == 3) return std::nullopt;
  std::string problem = absl::StrCat("an X.509 v", version, " certificate; v3 is required");
  if (policy.allow_v1_ca) {
    warnings->push_back(absl::StrCat("accepted \"", Subject(cert), "\", ", problem,
                                     " (trustd.policy.allow_v1_ca)"));
    return std::nullopt;
  }
  return StrictFailure{Reason::kPolicyViolation, absl::StrCat("it is ", problem), cert,
                       "trustd.policy.allow_v1_ca"};
}

std::vector<std::string> SanDnsNames(X509* cert, bool* has_san) {
  std::vector<std::string> names;
  UniqueGeneralNames sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  *has_san = sans != nullptr;
  if (!sans) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = gn->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return names;
}

// Whether DNS name `name` lies in the subtree `base` (RFC 5280: base and its subdomains).
bool InSubtree(absl::string_view name, absl::string_view base) {
  if (base.empty()) return true;
  if (absl::StartsWith(base, ".")) return absl::EndsWithIgnoreCase(name, base);
  if (absl::EqualsIgnoreCase(name, base)) return true;
  return name.size() > base.size() && absl::EndsWithIgnoreCase(name, base) &&
         name[name.size() - base.size() - 1] == '.';
}

absl::string_view Ia5(const ASN1_IA5STRING* s) {
  return absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
}


// Self-issued, and its signature verifies under its own key (remembered in `signatures`
// when there is one).
bool IsSelfSigned(X509* cert, SignatureCache* signatures) {
  if (!IsSelfIssued(cert)) return false;
  if (signatures != nullptr) return signatures->Verify(cert, cert);
  bool self_signed = X509_verify(cert, X509_get0_pubkey(cert)) == 1;
  ClearOpenSslErrors();
  return self_signed;
}

// RFC 5280 4.2.1.1 and CA/B Forum: an authorityKeyIdentifier carries a keyIdentifier and
// nothing else, and a self-signed certificate's points at its own subjectKeyIdentifier.
// "The keyIdentifier field of the authorityKeyIdentifier extension MUST be included in all
// certificates generated by conforming CAs", self-signed ones excepted: a trust anchor
// that is cross-signed by another CA included.
std::optional<StrictFailure> CheckKeyIdentifiers(X509* cert, SignatureCache* signatures) {
  int crit = 0;
  AUTHORITY_KEYID* akid = static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(cert, NID_authority_key_identifier, &crit, nullptr));
  if (akid == nullptr) {
    ClearOpenSslErrors();
    if (X509_get_version(cert) < 2 || IsSelfSigned(cert, signatures)) return std::nullopt;
    return StrictFailure{Reason::kMalformedCertificate,
                         "it has no authorityKeyIdentifier, which every certificate that is "
                         "not self-signed must have (RFC 5280 4.2.1.1)",
                         cert, ""};
  }
  std::string problem;
  if (akid->keyid == nullptr) {
    problem = "its authorityKeyIdentifier has no keyIdentifier";
  } else if (akid->issuer != nullptr || akid->serial != nullptr) {
    problem = "its authorityKeyIdentifier names an issuer and serial, which is not allowed";
  } else if (IsSelfSigned(cert, signatures)) {
    const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert);
    if (skid != nullptr && ASN1_OCTET_STRING_cmp(skid, akid->keyid) != 0) {
      problem = "it is self-signed but its authorityKeyIdentifier differs from its "
                "subjectKeyIdentifier";
    }
  }
  AUTHORITY_KEYID_free(akid);
  ClearOpenSslErrors();
  if (problem.empty()) return std::nullopt;
  return StrictFailure{Reason::kMalformedCertificate, problem, cert, ""};
}

// RFC 5280 4.2.1.10: an iPAddress constraint is an IPv4 or IPv6 address and a mask in the
// CIDR form of RFC 4632 (8 or 32 octets; the mask's one bits all leading).
bool ValidIpSubtree(const ASN1_OCTET_STRING* subtree) {
  int len = ASN1_STRING_length(subtree);
  if (len != 8 && len != 32) return false;
  const unsigned char* mask = ASN1_STRING_get0_data(subtree) + len / 2;
  bool zero_seen = false;
  for (int i = 0; i < len / 2; ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      bool one = (mask[i] >> bit) & 1;
      if (one && zero_seen) return false;
      if (!one) zero_seen = true;
    }
  }
  return true;
}

// A nameConstraints extension must constrain something, its dNSName bases must be host
// names (no wildcard, no leading dot) and its iPAddress bases CIDR blocks.
std::optional<StrictFailure> CheckNameConstraintsSyntax(X509* cert) {
  int crit = 0;
  NAME_CONSTRAINTS* nc = static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_name_constraints, &crit, nullptr));
  if (nc == nullptr) {
    ClearOpenSslErrors();
    if (crit == -1) return std::nullopt;  // Absent.
    return StrictFailure{Reason::kMalformedCertificate,
                         "its nameConstraints extension cannot be decoded", cert, ""};
  }
  std::string problem;
  if (sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) <= 0 &&
      sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) <= 0) {
    problem = "its nameConstraints extension has neither permitted nor excluded subtrees";
  }
  for (auto* list : {nc->permittedSubtrees, nc->excludedSubtrees}) {
    for (int i = 0; problem.empty() && i < sk_GENERAL_SUBTREE_num(list); ++i) {
      const GENERAL_SUBTREE* st = sk_GENERAL_SUBTREE_value(list, i);
      if (st->base->type == GEN_IPADD && !ValidIpSubtree(st->base->d.iPAddress)) {
        problem = "its iPAddress name constraint is not an address and a CIDR mask (RFC 5280 "
                  "4.2.1.10)";
      }
      if (st->base->type != GEN_DNS) continue;
      absl::string_view base = Ia5(st->base->d.dNSName);
      if (absl::StartsWith(base, ".") || absl::StrContains(base, "*")) {
        problem = absl::StrCat("its name constraint \"", base, "\" is not a valid DNS name");
      }
    }
  }
  NAME_CONSTRAINTS_free(nc);
  if (problem.empty()) return std::nullopt;
  return StrictFailure{Reason::kMalformedCertificate, problem, cert, ""};
}

// RFC 5280 4.2.1.6: a dNSName is in the "preferred name syntax" of RFC 1034 3.5 as
// amended by RFC 1123 2.1: labels of letters, digits and hyphens (LDH; no underscore), 1 to
// 63 octets, not starting or ending with a hyphen, at most 253 octets in all. A wildcard
// (CA/B Forum BR 3.2.2.6, RFC 6125 6.4.3) is the whole left-most label "*" and nothing
// else, and is followed by at least one label.
bool ValidDnsName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  int label = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    absl::string_view l = name.substr(start, dot == absl::string_view::npos ? absl::string_view::npos
                                                                            : dot - start);
    if (l.empty() || l.size() > 63) return false;
    if (l == "*") {
      if (label != 0 || dot == absl::string_view::npos) return false;
    } else {
      for (char c : l) {
        if (!absl::ascii_isalnum(c) && c != '-') return false;
      }
      if (l.front() == '-' || l.back() == '-') return false;
    }
    ++label;
    if (dot == absl::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// CA/B Forum BR 3.2.2.6: a wildcard may not stand for a whole registry-controlled label
// ("*.com", "*.co.uk", "*.s3.amazonaws.com"): what follows "*." may not be a public suffix.
bool WildcardOverPublicSuffix(absl::string_view name) {
  if (!absl::StartsWith(name, "*.")) return false;
  return PublicSuffixList::Default().IsPublicSuffix(name.substr(2));
}

// RFC 5280 4.2.1.6: an rfc822Name is a "Mailbox" of RFC 5321 4.1.2, Local-part "@" Domain:
// a dot-string of atext atoms or a quoted string, then a host name or an address literal.
bool ValidMailbox(absl::string_view mailbox) {
  size_t at = mailbox.rfind('@');
  if (at == absl::string_view::npos || at == 0) return false;
  absl::string_view local = mailbox.substr(0, at);
  absl::string_view domain = mailbox.substr(at + 1);
  if (local.size() > 64) return false;
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    for (size_t i = 1; i + 1 < local.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(local[i]);
      if (c == '\\') {
        if (++i + 1 >= local.size()) return false;
      } else if (c < 32 || c > 126 || c == '"') {
        return false;
      }
    }
  } else {
    static constexpr absl::string_view kAtext = "!#$%&'*+-/=?^_`{|}~";
    bool atom_start = true;
    for (char c : local) {
      if (c == '.') {
        if (atom_start) return false;
        atom_start = true;
        continue;
      }
      if (!absl::ascii_isalnum(c) && kAtext.find(c) == absl::string_view::npos) return false;
      atom_start = false;
    }
    if (atom_start) return false;
  }
  if (absl::StartsWith(domain, "[") && absl::EndsWith(domain, "]")) return domain.size() > 2;
  return !absl::StartsWith(domain, "*") && ValidDnsName(domain);
}

// The common names of `cert`'s subject, as UTF-8.
std::vector<std::string> CommonNames(X509* cert) {
  std::vector<std::string> out;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); idx >= 0;
       idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
      ClearOpenSslErrors();
      out.emplace_back();
      continue;
    }
    out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}

// CA/B Forum BR 7.1.4.3: when present, the common name is exactly one attribute holding one
// of the subjectAltName values: a dNSName character for character (no case folding, no
// U-label for an A-label), or an iPAddress written as RFC 3986 3.2.2 (IPv4, dotted decimal)
// or RFC 5952 (IPv6, canonical) writes it. A common name is compared with the SAN values of
// its own kind: an IP address with the iPAddress entries, a host name with the dNSName
// entries, each when the SAN has some; a SAN of another kind only (mailboxes, IP addresses
// for a host-name CN) belongs to another profile and leaves the CN alone.
std::optional<std::string> CommonNameProblem(X509* cert, const GENERAL_NAMES* sans) {
  if (sans == nullptr) return std::nullopt;
  std::vector<absl::string_view> dns;
  std::vector<std::string> ips;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_DNS) dns.push_back(Ia5(gn->d.dNSName));
    if (gn->type == GEN_IPADD) {
      ips.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.iPAddress)),
                       static_cast<size_t>(ASN1_STRING_length(gn->d.iPAddress)));
    }
  }
  if (dns.empty() && ips.empty()) return std::nullopt;
  std::vector<std::string> cns = CommonNames(cert);
  if (cns.empty()) return std::nullopt;
  if (cns.size() > 1) {
    return absl::StrCat("its subject has ", cns.size(), " common names; at most one is allowed");
  }
  const std::string& cn = cns.front();
  std::string quoted = absl::CHexEscape(TruncateUtf8(cn, kMaxNameBytes));
  // An IP address, or something an IP stack would read as one ("0xC0A80101",
  // "192.168.001.001", "2001:DB8::1").
  in_addr v4;
  unsigned char v6[16];
  bool v4_like = inet_aton(cn.c_str(), &v4) != 0;
  bool v6_like = !v4_like && inet_pton(AF_INET6, cn.c_str(), v6) == 1;
  if (v4_like || v6_like) {
    if (ips.empty()) return std::nullopt;
    int family = v6_like ? AF_INET6 : AF_INET;
    size_t len = v6_like ? 16 : 4;
    unsigned char addr[16];
    char canonical[INET6_ADDRSTRLEN] = {0};
    if (inet_pton(family, cn.c_str(), addr) != 1 ||
        inet_ntop(family, addr, canonical, sizeof(canonical)) == nullptr || cn != canonical) {
      return absl::StrCat("its common name \"", quoted,
                          "\" is an IP address not written in canonical form");
    }
    for (const std::string& ip : ips) {
      if (ip.size() == len && std::memcmp(ip.data(), addr, len) == 0) return std::nullopt;
    }
    return absl::StrCat("its common name \"", quoted,
                        "\" is not one of its subjectAltName IP addresses");
  }
  if (dns.empty()) return std::nullopt;
  for (absl::string_view d : dns) {
    if (d == cn) return std::nullopt;
  }
  return absl::StrCat("its common name \"", quoted,
                      "\" is not one of its subjectAltName DNS names (character for character)");
}

// The leaf's subjectAltName: well-formed names (RFC 5280 4.2.1.6), not critical beside a
// non-empty subject, no wildcard over a public suffix, and a common name that is one of them.
std::optional<StrictFailure> CheckLeafNames(X509* leaf) {
  int crit = 0;
  UniqueGeneralNames sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, nullptr)));
  ClearOpenSslErrors();
  if (sans && crit == 1 && X509_NAME_entry_count(X509_get_subject_name(leaf)) > 0) {
    return StrictFailure{Reason::kMalformedCertificate,
                         "its subjectAltName is critical although its subject is not empty",
                         leaf, ""};
  }
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    std::string problem;
    if (gn->type == GEN_DNS) {
      absl::string_view name = Ia5(gn->d.dNSName);
      if (!ValidDnsName(name)) {
        problem = absl::StrCat("the malformed DNS name \"", absl::CHexEscape(name), "\"");
      } else if (WildcardOverPublicSuffix(name)) {
        problem = absl::StrCat("the DNS name \"", name,
                               "\", a wildcard over a public suffix (CA/B Forum BR 3.2.2.6)");
      }
    } else if (gn->type == GEN_EMAIL) {
      absl::string_view mailbox = Ia5(gn->d.rfc822Name);
      if (!ValidMailbox(mailbox)) {
        problem = absl::StrCat("the malformed email address \"", absl::CHexEscape(mailbox), "\"");
      }
    } else if (gn->type == GEN_IPADD) {
      int len = ASN1_STRING_length(gn->d.iPAddress);
      if (len != 4 && len != 16) problem = absl::StrCat("an IP address of ", len, " octets");
    }
    if (!problem.empty()) {
      return StrictFailure{Reason::kMalformedCertificate,
                           absl::StrCat("its subjectAltName has ", problem), leaf, ""};
    }
  }
  if (auto problem = CommonNameProblem(leaf, sans.get())) {
    return StrictFailure{Reason::kMalformedCertificate, *problem, leaf, ""};
  }
  return std::nullopt;
}

// The leaf's extendedKeyUsage (CA/B Forum BR 7.1.2.7.10 and 7.1.2.7.6): present, naming the
// purpose's usage (serverAuth or clientAuth; Netscape and Microsoft Server Gated Crypto are
// not serverAuth), without anyExtendedKeyUsage, and not critical.
std::optional<StrictFailure> CheckLeafEku(X509* leaf, bool server, const StrictPolicy& policy,
                                          std::vector<std::string>* warnings) {
  uint32_t flags = X509_get_extension_flags(leaf);
  const char* usage = server ? "serverAuth" : "clientAuth";
  if (!(flags & EXFLAG_XKUSAGE)) {
    if (policy.allow_missing_eku) {
      warnings->push_back(absl::StrCat("accepted \"", Subject(leaf),
                                       "\" without extendedKeyUsage "
                                       "(trustd.policy.allow_missing_eku)"));
      return std::nullopt;
    }
    return StrictFailure{Reason::kWrongUsage,
                         absl::StrCat("the certificate has no extendedKeyUsage; ", usage,
                                      " is required"),
                         leaf, "trustd.policy.allow_missing_eku"};
  }
  uint32_t xku = X509_get_extended_key_usage(leaf);
  if (!(xku & (server ? XKU_SSL_SERVER : XKU_SSL_CLIENT))) {
    return StrictFailure{Reason::kWrongUsage,
                         absl::StrCat("its extendedKeyUsage does not include ", usage), leaf,
                         ""};
  }
  if (xku & XKU_ANYEKU) {
    return StrictFailure{Reason::kWrongUsage,
                         "its extendedKeyUsage includes anyExtendedKeyUsage, which a "
                         "subscriber certificate may not (CA/B Forum BR 7.1.2.7.10)",
                         leaf, ""};
  }
  int idx = X509_get_ext_by_NID(leaf, NID_ext_key_usage, -1);
  if (idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(leaf, idx))) {
    return StrictFailure{Reason::kMalformedCertificate,
                         "its extendedKeyUsage is critical, which a subscriber certificate's "
                         "may not be (CA/B Forum BR 7.1.2.7.6)",
                         leaf, ""};
  }
  return std::nullopt;
}

// RFC 5280 4.2.1.10: "The name constraints extension ... MUST be used only in a CA
// certificate."
std::optional<StrictFailure> CheckNoNameConstraintsInEndEntity(X509* leaf) {
  if (X509_get_extension_flags(leaf) & EXFLAG_CA) return std::nullopt;
  if (X509_get_ext_by_NID(leaf, NID_name_constraints, -1) < 0) return std::nullopt;
  return StrictFailure{Reason::kMalformedCertificate,
                       "it is not a CA certificate but has a nameConstraints extension, which "
                       "only CA certificates may have (RFC 5280 4.2.1.10)",
                       leaf, ""};
}

// Extensions that RFC 5280 requires to be critical: nameConstraints (4.2.1.10),
// policyConstraints (4.2.1.11), inhibitAnyPolicy (4.2.1.14).
std::optional<StrictFailure> CheckRequiredCriticality(X509* cert) {
  struct Rule {
    int nid;
    const char* name;
    const char* section;
  };
  for (const Rule& r : {Rule{NID_name_constraints, "nameConstraints", "4.2.1.10"},
                        Rule{NID_policy_constraints, "policyConstraints", "4.2.1.11"},
                        Rule{NID_inhibit_any_policy, "inhibitAnyPolicy", "4.2.1.14"}}) {
    int idx = X509_get_ext_by_NID(cert, r.nid, -1);
    if (idx < 0 || X509_EXTENSION_get_critical(X509_get_ext(cert, idx))) continue;
    return StrictFailure{Reason::kMalformedCertificate,
                         absl::StrCat("its ", r.name, " extension is not critical; RFC 5280 ",
                                      r.section, " requires it to be"),
                         cert, ""};
  }
  return std::nullopt;
}

// RFC 5280's rules on which extensions a certificate has and how they are marked, that
// OpenSSL 3 applies under X509_STRICT (and BoringSSL does not): written here so that the
// engine holds them whichever library verifies. `ca`: the certificate issues others in the
// path or is its trust anchor.
std::optional<StrictFailure> CheckExtensionPresenceAndCriticality(X509* cert, bool ca) {
  auto problem = [cert](std::string text) {
    return StrictFailure{Reason::kMalformedCertificate, std::move(text), cert, ""};
  };
  auto critical = [cert](int nid) -> std::optional<bool> {
    int idx = X509_get_ext_by_NID(cert, nid, -1);
    if (idx < 0) return std::nullopt;
    return X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) != 0;
  };
  if (X509_get_version(cert) < 2) return std::nullopt;  // No extensions (CheckVersion).
  // RFC 5280 4.2: "A certificate-using system MUST reject the certificate if it encounters a
  // critical extension it does not recognize" (the trust anchor's too, as OpenSSL does).
  if (X509_get_extension_flags(cert) & EXFLAG_CRITICAL) {
    return problem("it has a critical extension this validator does not know (RFC 5280 4.2)");
  }
  // 4.2.1.1: "Conforming CAs MUST mark this extension as non-critical."
  if (critical(NID_authority_key_identifier).value_or(false)) {
    return problem("its authorityKeyIdentifier is critical; RFC 5280 4.2.1.1 requires it not "
                   "to be");
  }
  // 4.2.1.2: the subjectKeyIdentifier "MUST appear in all conforming CA certificates" and
  // is non-critical.
  std::optional<bool> ski = critical(NID_subject_key_identifier);
  if (ski.value_or(false)) {
    return problem("its subjectKeyIdentifier is critical; RFC 5280 4.2.1.2 requires it not to "
                   "be");
  }
  if (ca && !ski) {
    return problem("it is a CA certificate without subjectKeyIdentifier, which RFC 5280 "
                   "4.2.1.2 requires");
  }
  // 4.2.1.6: with an empty subject, "the issuing CA MUST include a subjectAltName extension
  // that is marked as critical".
  if (X509_NAME_entry_count(X509_get_subject_name(cert)) == 0 &&
      !critical(NID_subject_alt_name).value_or(false)) {
    return problem("its subject is empty and its subjectAltName is missing or not critical "
                   "(RFC 5280 4.2.1.6)");
  }
  // 4.2.1.9: CAs "MUST include this extension in all CA certificates that contain public
  // keys used to validate digital signatures on certificates and MUST mark the extension
  // as critical".
  std::optional<bool> bc = critical(NID_basic_constraints);
  if (ca && !bc) {
    return problem("it is a CA certificate without basicConstraints (RFC 5280 4.2.1.9)");
  }
  if (ca && !*bc) {
    return problem("its basicConstraints is not critical; RFC 5280 4.2.1.9 requires it to be "
                   "in a CA certificate");
  }
  // 4.2.1.3: "If the keyCertSign bit is asserted, then the cA bit in the basic constraints
  // extension MUST also be asserted."
  uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) &&
      !(flags & EXFLAG_CA)) {
    return problem("its keyUsage allows keyCertSign but it is not a CA (basicConstraints cA); "
                   "RFC 5280 4.2.1.3");
  }
  return std::nullopt;
}

// Extensions whose syntax is "SEQUENCE SIZE (1..MAX) OF": an empty one is malformed.
// RFC 5280 4.2.1.4 certificatePolicies, 4.2.1.5 policyMappings, 4.2.1.6 subjectAltName,
// 4.2.1.7 issuerAltName, 4.2.1.12 extKeyUsage, 4.2.1.13 cRLDistributionPoints, 4.2.2.1
// authorityInfoAccess, 4.2.2.2 subjectInfoAccess.
bool IsNonEmptySequence(int nid) {
  switch (nid) {
    case NID_certificate_policies:
    case NID_policy_mappings:
    case NID_subject_alt_name:
    case NID_issuer_alt_name:
    case NID_ext_key_usage:
    case NID_crl_distribution_points:
    case NID_info_access:
    case NID_sinfo_access:
      return true;
    default:
      return false;
  }
}

// RFC 5280 4.2: every extension this implementation knows decodes under its ASN.1 syntax,
// and the SEQUENCE SIZE (1..MAX) ones hold at least one element (CA/B Forum BR 7.1.2.7.7:
// "The AuthorityInfoAccessSyntax MUST contain one or more AccessDescriptions").
std::optional<StrictFailure> CheckExtensionsWellFormed(X509* cert) {
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    const X509V3_EXT_METHOD* method = X509V3_EXT_get(ext);
    if (method == nullptr) continue;  // Unknown: refused by verification when critical.
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    void* decoded = X509V3_EXT_d2i(ext);
    ClearOpenSslErrors();
    std::string problem;
    if (decoded == nullptr) {
      problem = "cannot be decoded";
    } else if (IsNonEmptySequence(nid) &&
               OPENSSL_sk_num(static_cast<const OPENSSL_STACK*>(decoded)) <= 0) {
      problem = "is empty; it must hold at least one element";
    }
    if (decoded != nullptr) {
      if (method->it != nullptr) {
        ASN1_item_free(static_cast<ASN1_VALUE*>(decoded), ASN1_ITEM_ptr(method->it));
      } else if (method->ext_free != nullptr) {
        method->ext_free(decoded);
      }
    }
    if (!problem.empty()) {
      return StrictFailure{Reason::kMalformedCertificate,
                           absl::StrCat("its ", OBJ_nid2ln(nid), " extension ", problem), cert,
                           ""};
    }
  }
  return std::nullopt;
}

// CA/B Forum BR 7.1.2.1.2: a root CA certificate has no extKeyUsage.
std::optional<StrictFailure> CheckRootHasNoEku(X509* root) {
  if (X509_get_ext_by_NID(root, NID_ext_key_usage, -1) < 0) return std::nullopt;
  return StrictFailure{Reason::kPolicyViolation,
                       "it is a root certificate with an extendedKeyUsage extension, which "
                       "roots may not have (CA/B Forum BR 7.1.2.1.2)",
                       root, ""};
}

// An issuing CA's extendedKeyUsage, when it has one, bounds what it may issue for (CA/B
// Forum BR 7.1.2.2.4 and 7.1.2.2.5; as browsers apply it): it must name the purpose's usage
// or anyExtendedKeyUsage. Server Gated Crypto is not serverAuth.
std::optional<StrictFailure> CheckIssuerEku(X509* ca, bool server) {
  if (!(X509_get_extension_flags(ca) & EXFLAG_XKUSAGE)) return std::nullopt;
  uint32_t xku = X509_get_extended_key_usage(ca);
  if (xku & (XKU_ANYEKU | (server ? XKU_SSL_SERVER : XKU_SSL_CLIENT))) return std::nullopt;
  return StrictFailure{Reason::kWrongUsage,
                       absl::StrCat("it is a CA whose extendedKeyUsage does not include ",
                                    server ? "serverAuth" : "clientAuth",
                                    ", so it may not issue for this purpose"),
                       ca, ""};
}

}  // namespace

bool DnsNameAllowedByConstraints(absl::string_view name, const NAME_CONSTRAINTS* nc) {
  bool wildcard = absl::StartsWith(name, "*.");
  absl::string_view rest = wildcard ? name.substr(2) : name;

  bool any_permitted = false;
  bool permitted = false;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); ++i) {
    const GENERAL_SUBTREE* st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
    if (st->base->type != GEN_DNS) continue;
    any_permitted = true;
    absl::string_view base = Ia5(st->base->d.dNSName);
    // A wildcard "*.rest" is wholly inside the subtree when rest itself is: every name it
    // matches is a subdomain of rest.
    if (InSubtree(rest, base)) permitted = true;
  }
  if (any_permitted && !permitted) return false;

  for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); ++i) {
    const GENERAL_SUBTREE* st = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i);
    if (st->base->type != GEN_DNS) continue;
    absl::string_view base = Ia5(st->base->d.dNSName);
    if (InSubtree(rest, base)) return false;
    if (wildcard) {
      // "*.example.com" can match "bar.example.com" (and any name below it that is
      // excluded): one label, then rest.
      absl::string_view b = absl::StartsWith(base, ".") ? base.substr(1) : base;
      size_t dot = b.find('.');
      if (dot != absl::string_view::npos && absl::EqualsIgnoreCase(b.substr(dot + 1), rest)) {
        return false;
      }
    }
  }
  return true;
}

namespace {

// RFC 5280 4.2.1.10: an iPAddress subtree is an address and a mask, 8 octets for IPv4 and
// 32 for IPv6; `ip` (4 or 16 octets) is in it when it has that family and matches the
// address under the mask.
bool IpInSubtree(const ASN1_OCTET_STRING* ip, const ASN1_OCTET_STRING* subtree) {
  int len = ASN1_STRING_length(ip);
  if (ASN1_STRING_length(subtree) != 2 * len) return false;
  const unsigned char* a = ASN1_STRING_get0_data(ip);
  const unsigned char* base = ASN1_STRING_get0_data(subtree);
  const unsigned char* mask = base + len;
  for (int i = 0; i < len; ++i) {
    if ((a[i] & mask[i]) != (base[i] & mask[i])) return false;
  }
  return true;
}

// Whether `ip` is allowed by the iPAddress subtrees of `nc`: inside one of the permitted
// subtrees of its family when there are some, inside none of the excluded.
bool IpAllowedByConstraints(const ASN1_OCTET_STRING* ip, const NAME_CONSTRAINTS* nc) {
  bool any_permitted = false, permitted = false;
  for (int i = 0; i < static_cast<int>(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees)); ++i) {
    const GENERAL_SUBTREE* st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
    if (st->base->type != GEN_IPADD ||
        ASN1_STRING_length(st->base->d.iPAddress) != 2 * ASN1_STRING_length(ip)) {
      continue;
    }
    any_permitted = true;
    if (IpInSubtree(ip, st->base->d.iPAddress)) permitted = true;
  }
  if (any_permitted && !permitted) return false;
  for (int i = 0; i < static_cast<int>(sk_GENERAL_SUBTREE_num(nc->excludedSubtrees)); ++i) {
    const GENERAL_SUBTREE* st = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i);
    if (st->base->type == GEN_IPADD && IpInSubtree(ip, st->base->d.iPAddress)) return false;
  }
  return true;
}

// RFC 5280 4.2.1.10 and 6.1.4 (g): the iPAddress names of every certificate below a CA
// with name constraints (its subjectAltName) lie within them. Written here because
// BoringSSL's verifier does not process iPAddress constraints (it reports them as an
// unsupported type, which ChainValidator then leaves to this check).
std::optional<StrictFailure> CheckIpNameConstraints(const std::vector<X509*>& chain) {
  for (size_t i = 1; i < chain.size(); ++i) {
    NAME_CONSTRAINTS* nc = static_cast<NAME_CONSTRAINTS*>(
        X509_get_ext_d2i(chain[i], NID_name_constraints, nullptr, nullptr));
    ClearOpenSslErrors();
    if (nc == nullptr) continue;
    for (size_t j = 0; j < i; ++j) {
      UniqueGeneralNames sans(static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(chain[j], NID_subject_alt_name, nullptr, nullptr)));
      ClearOpenSslErrors();
      for (int k = 0; sans && k < static_cast<int>(sk_GENERAL_NAME_num(sans.get())); ++k) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), k);
        if (gn->type != GEN_IPADD || IpAllowedByConstraints(gn->d.iPAddress, nc)) continue;
        NAME_CONSTRAINTS_free(nc);
        return StrictFailure{Reason::kNameConstraintViolation,
                             absl::StrCat("an IP address in its subjectAltName is outside the "
                                          "name constraints of \"", Subject(chain[i]), "\""),
                             chain[j], ""};
      }
    }
    NAME_CONSTRAINTS_free(nc);
  }
  return std::nullopt;
}

}  // namespace

bool OnlyKnownNameConstraintTypes(const std::vector<X509*>& chain) {
  for (X509* cert : chain) {
    NAME_CONSTRAINTS* nc = static_cast<NAME_CONSTRAINTS*>(
        X509_get_ext_d2i(cert, NID_name_constraints, nullptr, nullptr));
    ClearOpenSslErrors();
    if (nc == nullptr) continue;
    bool known = true;
    for (auto* subtrees : {nc->permittedSubtrees, nc->excludedSubtrees}) {
      for (int i = 0; i < static_cast<int>(sk_GENERAL_SUBTREE_num(subtrees)); ++i) {
        int type = sk_GENERAL_SUBTREE_value(subtrees, i)->base->type;
        if (type != GEN_DNS && type != GEN_EMAIL && type != GEN_URI && type != GEN_DIRNAME &&
            type != GEN_IPADD) {
          known = false;
        }
      }
    }
    NAME_CONSTRAINTS_free(nc);
    if (!known) return false;
  }
  return true;
}

std::optional<StrictFailure> CheckStrictPolicy(const std::vector<X509*>& chain, bool server,
                                               const StrictPolicy& policy,
                                               std::vector<std::string>* warnings,
                                               const StrictOptions& options) {
  if (chain.empty()) return std::nullopt;
  X509* leaf = chain.front();
  SignatureCache* signatures = options.signatures;
  const bool self_signed_leaf = options.self_signed_leaf && chain.size() == 1;

  // A self-signed leaf without extendedKeyUsage (StrictOptions): RFC 5280 4.2.1.12, any
  // purpose. One that has the extension is held to it like any other leaf.
  bool eku_exempt = self_signed_leaf && !(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE);
  if (!eku_exempt) {
    if (auto f = CheckLeafEku(leaf, server, policy, warnings)) return f;
  }

  // Subject alternative names: required (CA/B Forum BR 7.1.2.7.12), except in a self-signed
  // leaf (StrictOptions), whose CN is then its name.
  bool has_san = false;
  std::vector<std::string> dns_names = SanDnsNames(leaf, &has_san);
  if (!has_san && !self_signed_leaf) {
    if (policy.allow_missing_san) {
      warnings->push_back(absl::StrCat("accepted \"", Subject(leaf),
                                       "\" without subjectAltName, matched on its CN "
                                       "(trustd.policy.allow_missing_san)"));
    } else {
      return StrictFailure{Reason::kMissingSan,
                           "the certificate has no subjectAltName extension", leaf,
                           "trustd.policy.allow_missing_san"};
    }
  }

  // A leaf marked as a CA that may not sign certificates is inconsistent (RFC 5280
  // 4.2.1.9); CA certificates used as leaves are otherwise fine.
  uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_CA) && (flags & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN)) {
    return StrictFailure{Reason::kPolicyViolation,
                         "it is marked as a CA (basicConstraints cA=TRUE) but its keyUsage "
                         "does not allow keyCertSign",
                         leaf, ""};
  }

  if (auto f = CheckLeafNames(leaf)) return f;
  if (auto f = CheckNoNameConstraintsInEndEntity(leaf)) return f;
  // A self-signed leaf is not a trust anchor: its signature is checked like any other
  // certificate's (RFC 5280 6.1.3 (a)(1), under its own key), and so is its algorithm below.
  if (self_signed_leaf && !IsSelfSigned(leaf, signatures)) {
    return StrictFailure{Reason::kInvalidChain,
                         "it is not self-signed: its signature does not verify under its own "
                         "key",
                         leaf, ""};
  }

  for (size_t i = 0; i < chain.size(); ++i) {
    X509* cert = chain[i];
    bool anchor = i + 1 == chain.size();
    if (auto f = CheckKey(cert, policy, warnings)) return f;
    if (auto f = CheckExtensionsWellFormed(cert)) return f;
    if (auto f = CheckKeyIdentifiers(cert, signatures)) return f;
    if (auto f = CheckNameConstraintsSyntax(cert)) return f;
    if (auto f = CheckRequiredCriticality(cert)) return f;
    if (auto f = CheckExtensionPresenceAndCriticality(cert, i > 0)) return f;
    if (i > 0) {
      if (auto f = CheckIssuerEku(cert, server)) return f;
    }
    if (anchor && IsSelfIssued(cert) && !self_signed_leaf) {
      // A root, not a self-signed leaf (allow_self_signed).
      if (i > 0) {
        if (auto f = CheckRootHasNoEku(cert)) return f;
      }
      continue;  // A root's self-signature proves nothing.
    }
    if (auto f = CheckSignature(cert, policy, warnings)) return f;
    if (auto f = CheckVersion(cert, policy, warnings)) return f;
    if (auto f = CheckSerial(cert, policy, warnings)) return f;
  }

  if (auto f = CheckIpNameConstraints(chain)) return f;

  // Name constraints on the leaf's names, wildcard-aware (OpenSSL compares the wildcard
  // label literally, so "*.example.com" slips past an excluded "bar.example.com").
  if (!policy.ignore_leaf_name_constraints) {
    for (size_t i = 1; i < chain.size(); ++i) {
      NAME_CONSTRAINTS* nc = static_cast<NAME_CONSTRAINTS*>(
          X509_get_ext_d2i(chain[i], NID_name_constraints, nullptr, nullptr));
      if (nc == nullptr) continue;
      for (const std::string& name : dns_names) {
        if (!DnsNameAllowedByConstraints(name, nc)) {
          NAME_CONSTRAINTS_free(nc);
          return StrictFailure{
              Reason::kNameConstraintViolation,
              absl::StrCat("its name \"", name, "\" is outside the name constraints of \"",
                           Subject(chain[i]), "\""),
              leaf, "trustd.policy.ignore_leaf_name_constraints"};
        }
      }
      NAME_CONSTRAINTS_free(nc);
    }
  } else if (chain.size() > 1) {
    warnings->push_back("name constraints not re-checked on the leaf "
                        "(trustd.policy.ignore_leaf_name_constraints)");
  }
  return std::nullopt;
}

}  // namespace edge::trust

#include "services/trust/strict_checks.h"

#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

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


// RFC 5280 4.2.1.1 and CA/B Forum: an authorityKeyIdentifier carries a keyIdentifier and
// nothing else, and a self-signed certificate's points at its own subjectKeyIdentifier.
std::optional<StrictFailure> CheckKeyIdentifiers(X509* cert) {
  int crit = 0;
  AUTHORITY_KEYID* akid = static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(cert, NID_authority_key_identifier, &crit, nullptr));
  if (akid == nullptr) return std::nullopt;
  std::string problem;
  if (akid->keyid == nullptr) {
    problem = "its authorityKeyIdentifier has no keyIdentifier";
  } else if (akid->issuer != nullptr || akid->serial != nullptr) {
    problem = "its authorityKeyIdentifier names an issuer and serial, which is not allowed";
  } else if (IsSelfIssued(cert) && X509_verify(cert, X509_get0_pubkey(cert)) == 1) {
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

// A nameConstraints extension must constrain something, and its dNSName bases must be
// host names (no wildcard, no leading dot).
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

// A SAN dNSName: labels of letters, digits, '-' and '_', 1 to 63 characters, and a
// wildcard only as the whole leftmost label.
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
      if (label != 0) return false;
    } else {
      for (char c : l) {
        if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return false;
      }
    }
    ++label;
    if (dot == absl::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// CA/B Forum BR 7.1.4.3: a common name that is an IP address must be written the way
// RFC 3986 (IPv4) and RFC 5952 (IPv6) write it, and must be one of the SAN addresses.
std::optional<std::string> CommonNameIpProblem(X509* cert, const GENERAL_NAMES* sans) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx < 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
  std::string cn(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                 static_cast<size_t>(ASN1_STRING_length(data)));
  bool v4_like = !cn.empty() && cn.find_first_not_of("0123456789.") == std::string::npos &&
                 std::count(cn.begin(), cn.end(), '.') == 3;
  bool v6_like = cn.find(':') != std::string::npos &&
                 cn.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  if (!v4_like && !v6_like) return std::nullopt;
  unsigned char addr[16];
  int family = v4_like ? AF_INET : AF_INET6;
  char canonical[INET6_ADDRSTRLEN] = {0};
  if (inet_pton(family, cn.c_str(), addr) != 1 ||
      inet_ntop(family, addr, canonical, sizeof(canonical)) == nullptr || cn != canonical) {
    return absl::StrCat("its common name \"", cn,
                        "\" is an IP address not written in canonical form");
  }
  size_t len = v4_like ? 4 : 16;
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_IPADD && static_cast<size_t>(ASN1_STRING_length(gn->d.iPAddress)) == len &&
        std::memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), addr, len) == 0) {
      return std::nullopt;
    }
  }
  return absl::StrCat("its common name \"", cn, "\" is not one of its subjectAltName addresses");
}

// The leaf's subjectAltName: well-formed names, not critical beside a non-empty subject.
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
    if (gn->type != GEN_DNS) continue;
    absl::string_view name = Ia5(gn->d.dNSName);
    if (!ValidDnsName(name)) {
      return StrictFailure{Reason::kMalformedCertificate,
                           absl::StrCat("its subjectAltName has the malformed DNS name \"",
                                        absl::CHexEscape(name), "\""),
                           leaf, ""};
    }
  }
  if (auto problem = CommonNameIpProblem(leaf, sans.get())) {
    return StrictFailure{Reason::kMalformedCertificate, *problem, leaf, ""};
  }
  return std::nullopt;
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

std::optional<StrictFailure> CheckStrictPolicy(const std::vector<X509*>& chain, bool server,
                                               const StrictPolicy& policy,
                                               std::vector<std::string>* warnings) {
  if (chain.empty()) return std::nullopt;
  X509* leaf = chain.front();

  // Extended key usage: required, and must name the purpose's usage.
  uint32_t flags = X509_get_extension_flags(leaf);
  const char* usage = server ? "serverAuth" : "clientAuth";
  if (!(flags & EXFLAG_XKUSAGE)) {
    if (policy.allow_missing_eku) {
      warnings->push_back(absl::StrCat("accepted \"", Subject(leaf),
                                       "\" without extendedKeyUsage "
                                       "(trustd.policy.allow_missing_eku)"));
    } else {
      return StrictFailure{Reason::kWrongUsage,
                           absl::StrCat("the certificate has no extendedKeyUsage; ", usage,
                                        " is required"),
                           leaf, "trustd.policy.allow_missing_eku"};
    }
  } else {
    uint32_t xku = X509_get_extended_key_usage(leaf);
    if (!(xku & (server ? XKU_SSL_SERVER : XKU_SSL_CLIENT))) {
      return StrictFailure{Reason::kWrongUsage,
                           absl::StrCat("its extendedKeyUsage does not include ", usage),
                           leaf, ""};
    }
  }

  // Subject alternative names: required.
  bool has_san = false;
  std::vector<std::string> dns_names = SanDnsNames(leaf, &has_san);
  if (!has_san) {
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
  if ((flags & EXFLAG_CA) && (flags & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN)) {
    return StrictFailure{Reason::kPolicyViolation,
                         "it is marked as a CA (basicConstraints cA=TRUE) but its keyUsage "
                         "does not allow keyCertSign",
                         leaf, ""};
  }

  if (auto f = CheckLeafNames(leaf)) return f;

  for (size_t i = 0; i < chain.size(); ++i) {
    X509* cert = chain[i];
    bool anchor = i + 1 == chain.size();
    if (auto f = CheckKey(cert, policy, warnings)) return f;
    if (auto f = CheckKeyIdentifiers(cert)) return f;
    if (auto f = CheckNameConstraintsSyntax(cert)) return f;
    if (anchor && IsSelfIssued(cert)) continue;  // A root's self-signature proves nothing.
    if (auto f = CheckSignature(cert, policy, warnings)) return f;
    if (auto f = CheckVersion(cert, policy, warnings)) return f;
    if (auto f = CheckSerial(cert, policy, warnings)) return f;
  }

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

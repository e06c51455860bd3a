#include "services/trust/policy_from_config.h"

#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/file_util.h"
#include "services/trust/chain_validator.h"

namespace edge::trust {
namespace {

absl::StatusOr<std::shared_ptr<TrustStore>> LoadStore(const std::string& field,
                                                      const std::vector<std::string>& files,
                                                      const std::vector<std::string>& crl_files,
                                                      const std::string& crl_field) {
  auto store = std::make_shared<TrustStore>();
  store->source = absl::StrCat(field, " (", absl::StrJoin(files, ", "), ")");
  for (const std::string& path : files) {
    auto pem = ReadFile(path);
    if (!pem.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", pem.status().message()));
    auto certs = CertsFromPem(*pem, absl::StrCat(field, " (", path, ")"));
    if (!certs.ok()) return certs.status();
    for (UniqueX509& c : *certs) store->anchors.push_back(std::move(c));
  }
  for (const std::string& path : crl_files) {
    auto pem = ReadFile(path);
    if (!pem.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(crl_field, ": ", pem.status().message()));
    }
    UniqueBio bio = MemBio(*pem);
    size_t before = store->crls.size();
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      store->crls.emplace_back(crl);
    }
    ClearOpenSslErrors();
    if (store->crls.size() == before) {
      return absl::InvalidArgumentError(
          absl::StrCat(crl_field, " (", path, "): expected PEM CRLs, found none"));
    }
  }
  return store;
}

StrictPolicy Strict(const config::StrictPolicyConfig& c) {
  StrictPolicy s;
  s.allow_sha1_signatures = c.allow_sha1_signatures;
  s.allow_missing_eku = c.allow_missing_eku;
  s.allow_missing_san = c.allow_missing_san;
  s.allow_weak_keys = c.allow_weak_keys;
  s.allow_v1_ca = c.allow_v1_ca;
  s.allow_invalid_serial = c.allow_invalid_serial;
  s.ignore_leaf_name_constraints = c.ignore_leaf_name_constraints;
  return s;
}

std::vector<std::string> Pins(const config::Config& c, const std::string& purpose) {
  auto it = c.trustd.pins.find(purpose);
  return it == c.trustd.pins.end() ? std::vector<std::string>() : it->second;
}

std::vector<std::string> Crls(const config::Config& c, const std::string& store) {
  auto it = c.trustd.crl_files.find(store);
  return it == c.trustd.crl_files.end() ? std::vector<std::string>() : it->second;
}

}  // namespace

absl::StatusOr<TrustPolicy> PolicyFromConfig(const config::Config& c, uint64_t generation) {
  const config::Certificates& certs = c.certificates;
  auto main_store = LoadStore("certificates.cert_chain", certs.cert_chain, Crls(c, "cert_chain"),
                              "trustd.crl_files.cert_chain");
  if (!main_store.ok()) return main_store.status();
  std::shared_ptr<TrustStore> edge_store = *main_store;
  if (!certs.http_client_ca_certs.empty()) {
    auto store = LoadStore("certificates.http_client_ca_certs", certs.http_client_ca_certs,
                           Crls(c, "http_client_ca_certs"),
                           "trustd.crl_files.http_client_ca_certs");
    if (!store.ok()) return store.status();
    edge_store = *store;
  }

  PurposePolicy base;
  base.validate = certs.validate;
  base.allow_self_signed = certs.allow_self_signed;
  base.check_name = !certs.disable_hostname_validation;
  base.strict = Strict(c.trustd.policy);

  TrustPolicy policy;
  policy.generation = generation;

  PurposePolicy platform = base;
  platform.store = *main_store;
  const config::ValidationCriteria& vc = certs.validation_criteria;
  platform.criteria.cert_common_name = vc.cert_common_name;
  platform.criteria.cert_organization = vc.cert_organization;
  platform.criteria.cert_organizational_unit = vc.cert_organizational_name;
  platform.criteria.ca_cert_common_name = vc.ca_cert_common_name;
  platform.criteria.ca_cert_organization = vc.ca_cert_organization;
  platform.criteria.ca_cert_organizational_unit = vc.ca_cert_organizational_name;
  platform.pins = Pins(c, "platform");
  policy.purposes[Purpose::kPlatform] = std::move(platform);

  PurposePolicy edge = base;
  edge.store = edge_store;
  edge.leaf_allowlist = certs.fingerprint_allowlist;
  edge.leaf_allowlist_field = "certificates.fingerprint_allowlist";
  edge.pins = Pins(c, "edge");
  policy.purposes[Purpose::kEdge] = std::move(edge);

  PurposePolicy client = base;
  client.store = *main_store;
  client.pins = Pins(c, "client");
  policy.purposes[Purpose::kClient] = std::move(client);

  // trustd's own connection to its ACME CA: judged strictly whatever certificates.validate
  // says of the platform, against trustd.acme.ca_certificates alone.
  if (c.trustd.acme.enabled() && !c.trustd.acme.ca_certificates.empty()) {
    auto store = LoadStore("trustd.acme.ca_certificates", c.trustd.acme.ca_certificates, {}, "");
    if (!store.ok()) return store.status();
    PurposePolicy acme;
    acme.store = *store;
    acme.strict = Strict(c.trustd.policy);
    policy.purposes[Purpose::kAcme] = std::move(acme);
  }
  return policy;
}

}  // namespace edge::trust

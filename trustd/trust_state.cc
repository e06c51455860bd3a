#include "trustd/trust_state.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/file_util.h"
#include "services/common/openssl_util.h"
#include "services/trust/policy_from_config.h"
#include "services/trust/sealed_secret.h"
#include "trustd/acme_paths.h"

namespace edge::trustd {
namespace {

namespace v1 = ::trust::v1;

bool AnySealed(const config::Config& c) {
  if (c.app_key.sealed() || c.http_server.password.sealed() ||
      c.http_server.passphrase.sealed() || c.certificates.key_passphrase.sealed() ||
      c.trustd.acme.eab_hmac_key.sealed()) {
    return true;
  }
  for (const config::AutoBind& a : c.auto_bind) {
    if (a.password.sealed()) return true;
  }
  return false;
}

absl::Time NotAfter(X509* cert) { return Asn1TimeToTime(X509_get0_notAfter(cert)); }

}  // namespace

absl::StatusOr<std::shared_ptr<const TrustState>> TrustState::Load(const config::Config& config,
                                                                   uint64_t generation,
                                                                   const LoadOptions& options) {
  std::shared_ptr<TrustState> state(new TrustState());
  state->config_ = config;
  state->loaded_ = absl::Now();
  std::vector<std::string> errors;
  auto error = [&errors](absl::string_view message) {
    errors.push_back(absl::StrCat("error: ", message));
  };

  // The master key: needed to unseal, and by Seal.
  state->master_key_file_ =
      options.master_key_file.empty() ? config.trustd.master_key_file : options.master_key_file;
  struct stat st;
  bool exists = ::stat(state->master_key_file_.c_str(), &st) == 0;
  // Created only where its directory already is: a file whose secrets are all plaintext
  // needs no key, and an EMS machine has no /var/lib/edge (startup_checks warns about it).
  const std::string& mk_file = state->master_key_file_;
  std::string mk_dir = DirName(mk_file);
  bool can_create = options.create_master_key && ::stat(mk_dir.c_str(), &st) == 0 &&
                    S_ISDIR(st.st_mode);
  if (exists || can_create) {
    auto key = options.create_master_key ? trust::MasterKey::LoadOrCreate(state->master_key_file_)
                                         : trust::MasterKey::Load(state->master_key_file_);
    if (key.ok()) {
      state->master_key_ = *key;
    } else {
      error(absl::StrCat("trustd.master_key_file: ", key.status().message()));
    }
  } else if (AnySealed(config)) {
    error(absl::StrCat("trustd.master_key_file: the configuration holds sealed values but the "
                       "master key ", mk_file, " does not exist; restore the key they were sealed "
                       "under, or seal them again with `trustctl encrypt --master-key ", mk_file,
                       " -`"));
  }
  const trust::MasterKey* mk = state->master_key();

  // Secrets, revealed once here so that a bad one is a start-up error, not a runtime one.
  auto reveal = [&](const std::string& name, const config::Secret& secret,
                    const std::string& field) {
    if (secret.empty()) return;
    if (secret.sealed() && mk == nullptr) return;  // Reported above.
    auto plain = trust::Reveal(mk, secret.value, field);
    if (!plain.ok()) {
      error(plain.status().message());
      return;
    }
    state->secrets_[name] = *plain;
  };
  reveal("app_key", config.app_key, "appKey");
  reveal("http_server/password", config.http_server.password, "http_server.password");
  reveal("proxy/password", config.proxy.password, "proxy.password");
  reveal("acme/eab_hmac_key", config.trustd.acme.eab_hmac_key,
         "trustd.acme.external_account_binding.hmac_key");
  for (size_t i = 0; i < config.auto_bind.size(); ++i) {
    reveal(absl::StrCat("auto_bind/", config.auto_bind[i].name, "/password"),
           config.auto_bind[i].password, absl::StrCat("auto_bind[", i, "].password"));
  }

  // Identities trustd signs for.
  struct Want {
    v1::Role role;
    const char* name;
    trust::IdentityFiles files;
    bool acme_issued = false;
  };
  std::vector<Want> wants;
  if (!config.http_server.certificate.empty() && !config.http_server.private_key.empty()) {
    wants.push_back({v1::REST_SERVER, "rest_server",
                     {config.http_server.certificate, "http_server.certificate",
                      config.http_server.private_key, "http_server.private_key",
                      config.http_server.passphrase.value, "http_server.passphrase"}});
  }
  if (!config.certificates.client_cert.empty() && !config.certificates.key_file.empty()) {
    wants.push_back({v1::PLATFORM_CLIENT, "platform_client",
                     {config.certificates.client_cert, "certificates.client_cert",
                      config.certificates.key_file, "certificates.key_file",
                      config.certificates.key_passphrase.value, "certificates.key_passphrase"}});
  }
  // An identity trustd obtained from its ACME CA takes the place of the configured files
  // once it exists (acme_paths.h); until then the configured ones, if any, stay in force.
  for (const char* role : {"rest_server", "platform_client"}) {
    if (!AcmeManages(config, role)) continue;
    std::string chain = AcmeChainFile(config.trustd.acme, role);
    if (::stat(chain.c_str(), &st) != 0) continue;
    v1::Role r = std::string(role) == "rest_server" ? v1::REST_SERVER : v1::PLATFORM_CLIENT;
    wants.erase(std::remove_if(wants.begin(), wants.end(),
                               [r](const Want& w) { return w.role == r; }),
                wants.end());
    std::string field = absl::StrCat("trustd.acme.", role, " (issued by the ACME CA)");
    wants.push_back({r, role, {chain, field, AcmeKeyFile(config.trustd.acme, role), field, "", ""},
                     true});
  }
  for (Want& want : wants) {
    if (trust::IsSealed(want.files.passphrase) && mk == nullptr) continue;  // Reported above.
    auto id = trust::LoadIdentity(want.files, mk);
    if (!id.ok()) {
      error(id.status().message());
      continue;
    }
    for (const std::string& w : id->warnings) state->warnings_.push_back(w);
    std::string hex;
    for (char c : id->leaf_sha256) {
      if (c != ':') hex.push_back(absl::ascii_tolower(c));
    }
    RoleIdentity ri{want.role, want.name, absl::StrCat(want.name, ":", hex.substr(0, 16)),
                    *std::move(id), want.acme_issued};
    state->identity_files_.push_back(want.files.cert_path);
    state->identity_files_.push_back(want.files.key_path);
    state->identities_.push_back(std::move(ri));
  }

  auto policy = trust::PolicyFromConfig(config, generation);
  if (!policy.ok()) {
    error(policy.status().message());
  } else {
    auto validator = trust::ChainValidator::Create(*std::move(policy), options.validator_caches);
    if (!validator.ok()) {
      error(validator.status().message());
    } else {
      state->validator_ = *std::move(validator);
    }
  }

  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return std::shared_ptr<const TrustState>(std::move(state));
}

const RoleIdentity* TrustState::IdentityForRole(v1::Role role) const {
  for (const RoleIdentity& id : identities_) {
    if (id.role == role) return &id;
  }
  return nullptr;
}

const RoleIdentity* TrustState::IdentityForKeyId(const std::string& key_id) const {
  for (const RoleIdentity& id : identities_) {
    if (id.key_id == key_id) return &id;
  }
  return nullptr;
}

const std::string* TrustState::Secret(const std::string& name) const {
  auto it = secrets_.find(name);
  return it == secrets_.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, absl::Time>> TrustState::Certificates() const {
  std::vector<std::pair<std::string, absl::Time>> out;
  for (const RoleIdentity& id : identities_) {
    for (const UniqueX509& c : id.identity.chain) {
      out.emplace_back(absl::StrCat(id.name, " certificate \"",
                                    NameToString(X509_get_subject_name(c.get())), "\""),
                       NotAfter(c.get()));
    }
  }
  for (const auto& [purpose, pp] : validator_->policy().purposes) {
    for (const UniqueX509& c : pp.store->anchors) {
      out.emplace_back(absl::StrCat("trust anchor \"", NameToString(X509_get_subject_name(c.get())),
                                    "\" in ", pp.store->source),
                       NotAfter(c.get()));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> TrustState::Files() const {
  const config::Config& c = config_;
  std::vector<std::string> files;
  if (!c.source.empty()) files.push_back(c.source);
  for (const std::string* f : {&c.http_server.certificate, &c.http_server.private_key,
                               &c.certificates.client_cert, &c.certificates.key_file}) {
    if (!f->empty()) files.push_back(*f);
  }
  for (const std::string& f : identity_files_) files.push_back(f);
  for (const std::string& f : c.certificates.cert_chain) files.push_back(f);
  for (const std::string& f : c.trustd.acme.ca_certificates) files.push_back(f);
  for (const std::string& f : c.certificates.http_client_ca_certs) files.push_back(f);
  for (const auto& [store, list] : c.trustd.crl_files) {
    for (const std::string& f : list) files.push_back(f);
  }
  if (master_key_) files.push_back(master_key_file_);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

v1::TrustSnapshot TrustState::Snapshot() const {
  v1::TrustSnapshot snapshot;
  snapshot.set_generation(generation());
  snapshot.set_loaded_unix(absl::ToUnixSeconds(loaded_));
  for (const RoleIdentity& id : identities_) {
    v1::Identity* out = snapshot.add_identities();
    out->set_role(id.role);
    for (const UniqueX509& c : id.identity.chain) out->add_chain_der(CertToDer(c.get()));
    out->set_key_id(id.key_id);
    EVP_PKEY* key = id.identity.key.get();
    out->set_key_type(EVP_PKEY_base_id(key) == EVP_PKEY_RSA ? "RSA" : "EC");
    out->set_key_bits(EVP_PKEY_bits(key));
    out->set_leaf_sha256(id.identity.leaf_sha256);
    out->set_not_after_unix(absl::ToUnixSeconds(NotAfter(id.identity.chain.front().get())));
  }
  std::set<const trust::TrustStore*> seen;
  for (const auto& [purpose, pp] : validator_->policy().purposes) {
    if (!seen.insert(pp.store.get()).second) continue;
    v1::TrustStoreSnapshot* s = snapshot.add_stores();
    s->set_name(pp.store->source);
    for (const UniqueX509& c : pp.store->anchors) s->add_anchor_sha256(Sha256Fingerprint(c.get()));
    s->set_crl_count(static_cast<int32_t>(pp.store->crls.size()));
  }
  return snapshot;
}

}  // namespace edge::trustd

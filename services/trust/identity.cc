#include "services/trust/identity.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/trust/cert_chain.h"
#include "services/trust/private_key.h"
#include "services/trust/sealed_secret.h"

namespace edge::trust {

absl::StatusOr<Identity> LoadIdentity(const IdentityFiles& files, const MasterKey* master_key) {
  std::string cert_what = absl::StrCat(files.cert_field, " (", files.cert_path, ")");
  std::string key_what = absl::StrCat(files.key_field, " (", files.key_path, ")");
  auto cert_pem = ReadFile(files.cert_path);
  if (!cert_pem.ok()) {
    return absl::Status(cert_pem.status().code(),
                        absl::StrCat(files.cert_field, ": ", cert_pem.status().message()));
  }
  auto chain = LoadCertificateChain(*cert_pem, cert_what);
  if (!chain.ok()) return chain.status();
  // The file's first certificate is the one served with this key (SSL_CTX_use_certificate_
  // chain_file does the same): a leaf further down is the mistake to name, not the key
  // mismatch it would cause.
  std::vector<X509*> in_file;
  for (const UniqueX509& c : chain->certs) in_file.push_back(c.get());
  if (std::optional<size_t> at = MisplacedLeaf(in_file)) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_what, ": ", MisplacedLeafHint(in_file, *at),
                     "; expected the order leaf, intermediates, root"));
  }
  auto key_pem = ReadFile(files.key_path);
  if (!key_pem.ok()) {
    return absl::Status(key_pem.status().code(),
                        absl::StrCat(files.key_field, ": ", key_pem.status().message()));
  }
  auto passphrase = Reveal(master_key, files.passphrase, files.passphrase_field);
  if (!passphrase.ok()) return passphrase.status();
  auto key = LoadPrivateKey(*key_pem, *passphrase, key_what, files.passphrase_field);
  OPENSSL_cleanse(passphrase->data(), passphrase->size());
  OPENSSL_cleanse(key_pem->data(), key_pem->size());
  if (!key.ok()) return key.status();
  absl::Status match =
      CheckKeyMatchesCertificate(key->get(), chain->certs.front().get(), key_what, cert_what);
  if (!match.ok()) return match;

  Identity id;
  id.warnings = std::move(chain->warnings);
  std::vector<X509*> ordered = OrderedChain(chain->certs);
  if (ordered.size() == chain->certs.size()) {
    for (X509* c : ordered) {
      X509_up_ref(c);
      id.chain.emplace_back(c);
    }
  } else {
    id.chain = std::move(chain->certs);
  }
  id.key = *std::move(key);
  id.leaf_sha256 = Sha256Fingerprint(id.chain.front().get());
  return id;
}

}  // namespace edge::trust

#include "services/trust/private_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace edge::trust {
namespace {

struct PassphraseState {
  absl::string_view passphrase;
  bool asked = false;
};

int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* state = static_cast<PassphraseState*>(userdata);
  state->asked = true;
  if (state->passphrase.empty() || static_cast<int>(state->passphrase.size()) > size) return -1;
  std::memcpy(buf, state->passphrase.data(), state->passphrase.size());
  return static_cast<int>(state->passphrase.size());
}

}  // namespace

absl::StatusOr<UniqueEvpPkey> LoadPrivateKey(absl::string_view pem, absl::string_view passphrase,
                                             absl::string_view what,
                                             absl::string_view passphrase_field) {
  if (!absl::StrContains(pem, "-----BEGIN") || !absl::StrContains(pem, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a PEM private key (\"-----BEGIN ... PRIVATE KEY-----\"), "
                           "found none"));
  }
  UniqueBio bio = MemBio(pem);
  PassphraseState state{passphrase};
  UniqueEvpPkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback, &state));
  if (!key) {
    unsigned long err = ERR_peek_last_error();
    ClearOpenSslErrors();
    bool encrypted = absl::StrContains(pem, "ENCRYPTED") || state.asked;
    if (encrypted && passphrase.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the key is encrypted; expected its passphrase in ",
                       passphrase_field, ", found none"));
    }
    if (encrypted) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": wrong passphrase (", passphrase_field,
                       "): the key does not decrypt with it"));
    }
    const char* reason = ERR_reason_error_string(err);
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": not a readable PEM private key", reason ? absl::StrCat(" (", reason, ")") : ""));
  }
  int type = EVP_PKEY_base_id(key.get());
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected an RSA or ECDSA key, found ",
                                                   OBJ_nid2sn(type)));
  }
  return key;
}

absl::Status CheckKeyMatchesCertificate(EVP_PKEY* key, X509* cert, absl::string_view key_what,
                                        absl::string_view cert_what) {
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (pub == nullptr || EVP_PKEY_eq(key, pub) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(key_what, ": the private key does not match the certificate \"",
                     NameToString(X509_get_subject_name(cert)), "\" in ", cert_what));
  }
  return absl::OkStatus();
}

}  // namespace edge::trust

#include "services/trust/sealed_secret.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/openssl_util.h"

namespace edge::trust {
namespace {

constexpr uint8_t kVersion = 0x01;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

absl::Status Refuse(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": the sealed value ", why));
}

}  // namespace

bool IsSealed(absl::string_view value) { return absl::StartsWith(value, kSealedPrefix); }

std::string Seal(const MasterKey& key, absl::string_view plaintext) {
  std::string envelope(1 + kNonceSize + plaintext.size() + kTagSize, '\0');
  uint8_t* out = reinterpret_cast<uint8_t*>(envelope.data());
  out[0] = kVersion;
  RAND_bytes(out + 1, kNonceSize);
  UniqueEvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), out + 1);
  EVP_EncryptUpdate(ctx.get(), nullptr, &len, out, 1);  // The version byte as AAD.
  EVP_EncryptUpdate(ctx.get(), out + 1 + kNonceSize, &len,
                    reinterpret_cast<const uint8_t*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx.get(), out + 1 + kNonceSize + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                      out + 1 + kNonceSize + plaintext.size());
  return absl::StrCat(kSealedPrefix, absl::Base64Escape(envelope));
}

absl::Status CheckSealedForm(absl::string_view value, absl::string_view field) {
  if (!IsSealed(value)) {
    return Refuse(field, "does not start with \"AES:\"; it is plaintext, not a sealed value");
  }
  std::string envelope;
  if (!absl::Base64Unescape(value.substr(4), &envelope)) {
    return Refuse(field, "is corrupted (the part after \"AES:\" is not base64); seal the "
                         "plaintext again with `trustctl encrypt -`");
  }
  // Ours start with the version byte; EMS's are bare AES blocks (1 in 256 of them starts
  // with the same byte and then fails to decrypt instead).
  if (!envelope.empty() && static_cast<uint8_t>(envelope[0]) != kVersion) {
    return Refuse(field, "is not one of ours: it is a legacy EMS value, sealed by `wsems "
                         "-encrypt` with EMS's built-in key, which is not public, so nothing "
                         "can decrypt it here; seal the plaintext again with `trustctl "
                         "encrypt -` and paste the AES:... value in its place");
  }
  if (envelope.size() < 1 + kNonceSize + kTagSize) {
    return Refuse(field, "is corrupted (shorter than any value `trustctl encrypt` makes); seal "
                         "the plaintext again with `trustctl encrypt -`");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unseal(const MasterKey& key, absl::string_view value,
                                   absl::string_view field) {
  if (absl::Status form = CheckSealedForm(value, field); !form.ok()) return form;
  std::string envelope;
  absl::Base64Unescape(value.substr(4), &envelope);
  const uint8_t* in = reinterpret_cast<const uint8_t*>(envelope.data());
  size_t ciphertext_size = envelope.size() - 1 - kNonceSize - kTagSize;
  std::string plaintext(ciphertext_size, '\0');
  UniqueEvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), in + 1) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, in, 1) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plaintext.data()), &len,
                              in + 1 + kNonceSize, static_cast<int>(ciphertext_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                                const_cast<uint8_t*>(in + envelope.size() - kTagSize)) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plaintext.data()) + len,
                                &len) == 1;
  ClearOpenSslErrors();
  if (!ok) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Refuse(field, "does not decrypt: it was sealed under a different master key, or it "
                         "is corrupted, or it is a legacy EMS value; seal the plaintext again "
                         "with `trustctl encrypt -`");
  }
  return plaintext;
}

absl::StatusOr<std::string> Reveal(const MasterKey* key, absl::string_view value,
                                   absl::string_view field) {
  if (!IsSealed(value)) return std::string(value);
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": the value is sealed but no master key is available "
                            "(trustd.master_key_file)"));
  }
  return Unseal(*key, value, field);
}

}  // namespace edge::trust

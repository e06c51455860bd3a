#include "services/trust/key_signer.h"

#include <openssl/rsa.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace edge::trust {
namespace {

namespace v1 = ::trust::v1;

struct AlgorithmInfo {
  enum Kind { kPkcs1, kPss, kEcdsa } kind;
  const EVP_MD* md;
};

absl::StatusOr<AlgorithmInfo> Info(v1::SignatureAlgorithm algorithm) {
  switch (algorithm) {
    case v1::RSA_PKCS1_SHA256: return AlgorithmInfo{AlgorithmInfo::kPkcs1, EVP_sha256()};
    case v1::RSA_PKCS1_SHA384: return AlgorithmInfo{AlgorithmInfo::kPkcs1, EVP_sha384()};
    case v1::RSA_PKCS1_SHA512: return AlgorithmInfo{AlgorithmInfo::kPkcs1, EVP_sha512()};
    case v1::RSA_PSS_SHA256: return AlgorithmInfo{AlgorithmInfo::kPss, EVP_sha256()};
    case v1::RSA_PSS_SHA384: return AlgorithmInfo{AlgorithmInfo::kPss, EVP_sha384()};
    case v1::RSA_PSS_SHA512: return AlgorithmInfo{AlgorithmInfo::kPss, EVP_sha512()};
    case v1::ECDSA_SHA256: return AlgorithmInfo{AlgorithmInfo::kEcdsa, EVP_sha256()};
    case v1::ECDSA_SHA384: return AlgorithmInfo{AlgorithmInfo::kEcdsa, EVP_sha384()};
    case v1::ECDSA_SHA512: return AlgorithmInfo{AlgorithmInfo::kEcdsa, EVP_sha512()};
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("signature algorithm ", v1::SignatureAlgorithm_Name(algorithm),
                       " is not offered (TLS 1.2 and 1.3 only: PKCS#1 v1.5, PSS, ECDSA)"));
  }
}

}  // namespace

absl::Status CheckPssEncoding(absl::string_view em_view, int modulus_bits, const EVP_MD* md) {
  const size_t h_len = static_cast<size_t>(EVP_MD_get_size(md));
  const int em_bits = modulus_bits - 1;
  const size_t em_len = static_cast<size_t>((em_bits + 7) / 8);
  const size_t k = static_cast<size_t>((modulus_bits + 7) / 8);
  auto refuse = [](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a well-formed EMSA-PSS encoding: ", why));
  };
  if (em_view.size() != k) {
    return refuse(absl::StrCat("expected ", k, " bytes (the modulus size), got ", em_view.size()));
  }
  const uint8_t* em = reinterpret_cast<const uint8_t*>(em_view.data());
  if (k > em_len) {  // emBits is a multiple of 8: the block starts with a zero byte.
    if (em[0] != 0) return refuse("the leading byte is not zero");
    ++em;
  }
  if (em_len < 2 * h_len + 2) return refuse("the key is too small for this hash");
  if (em[em_len - 1] != 0xBC) return refuse("the trailer byte is not 0xBC");
  const size_t db_len = em_len - h_len - 1;
  const uint8_t* masked_db = em;
  const uint8_t* h = em + db_len;
  const int unused_bits = static_cast<int>(8 * em_len) - em_bits;
  if (unused_bits > 0 && (masked_db[0] & (0xFF << (8 - unused_bits)) & 0xFF) != 0) {
    return refuse("the leftmost bits are not zero");
  }
  std::vector<uint8_t> db(db_len);
  if (PKCS1_MGF1(db.data(), static_cast<long>(db_len), h, static_cast<long>(h_len), md) != 0) {
    return refuse("MGF1 failed");
  }
  for (size_t i = 0; i < db_len; ++i) db[i] ^= masked_db[i];
  if (unused_bits > 0) db[0] &= static_cast<uint8_t>(0xFF >> unused_bits);
  const size_t salt_len = h_len;  // TLS requires salt length = hash length.
  const size_t ps_len = db_len - salt_len - 1;
  for (size_t i = 0; i < ps_len; ++i) {
    if (db[i] != 0) return refuse("the padding is not zero (or the salt is not hash-sized)");
  }
  if (db[ps_len] != 0x01) return refuse("the 0x01 separator is missing");
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignWithKey(EVP_PKEY* key, v1::SignatureAlgorithm algorithm,
                                        absl::string_view input) {
  auto info = Info(algorithm);
  if (!info.ok()) return info.status();
  const int key_type = EVP_PKEY_base_id(key);
  const bool want_rsa = info->kind != AlgorithmInfo::kEcdsa;
  if (want_rsa != (key_type == EVP_PKEY_RSA) || (!want_rsa && key_type != EVP_PKEY_EC)) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature algorithm ", v1::SignatureAlgorithm_Name(algorithm),
                     " does not fit the key, which is ", key_type == EVP_PKEY_RSA ? "RSA" : "EC"));
  }
  const size_t h_len = static_cast<size_t>(EVP_MD_get_size(info->md));
  if (info->kind == AlgorithmInfo::kPss) {
    absl::Status ok = CheckPssEncoding(input, EVP_PKEY_bits(key), info->md);
    if (!ok.ok()) return ok;
  } else if (input.size() != h_len) {
    return absl::InvalidArgumentError(absl::StrCat("expected a ", h_len, "-byte ",
                                                   EVP_MD_get0_name(info->md),
                                                   " digest, got ", input.size(), " bytes"));
  }

  UniqueEvpPkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return OpenSslError("sign init", absl::StatusCode::kInternal);
  bool ok = true;
  if (info->kind == AlgorithmInfo::kPss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) == 1;
  } else {
    ok = EVP_PKEY_CTX_set_signature_md(ctx.get(), info->md) == 1;
    if (ok && info->kind == AlgorithmInfo::kPkcs1) {
      ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
    }
  }
  if (!ok) return OpenSslError("sign parameters", absl::StatusCode::kInternal);
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, in, input.size()) != 1) {
    return OpenSslError("sign", absl::StatusCode::kInternal);
  }
  std::string signature(len, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, in,
                    input.size()) != 1) {
    return OpenSslError("sign", absl::StatusCode::kInternal);
  }
  signature.resize(len);
  return signature;
}

}  // namespace edge::trust

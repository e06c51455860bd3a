#include "services/common/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"

namespace edge {

absl::Status OpenSslError(absl::string_view context, absl::StatusCode code) {
  std::string reasons;
  unsigned long err;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(err);
    absl::StrAppend(&reasons, reasons.empty() ? "" : "; ", reason != nullptr ? reason : buf);
  }
  if (reasons.empty()) return absl::Status(code, std::string(context));
  return absl::Status(code, absl::StrCat(context, ": ", reasons));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

UniqueBio MemBio(absl::string_view data) {
  return UniqueBio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string CertToDer(const X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(const_cast<X509*>(cert), &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<UniqueX509> CertFromDer(absl::string_view der, absl::string_view what) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  UniqueX509 cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return OpenSslError(absl::StrCat(what, ": not a DER X.509 certificate"));
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": trailing bytes after the DER certificate"));
  }
  return cert;
}

absl::StatusOr<std::vector<UniqueX509>> CertsFromPem(absl::string_view pem,
                                                     absl::string_view what) {
  UniqueBio bio = MemBio(pem);
  std::vector<UniqueX509> certs;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ClearOpenSslErrors();  // End of input.
      break;
    }
    std::string block_name = name;
    std::string der(reinterpret_cast<char*>(data), static_cast<size_t>(len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (block_name != "CERTIFICATE" && block_name != "TRUSTED CERTIFICATE" &&
        block_name != "X509 CERTIFICATE") {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": expected PEM certificates, found a \"", block_name, "\" block (block ",
          certs.size() + 1, ")"));
    }
    auto cert = CertFromDer(der, absl::StrCat(what, ": certificate ", certs.size() + 1));
    if (!cert.ok()) return cert.status();
    certs.push_back(*std::move(cert));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected at least one PEM certificate, found none"));
  }
  return certs;
}

std::string CertToPem(const X509* cert) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string ColonHex(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out.push_back(':');
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

static std::string Sha256(absl::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

std::string Sha256Fingerprint(const X509* cert) { return ColonHex(Sha256(CertToDer(cert))); }

std::string SpkiSha256Fingerprint(const X509* cert) {
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert);
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(pub, &der);
  if (len <= 0) return "";
  std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return ColonHex(Sha256(spki));
}

std::string NameToString(const X509_NAME* name) {
  if (name == nullptr) return "";
  UniqueBio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::Time Asn1TimeToTime(const ASN1_TIME* t) {
#ifdef OPENSSL_IS_BORINGSSL
  // No ASN1_TIME_to_tm: the distance from the epoch instead.
  int days = 0, seconds = 0;
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  bool ok = t != nullptr && epoch != nullptr && ASN1_TIME_diff(&days, &seconds, epoch, t) == 1;
  ASN1_TIME_free(epoch);
  if (!ok) return absl::InfinitePast();
  return absl::UnixEpoch() + absl::Hours(24) * days + absl::Seconds(seconds);
#else
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
#endif
}

bool IsIpLiteral(absl::string_view name) {
  std::string s(name);
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(s.c_str());
  ClearOpenSslErrors();
  if (ip == nullptr) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

}  // namespace edge

#include "services/acme/acme_crypto.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/acme/acme_client.h"
#include "services/acme/challenge_server.h"

namespace edge::acme {
namespace {

std::string Unb64(const std::string& s) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(s, &out)) << s;
  return out;
}

std::string Member(const json::Value& v, const char* key) { return v.Find(key)->str(); }

// RFC 7638 section 3.1: the example RSA key and its thumbprint.
TEST(AcmeCryptoTest, ThumbprintOfTheRfc7638ExampleKey) {
  std::string n = Unb64(
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
      "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
      "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw");
  std::string e = Unb64("AQAB");
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), n.size(), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), e.size(), nullptr);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  ASSERT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
  ASSERT_EQ(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
  absl::StatusOr<std::string> thumbprint = JwkThumbprint(key);
  ASSERT_TRUE(thumbprint.ok()) << thumbprint.status();
  EXPECT_EQ(*thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
}

// The JWS verifies with the public key, R || S turned back into DER (RFC 7518 section 3.4).
TEST(AcmeCryptoTest, Es256JwsVerifiesWithThePublicKey) {
  UniqueEvpPkey key = *GenerateKey("ec-p256");
  json::Value header = json::Value::MakeObject({{"alg", json::Value::String("ES256")},
                                                {"nonce", json::Value::String("abc")},
                                                {"url", json::Value::String("https://ca/x")}});
  absl::StatusOr<json::Value> jws = SignJws(key.get(), header, "{\"a\":1}");
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(Unb64(Member(*jws, "payload")), "{\"a\":1}");
  EXPECT_EQ(Unb64(Member(*jws, "protected")), json::Write(header));
  std::string sig = Unb64(Member(*jws, "signature"));
  ASSERT_EQ(sig.size(), 64u);
  ECDSA_SIG* ecdsa = ECDSA_SIG_new();
  ECDSA_SIG_set0(ecdsa,
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(ecdsa, &der);
  std::string input = Member(*jws, "protected") + "." + Member(*jws, "payload");
  UniqueEvpMdCtx md(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(md.get(), der, der_len,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  input[0] ^= 1;
  EXPECT_NE(EVP_DigestVerify(md.get(), der, der_len,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  OPENSSL_free(der);
  ECDSA_SIG_free(ecdsa);
  // POST-as-GET: the payload is the empty string (RFC 8555 section 6.3).
  EXPECT_EQ(Member(*SignJws(key.get(), header, ""), "payload"), "");
}

TEST(AcmeCryptoTest, ExternalAccountBindingIsAnHs256MacOverTheAccountJwk) {
  UniqueEvpPkey key = *GenerateKey("ec-p256");
  std::string mac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  absl::StatusOr<json::Value> eab =
      ExternalAccountBinding(key.get(), "kid-1", mac_key, "https://ca/new-acct");
  ASSERT_TRUE(eab.ok()) << eab.status();
  EXPECT_EQ(Unb64(Member(*eab, "protected")),
            "{\"alg\":\"HS256\",\"kid\":\"kid-1\",\"url\":\"https://ca/new-acct\"}");
  EXPECT_EQ(Unb64(Member(*eab, "payload")), json::Write(*PublicJwk(key.get())));
  std::string raw = Unb64(mac_key);
  std::string input = Member(*eab, "protected") + "." + Member(*eab, "payload");
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), raw.data(), raw.size(), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  EXPECT_EQ(Unb64(Member(*eab, "signature")), std::string(reinterpret_cast<char*>(mac), len));
  EXPECT_FALSE(ExternalAccountBinding(key.get(), "kid-1", "not base64url!", "u").ok());
}

TEST(AcmeCryptoTest, CsrCarriesEveryNameAsSubjectAltName) {
  UniqueEvpPkey key = *GenerateKey("rsa-2048");
  absl::StatusOr<std::string> der = MakeCsr(key.get(), {"gw.example.test", "127.0.0.1"});
  ASSERT_TRUE(der.ok()) << der.status();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, der->size());
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, key.get()), 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  GENERAL_NAMES* names = static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 2);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 0)->type, GEN_DNS);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 1)->type, GEN_IPADD);
  EXPECT_EQ(ASN1_STRING_length(sk_GENERAL_NAME_value(names, 1)->d.iPAddress), 4);
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);
  EXPECT_FALSE(MakeCsr(key.get(), {}).ok());
}

TEST(AcmeCryptoTest, TlsAlpnCertificateHoldsTheCriticalAcmeIdentifier) {
  UniqueEvpPkey key = *GenerateKey("ec-p256");
  absl::StatusOr<UniqueX509> cert = TlsAlpn01Certificate(key.get(), "gw.example.test", "tok.thumb");
  ASSERT_TRUE(cert.ok()) << cert.status();
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  int at = X509_get_ext_by_OBJ(cert->get(), oid, -1);
  ASN1_OBJECT_free(oid);
  ASSERT_GE(at, 0);
  X509_EXTENSION* ext = X509_get_ext(cert->get(), at);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>("tok.thumb"), 9, digest);
  std::string expected = std::string("\x04\x20", 2) + std::string(reinterpret_cast<char*>(digest), 32);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                        ASN1_STRING_length(value)),
            expected);
  EXPECT_EQ(X509_check_host(cert->get(), "gw.example.test", 0, 0, nullptr), 1);
}

// RFC 9773 appendix A: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:
// C8:D4 and serial 0x0087654321 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
TEST(AcmeCryptoTest, AriCertIdOfTheRfc9773Example) {
  UniqueEvpPkey key = *GenerateKey("ec-p256");
  UniqueX509 cert(X509_new());
  X509_set_version(cert.get(), 2);
  const unsigned char serial[] = {0x00, 0x87, 0x65, 0x43, 0x21};
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  const unsigned char kid[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                               0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
  akid->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(akid->keyid, kid, sizeof(kid));
  X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT);
  AUTHORITY_KEYID_free(akid);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  EXPECT_EQ(AriCertId(cert.get()), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST(AcmeCryptoTest, TlsAlpnServerNameOfAnIpIsItsReverseName) {
  EXPECT_EQ(TlsAlpnServerName({"ip", "127.0.0.1"}), "1.0.0.127.in-addr.arpa");
  EXPECT_EQ(TlsAlpnServerName({"dns", "GW.Example.test"}), "gw.example.test");
  EXPECT_EQ(TlsAlpnServerName({"ip", "::1"}).substr(0, 4), "1.0.");
}

TEST(AcmeCryptoTest, HttpsUrlsOnly) {
  EXPECT_EQ(ParseHttpsUrl("https://ca.example:14000/dir")->port, "14000");
  EXPECT_EQ(ParseHttpsUrl("https://[::1]/d")->host, "::1");
  EXPECT_EQ(ParseHttpsUrl("https://ca.example")->target, "/");
  EXPECT_FALSE(ParseHttpsUrl("http://ca.example/dir").ok());
  EXPECT_FALSE(ParseHttpsUrl("https://user@ca.example/dir").ok());
  EXPECT_FALSE(ParseHttpsUrl("https://ca.example:0/dir").ok());
  EXPECT_FALSE(ParseHttpsUrl("https://ca.example/d\r\nX: y").ok());
}

}  // namespace
}  // namespace edge::acme

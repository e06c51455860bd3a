#include "services/tls/peer_verifier.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "services/common/openssl_util.h"

namespace edge::tls {
namespace {

struct CtxData {
  std::shared_ptr<PeerValidator> validator;
  trust::Purpose purpose;
};

struct SslData {
  std::string expected_name;
  std::optional<trust::Decision> decision;
};

template <typename T>
void FreeData(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
              void* /*argp*/) {
  delete static_cast<T*>(ptr);
}

int CtxIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeData<CtxData>);
  return index;
}

int SslIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeData<SslData>);
  return index;
}

SslData* DataOf(const SSL* ssl, bool create) {
  auto* data = static_cast<SslData*>(SSL_get_ex_data(ssl, SslIndex()));
  if (data == nullptr && create) {
    data = new SslData();
    SSL_set_ex_data(const_cast<SSL*>(ssl), SslIndex(), data);
  }
  return data;
}

int VerifyWithValidator(X509_STORE_CTX* store_ctx, void* arg) {
  auto* ctx_data = static_cast<CtxData*>(arg);
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (ssl == nullptr || leaf == nullptr) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  std::vector<std::string> chain = {CertToDer(leaf)};
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store_ctx);
  for (int i = 0; sent != nullptr && i < sk_X509_num(sent); ++i) {
    X509* c = sk_X509_value(sent, i);
    if (X509_cmp(c, leaf) != 0) chain.push_back(CertToDer(c));
  }
  SslData* data = DataOf(ssl, /*create=*/true);
  trust::Decision decision =
      ctx_data->validator->Validate(chain, ctx_data->purpose, data->expected_name);
  bool allowed = decision.allowed;
  int code = decision.openssl_error != 0 ? decision.openssl_error
                                         : X509_V_ERR_APPLICATION_VERIFICATION;
  data->decision = std::move(decision);
  if (allowed) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store_ctx, code);
  return 0;
}

}  // namespace

void InstallPeerValidation(SSL_CTX* ctx, std::shared_ptr<PeerValidator> validator,
                           trust::Purpose purpose, bool require_peer_certificate) {
  auto* data = new CtxData{std::move(validator), purpose};
  SSL_CTX_set_ex_data(ctx, CtxIndex(), data);
  SSL_CTX_set_cert_verify_callback(ctx, VerifyWithValidator, data);
  SSL_CTX_set_verify(ctx,
                     SSL_VERIFY_PEER | (require_peer_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     nullptr);
}

void SetExpectedPeerName(SSL* ssl, const std::string& name) {
  DataOf(ssl, /*create=*/true)->expected_name = name;
}

void ExpectServer(SSL* ssl, const std::string& host) {
  // SNI carries host names only, never an IP address (RFC 6066, section 3).
  if (!IsIpLiteral(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
  SetExpectedPeerName(ssl, host);
}

std::optional<trust::Decision> LastDecision(const SSL* ssl) {
  SslData* data = DataOf(ssl, /*create=*/false);
  if (data == nullptr) return std::nullopt;
  return data->decision;
}

}  // namespace edge::tls

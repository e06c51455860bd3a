#include "services/tls/trustd_tls.h"

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace edge::tls {

absl::StatusOr<std::string> TrustdSigner::Sign(::trust::v1::SignatureAlgorithm algorithm,
                                               absl::string_view input) {
  absl::StatusOr<std::string> signature = trustd_->Sign(key_id_, algorithm, input);
  bool unreachable = absl::IsUnavailable(signature.status()) ||
                     absl::IsDeadlineExceeded(signature.status());
  if (unreachable_.exchange(unreachable) != unreachable) {
    if (unreachable) {
      LogError(absl::StrCat("TLS handshakes refused: trustd unreachable, nothing can be signed (",
                            signature.status().message(), ")"));
    } else {
      LogInfo("trustd reachable again: TLS handshakes are signed");
    }
  }
  return signature;
}

IdentityContext::IdentityContext(std::shared_ptr<trust::TrustdClient> trustd,
                                 ::trust::v1::Role role, std::function<void(SSL_CTX*)> configure,
                                 bool server)
    : trustd_(std::move(trustd)), role_(role), configure_(std::move(configure)), server_(server) {}

absl::Status IdentityContext::Refresh() {
  auto identity = trustd_->GetIdentity(role_);
  if (!identity.ok()) return identity.status();
  return Apply(*identity);
}

absl::Status IdentityContext::Apply(const ::trust::v1::Identity& identity) {
  {
    absl::MutexLock lock(&mu_);
    if (identity.key_id() == key_id_ && current_) return absl::OkStatus();
  }
  if (identity.chain_der_size() == 0) {
    return absl::FailedPreconditionError("trustd's identity has no certificate");
  }
  std::vector<UniqueX509> chain;
  for (const std::string& der : identity.chain_der()) {
    auto cert = CertFromDer(der, "identity certificate");
    if (!cert.ok()) return cert.status();
    chain.push_back(*std::move(cert));
  }
  auto key = MakeKeylessKey(chain.front().get(),
                            std::make_shared<TrustdSigner>(trustd_, identity.key_id()));
  if (!key.ok()) return key.status();
  UniqueSslCtx ctx(SSL_CTX_new(server_ ? TLS_server_method() : TLS_client_method()), SSL_CTX_free);
  if (!ctx) return OpenSslError("SSL_CTX_new", absl::StatusCode::kInternal);
  configure_(ctx.get());
  if (SSL_CTX_use_certificate(ctx.get(), chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), key->get()) != 1) {
    return OpenSslError("installing trustd's identity", absl::StatusCode::kInternal);
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    if (SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get()) != 1) {
      X509_free(chain[i].get());
      return OpenSslError("adding a chain certificate", absl::StatusCode::kInternal);
    }
    X509_free(chain[i].get());
  }
  absl::MutexLock lock(&mu_);
  current_ = std::move(ctx);
  key_id_ = identity.key_id();
  return absl::OkStatus();
}

std::unique_ptr<trust::TrustWatch> IdentityContext::Follow() {
  return trustd_->Watch([this](const ::trust::v1::TrustSnapshot& snapshot) {
    for (const ::trust::v1::Identity& id : snapshot.identities()) {
      if (id.role() != role_) continue;
      bool fresh = key_id() != id.key_id();
      absl::Status ok = Apply(id);
      if (!ok.ok()) {
        LogError(absl::StrCat("new identity from trustd not applied: ", ok.message()));
      } else if (fresh) {
        LogInfo(absl::StrCat("TLS identity now ", id.leaf_sha256(), " (trustd generation ",
                             snapshot.generation(), ")"));
      }
    }
  });
}

UniqueSslCtx IdentityContext::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::string IdentityContext::key_id() const {
  absl::MutexLock lock(&mu_);
  return key_id_;
}

}  // namespace edge::tls

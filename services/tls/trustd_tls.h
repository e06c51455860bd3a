// TLS through trustd, for edged and restd: a RemoteSigner and a PeerValidator that ask
// trustd, and an SSL_CTX that follows trustd's identity across rotations.
//
//   auto trustd = std::shared_ptr<trust::TrustdClient>(TrustdClient::Create({socket}));
//   IdentityContext https(trustd, trust::v1::REST_SERVER, [](SSL_CTX* ctx) {
//     SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  // whatever the server needs
//   });
//   absl::Status ok = https.Refresh();          // GetIdentity + keyless key
//   auto watch = https.Follow();                // WatchTrust: rebuild on rotation
//   SSL* ssl = SSL_new(https.Current().get());  // new connections: current identity
#ifndef SERVICES_TLS_TRUSTD_TLS_H_
#define SERVICES_TLS_TRUSTD_TLS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "services/tls/keyless_key.h"
#include "services/tls/peer_verifier.h"
#include "services/trustd_client/trustd_client.h"

namespace edge::tls {

// Signs with trustd's key `key_id`. When trustd cannot be reached it says so once, and
// once more when it can again ("TLS handshakes refused: trustd unreachable ..."), not once
// per handshake.
class TrustdSigner : public RemoteSigner {
 public:
  TrustdSigner(std::shared_ptr<trust::TrustdClient> trustd, std::string key_id)
      : trustd_(std::move(trustd)), key_id_(std::move(key_id)) {}
  absl::StatusOr<std::string> Sign(::trust::v1::SignatureAlgorithm algorithm,
                                   absl::string_view input) override;

 private:
  std::shared_ptr<trust::TrustdClient> trustd_;
  std::string key_id_;
  std::atomic<bool> unreachable_{false};
};

class TrustdPeerValidator : public PeerValidator {
 public:
  explicit TrustdPeerValidator(std::shared_ptr<trust::TrustdClient> trustd)
      : trustd_(std::move(trustd)) {}
  trust::Decision Validate(const std::vector<std::string>& chain_der, trust::Purpose purpose,
                           const std::string& peer_name) override {
    return trustd_->ValidatePeer(chain_der, purpose, peer_name, peer_name);
  }

 private:
  std::shared_ptr<trust::TrustdClient> trustd_;
};

using UniqueSslCtx = std::shared_ptr<SSL_CTX>;

// An SSL_CTX holding one of trustd's identities (certificate chain + keyless key). Rebuilt
// when the identity's key id changes; connections made earlier keep the context they were
// made with, so nothing open is dropped. Thread-safe.
class IdentityContext {
 public:
  // `configure` sets everything else on each new SSL_CTX (versions, ciphers, verification).
  IdentityContext(std::shared_ptr<trust::TrustdClient> trustd, ::trust::v1::Role role,
                  std::function<void(SSL_CTX*)> configure, bool server = true);

  // Asks trustd for the identity and builds a context when its key id is new.
  absl::Status Refresh();
  // Rebuilds the context from a WatchTrust snapshot's identity for this role.
  absl::Status Apply(const ::trust::v1::Identity& identity);
  // Follows WatchTrust until the returned watch is destroyed.
  std::unique_ptr<trust::TrustWatch> Follow();

  // The context new connections use; null until the first successful Refresh/Apply.
  UniqueSslCtx Current() const;
  std::string key_id() const;

 private:
  std::shared_ptr<trust::TrustdClient> trustd_;
  ::trust::v1::Role role_;
  std::function<void(SSL_CTX*)> configure_;
  bool server_;
  mutable absl::Mutex mu_;
  UniqueSslCtx current_ ABSL_GUARDED_BY(mu_);
  std::string key_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edge::tls

#endif  // SERVICES_TLS_TRUSTD_TLS_H_

// trustd as a real process on a real Unix socket, driven through TrustdClient (and a
// raw-credential child process for the caller policy), with real TLS handshakes that use
// the keyless key and trustd's verdicts.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/tls/peer_verifier.h"
#include "services/tls/trustd_tls.h"
#include "services/trust/master_key.h"
#include "services/trust/sealed_secret.h"
#include "services/trustd_client/trustd_client.h"
#include "tests/pki/test_pki.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tls_handshake.h"

namespace edge {
namespace {

namespace v1 = ::trust::v1;
using testing::CertSpec;
using testing::Subprocess;
using testing::TestCert;
using testing::TestPki;
using testing::WaitFor;

constexpr char kMasterKey[] = "0123456789abcdef0123456789abcdef";

class TrustdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ShortTempDir();
    ::chmod(dir_.c_str(), 0755);  // The unprivileged caller must reach the socket.
    socket_ = dir_ + "/trustd.sock";
    root_ = pki_.Root("Edge Test Root");
    ica_ = pki_.Issue(root_, CertSpec::Ca("Edge Test Intermediate"));
    platform_ = pki_.Issue(ica_, CertSpec::Server("platform.test"));
    CertSpec rest = CertSpec::Server("localhost");
    rest.key_index = 1;
    rest_ = pki_.Issue(ica_, rest);
    Write("master.key", kMasterKey, 0600);
    key_ = *trust::MasterKey::FromBytes(kMasterKey);
    WriteRestIdentity(rest_);
    Write("ca.pem", root_.Pem(), 0644);
    Write("config.yaml", Config(), 0644);
  }

  void Write(const std::string& name, const std::string& content, int mode) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::string tmp = path + ".tmp";
    std::ofstream(tmp) << content;
    ::chmod(tmp.c_str(), mode);
    ::rename(tmp.c_str(), path.c_str());  // Atomic, as an operator's tooling would do it.
  }

  void WriteRestIdentity(const TestCert& leaf) {
    Write("restd.key", leaf.KeyPem("key pass"), 0600);
    Write("restd.pem", leaf.Pem() + ica_.Pem(), 0644);
  }

  std::string Config() {
    return absl::StrCat(
        "ws_servers: [{host: platform.test, port: 443}]\n"
        "appKey: \"", trust::Seal(key_, "the-app-key"), "\"\n"
        "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n"
        "  passphrase: \"", trust::Seal(key_, "key pass"), "\"\n"
        "  user: admin\n  password: \"", trust::Seal(key_, "rest pass"), "\"\n"
        "certificates:\n  cert_chain: ca.pem\n"
        "trustd:\n  socket: ", socket_, "\n  socket_mode: \"0666\"\n"
        "  master_key_file: master.key\n"
        "  callers:\n    - name: nobody-signer\n      uid: 65534\n"
        "      methods: [GetIdentity, Sign]\n      roles: [rest_server]\n");
  }

  void StartTrustd() {
    auto process = Subprocess::Start(
        {testing::Runfile("trustd/trustd"), "--config", dir_ + "/config.yaml"},
        dir_ + "/trustd.log");
    ASSERT_TRUE(process.ok()) << process.status();
    trustd_ = *std::move(process);
    ASSERT_TRUE(trustd_->WaitForLog("serving trust.v1.TrustService", absl::Seconds(20)));
    if (!client_) client_ = trust::TrustdClient::Create({socket_, absl::Seconds(3)});
  }

  std::vector<std::string> Chain(const std::vector<const TestCert*>& certs) {
    std::vector<std::string> der;
    for (const TestCert* c : certs) der.push_back(c->Der());
    return der;
  }

  TestPki pki_;
  std::string dir_, socket_;
  TestCert root_, ica_, platform_, rest_;
  trust::MasterKey key_ = *trust::MasterKey::FromBytes(std::string(32, 'x'));
  std::unique_ptr<Subprocess> trustd_;
  std::shared_ptr<trust::TrustdClient> client_;
};

TEST_F(TrustdTest, AnswersEveryRpc) {
  StartTrustd();
  EXPECT_EQ(*client_->Health(), "SERVING");
  // The test PKI's certificates expire in 30 days: within trustd.expiry_warning_days.
  EXPECT_NE(trustd_->Log().find("WARNING rest_server certificate \"CN=localhost\" expires on "),
            std::string::npos)
      << trustd_->Log();

  trust::Decision ok = client_->ValidatePeer(Chain({&platform_, &ica_}), trust::Purpose::kPlatform,
                                             "platform.test", "platform.test:443");
  EXPECT_TRUE(ok.allowed) << ok.Summary();
  trust::Decision wrong = client_->ValidatePeer(Chain({&platform_, &ica_}),
                                                trust::Purpose::kPlatform, "evil.test", "");
  EXPECT_EQ(wrong.reason, trust::Reason::kNameMismatch);
  EXPECT_EQ(wrong.openssl_error, 62);
  // The second time comes from the cache, with the same verdict.
  EXPECT_EQ(client_->ValidatePeer(Chain({&platform_, &ica_}), trust::Purpose::kPlatform,
                                  "evil.test", "").reason,
            trust::Reason::kNameMismatch);

  auto identity = client_->GetIdentity(v1::REST_SERVER);
  ASSERT_TRUE(identity.ok()) << identity.status();
  ASSERT_EQ(identity->chain_der_size(), 2);
  EXPECT_EQ(identity->chain_der(0), rest_.Der());
  EXPECT_EQ(identity->leaf_sha256(), rest_.Sha256());
  EXPECT_EQ(identity->key_type(), "EC");

  std::string digest(32, '\x42');
  auto signature = client_->Sign(identity->key_id(), v1::ECDSA_SHA256, digest);
  ASSERT_TRUE(signature.ok()) << signature.status();
  UniqueEvpPkeyCtx verify(EVP_PKEY_CTX_new(X509_get0_pubkey(rest_.cert()), nullptr));
  EVP_PKEY_verify_init(verify.get());
  EXPECT_EQ(EVP_PKEY_verify(verify.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                            signature->size(), reinterpret_cast<const unsigned char*>(digest.data()),
                            digest.size()),
            1);
  auto bad_sign = client_->Sign(identity->key_id(), v1::ECDSA_SHA256, "short");
  EXPECT_EQ(bad_sign.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Sign("rest_server:0000", v1::ECDSA_SHA256, digest).status().code(),
            absl::StatusCode::kNotFound);
  // Many signatures at once over the shared stream, each answered to its own caller.
  std::vector<std::thread> signers;
  std::atomic<int> verified{0};
  for (int t = 0; t < 8; ++t) {
    signers.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string d(32, static_cast<char>('a' + t));
        auto sig = client_->Sign(identity->key_id(), v1::ECDSA_SHA256, d);
        if (!sig.ok()) continue;
        UniqueEvpPkeyCtx v(EVP_PKEY_CTX_new(X509_get0_pubkey(rest_.cert()), nullptr));
        EVP_PKEY_verify_init(v.get());
        if (EVP_PKEY_verify(v.get(), reinterpret_cast<const unsigned char*>(sig->data()),
                            sig->size(), reinterpret_cast<const unsigned char*>(d.data()),
                            d.size()) == 1) {
          ++verified;
        }
      }
    });
  }
  for (std::thread& t : signers) t.join();
  EXPECT_EQ(verified, 200);

  EXPECT_TRUE(*client_->CheckPassword("rest_server", "admin", "rest pass"));
  EXPECT_FALSE(*client_->CheckPassword("rest_server", "admin", "rest pas"));
  EXPECT_FALSE(*client_->CheckPassword("rest_server", "root", "rest pass"));

  EXPECT_EQ(*client_->RevealSecret("app_key"), "the-app-key");
  EXPECT_EQ(client_->RevealSecret("http_server/password").status().code(),
            absl::StatusCode::kPermissionDenied);  // Internal to trustd, even for root.

  auto sealed = client_->Seal("sealed by trustd");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(*trust::Unseal(key_, *sealed, "test"), "sealed by trustd");

  // No secret in trustd's log.
  for (const char* secret : {"the-app-key", "key pass", "rest pass", kMasterKey}) {
    EXPECT_EQ(trustd_->Log().find(secret), std::string::npos) << secret;
  }
}

TEST_F(TrustdTest, RefusesCallersTheirPolicyDoesNotAllow) {
  StartTrustd();
  std::string key_id = client_->GetIdentity(v1::REST_SERVER)->key_id();
  // Another process, as uid 65534: allowed Sign with rest_server by its rule, nothing else.
  // Copied next to the socket: the runfiles tree is not readable by that uid.
  std::string probe = dir_ + "/caller_probe";
  {
    std::ifstream in(testing::Runfile("tests/trustd/caller_probe"), std::ios::binary);
    std::ofstream(probe, std::ios::binary) << in.rdbuf();
    ::chmod(probe.c_str(), 0755);
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(100);
    ::execl(probe.c_str(), probe.c_str(), socket_.c_str(), key_id.c_str(), nullptr);
    ::_exit(101);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failure bits " << WEXITSTATUS(status);
  pid = ::fork();
  if (pid == 0) {
    if (::setgid(65533) != 0 || ::setuid(65533) != 0) ::_exit(100);
    ::execl(probe.c_str(), probe.c_str(), socket_.c_str(), key_id.c_str(), "stranger", nullptr);
    ::_exit(101);
  }
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failure bits " << WEXITSTATUS(status);
  EXPECT_TRUE(trustd_->WaitForLog("denied Sign to (uid 65533, gid 65533, pid ", absl::Seconds(5)));
  EXPECT_TRUE(trustd_->WaitForLog("denied RevealSecret to nobody-signer (uid 65534, gid 65534, pid ",
                                  absl::Seconds(5)));
  EXPECT_TRUE(trustd_->WaitForLog("denied CheckPassword to nobody-signer (uid 65534, gid 65534, pid ",
                                  absl::Seconds(5)));
}

TEST_F(TrustdTest, RotatesLeafAndAnchorWhileAClientWatchesAndKeepsTheLastGoodState) {
  StartTrustd();
  absl::Mutex mu;
  std::vector<v1::TrustSnapshot> seen;
  auto watch = client_->Watch([&](const v1::TrustSnapshot& s) {
    absl::MutexLock lock(&mu);
    seen.push_back(s);
  });
  auto seen_generation = [&](uint64_t g) {
    return WaitFor([&] {
      absl::MutexLock lock(&mu);
      return !seen.empty() && seen.back().generation() == g;
    }, absl::Seconds(10));
  };
  ASSERT_TRUE(seen_generation(1));

  // A new restd leaf (new key too): a new snapshot with the new identity.
  CertSpec spec = CertSpec::Server("localhost");
  spec.key_index = 2;
  TestCert renewed = pki_.Issue(ica_, spec);
  WriteRestIdentity(renewed);
  ASSERT_TRUE(seen_generation(2)) << trustd_->Log();
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(seen.back().identities(0).leaf_sha256(), renewed.Sha256());
  }

  // A new trust anchor: chains of the old root are refused from now on.
  TestCert new_root = pki_.Root("Edge Test Root 2");
  TestCert new_platform = pki_.Issue(new_root, CertSpec::Server("platform.test"));
  Write("ca.pem", new_root.Pem(), 0644);
  ASSERT_TRUE(seen_generation(3)) << trustd_->Log();
  EXPECT_TRUE(client_->ValidatePeer({new_platform.Der()}, trust::Purpose::kPlatform,
                                    "platform.test", "").allowed);
  EXPECT_EQ(client_->ValidatePeer(Chain({&platform_, &ica_}), trust::Purpose::kPlatform,
                                  "platform.test", "").reason,
            trust::Reason::kUnknownIssuer);

  // A bad file is refused; generation 3 stays in force.
  Write("ca.pem", "not a certificate", 0644);
  ASSERT_TRUE(trustd_->WaitForLog("a changed file was refused; generation 3 stays in force",
                                  absl::Seconds(10)));
  EXPECT_TRUE(client_->ValidatePeer({new_platform.Der()}, trust::Purpose::kPlatform,
                                    "platform.test", "").allowed);
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(seen.back().generation(), 3u);
  }
}

TEST_F(TrustdTest, RefusesToStartWhenTheSocketDirectoryIsWritableByOthers) {
  ::chmod(dir_.c_str(), 0777);
  auto process = Subprocess::Start(
      {testing::Runfile("trustd/trustd"), "--config", dir_ + "/config.yaml"}, dir_ + "/trustd.log");
  ASSERT_TRUE(process.ok());
  EXPECT_EQ((*process)->WaitForExit(absl::Seconds(20)), 1);
  EXPECT_NE((*process)->Log().find("error: trustd.socket: " + dir_ +
                                   ": the socket's directory is writable by others"),
            std::string::npos)
      << (*process)->Log();
}

TEST_F(TrustdTest, CreatesTheSocketWithTheConfiguredMode) {
  StartTrustd();
  struct stat st;
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);
}

TEST_F(TrustdTest, NewConnectionsFollowARotatedIdentity) {
  StartTrustd();
  tls::IdentityContext https(client_, v1::REST_SERVER, [](SSL_CTX*) {});
  ASSERT_TRUE(https.Refresh().ok());
  auto watch = https.Follow();
  tls::UniqueSslCtx before = https.Current();
  std::string old_key_id = https.key_id();
  CertSpec spec = CertSpec::Server("localhost");
  spec.key_index = 3;
  TestCert renewed = pki_.Issue(ica_, spec);
  WriteRestIdentity(renewed);
  ASSERT_TRUE(WaitFor([&] { return https.key_id() != old_key_id; }, absl::Seconds(10)))
      << trustd_->Log();
  X509* served = SSL_CTX_get0_certificate(https.Current().get());
  EXPECT_EQ(Sha256Fingerprint(served), renewed.Sha256());
  // A context taken before the rotation (an open connection's) still holds the old identity.
  EXPECT_EQ(Sha256Fingerprint(SSL_CTX_get0_certificate(before.get())), rest_.Sha256());
}

// One TLS handshake: a server with trustd's rest_server identity (keyless) and a client that
// asks trustd about the server.
testing::HandshakeOutcome Connect(SSL_CTX* server_ctx, std::shared_ptr<trust::TrustdClient> trustd,
                                  const std::string& name) {
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  tls::InstallPeerValidation(client_ctx, std::make_shared<tls::TrustdPeerValidator>(trustd),
                             trust::Purpose::kPlatform);
  testing::HandshakeOutcome out = testing::Handshake(server_ctx, client_ctx, name);
  SSL_CTX_free(client_ctx);
  return out;
}

TEST_F(TrustdTest, TlsHandshakesUseTheKeylessKeyAndTrustdsVerdict) {
  // The rest identity must be valid for the platform purpose too: same root, serverAuth.
  StartTrustd();
  tls::IdentityContext https(client_, v1::REST_SERVER, [](SSL_CTX* ctx) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  });
  ASSERT_TRUE(https.Refresh().ok());

  testing::HandshakeOutcome ok = Connect(https.Current().get(), client_, "localhost");
  EXPECT_TRUE(ok.client_ok);
  ASSERT_TRUE(ok.decision.has_value());
  EXPECT_TRUE(ok.decision->allowed) << ok.decision->Summary();

  testing::HandshakeOutcome refused = Connect(https.Current().get(), client_, "platform.test");
  EXPECT_FALSE(refused.client_ok);
  ASSERT_TRUE(refused.decision.has_value());
  EXPECT_EQ(refused.decision->reason, trust::Reason::kNameMismatch);

  // trustd down: no signature, no verdict, no handshake.
  trustd_->Kill(SIGKILL);
  testing::HandshakeOutcome down = Connect(https.Current().get(), client_, "localhost");
  EXPECT_FALSE(down.client_ok);
  ASSERT_TRUE(down.decision.has_value());
  EXPECT_EQ(down.decision->reason, trust::Reason::kTrustdUnavailable);
  EXPECT_FALSE(client_->Sign(https.key_id(), v1::ECDSA_SHA256, std::string(32, 'x')).ok());

  // And back: the same client and context recover on their own (within the client's
  // reconnect backoff, at most a second).
  StartTrustd();
  EXPECT_TRUE(WaitFor([&] { return Connect(https.Current().get(), client_, "localhost").client_ok; },
                      absl::Seconds(5)));
}

}  // namespace
}  // namespace edge

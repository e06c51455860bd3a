// trustd as a real process on a real Unix socket, driven through TrustdClient (and a
// raw-credential child process for the caller policy), with real TLS handshakes that use
// the keyless key and trustd's verdicts.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "proto/trust/v1/trust.grpc.pb.h"
#include "services/common/log.h"
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

  // A secret as the configuration holds it: sealed under key_, or plaintext (EMS's way).
  std::string Secret(const std::string& plain) {
    return plaintext_secrets_ ? plain : trust::Seal(key_, plain);
  }

  std::string Config() {
    return absl::StrCat(
        "ws_servers: [{host: platform.test, port: 443}]\n"
        "appKey: \"", Secret("the-app-key"), "\"\n"
        "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n"
        "  passphrase: \"", Secret("key pass"), "\"\n"
        "  user: admin\n  password: \"", Secret("rest pass"), "\"\n"
        "certificates:\n  cert_chain: ca.pem\n",
        allow_self_signed_ ? "  allow_self_signed: true\n" : "",
        "trustd:\n  socket: ", socket_, "\n  socket_mode: \"0666\"\n"
        "  master_key_file: ", master_key_file_, "\n"
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

  // A copy of the test binary `runfile` next to the socket: the runfiles tree is not
  // readable by the unprivileged uids the probes run as.
  std::string CopyNextToSocket(const std::string& runfile) {
    std::string copy = dir_ + "/" + runfile.substr(runfile.rfind('/') + 1);
    std::ifstream in(testing::Runfile(runfile), std::ios::binary);
    std::ofstream(copy, std::ios::binary) << in.rdbuf();
    ::chmod(copy.c_str(), 0755);
    return copy;
  }

  std::vector<std::string> Chain(const std::vector<const TestCert*>& certs) {
    std::vector<std::string> der;
    for (const TestCert* c : certs) der.push_back(c->Der());
    return der;
  }

  TestPki pki_;
  std::string dir_, socket_;
  TestCert root_, ica_, platform_, rest_;
  bool allow_self_signed_ = false;
  bool plaintext_secrets_ = false;
  std::string master_key_file_ = "master.key";
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

// Issue 11: an EMS configuration (plaintext secrets, no key, no directory for one) starts;
// the first Seal creates the key's directory 0700 and the key 0600, and what it sealed
// opens with the key in that file.
TEST_F(TrustdTest, CreatesTheMasterKeyAndItsDirectoryOnTheFirstSeal) {
  plaintext_secrets_ = true;
  master_key_file_ = dir_ + "/state/keys/master.key";
  Write("config.yaml", Config(), 0644);
  StartTrustd();
  struct stat st;
  ASSERT_NE(::stat(master_key_file_.c_str(), &st), 0) << "created before it was needed";

  auto sealed = client_->Seal("sealed on first use");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  ASSERT_EQ(::stat((dir_ + "/state/keys").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(master_key_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto key = trust::MasterKey::Load(master_key_file_);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*trust::Unseal(*key, *sealed, "test"), "sealed on first use");
  // The second Seal uses the same key.
  auto again = client_->Seal("second");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*trust::Unseal(*key, *again, "test"), "second");
  EXPECT_TRUE(trustd_->WaitForLog("created the master key " + master_key_file_, absl::Seconds(5)));
}

// Where the key's directory cannot be made, Seal says why and which command fixes it.
TEST_F(TrustdTest, ASealWithoutAKeyThatCannotBeCreatedNamesTheFix) {
  plaintext_secrets_ = true;
  master_key_file_ = dir_ + "/ca.pem/keys/master.key";  // Under a file: no directory here.
  Write("config.yaml", Config(), 0644);
  StartTrustd();
  auto sealed = client_->Seal("x");
  ASSERT_EQ(sealed.status().code(), absl::StatusCode::kFailedPrecondition) << sealed.status();
  EXPECT_TRUE(absl::StrContains(sealed.status().message(),
                                "trustd has no master key and cannot create one"))
      << sealed.status();
  EXPECT_TRUE(absl::StrContains(sealed.status().message(),
                                absl::StrCat("install -d -m 0700 -o ")))
      << sealed.status();
  EXPECT_TRUE(absl::StrContains(sealed.status().message(), dir_ + "/ca.pem/keys"))
      << sealed.status();
  EXPECT_EQ(trustd_->Log().find("\"x\""), std::string::npos);
}

// certificates.allow_self_signed: a self-signed device certificate as `openssl req -x509`
// makes it is accepted, and trustd says so once for that certificate, not per decision.
TEST_F(TrustdTest, LogsTheAcceptanceOfASelfSignedLeafOncePerCertificate) {
  allow_self_signed_ = true;
  Write("config.yaml", Config(), 0644);
  StartTrustd();
  TestCert self = pki_.SelfSigned(CertSpec::SelfSignedLikeOpensslReq("platform.test"));
  // Two chains, so that the second is not the decision cache's: the same leaf.
  for (const auto& chain : {Chain({&self}), Chain({&self, &ica_})}) {
    trust::Decision d = client_->ValidatePeer(chain, trust::Purpose::kPlatform,
                                              "platform.test", "platform.test:443");
    EXPECT_TRUE(d.allowed) << d.Summary();
  }
  const std::string line =
      "accepted platform peer platform.test:443: accepted the self-signed certificate "
      "\"CN=platform.test\" (certificates.allow_self_signed) without extendedKeyUsage or "
      "subjectAltName, matched on its CN";
  ASSERT_TRUE(trustd_->WaitForLog(line, absl::Seconds(5))) << trustd_->Log();
  std::string log = trustd_->Log();
  EXPECT_EQ(log.find(line), log.rfind(line)) << log;
}

TEST_F(TrustdTest, RefusesCallersTheirPolicyDoesNotAllow) {
  StartTrustd();
  std::string key_id = client_->GetIdentity(v1::REST_SERVER)->key_id();
  // Another process, as uid 65534: allowed Sign with rest_server by its rule, nothing else.
  std::string probe = CopyNextToSocket("tests/trustd/caller_probe");
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
  // Each problem its own line, saying ERROR once (not "ERROR error: ...", not "\n" inside).
  ASSERT_TRUE(trustd_->WaitForLog("trustd ERROR certificates.cert_chain", absl::Seconds(5)))
      << trustd_->Log();
  EXPECT_EQ(trustd_->Log().find("ERROR error:"), std::string::npos) << trustd_->Log();
  EXPECT_EQ(trustd_->Log().find("stays in force:\\n"), std::string::npos) << trustd_->Log();
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

// A field of /proc/PID/status as a number ("VmRSS" in kB, "Threads"); -1 when absent.
long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::vector<std::string> words =
        absl::StrSplit(line.substr(field.size() + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    long value = -1;
    if (!words.empty() && absl::SimpleAtoi(words[0], &value)) return value;
  }
  return -1;
}

// CPU time the process has used (user + system, /proc/PID/stat), in milliseconds.
long CpuMillis(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after its ')'.
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ', absl::SkipEmpty());
  long utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return (utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK);
}

// The sanitizers' own bookkeeping (shadow memory, quarantine) makes RSS meaningless.
bool UnderSanitizer() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#endif
#endif
  return std::getenv("ASAN_OPTIONS") != nullptr;
}

// A raw stub on trustd's socket, to see gRPC statuses as they are (TrustdClient turns a
// failed ValidatePeer into a TRUSTD_UNAVAILABLE decision).
std::unique_ptr<v1::TrustService::Stub> RawStub(const std::string& socket) {
  return v1::TrustService::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
}

grpc::Status CallValidatePeer(v1::TrustService::Stub* stub, const v1::ValidatePeerRequest& request,
                              v1::Decision* decision) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub->ValidatePeer(&context, request, decision);
}

v1::ValidatePeerRequest PeerRequest(const std::vector<std::string>& chain, const std::string& name,
                                    const std::string& endpoint = "") {
  v1::ValidatePeerRequest request;
  request.set_purpose(v1::PLATFORM);
  for (const std::string& der : chain) request.add_chain_der(der);
  request.set_peer_name(name);
  request.set_endpoint(endpoint);
  return request;
}

TEST_F(TrustdTest, RefusesValidatePeerRequestsBeyondItsLimitsNamingTheLimit) {
  StartTrustd();
  auto stub = RawStub(socket_);
  std::string der = platform_.Der();
  // One byte over the total, within gRPC's message limit: trustd's own answer.
  std::vector<std::string> over_total(8, std::string(64 * 1024, '\x30'));
  over_total.push_back("\x30");
  struct Case {
    const char* name;
    v1::ValidatePeerRequest request;
    grpc::StatusCode code;
    std::string message;
  } cases[] = {
      {"40 certificates", PeerRequest(std::vector<std::string>(40, der), "platform.test"),
       grpc::StatusCode::INVALID_ARGUMENT, "chain_der: 40 certificates, at most 16"},
      {"a certificate of 64 KB + 1",
       PeerRequest({der, std::string(64 * 1024 + 1, '\x30')}, "platform.test"),
       grpc::StatusCode::INVALID_ARGUMENT,
       "chain_der[1]: 65537 bytes, at most 65536 per certificate"},
      {"512 KB + 1 in all", PeerRequest(over_total, "platform.test"),
       grpc::StatusCode::INVALID_ARGUMENT, "chain_der: 524289 bytes in all, at most 524288"},
      {"a name of 254 bytes", PeerRequest({der}, std::string(254, 'a')),
       grpc::StatusCode::INVALID_ARGUMENT,
       "peer_name: 254 bytes, at most 253 (a DNS name or an IP address)"},
      {"an endpoint of 513 bytes", PeerRequest({der}, "platform.test", std::string(513, 'e')),
       grpc::StatusCode::INVALID_ARGUMENT, "endpoint: 513 bytes, at most 512"},
      // The report's request, 40 certificates of 75 KB (3 MB): gRPC refuses the message
      // before trustd reads it.
      {"the report's 3 MB request",
       PeerRequest(std::vector<std::string>(40, std::string(75 * 1024, '\x30')), "a.test"),
       grpc::StatusCode::RESOURCE_EXHAUSTED, "Received message larger than max"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Decision decision;
    grpc::Status status = CallValidatePeer(stub.get(), c.request, &decision);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << status.error_message();
  }
  // And a request within every limit is still judged.
  v1::Decision ok;
  ASSERT_TRUE(CallValidatePeer(stub.get(), PeerRequest(Chain({&platform_, &ica_}), "platform.test"),
                               &ok).ok());
  EXPECT_TRUE(ok.allowed()) << ok.DebugString();
}

// Hostile-peer report, item 12: a ValidatePeer `endpoint` with a newline forged a trustd log
// line, and a certificate with 20,000 SANs gave a 390 KB line. Every logged value is escaped
// and every line bounded.
TEST_F(TrustdTest, APeersValuesCannotForgeOrFloodALogLine) {
  StartTrustd();
  auto stub = RawStub(socket_);
  const std::string forged = "2026-12-01T00:00:00.000Z trustd INFO forged by a peer";
  v1::Decision refused;
  ASSERT_TRUE(CallValidatePeer(stub.get(),
                               PeerRequest(Chain({&platform_, &ica_}), "other.test",
                                           "evil.test:443\n" + forged),
                               &refused)
                  .ok());
  EXPECT_FALSE(refused.allowed());
  CertSpec many = CertSpec::Server("many.test");
  for (int i = 0; i < 2500; ++i) many.dns_names.push_back(absl::StrCat("san-", i, ".many.test"));
  TestCert crowded = pki_.Issue(ica_, many);
  ASSERT_TRUE(CallValidatePeer(stub.get(),
                               PeerRequest({crowded.Der(), ica_.Der()}, "nothing-of-these.test"),
                               &refused)
                  .ok());
  EXPECT_FALSE(refused.allowed());
  ASSERT_TRUE(trustd_->WaitForLog("nothing-of-these.test", absl::Seconds(5))) << trustd_->Log();
  ASSERT_TRUE(trustd_->WaitForLog("evil.test:443\\n", absl::Seconds(5))) << trustd_->Log();
  for (absl::string_view line : absl::StrSplit(trustd_->Log(), '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, forged)) << "a peer wrote a log line of its own";
    EXPECT_LE(line.size(), kMaxLogMessageBytes + 128) << line.substr(0, 200);
  }
}

TEST_F(TrustdTest, KeepsItsMemoryBoundedUnderManyDistinctNearLimitRequests) {
  // The report's attack within the limits: 16 certificates of about 31 KB (13 KB names),
  // each issuing the one before it, under an issuer trustd does not know; a new peer_name
  // each time, so every answer is a new cache entry. Unbounded, each UNKNOWN_ISSUER decision
  // kept every name in full (about 450 KB); bounded, 32 names of at most 256 bytes.
  constexpr int kCertificates = 16;
  constexpr int kRequests = 200;
  // The cache may hold 16 MiB (kDecisionCacheBytes); 16 MiB more for gRPC's buffers and the
  // allocator's slack. Before the bounds, these 200 requests took trustd from 36 to 133 MB.
  constexpr long kMaxGrowthKb = 32 * 1024;
  TestCert stranger = pki_.Root("Unknown Root");
  std::vector<TestCert> certs;
  CertSpec top = CertSpec::Ca("Hostile 0");
  top.subject_padding_bytes = 13 * 1024;
  certs.push_back(pki_.Issue(stranger, top));
  for (int i = 1; i < kCertificates; ++i) {
    CertSpec spec = i + 1 < kCertificates ? CertSpec::Ca(absl::StrCat("Hostile ", i))
                                          : CertSpec::Server("hostile.test");
    spec.subject_padding_bytes = 13 * 1024;
    certs.push_back(pki_.Issue(certs.back(), spec));
  }
  std::vector<std::string> chain;  // Leaf first.
  for (auto it = certs.rbegin(); it != certs.rend(); ++it) chain.push_back(it->Der());
  size_t total = 0;
  for (const std::string& der : chain) total += der.size();
  ASSERT_GT(total, 440u * 1024);
  ASSERT_LE(total, 512u * 1024);

  StartTrustd();
  auto stub = RawStub(socket_);
  auto send = [&](int i) {
    v1::Decision d;
    grpc::Status status =
        CallValidatePeer(stub.get(), PeerRequest(chain, absl::StrCat("peer-", i, ".test")), &d);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return d;
  };
  // Warm up (gRPC's buffers, OpenSSL's tables), then measure.
  for (int i = 0; i < 10; ++i) send(-1 - i);
  long before_kb = ProcStatus(trustd_->pid(), "VmRSS");
  long before_cpu = CpuMillis(trustd_->pid());
  absl::Time start = absl::Now();
  v1::Decision last;
  for (int i = 0; i < kRequests; ++i) last = send(i);
  long after_kb = ProcStatus(trustd_->pid(), "VmRSS");
  std::cout << "trustd VmRSS: " << before_kb << " kB after warm-up, " << after_kb << " kB after "
            << kRequests << " requests of " << total << " bytes; trustd CPU "
            << (CpuMillis(trustd_->pid()) - before_cpu) / kRequests << " ms per request, "
            << absl::ToInt64Milliseconds(absl::Now() - start) / kRequests
            << " ms per round trip" << std::endl;

  EXPECT_EQ(last.reason(), v1::UNKNOWN_ISSUER);
  // The summary is the path as built (all 16 chain), each name cut.
  ASSERT_EQ(last.chain_size(), kCertificates);
  for (const v1::CertificateSummary& c : last.chain()) {
    EXPECT_LE(c.subject().size(), 256u);
    EXPECT_LE(c.issuer().size(), 256u);
  }
  EXPECT_LT(last.ByteSizeLong(), 16u * 1024);
  if (UnderSanitizer()) {
    std::cout << "RSS bound not checked under a sanitizer" << std::endl;
  } else {
    EXPECT_LT(after_kb - before_kb, kMaxGrowthKb)
        << "trustd grew from " << before_kb << " kB to " << after_kb << " kB";
  }
  EXPECT_EQ(trustd_->WaitForExit(absl::ZeroDuration()), -1) << trustd_->Log();  // Still up.
}

// A watch_probe process (see watch_probe.cc) running as `uid`, with its stdin and stdout
// on pipes.
class WatchProbe {
 public:
  WatchProbe(const std::string& probe, const std::string& socket, uid_t uid, int streams) {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) return;
    std::string count = absl::StrCat(streams);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec: the test has threads.
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(100);
      ::execl(probe.c_str(), probe.c_str(), socket.c_str(), count.c_str(), nullptr);
      ::_exit(102);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    to_child_ = to_child[1];
    from_child_ = from_child[0];
  }
  ~WatchProbe() { Close(); }

  // The next line the probe wrote, without its newline; "" after `timeout` or at its end.
  std::string ReadLine(absl::Duration timeout) {
    absl::Time until = absl::Now() + timeout;
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) return "";
      pollfd p{from_child_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char chunk[4096];
      ssize_t n = ::read(from_child_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Lines up to and including "ready ...".
  std::vector<std::string> ReadUntilReady() {
    std::vector<std::string> lines;
    for (;;) {
      std::string line = ReadLine(absl::Seconds(30));
      lines.push_back(line);
      if (line.empty() || line.rfind("ready ", 0) == 0) return lines;
    }
  }

  void Send(const std::string& line) {
    std::string out = line + "\n";
    (void)!::write(to_child_, out.data(), out.size());
  }

  // Ends the probe (end of its input: it cancels its streams) and returns its exit status.
  int Close() {
    if (pid_ <= 0) return -1;
    ::close(to_child_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(from_child_);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
};

TEST_F(TrustdTest, LimitsWatchStreamsPerUidAndHoldsNoThreadPerStream) {
  // 65 streams from uid 65534 (one over its limit), and as many from three other uids as
  // make 200 open at once.
  constexpr int kPerUid = 64;
  constexpr int kOpen = 200;
  // gRPC's own threads, the file watcher, the listener, the synchronous methods' pool: the
  // same whatever the number of streams. (With a thread per stream, 200 streams took
  // trustd from 13 to 214 threads.)
  constexpr long kMaxExtraThreads = 16;
  StartTrustd();
  std::string probe = CopyNextToSocket("tests/trustd/watch_probe");
  long threads_before = ProcStatus(trustd_->pid(), "Threads");

  auto first = std::make_unique<WatchProbe>(probe, socket_, 65534, kPerUid + 1);
  std::vector<std::string> lines = first->ReadUntilReady();
  ASSERT_EQ(lines.size(), 2u) << absl::StrJoin(lines, "\n") << trustd_->Log();
  EXPECT_EQ(lines[0], absl::StrCat("refused ", grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   " WatchTrust: 64 streams already open for uid 65534 (limit "
                                   "64 per uid)"));
  EXPECT_EQ(lines[1], "ready 64 1");
  EXPECT_TRUE(trustd_->WaitForLog(
      "WARNING refused WatchTrust to nobody-signer (uid 65534, gid 65534, pid ", absl::Seconds(5)))
      << trustd_->Log();
  EXPECT_TRUE(trustd_->WaitForLog(
      "): WatchTrust: 64 streams already open for uid 65534 (limit 64 per uid)",
      absl::Seconds(5)))
      << trustd_->Log();

  std::vector<std::pair<std::unique_ptr<WatchProbe>, int>> others;  // With their streams.
  int open = kPerUid;
  for (uid_t uid : {65533u, 65532u, 65531u}) {
    int n = std::min(kPerUid, kOpen - open);
    auto p = std::make_unique<WatchProbe>(probe, socket_, uid, n);
    std::vector<std::string> got = p->ReadUntilReady();
    ASSERT_EQ(got.back(), absl::StrCat("ready ", n, " 0")) << absl::StrJoin(got, "\n");
    others.emplace_back(std::move(p), n);
    open += n;
  }
  ASSERT_EQ(open, kOpen);
  long threads_open = ProcStatus(trustd_->pid(), "Threads");
  std::cout << "trustd threads: " << threads_before << " before, " << threads_open << " with "
            << kOpen << " WatchTrust streams open" << std::endl;
  EXPECT_LE(threads_open, threads_before + kMaxExtraThreads);

  // The other methods answer meanwhile, within the client's ordinary deadline.
  auto identity = client_->GetIdentity(v1::REST_SERVER);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_TRUE(client_->Sign(identity->key_id(), v1::ECDSA_SHA256, std::string(32, 'x')).ok());
  EXPECT_EQ(*client_->RevealSecret("app_key"), "the-app-key");

  // A rotation reaches every open stream.
  CertSpec spec = CertSpec::Server("localhost");
  spec.key_index = 2;
  WriteRestIdentity(pki_.Issue(ica_, spec));
  first->Send("wait 2");
  EXPECT_EQ(first->ReadLine(absl::Seconds(30)), "seen 2 64") << trustd_->Log();
  for (auto& [p, n] : others) {
    p->Send("wait 2");
    EXPECT_EQ(p->ReadLine(absl::Seconds(30)), absl::StrCat("seen 2 ", n));
  }
  EXPECT_LE(ProcStatus(trustd_->pid(), "Threads"), threads_before + kMaxExtraThreads);

  // Closed streams no longer count: uid 65534 may open its 64 again.
  EXPECT_EQ(first->Close(), 0);
  std::string last;
  ASSERT_TRUE(WaitFor([&] {
    WatchProbe again(probe, socket_, 65534, kPerUid);
    std::vector<std::string> got = again.ReadUntilReady();
    last = absl::StrJoin(got, "\n");
    return got.back() == absl::StrCat("ready ", kPerUid, " 0");
  }, absl::Seconds(10))) << last << "\n" << trustd_->Log();
  for (auto& [p, n] : others) EXPECT_EQ(p->Close(), 0);
}

TEST_F(TrustdTest, RefusesWatchStreamsOverTheTotalLimitAndLogsOnceForMany) {
  // 16 uids with 64 streams each fill the 1024; a 17th uid asks for 3 more.
  constexpr int kPerUid = 64;
  constexpr int kUids = 16;
  StartTrustd();
  std::string probe = CopyNextToSocket("tests/trustd/watch_probe");
  long threads_before = ProcStatus(trustd_->pid(), "Threads");
  std::vector<std::unique_ptr<WatchProbe>> probes;
  for (int i = 0; i < kUids; ++i) {
    probes.push_back(std::make_unique<WatchProbe>(probe, socket_, 65500 + i, kPerUid));
    std::vector<std::string> got = probes.back()->ReadUntilReady();
    ASSERT_EQ(got.back(), absl::StrCat("ready ", kPerUid, " 0")) << absl::StrJoin(got, "\n");
  }
  long threads_open = ProcStatus(trustd_->pid(), "Threads");
  std::cout << "trustd threads: " << threads_before << " before, " << threads_open << " with "
            << kUids * kPerUid << " WatchTrust streams open" << std::endl;

  WatchProbe over(probe, socket_, 65520, 3);
  std::vector<std::string> got = over.ReadUntilReady();
  std::string refusal = absl::StrCat("refused ", grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     " WatchTrust: 1024 streams already open in all (limit 1024)");
  ASSERT_EQ(got, (std::vector<std::string>{refusal, refusal, refusal, "ready 0 3"}));
  // Three refusals within kWatchRefusalLogInterval: one line.
  ASSERT_TRUE(trustd_->WaitForLog(
      "WARNING refused WatchTrust to (uid 65520, gid 65520, pid ", absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(200));
  std::string log = trustd_->Log();
  size_t lines = 0;
  for (size_t at = log.find("refused WatchTrust"); at != std::string::npos;
       at = log.find("refused WatchTrust", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
  EXPECT_NE(log.find("): WatchTrust: 1024 streams already open in all (limit 1024)\n"),
            std::string::npos)
      << log;
  for (auto& p : probes) EXPECT_EQ(p->Close(), 0);
}

}  // namespace
}  // namespace edge

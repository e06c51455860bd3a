// trustd obtains and renews restd's HTTPS identity from a real ACME CA (Debian's pebble,
// RFC 8555, with pebble-challtestsrv answering its DNS), all on loopback: the first
// certificate from an empty state, a renewal served by restd without a restart, a renewal
// that fails (challenge refused, CA down) keeping the old certificate and saying why,
// External Account Binding, tls-alpn-01, and the keyless rule for ACME-issued keys.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/acme/acme_client.h"
#include "services/common/file_util.h"
#include "services/common/openssl_util.h"
#include "tests/testing/edge_stack.h"
#include "tests/testing/subprocess.h"

namespace edge {
namespace {

using testing::EdgeStack;
using testing::StackConfig;
using testing::Subprocess;
using testing::WaitFor;

constexpr char kName[] = "gateway.example.test";
constexpr char kEabKid[] = "kid-1";
constexpr char kEabKey[] = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

// The certificate a TLS server on 127.0.0.1:port presents (not judged: the test reads it).
UniqueX509 ServedCertificate(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return nullptr;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, kName);
  UniqueX509 cert;
  if (SSL_connect(ssl) == 1) cert.reset(SSL_get1_peer_certificate(ssl));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  ClearOpenSslErrors();
  return cert;
}

// A TLS connection to restd kept open across a renewal: its requests are still answered.
class OpenConnection {
 public:
  explicit OpenConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          SSL_set_fd(ssl_, fd_) == 1 && SSL_connect(ssl_) == 1;
    if (ok_) peer_.reset(SSL_get1_peer_certificate(ssl_));
  }
  ~OpenConnection() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  X509* peer() const { return peer_.get(); }
  // The status line of the answer to one keep-alive GET, or "" when the connection is gone.
  std::string Get(const std::string& target) {
    std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return "";
    char buf[4096];
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n <= 0) return "";
    std::string head(buf, n);
    return head.substr(0, head.find("\r\n"));
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  UniqueX509 peer_;
};

std::string Fingerprint(int port) {
  UniqueX509 cert = ServedCertificate(port);
  return cert ? Sha256Fingerprint(cert.get()) : "";
}

class AcmeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/pebble", X_OK) != 0) GTEST_SKIP() << "pebble is not installed";
    // restd closes connections while it has no identity yet: a write must not kill the test.
    ::signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(stack_.StartSim().ok());
    // pebble's own HTTPS certificate, from the test PKI: trustd judges it (purpose acme)
    // against trustd.acme.ca_certificates = ca.pem.
    testing::CertSpec spec = testing::CertSpec::Server("localhost");
    spec.ip_addresses = {"127.0.0.1"};
    testing::TestCert tls = stack_.pki().Issue(stack_.ica(), spec);
    stack_.WriteFile("pebble.pem", tls.Pem() + stack_.ica().Pem());
    stack_.WriteFile("pebble.key", tls.KeyPem(), 0600);
    dns_port_ = EdgeStack::FreePort();
    rest_port_ = EdgeStack::FreePort();
    challenge_port_ = EdgeStack::FreePort();
    auto dns = Subprocess::Start(
        {"/usr/bin/pebble-challtestsrv", "-dns01", absl::StrCat("127.0.0.1:", dns_port_),
         "-http01", "", "-https01", "", "-tlsalpn01", "", "-management",
         absl::StrCat("127.0.0.1:", challtest_port_ = EdgeStack::FreePort()), "-defaultIPv4",
         "127.0.0.1", "-defaultIPv6", ""},
        stack_.dir() + "/challtestsrv.log");
    ASSERT_TRUE(dns.ok()) << dns.status();
    dns_ = std::move(*dns);
    ASSERT_TRUE(dns_->WaitForLog("Starting management server", absl::Seconds(10)));
  }

  // pebble on a new port; `validity`: seconds each certificate is valid.
  void StartPebble(int validity, bool eab_required, const std::string& challenge = "http-01") {
    pebble_port_ = EdgeStack::FreePort();
    stack_.WriteFile(
        "pebble.json",
        absl::StrCat(R"({"pebble": {"listenAddress": "127.0.0.1:)", pebble_port_,
                     R"(", "managementListenAddress": "127.0.0.1:)", EdgeStack::FreePort(),
                     R"(", "certificate": ")", stack_.dir(), R"(/pebble.pem", "privateKey": ")",
                     stack_.dir(), R"(/pebble.key", "httpPort": )",
                     challenge == "http-01" ? challenge_port_ : 1,
                     R"(, "tlsPort": )", challenge == "tls-alpn-01" ? challenge_port_ : 1,
                     R"(, "ocspResponderURL": "", "externalAccountBindingRequired": )",
                     eab_required ? "true" : "false",
                     R"(, "externalAccountMACKeys": {")", kEabKid, R"(": ")", kEabKey,
                     R"("}, "certificateValidityPeriod": )", validity, "}}"));
    // PEBBLE_WFE_NONCEREJECT stays at its default: 5 % of good nonces are refused, which
    // trustd must retry (RFC 8555 section 6.5).
    auto pebble = Subprocess::Start(
        {"/usr/bin/pebble", "-config", stack_.dir() + "/pebble.json", "-dnsserver",
         absl::StrCat("127.0.0.1:", dns_port_)},
        stack_.dir() + "/pebble.log", {"PEBBLE_VA_NOSLEEP=1"});
    ASSERT_TRUE(pebble.ok()) << pebble.status();
    pebble_ = std::move(*pebble);
    ASSERT_TRUE(pebble_->WaitForLog("Listening on", absl::Seconds(10))) << pebble_->Log();
  }

  // trustd.acme for rest_server (and platform_client) against pebble.
  void WriteConfig(const std::string& acme_extra, const std::string& challenge = "http-01",
                   double renew_when_remaining = 0.5, int directory_port = 0) {
    StackConfig c;
    c.http_server = absl::StrCat("http_server:\n  host: 127.0.0.1\n  port: ", rest_port_,
                                 "\n  ssl: true\n  authenticate: false\n");
    c.trustd_extra = absl::StrCat(
        "  acme:\n    directory_url: https://127.0.0.1:",
        directory_port ? directory_port : pebble_port_, "/dir\n",
        "    contact: [\"mailto:ops@example.test\"]\n",
        "    ca_certificates: [ca.pem]\n    state_directory: acme\n",
        "    challenge: ", challenge, "\n",
        "    http01_address: 127.0.0.1:", challenge_port_, "\n",
        "    tls_alpn01_address: 127.0.0.1:", challenge_port_, "\n",
        "    renew_when_remaining: ", renew_when_remaining, "\n",
        "    retry_interval: 1000\n    max_retry_interval: 2000\n",
        "    rest_server:\n      names: [", kName, "]\n", acme_extra);
    ASSERT_TRUE(stack_.WriteConfig(c).ok());
  }

  // trustctl acme status: (exit code, output).
  std::pair<int, std::string> AcmeStatus() {
    std::string out = stack_.dir() + "/acme-status.txt";
    auto p = Subprocess::Start({testing::Runfile("trustd/trustctl"), "acme", "status",
                                "--config", stack_.config_path()},
                               out);
    if (!p.ok()) return {-1, ""};
    int code = (*p)->WaitForExit(absl::Seconds(10));
    return {code, ReadFile(out).value_or("")};
  }

  // Waits until restd serves a certificate other than `not_this` issued by pebble.
  std::string AwaitServed(const std::string& not_this, absl::Duration timeout) {
    std::string seen;
    WaitFor(
        [&] {
          UniqueX509 cert = ServedCertificate(rest_port_);
          if (!cert) return false;
          std::string issuer = NameToString(X509_get_issuer_name(cert.get()));
          seen = Sha256Fingerprint(cert.get());
          return absl::StrContains(issuer, "Pebble") && seen != not_this;
        },
        timeout);
    return seen;
  }

  EdgeStack stack_;
  std::unique_ptr<Subprocess> dns_, pebble_;
  int dns_port_ = 0, challtest_port_ = 0, pebble_port_ = 0, rest_port_ = 0, challenge_port_ = 0;
};

TEST_F(AcmeTest, ObtainsTheFirstCertificateAndRenewsItWhileRestdKeepsRunning) {
  StartPebble(/*validity=*/20, /*eab_required=*/false);
  WriteConfig("    platform_client:\n      names: [pump-17.devices.example.test]\n");
  ASSERT_TRUE(stack_.StartTrustd().ok());
  const char* strace = "/usr/bin/strace";
  bool have_strace = ::access(strace, X_OK) == 0;
  auto traced = [&](const std::string& trace) {
    return have_strace ? std::vector<std::string>{strace, "-f", "-qq", "-e",
                                                  "trace=open,openat,openat2", "-o", trace}
                       : std::vector<std::string>{};
  };
  std::string trace = stack_.dir() + "/restd.strace";
  std::string edged_trace = stack_.dir() + "/edged.strace";
  ASSERT_TRUE(stack_.StartRestd(traced(trace)).ok());

  std::string first = AwaitServed("", absl::Seconds(60));
  ASSERT_FALSE(first.empty()) << stack_.trustd()->Log();
  UniqueX509 served = ServedCertificate(rest_port_);
  ASSERT_TRUE(served);
  EXPECT_EQ(X509_check_host(served.get(), kName, 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(served.get(), "127.0.0.1", 0), 1) << "http_server.host is a name";
  EXPECT_TRUE(stack_.trustd()->WaitForLog("installed a certificate for platform_client",
                                          absl::Seconds(60)));
  // edged starts with the ACME-issued client identity in force (it takes it from trustd).
  ASSERT_TRUE(stack_.StartEdged("edged.log", traced(edged_trace)).ok());

  // What trustd keeps: the key 0600 in its state directory, the account key sealed.
  struct stat st;
  std::string key = stack_.dir() + "/acme/rest_server/current/key.pem";
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_TRUE(absl::StartsWith(ReadFile(stack_.dir() + "/acme/account.key").value_or(""), "AES:"));
  auto [code, text] = AcmeStatus();
  EXPECT_EQ(code, 0) << text;
  EXPECT_TRUE(absl::StrContains(text, "rest_server (127.0.0.1, gateway.example.test)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "last result:  ok")) << text;

  // 20 s certificates renewed at half their lifetime: a new one within ~10 s, served by the
  // same restd process; a connection opened before goes on with the old one.
  pid_t restd_pid = stack_.restd()->pid();
  OpenConnection before(rest_port_);
  ASSERT_TRUE(before.ok());
  std::string answer = before.Get("/Thingworx/Things/LocalEms/Properties/isConnected");
  ASSERT_TRUE(absl::StartsWith(answer, "HTTP/1.1 ")) << answer;
  std::string second = AwaitServed(first, absl::Seconds(40));
  EXPECT_NE(second, first) << stack_.trustd()->Log();
  EXPECT_FALSE(second.empty());
  EXPECT_EQ(stack_.restd()->pid(), restd_pid);
  EXPECT_TRUE(stack_.restd()->Running());
  EXPECT_TRUE(absl::StrContains(stack_.trustd()->Log(), "its renewal time has come"));
  // Renewed by trustd, a 20 s certificate is no reason for an expiry warning.
  EXPECT_FALSE(absl::StrContains(stack_.trustd()->Log(), "rest_server certificate \"CN="))
      << stack_.trustd()->Log();
  EXPECT_EQ(Sha256Fingerprint(before.peer()), first);
  EXPECT_EQ(before.Get("/Thingworx/Things/LocalEms/Properties/isConnected"), answer)
      << "the connection opened before the renewal is still served";

  // The keyless rule holds for ACME-issued keys: restd never opened one.
  if (!have_strace) GTEST_SKIP() << "strace is not installed";
  std::string opens = ReadFile(trace).value_or("");
  EXPECT_TRUE(absl::StrContains(opens, "config.yaml")) << "the trace sees restd's opens";
  EXPECT_FALSE(absl::StrContains(opens, "key.pem")) << opens;
  EXPECT_FALSE(absl::StrContains(opens, "account.key")) << opens;
  std::string edged_opens = ReadFile(edged_trace).value_or("");
  EXPECT_TRUE(absl::StrContains(edged_opens, "config.yaml")) << "the trace sees edged's opens";
  EXPECT_FALSE(absl::StrContains(edged_opens, "key.pem")) << edged_opens;
  EXPECT_FALSE(absl::StrContains(edged_opens, "/acme/")) << edged_opens;
}

TEST_F(AcmeTest, AFailedRenewalKeepsTheCertificateInForceAndSaysWhy) {
  StartPebble(/*validity=*/30, /*eab_required=*/false);
  WriteConfig("", "http-01", /*renew_when_remaining=*/0.9);
  ASSERT_TRUE(stack_.StartTrustd().ok());
  ASSERT_TRUE(stack_.StartRestd().ok());
  std::string first = AwaitServed("", absl::Seconds(60));
  ASSERT_FALSE(first.empty()) << stack_.trustd()->Log();

  // The challenge refused: the CA now resolves the name to an address where nothing
  // answers, so its http-01 validation fails with a problem document.
  auto add = Subprocess::Start(
      {"/usr/bin/curl", "-s", "-d",
       absl::StrCat(R"({"host":")", kName, R"(.","addresses":["127.0.0.9"]})"),
       absl::StrCat("http://127.0.0.1:", challtest_port_, "/add-a")},
      stack_.dir() + "/curl.log");
  ASSERT_TRUE(add.ok());
  ASSERT_EQ((*add)->WaitForExit(absl::Seconds(10)), 0);
  ASSERT_TRUE(stack_.trustd()->WaitForLog("was not renewed", absl::Seconds(40)))
      << stack_.trustd()->Log();
  EXPECT_TRUE(stack_.trustd()->WaitForLog("urn:ietf:params:acme:error:", absl::Seconds(1)))
      << stack_.trustd()->Log();
  EXPECT_TRUE(absl::StrContains(stack_.trustd()->Log(), "the certificate in force stays"));
  // Renewals come every 3 s here, so the one in force is the last that succeeded before the
  // challenge broke; from now on nothing replaces it.
  std::string in_force = Fingerprint(rest_port_);
  EXPECT_FALSE(in_force.empty());
  auto [code, text] = AcmeStatus();
  EXPECT_EQ(code, 1) << text;
  EXPECT_TRUE(absl::StrContains(text, "last result:  failed")) << text;
  EXPECT_TRUE(absl::StrContains(text, "problem:      urn:ietf:params:acme:error:")) << text;

  // The CA down: each attempt fails to connect, and restd still serves the old certificate.
  pebble_.reset();
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(stack_.trustd()->Log(), "cannot connect to 127.0.0.1"); },
      absl::Seconds(30)))
      << stack_.trustd()->Log();
  EXPECT_EQ(Fingerprint(rest_port_), in_force);
  EXPECT_TRUE(absl::StrContains(ReadFile(stack_.dir() + "/acme/status.json").value_or(""),
                                in_force))
      << "the status file names the certificate in force";
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(AcmeStatus().second, "cannot connect"); },
                      absl::Seconds(10)));
}

TEST_F(AcmeTest, ExternalAccountBindingIsSentWhenTheCaRequiresIt) {
  StartPebble(/*validity=*/3600, /*eab_required=*/true);
  WriteConfig("");
  ASSERT_TRUE(stack_.StartTrustd().ok());
  ASSERT_TRUE(stack_.trustd()->WaitForLog("the CA requires External Account Binding",
                                          absl::Seconds(30)))
      << stack_.trustd()->Log();
  stack_.trustd()->Kill(SIGTERM);
  WriteConfig(absl::StrCat("    external_account_binding:\n      key_id: ", kEabKid,
                           "\n      hmac_key: \"", stack_.Seal(kEabKey), "\"\n"));
  ASSERT_TRUE(stack_.StartTrustd().ok());
  ASSERT_TRUE(stack_.StartRestd().ok());
  EXPECT_FALSE(AwaitServed("", absl::Seconds(60)).empty()) << stack_.trustd()->Log();
  EXPECT_FALSE(absl::StrContains(stack_.trustd()->Log(), kEabKey)) << "the MAC key is a secret";
}

// RFC 9773: when the directory offers renewalInfo, its window decides, not the lifetime
// (an hour here, with renewal at half of it).
TEST_F(AcmeTest, RenewsWhenTheCasRenewalInfoWindowSaysSo) {
  if (::access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "node is not installed";
  StartPebble(/*validity=*/3600, /*eab_required=*/false);
  int proxy_port = EdgeStack::FreePort();
  std::string ids = stack_.dir() + "/ari-ids.txt";
  auto proxy = Subprocess::Start(
      {"/usr/bin/node", testing::Runfile("tests/acme/ari_proxy.js"), absl::StrCat(proxy_port),
       stack_.dir() + "/pebble.pem", stack_.dir() + "/pebble.key", stack_.dir() + "/ca.pem",
       absl::StrCat("https://127.0.0.1:", pebble_port_, "/dir"), ids},
      stack_.dir() + "/ari-proxy.log");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ASSERT_TRUE((*proxy)->WaitForLog("listening on", absl::Seconds(10)));
  WriteConfig("", "http-01", 0.5, proxy_port);
  ASSERT_TRUE(stack_.StartTrustd().ok());
  ASSERT_TRUE(stack_.StartRestd().ok());
  // The first certificate's window is already past: a second order at once; the second
  // one's window is a day ahead: no third.
  ASSERT_TRUE(stack_.trustd()->WaitForLog("the CA's renewalInfo window has come",
                                          absl::Seconds(60)))
      << stack_.trustd()->Log();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<std::string> lines =
            absl::StrSplit(ReadFile(ids).value_or(""), '\n', absl::SkipEmpty());
        return lines.size() >= 2;
      },
      absl::Seconds(60)))
      << stack_.trustd()->Log();
  std::vector<std::string> lines =
      absl::StrSplit(ReadFile(ids).value_or(""), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines[0], lines[1]);
  std::string served = AwaitServed("", absl::Seconds(30));
  UniqueX509 cert = ServedCertificate(rest_port_);
  ASSERT_TRUE(cert);
  EXPECT_EQ(acme::AriCertId(cert.get()), lines[1]) << "restd serves the renewed certificate";
  // Nothing is due now: the next order is set for the second window (a day ahead).
  std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  std::string status;
  EXPECT_TRUE(WaitFor(
      [&] {
        status = AcmeStatus().second;
        return absl::StrContains(status, "next renewal: ") &&
               !absl::StrContains(status, absl::StrCat("next renewal: ", today)) &&
               !absl::StrContains(status, "next renewal: -");
      },
      absl::Seconds(20)))
      << status;
  std::string log = stack_.trustd()->Log();
  size_t installs = 0;
  for (size_t at = 0; (at = log.find("installed a certificate for rest_server", at)) !=
                      std::string::npos;
       ++at) {
    ++installs;
  }
  EXPECT_EQ(installs, 2u) << log;
}

TEST_F(AcmeTest, AnswersTlsAlpn01) {
  StartPebble(/*validity=*/3600, /*eab_required=*/false, "tls-alpn-01");
  WriteConfig("", "tls-alpn-01");
  ASSERT_TRUE(stack_.StartTrustd().ok());
  ASSERT_TRUE(stack_.StartRestd().ok());
  EXPECT_FALSE(AwaitServed("", absl::Seconds(60)).empty()) << stack_.trustd()->Log();
}

}  // namespace
}  // namespace edge

// The challenge responders as a CA's validation sees them, over real loopback sockets.
#include "services/acme/challenge_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edge::acme {
namespace {

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

std::string HttpGet(int port, const std::string& target) {
  int fd = Connect(port);
  std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, n);
  ::close(fd);
  return out;
}

// The certificate served for `sni` when `alpn` is offered ("" offers none), or null.
UniqueX509 TlsAlpnHandshake(int port, const std::string& sni, const std::string& alpn) {
  int fd = Connect(port);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (!alpn.empty()) {
    std::string wire = std::string(1, static_cast<char>(alpn.size())) + alpn;
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()), wire.size());
  }
  UniqueX509 cert;
  if (SSL_connect(ssl) == 1) cert.reset(SSL_get1_peer_certificate(ssl));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return cert;
}

TEST(ChallengeServerTest, Http01AnswersThePublishedTokenOnly) {
  auto server = ChallengeServer::Start("http-01", {"127.0.0.1", false, 0});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Publish({"dns", "gw.example.test"}, "tok123", "tok123.thumb").ok());
  std::string ok = HttpGet((*server)->port(), "/.well-known/acme-challenge/tok123");
  EXPECT_TRUE(absl::StartsWith(ok, "HTTP/1.1 200")) << ok;
  EXPECT_TRUE(absl::EndsWith(ok, "\r\n\r\ntok123.thumb")) << ok;
  EXPECT_TRUE(absl::StartsWith(HttpGet((*server)->port(), "/.well-known/acme-challenge/other"),
                               "HTTP/1.1 404"));
  EXPECT_TRUE(absl::StartsWith(HttpGet((*server)->port(), "/etc/passwd"), "HTTP/1.1 404"));
  EXPECT_EQ((*server)->answered(), 1);
  (*server)->Withdraw();
  EXPECT_TRUE(absl::StartsWith(HttpGet((*server)->port(), "/.well-known/acme-challenge/tok123"),
                               "HTTP/1.1 404"));
}

TEST(ChallengeServerTest, TlsAlpn01ServesTheValidationCertificateOnlyForAcmeTls1) {
  ::signal(SIGPIPE, SIG_IGN);
  auto server = ChallengeServer::Start("tls-alpn-01", {"127.0.0.1", false, 0});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Publish({"dns", "gw.example.test"}, "tok", "tok.thumb").ok());
  ASSERT_TRUE((*server)->Publish({"ip", "127.0.0.1"}, "tok2", "tok2.thumb").ok());
  int port = (*server)->port();
  UniqueX509 cert = TlsAlpnHandshake(port, "gw.example.test", "acme-tls/1");
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_host(cert.get(), "gw.example.test", 0, 0, nullptr), 1);
  // RFC 8738 section 6: an IP identifier is asked for by its reverse name.
  UniqueX509 ip = TlsAlpnHandshake(port, "1.0.0.127.in-addr.arpa", "acme-tls/1");
  ASSERT_TRUE(ip);
  EXPECT_EQ(X509_check_ip_asc(ip.get(), "127.0.0.1", 0), 1);
  EXPECT_FALSE(TlsAlpnHandshake(port, "gw.example.test", "")) << "no ALPN offered";
  EXPECT_FALSE(TlsAlpnHandshake(port, "gw.example.test", "http/1.1")) << "another protocol";
  EXPECT_FALSE(TlsAlpnHandshake(port, "other.example.test", "acme-tls/1")) << "another name";
}

TEST(ChallengeServerTest, NamesTheAddressItCannotListenOn) {
  auto first = ChallengeServer::Start("http-01", {"127.0.0.1", false, 0});
  ASSERT_TRUE(first.ok());
  auto second = ChallengeServer::Start("http-01", {"127.0.0.1", false, (*first)->port()});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::StrContains(second.status().message(),
                                absl::StrCat("cannot listen for http-01 challenges on 127.0.0.1:",
                                             (*first)->port())))
      << second.status();
}

// A CA that accepts the connection and never answers: a stopping trustd abandons the
// request instead of waiting out the timeout.
class RefuseAll : public tls::PeerValidator {
 public:
  trust::Decision Validate(const std::vector<std::string>&, trust::Purpose,
                           const std::string&) override {
    return trust::Decision();
  }
};

TEST(AcmeHttpTest, AStoppingDaemonAbandonsARequestTheCaNeverAnswers) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // Connections complete in the backlog; nothing answers.
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  HttpsTransport https(std::make_shared<RefuseAll>(), absl::Minutes(10));
  std::atomic<int> polls{0};
  https.set_cancelled([&polls] { return ++polls >= 3; });
  absl::StatusOr<HttpResponse> r =
      https.Send("GET", absl::StrCat("https://127.0.0.1:", ntohs(addr.sin_port), "/dir"), "", "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "abandoned")) << r.status();
  ::close(fd);
}

}  // namespace
}  // namespace edge::acme

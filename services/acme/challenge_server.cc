#include "services/acme/challenge_server.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>

#include <atomic>
#include <map>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "services/acme/acme_crypto.h"
#include "services/common/log.h"

namespace edge::acme {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr int kMaxConnections = 64;
constexpr auto kConnectionDeadline = std::chrono::seconds(10);
constexpr size_t kMaxRequestHead = 4096;
constexpr char kPathPrefix[] = "/.well-known/acme-challenge/";
constexpr unsigned char kAcmeTls1[] = "acme-tls/1";  // RFC 8737 section 6.2.
}  // namespace

struct ChallengeServer::Impl : std::enable_shared_from_this<ChallengeServer::Impl> {
  explicit Impl(asio::io_context& context) : io(context), acceptor(context) {}
  std::string type;
  asio::io_context& io;  // ChallengeServer's; outlives the thread.
  tcp::acceptor acceptor;
  std::thread thread;
  std::atomic<int> connections{0};
  std::atomic<int> answered{0};
  int port = 0;

  absl::Mutex mu;
  std::map<std::string, std::string> http01 ABSL_GUARDED_BY(mu);  // token -> key authz.
  struct AlpnCert {
    std::shared_ptr<X509> cert;
  };
  std::map<std::string, AlpnCert> alpn ABSL_GUARDED_BY(mu);  // SNI -> certificate.
  UniqueEvpPkey alpn_key;
  std::shared_ptr<SSL_CTX> ssl_ctx;

  void Accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (self->connections.load() >= kMaxConnections) {
          socket.close();
        } else if (self->type == "http-01") {
          self->ServeHttp(std::move(socket));
        } else {
          self->ServeTls(std::move(socket));
        }
      }
      self->Accept();
    });
  }

  void ServeHttp(tcp::socket socket) {
    struct Conn {
      beast::tcp_stream stream;
      beast::flat_buffer buffer;
      http::request_parser<http::empty_body> parser;
      http::response<http::string_body> res;
      explicit Conn(tcp::socket s) : stream(std::move(s)) {}
    };
    ++connections;
    auto conn = std::make_shared<Conn>(std::move(socket));
    conn->parser.header_limit(kMaxRequestHead);
    conn->parser.body_limit(0);
    conn->stream.expires_after(kConnectionDeadline);
    auto self = shared_from_this();
    http::async_read(conn->stream, conn->buffer, conn->parser,
                     [self, conn](beast::error_code ec, size_t) {
      if (ec) {
        --self->connections;
        return;
      }
      const auto& req = conn->parser.get();
      std::string target(req.target());
      std::string answer;
      bool found = false;
      if (req.method() == http::verb::get && absl::StartsWith(target, kPathPrefix)) {
        absl::MutexLock lock(&self->mu);
        auto it = self->http01.find(target.substr(sizeof(kPathPrefix) - 1));
        if (it != self->http01.end()) {
          answer = it->second;
          found = true;
        }
      }
      conn->res = http::response<http::string_body>(found ? http::status::ok
                                                          : http::status::not_found, 11);
      conn->res.set(http::field::content_type, "text/plain");
      conn->res.body() = found ? answer : "not found\n";
      conn->res.keep_alive(false);
      conn->res.prepare_payload();
      if (found) ++self->answered;
      http::async_write(conn->stream, conn->res, [self, conn](beast::error_code, size_t) {
        beast::error_code ignored;
        conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        --self->connections;
      });
    });
  }

  void ServeTls(tcp::socket socket) {
    ++connections;
    SSL_CTX_up_ref(ssl_ctx.get());
    auto ctx = std::make_shared<asio::ssl::context>(ssl_ctx.get());
    auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), *ctx);
    beast::get_lowest_layer(*stream).expires_after(kConnectionDeadline);
    auto self = shared_from_this();
    stream->async_handshake(asio::ssl::stream_base::server,
                            [self, stream, ctx](beast::error_code ec) {
      if (!ec) ++self->answered;
      // RFC 8737 section 3: the validation is the handshake; nothing is sent after it.
      stream->async_shutdown([self, stream, ctx](beast::error_code) { --self->connections; });
    });
  }

  // The certificate for the SNI the CA sent; the handshake fails for any other.
  static int SelectCertificate(SSL* ssl, int* alert, void* arg) {
    auto* impl = static_cast<Impl*>(arg);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sni == nullptr) {
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    std::shared_ptr<X509> cert;
    {
      absl::MutexLock lock(&impl->mu);
      auto it = impl->alpn.find(absl::AsciiStrToLower(sni));
      if (it != impl->alpn.end()) cert = it->second.cert;
    }
    if (!cert || SSL_use_certificate(ssl, cert.get()) != 1 ||
        SSL_use_PrivateKey(ssl, impl->alpn_key.get()) != 1) {
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
  }

  // A ClientHello that does not offer acme-tls/1 at all is refused before a certificate is
  // chosen (RFC 8737 section 3: the validation certificate is for that protocol only; the
  // ALPN callback below is not called when no ALPN is offered).
  static int RequireAcmeAlpn(SSL* ssl, int* alert, void*) {
    const unsigned char* ext = nullptr;
    size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                  &len) == 1 &&
        len >= 2) {
      const unsigned char* out = nullptr;
      unsigned char out_len = 0;
      if (SelectAlpn(ssl, &out, &out_len, ext + 2, static_cast<unsigned int>(len - 2), nullptr) ==
          SSL_TLSEXT_ERR_OK) {
        return SSL_CLIENT_HELLO_SUCCESS;
      }
    }
    *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
    return SSL_CLIENT_HELLO_ERROR;
  }

  // Only acme-tls/1 is spoken here (RFC 8737 section 3: refuse otherwise).
  static int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
                        const unsigned char* in, unsigned int inlen, void*) {
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (i + 1 + len > inlen) break;
      if (len == sizeof(kAcmeTls1) - 1 && memcmp(in + i + 1, kAcmeTls1, len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
};

std::string TlsAlpnServerName(const Identifier& identifier) {
  if (identifier.type != "ip") return absl::AsciiStrToLower(identifier.value);
  unsigned char buf[16];
  if (inet_pton(AF_INET, identifier.value.c_str(), buf) == 1) {
    return absl::StrFormat("%d.%d.%d.%d.in-addr.arpa", buf[3], buf[2], buf[1], buf[0]);
  }
  if (inet_pton(AF_INET6, identifier.value.c_str(), buf) != 1) return "";
  std::string out;
  for (int i = 15; i >= 0; --i) {
    absl::StrAppendFormat(&out, "%x.%x.", buf[i] & 0xF, buf[i] >> 4);
  }
  return out + "ip6.arpa";
}

absl::StatusOr<std::unique_ptr<ChallengeServer>> ChallengeServer::Start(const std::string& type,
                                                                        const HostPort& address) {
  if (type != "http-01" && type != "tls-alpn-01") {
    return absl::InvalidArgumentError(absl::StrCat("no such challenge type: ", type));
  }
  auto io = std::make_unique<asio::io_context>();
  auto impl = std::make_shared<Impl>(*io);
  impl->type = type;
  if (type == "tls-alpn-01") {
    absl::StatusOr<UniqueEvpPkey> key = GenerateKey("ec-p256");
    if (!key.ok()) return key.status();
    impl->alpn_key = *std::move(key);
    impl->ssl_ctx.reset(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    SSL_CTX_set_min_proto_version(impl->ssl_ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_tlsext_servername_callback(
        impl->ssl_ctx.get(), +[](SSL* ssl, int* alert, void* arg) {
          return Impl::SelectCertificate(ssl, alert, arg);
        });
    SSL_CTX_set_tlsext_servername_arg(impl->ssl_ctx.get(), impl.get());
    SSL_CTX_set_alpn_select_cb(impl->ssl_ctx.get(), &Impl::SelectAlpn, nullptr);
    SSL_CTX_set_client_hello_cb(impl->ssl_ctx.get(), &Impl::RequireAcmeAlpn, nullptr);
  }
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(address.host, ec),
                         static_cast<unsigned short>(address.port));
  if (!ec) impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen for ", type, " challenges on ",
                                               address.ToString(), ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->thread = std::thread([impl = impl.get()] { impl->io.run(); });
  return std::unique_ptr<ChallengeServer>(new ChallengeServer(std::move(io), impl));
}

ChallengeServer::ChallengeServer(std::unique_ptr<asio::io_context> io, std::shared_ptr<Impl> impl)
    : io_(std::move(io)), impl_(std::move(impl)) {}

ChallengeServer::~ChallengeServer() {
  asio::post(*io_, [impl = impl_] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->io.stop();
  });
  impl_->thread.join();
  // Handlers still queued hold the Impl: destroying the io_context destroys them, and with
  // them the last references (asio's documented shutdown order).
  impl_.reset();
  io_.reset();
}

std::string ChallengeServer::type() const { return impl_->type; }
int ChallengeServer::port() const { return impl_->port; }
int ChallengeServer::answered() const { return impl_->answered.load(); }

absl::Status ChallengeServer::Publish(const Identifier& identifier, const std::string& token,
                                      const std::string& key_authorization) {
  if (impl_->type == "http-01") {
    absl::MutexLock lock(&impl_->mu);
    impl_->http01[token] = key_authorization;
    return absl::OkStatus();
  }
  std::string sni = TlsAlpnServerName(identifier);
  if (sni.empty()) return absl::InvalidArgumentError("not an IP address: " + identifier.value);
  absl::StatusOr<UniqueX509> cert =
      TlsAlpn01Certificate(impl_->alpn_key.get(), identifier.value, key_authorization);
  if (!cert.ok()) return cert.status();
  absl::MutexLock lock(&impl_->mu);
  impl_->alpn[sni] = Impl::AlpnCert{std::shared_ptr<X509>(cert->release(), X509_free)};
  return absl::OkStatus();
}

void ChallengeServer::Withdraw() {
  absl::MutexLock lock(&impl_->mu);
  impl_->http01.clear();
  impl_->alpn.clear();
}

}  // namespace edge::acme

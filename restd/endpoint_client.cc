#include "restd/endpoint_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/tls/cipher_suite.h"

namespace edge::restd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One request over one connection, driven by a private io_context in the caller's thread.
template <class Stream>
absl::StatusOr<Response> Exchange(asio::io_context& io, Stream& stream,
                                  const config::AutoBind& ep, Request& req,
                                  std::chrono::milliseconds timeout) {
  absl::Status failure;
  Response res;
  beast::flat_buffer buffer;
  std::string where = EndpointUrl(ep);
  auto fail = [&](absl::StatusCode code, std::string what) {
    if (failure.ok()) failure = absl::Status(code, std::move(what));
  };
  tcp::resolver resolver(io);
  beast::get_lowest_layer(stream).expires_after(timeout);
  resolver.async_resolve(ep.host, std::to_string(ep.port), [&](beast::error_code ec, auto results) {
    if (ec) return fail(absl::StatusCode::kUnavailable, absl::StrCat("cannot resolve ", ep.host, ": ", ec.message()));
    beast::get_lowest_layer(stream).async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        return fail(ec == beast::error::timeout ? absl::StatusCode::kDeadlineExceeded : absl::StatusCode::kUnavailable,
                    absl::StrCat("cannot connect to ", where, ": ", ec.message()));
      }
      auto send = [&] {
        http::async_write(stream, req, [&](beast::error_code ec, size_t) {
          if (ec) return fail(absl::StatusCode::kUnavailable, absl::StrCat("cannot send to ", where, ": ", ec.message()));
          http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) {
            if (ec) {
              return fail(ec == beast::error::timeout ? absl::StatusCode::kDeadlineExceeded : absl::StatusCode::kUnavailable,
                          absl::StrCat("no answer from ", where, ": ",
                                       ec == beast::error::timeout ? "timed out (auto_bind timeout)" : ec.message()));
            }
          });
        });
      };
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        send();
      } else {
        stream.async_handshake(asio::ssl::stream_base::client, [&, send](beast::error_code ec) {
          if (ec) {
            std::optional<trust::Decision> d = tls::LastDecision(stream.native_handle());
            if (d && !d->allowed) {
              return fail(absl::StatusCode::kPermissionDenied,
                          absl::StrCat("edge endpoint certificate refused: ", d->Summary()));
            }
            return fail(absl::StatusCode::kUnavailable,
                        absl::StrCat("TLS handshake with ", where, " failed: ", ec.message()));
          }
          send();
        });
      }
    });
  });
  io.run();
  if (!failure.ok()) return failure;
  return res;
}

}  // namespace

std::string EndpointUrl(const config::AutoBind& ep) {
  return absl::StrCat(ep.protocol, "://", ep.host, ":", ep.port,
                      ep.path == "/" ? "" : ep.path);
}

EndpointClient::EndpointClient(std::shared_ptr<tls::PeerValidator> validator,
                               const std::string& cipher_list)
    : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free) {
  tls::ApplyCipherSuite(ctx_.get(), cipher_list);
  tls::InstallPeerValidation(ctx_.get(), std::move(validator), trust::Purpose::kEdge);
}

absl::StatusOr<Response> EndpointClient::Send(const config::AutoBind& ep, http::verb method,
                                              const std::string& target, const std::string& body,
                                              const std::string& password) const {
  Request req{method, absl::StrCat(absl::StripSuffix(ep.path, "/"), target), 11};
  req.set(http::field::host, absl::StrCat(ep.host, ":", ep.port));
  req.set(http::field::user_agent, "restd");
  req.set(http::field::accept, "application/json");
  if (!body.empty() || method == http::verb::put || method == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  if (!ep.user.empty()) {
    req.set(http::field::authorization,
            absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(ep.user, ":", password))));
  }
  req.keep_alive(false);
  req.prepare_payload();
  std::chrono::milliseconds timeout(ep.timeout);
  asio::io_context io;
  if (ep.protocol == "https") {
    SSL_CTX_up_ref(ctx_.get());
    asio::ssl::context ctx(ctx_.get());
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    tls::ExpectServer(stream.native_handle(), ep.host);
    return Exchange(io, stream, ep, req, timeout);
  }
  beast::tcp_stream stream(io);
  return Exchange(io, stream, ep, req, timeout);
}

}  // namespace edge::restd

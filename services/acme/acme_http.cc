#include "services/acme/acme_http.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace edge::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kMaxHeaderValue = 2048;  // Longer Location/nonce/Link values are refused.

std::string Shown(const std::string& url) { return absl::CEscape(url.substr(0, 256)); }

}  // namespace

absl::StatusOr<HttpsUrl> ParseHttpsUrl(const std::string& url) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", Shown(url), "\" ", why, "; expected https://HOST[:PORT]/PATH"));
  };
  if (!absl::StartsWithIgnoreCase(url, "https://")) return bad("is not an https:// URL");
  std::string rest = url.substr(8);
  size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  HttpsUrl out;
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (size_t hash = out.target.find('#'); hash != std::string::npos) out.target.resize(hash);
  if (out.target.empty() || out.target[0] != '/') out.target = "/" + out.target;
  if (authority.find('@') != std::string::npos) return bad("carries user information");
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return bad("has an unclosed [IPv6] host");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("has text after the [IPv6] host");
      out.port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) out.port = authority.substr(colon + 1);
  }
  int port = 0;
  if (out.host.empty()) return bad("has no host");
  if (!absl::SimpleAtoi(out.port, &port) || port < 1 || port > 65535) {
    return bad("has no port number from 1 to 65535");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return bad("holds a space or control character");
  }
  return out;
}

HttpsTransport::HttpsTransport(std::shared_ptr<tls::PeerValidator> validator,
                               absl::Duration timeout, size_t max_body_bytes)
    : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free),
      timeout_(timeout),
      max_body_bytes_(max_body_bytes) {
  SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
  tls::InstallPeerValidation(ctx_.get(), std::move(validator), trust::Purpose::kAcme);
}

absl::StatusOr<HttpResponse> HttpsTransport::Send(const std::string& method,
                                                  const std::string& url,
                                                  const std::string& body,
                                                  const std::string& content_type) {
  absl::StatusOr<HttpsUrl> where = ParseHttpsUrl(url);
  if (!where.ok()) return where.status();
  http::request<http::string_body> req{http::string_to_verb(method), where->target, 11};
  req.set(http::field::host, where->host.find(':') != std::string::npos
                                 ? absl::StrCat("[", where->host, "]:", where->port)
                                 : absl::StrCat(where->host, ":", where->port));
  req.set(http::field::user_agent, "edge-trustd-acme");
  req.set(http::field::accept_language, "en");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();

  asio::io_context io;
  SSL_CTX_up_ref(ctx_.get());
  asio::ssl::context ctx(ctx_.get());
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  tls::ExpectServer(stream.native_handle(), where->host);
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(max_body_bytes_);
  if (method == "HEAD") parser.skip(true);
  beast::flat_buffer buffer;
  absl::Status failure;
  auto fail = [&](absl::StatusCode code, std::string what) {
    if (failure.ok()) failure = absl::Status(code, std::move(what));
  };
  auto code_of = [](beast::error_code ec) {
    return ec == beast::error::timeout ? absl::StatusCode::kDeadlineExceeded
                                       : absl::StatusCode::kUnavailable;
  };
  std::string shown = absl::StrCat(where->host, ":", where->port);
  tcp::resolver resolver(io);
  asio::steady_timer poll(io);
  bool finished = false;
  std::function<void()> watch = [&] {
    poll.expires_after(std::chrono::milliseconds(100));
    poll.async_wait([&](beast::error_code ec) {
      if (ec || finished) return;
      if (cancelled_ && cancelled_()) {
        fail(absl::StatusCode::kCancelled, absl::StrCat("the request to ", shown,
                                                        " was abandoned: stopping"));
        resolver.cancel();
        beast::get_lowest_layer(stream).cancel();
        return;
      }
      watch();
    });
  };
  watch();
  beast::get_lowest_layer(stream).expires_after(absl::ToChronoMilliseconds(timeout_));
  resolver.async_resolve(where->host, where->port, [&](beast::error_code ec, auto results) {
    if (ec) return fail(absl::StatusCode::kUnavailable, absl::StrCat("cannot resolve ", where->host, ": ", ec.message()));
    beast::get_lowest_layer(stream).async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return fail(code_of(ec), absl::StrCat("cannot connect to ", shown, ": ", ec.message()));
      stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) {
        if (ec) {
          std::optional<trust::Decision> d = tls::LastDecision(stream.native_handle());
          if (d && !d->allowed) {
            return fail(absl::StatusCode::kPermissionDenied,
                        absl::StrCat("the ACME server's certificate was refused: ", d->Summary()));
          }
          return fail(code_of(ec), absl::StrCat("TLS handshake with ", shown, " failed: ", ec.message()));
        }
        http::async_write(stream, req, [&](beast::error_code ec, size_t) {
          if (ec) return fail(code_of(ec), absl::StrCat("cannot send to ", shown, ": ", ec.message()));
          http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) {
            if (ec == http::error::body_limit || ec == http::error::header_limit) {
              return fail(absl::StatusCode::kResourceExhausted,
                          absl::StrCat("the answer from ", shown, " is larger than ",
                                       ec == http::error::body_limit ? max_body_bytes_ : kMaxHeaderBytes,
                                       " bytes"));
            }
            if (ec) return fail(code_of(ec), absl::StrCat("no answer from ", shown, ": ", ec.message()));
          });
        });
      });
    });
  });
  // Every completion path ends the exchange: stop watching once the last handler ran.
  while (io.run_one() > 0) {
    if (!failure.ok() || parser.is_done()) {
      finished = true;
      poll.cancel();
    }
  }
  if (!failure.ok()) return failure;
  const auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  auto header = [&](http::field f, std::string* to) -> absl::Status {
    auto it = res.find(f);
    if (it == res.end()) return absl::OkStatus();
    if (it->value().size() > kMaxHeaderValue) {
      return absl::ResourceExhaustedError(absl::StrCat("a header from ", shown, " is longer than ",
                                                       kMaxHeaderValue, " bytes"));
    }
    *to = std::string(it->value());
    return absl::OkStatus();
  };
  for (auto [field, to] : {std::pair{http::field::content_type, &out.content_type},
                           std::pair{http::field::location, &out.location},
                           std::pair{http::field::retry_after, &out.retry_after}}) {
    if (absl::Status s = header(field, to); !s.ok()) return s;
  }
  auto nonce = res.find("Replay-Nonce");
  if (nonce != res.end() && nonce->value().size() <= kMaxHeaderValue) {
    out.replay_nonce = std::string(nonce->value());
  }
  for (const auto& f : res) {
    if (f.name() == http::field::link && f.value().size() <= kMaxHeaderValue &&
        out.links.size() < 16) {
      out.links.emplace_back(f.value());
    }
  }
  out.body = res.body();
  return out;
}

}  // namespace edge::acme

// HttpsServer: restd's HTTP(S) listener on Boost.Beast. TLS contexts come from a callback
// (trustd's identity with its keyless key, rebuilt on rotation), so a new connection uses
// the identity current when it arrived and open ones keep theirs. Limits: `max_clients`
// concurrent connections (more are closed at once), a read timeout for each request, an
// idle timeout between keep-alive requests, and a body limit (413).
//
// The handler runs on a worker pool, never on an I/O thread, since it waits on trustd and
// edged. Thread-safe.
#ifndef RESTD_HTTPS_SERVER_H_
#define RESTD_HTTPS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "restd/rest_api.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace edge::restd {

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  bool tls = true;
  // The context for the next connection; null refuses connections (no identity yet).
  std::function<std::shared_ptr<SSL_CTX>()> tls_context;
  size_t max_clients = 15;
  absl::Duration read_timeout = absl::Seconds(20);      // content_read_timeout
  absl::Duration keepalive_timeout = absl::Seconds(60);
  size_t body_limit = 1 << 20;
  int io_threads = 2;
  int workers = 8;
};

class HttpsServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  HttpsServer(HttpsServerOptions options, Handler handler);
  ~HttpsServer();

  // Binds and starts serving; returns the bound port (useful with port 0).
  absl::StatusOr<int> Start();
  void Stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edge::restd

#endif  // RESTD_HTTPS_SERVER_H_

// The TLS server side of the test platforms (platformsim, tests/hostileplatform): TLS 1.2 or
// later with the certificate chain and key given by --cert/--key.
//
//   asio::ssl::context ssl(asio::ssl::context::tls_server);
//   if (absl::Status s = LoadServerIdentity(ssl, "platform.pem", "platform.key"); !s.ok()) ...
#ifndef TESTS_PLATFORMSIM_SERVER_TLS_H_
#define TESTS_PLATFORMSIM_SERVER_TLS_H_

#include <string>

#include <boost/asio/ssl/context.hpp>

#include "absl/status/status.h"

namespace edge::platformsim {

// Loads the PEM chain `cert` (leaf first) and the PEM key `key` into `ctx` and refuses
// anything older than TLS 1.2. kInvalidArgument naming the flag and the file.
absl::Status LoadServerIdentity(boost::asio::ssl::context& ctx, const std::string& cert,
                                const std::string& key);

}  // namespace edge::platformsim

#endif  // TESTS_PLATFORMSIM_SERVER_TLS_H_

#include "tests/platformsim/server_tls.h"

#include "absl/strings/str_cat.h"

namespace edge::platformsim {

namespace ssl = boost::asio::ssl;

absl::Status LoadServerIdentity(ssl::context& ctx, const std::string& cert,
                                const std::string& key) {
  ctx.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                  ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--cert ", cert, ": ", ec.message()));
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--key ", key, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace edge::platformsim

// HTTP CONNECT through a proxy (EMS's `proxy` group): the request edged sends to open a
// tunnel to the platform (RFC 9110 section 9.3.6), and the Proxy-Authorization it answers
// a 407 with: Basic (RFC 7617) or Digest (RFC 7616, MD5 or SHA-256, qop "auth"). Pure
// functions; no I/O. The password is never part of an error message.
#ifndef EDGED_HTTP_PROXY_H_
#define EDGED_HTTP_PROXY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge::edged {

// One challenge of a Proxy-Authenticate header: the scheme (lower case) and its
// parameters (names lower case, values unquoted).
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Every challenge in the Proxy-Authenticate field values `headers` (RFC 9110 section 11.6.1;
// a field value may hold several challenges). Values from the proxy: bounded, never trusted.
std::vector<AuthChallenge> ParseChallenges(const std::vector<std::string>& headers);

// The Proxy-Authorization value for `challenges`: Digest when offered (the strongest a proxy
// offers first), else Basic. `cnonce` is the client nonce (random hex; a test passes its
// own). kUnimplemented naming the schemes when none of them is Basic or Digest.
absl::StatusOr<std::string> ProxyAuthorization(const std::vector<AuthChallenge>& challenges,
                                               const std::string& user,
                                               const std::string& password,
                                               absl::string_view method, absl::string_view uri,
                                               const std::string& cnonce);

// The CONNECT request for `authority` ("host:port"), with `authorization` when not empty.
std::string ConnectRequest(const std::string& authority, const std::string& authorization);

}  // namespace edge::edged

#endif  // EDGED_HTTP_PROXY_H_

// curl as the REST client of integration tests: a real client none of us wrote.
//
//   CurlResult r = Curl(dir, {"-u", "admin:pw", "https://localhost:8000/..."}, ca_pem);
//   EXPECT_EQ(r.code, 200);
#ifndef TESTS_TESTING_CURL_H_
#define TESTS_TESTING_CURL_H_

#include <string>
#include <vector>

namespace edge::testing {

struct CurlResult {
  int code = 0;          // HTTP status; 0 when no response came (curl_error says why).
  std::string body;
  std::string headers;
  std::string curl_error;
  // The value of the (last) response header `name`, case-insensitively; "" if absent.
  std::string Header(const std::string& name) const;
};

// Runs curl once with `args` (each passed as one argument), trusting `ca_pem`. Scratch
// files go to `dir`.
CurlResult Curl(const std::string& dir, const std::vector<std::string>& args,
                const std::string& ca_pem);

// Many requests in one curl process (keep-alive), each `args` a request's options ending
// with its URL; returns the status of each, in order (0: no response).
std::vector<int> CurlBatch(const std::string& dir,
                           const std::vector<std::vector<std::string>>& requests,
                           const std::string& ca_pem);

}  // namespace edge::testing

#endif  // TESTS_TESTING_CURL_H_

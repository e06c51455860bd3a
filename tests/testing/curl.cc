#include "tests/testing/curl.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/file_util.h"

namespace edge::testing {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A curl config file line: `option = "value"` with the value escaped.
std::string ConfigValue(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string CurlResult::Header(const std::string& name) const {
  std::string found;
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    if (absl::StartsWithIgnoreCase(line, name + ":")) {
      found = std::string(absl::StripAsciiWhitespace(line.substr(name.size() + 1)));
    }
  }
  return found;
}

CurlResult Curl(const std::string& dir, const std::vector<std::string>& args,
                const std::string& ca_pem) {
  std::string cmd = absl::StrCat("curl -sS --max-time 30 --cacert ", Quote(ca_pem), " -D ", dir,
                                 "/curl.headers -o ", dir, "/curl.body -w '%{http_code}'");
  for (const std::string& a : args) absl::StrAppend(&cmd, " ", Quote(a));
  absl::StrAppend(&cmd, " 2> ", dir, "/curl.stderr");
  std::remove((dir + "/curl.body").c_str());
  std::remove((dir + "/curl.headers").c_str());
  CurlResult r;
  (void)absl::SimpleAtoi(Run(cmd), &r.code);
  r.body = ReadFile(dir + "/curl.body").value_or("");
  r.headers = ReadFile(dir + "/curl.headers").value_or("");
  r.curl_error = ReadFile(dir + "/curl.stderr").value_or("");
  return r;
}

std::vector<int> CurlBatch(const std::string& dir,
                           const std::vector<std::vector<std::string>>& requests,
                           const std::string& ca_pem) {
  // One config file: options of a request, then its URL, then `next`.
  std::string config;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::vector<std::string>& r = requests[i];
    absl::StrAppend(&config, "silent\nshow-error\ncacert = ", ConfigValue(ca_pem),
                    "\noutput = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\n");
    for (size_t a = 0; a + 1 < r.size(); a += 2) {
      absl::StrAppend(&config, r[a], " = ", ConfigValue(r[a + 1]), "\n");
    }
    absl::StrAppend(&config, "url = ", ConfigValue(r.back()), "\n");
    if (i + 1 < requests.size()) config += "next\n";
  }
  std::string file = dir + "/curl.batch";
  std::ofstream(file) << config;
  std::string out = Run(absl::StrCat("curl --max-time 600 -K ", Quote(file), " 2> ", dir,
                                     "/curl.stderr"));
  std::vector<int> codes;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    int code = 0;
    (void)absl::SimpleAtoi(line, &code);
    codes.push_back(code);
  }
  return codes;
}

}  // namespace edge::testing

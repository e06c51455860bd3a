#include "edged/http_proxy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace edge::edged {
namespace {

constexpr size_t kMaxChallenges = 16;
constexpr size_t kMaxParams = 32;
constexpr size_t kMaxValue = 1024;

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A small cursor over one field value (RFC 9110 section 11: challenge = auth-scheme
// [ 1*SP ( token68 / #auth-param ) ]).
class Cursor {
 public:
  explicit Cursor(absl::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool Take(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  std::string Token() {
    SkipSpace();
    size_t start = i_;
    while (i_ < s_.size() && IsTokenChar(s_[i_])) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  // A quoted-string (RFC 9110 section 5.6.4) or a token; "" with ok false when neither.
  std::string Value(bool* ok) {
    SkipSpace();
    *ok = true;
    if (i_ < s_.size() && s_[i_] == '"') {
      std::string out;
      for (++i_; i_ < s_.size(); ++i_) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
          out.push_back(s_[++i_]);
        } else if (s_[i_] == '"') {
          ++i_;
          return out.substr(0, kMaxValue);
        } else {
          out.push_back(s_[i_]);
        }
      }
      *ok = false;  // Unterminated.
      return "";
    }
    std::string t = Token();
    // token68 may end in '='.
    while (i_ < s_.size() && s_[i_] == '=') t.push_back(s_[i_++]);
    if (t.empty()) *ok = false;
    return t.substr(0, kMaxValue);
  }
  size_t pos() const { return i_; }
  void set_pos(size_t p) { i_ = p; }

 private:
  absl::string_view s_;
  size_t i_ = 0;
};

std::string Hash(const EVP_MD* md, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), len));
}

// A quoted-string for a header (RFC 9110 section 5.6.4): `"` and `\` escaped; control
// characters (which no proxy parameter may hold) dropped.
std::string Quoted(absl::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::vector<AuthChallenge> ParseChallenges(const std::vector<std::string>& headers) {
  std::vector<AuthChallenge> out;
  for (const std::string& header : headers) {
    Cursor c(header);
    while (!c.done() && out.size() < kMaxChallenges) {
      while (c.Take(',')) {
      }
      std::string scheme = absl::AsciiStrToLower(c.Token());
      if (scheme.empty()) break;  // Not a challenge: the rest of this value is ignored.
      AuthChallenge challenge{scheme, {}};
      // Parameters until the next scheme: name "=" value, separated by commas.
      while (!c.done() && challenge.params.size() < kMaxParams) {
        size_t before = c.pos();
        while (c.Take(',')) {
        }
        std::string name = absl::AsciiStrToLower(c.Token());
        if (name.empty() || !c.Take('=')) {
          c.set_pos(before);  // A new challenge's scheme (or junk).
          break;
        }
        bool ok = false;
        std::string value = c.Value(&ok);
        if (!ok) break;
        challenge.params[name] = std::move(value);
      }
      out.push_back(std::move(challenge));
      size_t before = c.pos();
      c.SkipSpace();
      if (c.pos() == before && !c.done() && !c.Take(',')) break;  // No progress: stop.
    }
  }
  return out;
}

absl::StatusOr<std::string> ProxyAuthorization(const std::vector<AuthChallenge>& challenges,
                                               const std::string& user,
                                               const std::string& password,
                                               absl::string_view method, absl::string_view uri,
                                               const std::string& cnonce) {
  for (const AuthChallenge& ch : challenges) {
    if (ch.scheme != "digest") continue;
    auto get = [&ch](const char* name) -> std::string {
      auto it = ch.params.find(name);
      return it == ch.params.end() ? "" : it->second;
    };
    std::string algorithm = absl::AsciiStrToUpper(get("algorithm"));
    const EVP_MD* md = algorithm.empty() || algorithm == "MD5"     ? EVP_md5()
                       : algorithm == "SHA-256"                    ? EVP_sha256()
                                                                   : nullptr;
    if (md == nullptr) continue;  // MD5-sess and others: look for another challenge.
    std::string realm = get("realm"), nonce = get("nonce"), opaque = get("opaque");
    if (nonce.empty()) continue;
    bool qop_auth = false;
    for (absl::string_view q : absl::StrSplit(get("qop"), ',')) {
      qop_auth = qop_auth || absl::StripAsciiWhitespace(q) == "auth";
    }
    // RFC 7616 section 3.4.1: response = H(H(A1):nonce:nc:cnonce:qop:H(A2)), or, without
    // qop (RFC 2069 compatibility), H(H(A1):nonce:H(A2)).
    std::string ha1 = Hash(md, absl::StrCat(user, ":", realm, ":", password));
    std::string ha2 = Hash(md, absl::StrCat(method, ":", uri));
    const std::string nc = "00000001";
    std::string response =
        qop_auth ? Hash(md, absl::StrCat(ha1, ":", nonce, ":", nc, ":", cnonce, ":auth:", ha2))
                 : Hash(md, absl::StrCat(ha1, ":", nonce, ":", ha2));
    std::string out = absl::StrCat("Digest username=", Quoted(user), ", realm=", Quoted(realm),
                                   ", nonce=", Quoted(nonce), ", uri=", Quoted(uri),
                                   ", response=", Quoted(response));
    if (!algorithm.empty()) absl::StrAppend(&out, ", algorithm=", algorithm);
    if (qop_auth) absl::StrAppend(&out, ", qop=auth, nc=", nc, ", cnonce=", Quoted(cnonce));
    if (!opaque.empty()) absl::StrAppend(&out, ", opaque=", Quoted(opaque));
    return out;
  }
  for (const AuthChallenge& ch : challenges) {
    if (ch.scheme == "basic") {
      return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(user, ":", password)));
    }
  }
  std::vector<std::string> schemes;
  for (const AuthChallenge& ch : challenges) schemes.push_back(ch.scheme);
  return absl::UnimplementedError(absl::StrCat(
      "the proxy asks for ",
      schemes.empty() ? std::string("an authentication it does not name")
                      : absl::StrCat("authentication by ", absl::StrJoin(schemes, ", ")),
      "; edged speaks Basic and Digest (MD5, SHA-256)"));
}

std::string ConnectRequest(const std::string& authority, const std::string& authorization) {
  std::string out = absl::StrCat("CONNECT ", authority, " HTTP/1.1\r\nHost: ", authority,
                                 "\r\nUser-Agent: edged\r\n");
  if (!authorization.empty()) absl::StrAppend(&out, "Proxy-Authorization: ", authorization, "\r\n");
  out += "\r\n";
  return out;
}

}  // namespace edge::edged

#include "edged/http_proxy.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace edge::edged {
namespace {

// RFC 7616 section 3.9.1: the same request answered with MD5 and with SHA-256.
TEST(ProxyAuthorizationTest, DigestMatchesTheExamplesOfRfc7616) {
  const std::string challenge =
      R"(Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, )"
      R"(nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", )"
      R"(opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", Digest )"
      R"(realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, )"
      R"(nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", )"
      R"(opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")";
  std::vector<AuthChallenge> challenges = ParseChallenges({challenge});
  ASSERT_EQ(challenges.size(), 2u);
  EXPECT_EQ(challenges[0].params["algorithm"], "SHA-256");
  EXPECT_EQ(challenges[1].params["qop"], "auth, auth-int");
  const std::string cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  absl::StatusOr<std::string> sha256 =
      ProxyAuthorization(challenges, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce);
  ASSERT_TRUE(sha256.ok()) << sha256.status();
  EXPECT_TRUE(absl::StrContains(
      *sha256, R"(response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")"))
      << *sha256;
  EXPECT_TRUE(absl::StrContains(*sha256, "qop=auth, nc=00000001")) << *sha256;
  EXPECT_TRUE(absl::StrContains(*sha256, R"(opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")"));
  absl::StatusOr<std::string> md5 = ProxyAuthorization(
      {challenges[1]}, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce);
  ASSERT_TRUE(md5.ok());
  EXPECT_TRUE(absl::StrContains(*md5, R"(response="8ca523f5e9506fed4657c9700eebdbec")")) << *md5;
}

// RFC 2617 section 3.5 (no algorithm parameter: MD5).
TEST(ProxyAuthorizationTest, DigestMatchesTheExampleOfRfc2617) {
  std::vector<AuthChallenge> challenges = ParseChallenges(
      {R"(Digest realm="testrealm@host.com", qop="auth,auth-int", )"
       R"(nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41")"});
  absl::StatusOr<std::string> a = ProxyAuthorization(challenges, "Mufasa", "Circle Of Life", "GET",
                                                     "/dir/index.html", "0a4f113b");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(absl::StrContains(*a, R"(response="6629fae49393a05397450978507c4ef1")")) << *a;
}

TEST(ProxyAuthorizationTest, BasicWhenThatIsAllTheProxyOffers) {
  absl::StatusOr<std::string> a = ProxyAuthorization(ParseChallenges({R"(Basic realm="squid")"}),
                                                      "edge", "p@ss:word", "CONNECT", "x:443", "c");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "Basic ZWRnZTpwQHNzOndvcmQ=");
}

TEST(ProxyAuthorizationTest, DigestIsPreferredOverBasicInWhateverOrder) {
  absl::StatusOr<std::string> a = ProxyAuthorization(
      ParseChallenges({R"(Basic realm="squid")", R"(Digest realm="squid", nonce="abc", qop="auth")"}),
      "edge", "secret", "CONNECT", "platform:443", "c0ffee");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(absl::StartsWith(*a, "Digest username=\"edge\"")) << *a;
  EXPECT_TRUE(absl::StrContains(*a, "uri=\"platform:443\""));
}

TEST(ProxyAuthorizationTest, AnUnknownSchemeIsNamedAndThePasswordNever) {
  absl::StatusOr<std::string> a = ProxyAuthorization(ParseChallenges({"NTLM", "Negotiate"}),
                                                      "edge", "hunter2", "CONNECT", "x:443", "c");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(a.status().message(), "ntlm, negotiate")) << a.status();
  EXPECT_FALSE(absl::StrContains(a.status().message(), "hunter2"));
}

TEST(ParseChallengesTest, HostileHeadersAreBoundedAndNeverCrash) {
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "Digest a=\"b\", ";
  EXPECT_LE(ParseChallenges({many}).size(), 16u);
  EXPECT_TRUE(ParseChallenges({"", ",,,", "=\"", "Digest realm=\"unterminated"}).size() <= 2);
  std::vector<AuthChallenge> c = ParseChallenges({"Digest realm=\"" + std::string(100000, 'x') + "\""});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_LE(c[0].params["realm"].size(), 1024u);
}

TEST(ConnectRequestTest, NamesTheAuthorityTwiceAndAuthenticatesWhenAsked) {
  EXPECT_EQ(ConnectRequest("platform.example:443", ""),
            "CONNECT platform.example:443 HTTP/1.1\r\nHost: platform.example:443\r\n"
            "User-Agent: edged\r\n\r\n");
  EXPECT_TRUE(absl::StrContains(ConnectRequest("p:443", "Basic eA=="),
                                "\r\nProxy-Authorization: Basic eA==\r\n\r\n"));
}

}  // namespace
}  // namespace edge::edged

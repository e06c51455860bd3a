// restd's connection handling under hostile clients, against the real stack (trustd, edged,
// the platform simulator): idle and half-open connections, slow header senders, one peer
// taking every slot, request smuggling through Transfer-Encoding, plain HTTP on the TLS
// port. Loopback only; peers are told apart by their source address (127.x.y.z). Timeouts
// are set small in each test's configuration; nothing else is measured by time.
#include <stdio.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/curl.h"
#include "tests/testing/edge_stack.h"
#include "tests/testing/loopback_client.h"

namespace edge {
namespace {

using testing::CurlResult;
using testing::EdgeStack;
using testing::LoopbackClient;
using testing::RecordsOfKind;
using testing::StackConfig;
using testing::WaitFor;

constexpr char kReadyPath[] = "/Thingworx/Things/SystemRepository/Properties/name";

// The log lines of `log` that contain every one of `needles`.
std::vector<std::string> LinesWith(const std::string& log, std::vector<std::string> needles) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = true;
    for (const std::string& n : needles) all = all && absl::StrContains(line, n);
    if (all) out.emplace_back(line);
  }
  return out;
}

// The lines of `process`'s log with every one of `needles`, once at least one has been
// written (a daemon may log an event just after a client can see it), or none after 10 s.
std::vector<std::string> AwaitLinesWith(testing::Subprocess* process,
                                        std::vector<std::string> needles) {
  std::vector<std::string> lines;
  WaitFor([&] { return !(lines = LinesWith(process->Log(), needles)).empty(); },
          absl::Seconds(10));
  return lines;
}

size_t Count(absl::string_view haystack, absl::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != haystack.npos; at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class RestdConnectionLimitsTest : public ::testing::Test {
 protected:
  // The stack with restd on a free port; `http_server_keys` are added to the http_server
  // group, `restd_keys` make up the restd group.
  // With `slow_trustd`, edged and restd reach trustd through proxy_ (no delay until set).
  void Start(const std::string& http_server_keys, const std::string& restd_keys,
             bool slow_trustd = false) {
    ASSERT_TRUE(stack_.StartSim().ok());
    port_ = EdgeStack::FreePort();
    StackConfig config;
    config.http_server = stack_.RestHttpServer(port_) + http_server_keys;
    config.extra = absl::StrCat("restd:\n", restd_keys);
    absl::Status s = stack_.WriteConfig(config);
    if (s.ok()) s = stack_.StartTrustd();
    if (s.ok() && slow_trustd) {
      absl::StatusOr<testing::DelayProxy*> proxy = stack_.SlowTrustd();
      ASSERT_TRUE(proxy.ok()) << proxy.status();
      proxy_ = *proxy;
    }
    if (s.ok()) s = stack_.StartEdged();
    if (s.ok()) s = stack_.StartRestd();
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(WaitFor([&] { return Get(kReadyPath).code == 200; }, absl::Seconds(20)))
        << stack_.edged()->Log() << stack_.restd()->Log();
    tls_ = testing::ClientTlsContext(stack_.dir() + "/ca.pem");
    ASSERT_NE(tls_, nullptr);
  }

  void TearDown() override {
    if (stack_.restd() != nullptr && (HasFailure() || std::getenv("DUMP_RESTD_LOG") != nullptr)) {
      std::cerr << "restd's log:\n" << stack_.restd()->Log();
    }
  }

  // A GET by curl with the stack's credentials, from `source` (empty: curl's choice).
  CurlResult Get(const std::string& path, const std::string& source = "") {
    std::vector<std::string> args = {
        "-u", absl::StrCat(testing::kStackRestUser, ":", testing::kStackRestPassword)};
    if (!source.empty()) args.insert(args.end(), {"--interface", source});
    args.push_back(absl::StrCat("https://localhost:", port_, path));
    return testing::Curl(stack_.dir(), args, stack_.dir() + "/ca.pem");
  }

  std::string AuthorizationHeader() const {
    return absl::StrCat("Authorization: Basic ",
                        absl::Base64Escape(absl::StrCat(testing::kStackRestUser, ":",
                                                        testing::kStackRestPassword)),
                        "\r\n");
  }

  // A client past its TLS handshake, from `source`.
  absl::StatusOr<LoopbackClient> TlsClient(const std::string& source = "127.0.0.1") {
    absl::StatusOr<LoopbackClient> c = LoopbackClient::Connect(port_, source);
    if (!c.ok()) return c.status();
    if (absl::Status s = c->StartTls(tls_, "localhost"); !s.ok()) return s;
    return c;
  }

  // A client in the middle of a request: its header is in (restd said 100 Continue), its
  // body is not; restd waits for it up to content_read_timeout.
  absl::StatusOr<LoopbackClient> BusyClient(const std::string& source = "127.0.0.1") {
    absl::StatusOr<LoopbackClient> c = TlsClient(source);
    if (!c.ok()) return c.status();
    absl::Status s = c->Write(absl::StrCat(
        "POST /Thingworx/Things/Pump1/Services/Reset HTTP/1.1\r\nHost: localhost\r\n",
        AuthorizationHeader(), "Content-Type: application/json\r\nExpect: 100-continue\r\n"
        "Content-Length: 1000\r\n\r\n"));
    if (!s.ok()) return s;
    std::string reply = c->ReadUntil("100 Continue", absl::Seconds(10));
    if (!absl::StrContains(reply, "100 Continue")) {
      return absl::UnavailableError(absl::StrCat("no 100 Continue; got \"", reply, "\""));
    }
    return c;
  }

  EdgeStack stack_;
  testing::DelayProxy* proxy_ = nullptr;  // Owned by stack_ (SlowTrustd).
  int port_ = 0;
  std::shared_ptr<SSL_CTX> tls_;
};

// Issue 12: a slow trustd delays only the handshakes that wait for it. With every trustd
// answer 500 ms late, 20 new handshakes wait (each needs trustd's keyless Sign for its
// CertificateVerify) while a keep-alive client on an open connection goes on being served.
// With the handshakes on restd's two I/O threads, the open connection would get nothing
// until the first of them was done.
TEST_F(RestdConnectionLimitsTest, ASlowTrustdDelaysNewHandshakesButNotOpenConnections) {
  Start("", "  max_connections_per_address: 64\n  io_threads: 2\n", /*slow_trustd=*/true);
  absl::StatusOr<LoopbackClient> open = TlsClient();
  ASSERT_TRUE(open.ok()) << open.status();
  const std::string request = absl::StrCat(
      "GET /Thingworx/Things/LocalEms/Properties/isConnected HTTP/1.1\r\nHost: localhost\r\n",
      AuthorizationHeader(), "\r\n");
  auto one_request = [&]() -> bool {
    if (!open->Write(request).ok()) return false;
    return absl::StrContains(open->ReadUntil("}]}", absl::Seconds(10)), "}]}");
  };
  ASSERT_TRUE(one_request());  // The credentials are cached now: no trustd call per request.
  int baseline = 0;
  absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Milliseconds(500)) {
    ASSERT_TRUE(one_request());
    ++baseline;
  }
  absl::Duration baseline_time = absl::Now() - start;

  constexpr absl::Duration kDelay = absl::Milliseconds(500);
  proxy_->set_delay(kDelay);
  constexpr int kHandshakes = 20;
  std::atomic<int> done{0}, failed{0};
  std::vector<std::thread> clients;
  absl::Time began = absl::Now();
  for (int i = 0; i < kHandshakes; ++i) {
    clients.emplace_back([&] {
      if (!TlsClient().ok()) ++failed;
      ++done;
    });
  }
  int served_while_waiting = 0;
  while (done.load() == 0) {
    ASSERT_TRUE(one_request());
    if (done.load() == 0) ++served_while_waiting;
  }
  absl::Duration until_first = absl::Now() - began;
  for (std::thread& t : clients) t.join();
  absl::Duration all = absl::Now() - began;
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(until_first, kDelay) << "the handshakes did not wait for trustd";
  // A count of requests, not a rate: with the I/O threads held by trustd calls it is 0.
  EXPECT_GE(served_while_waiting, 10)
      << "the open connection was not served while handshakes waited for trustd";
  std::printf("trustd delayed %lld ms: %d keep-alive requests served while %d handshakes waited "
              "(%.0f/s; %.0f/s with trustd at full speed); first handshake after %lld ms, all "
              "%d after %lld ms\n",
              static_cast<long long>(absl::ToInt64Milliseconds(kDelay)), served_while_waiting,
              kHandshakes, served_while_waiting / absl::ToDoubleSeconds(until_first),
              baseline / absl::ToDoubleSeconds(baseline_time),
              static_cast<long long>(absl::ToInt64Milliseconds(until_first)), kHandshakes,
              static_cast<long long>(absl::ToInt64Milliseconds(all)));
}

TEST_F(RestdConnectionLimitsTest, IdleConnectionsNeitherLockOutClientsNorOutliveTheHandshakeTimeout) {
  Start("", "  handshake_timeout: 3000\n  max_connections_per_address: 100\n");
  std::vector<LoopbackClient> idle;
  absl::Time opened = absl::Now();
  for (int i = 0; i < 20; ++i) {  // More than max_clients (15): not one TLS byte sent.
    absl::StatusOr<LoopbackClient> c = LoopbackClient::Connect(port_);
    ASSERT_TRUE(c.ok()) << c.status();
    idle.push_back(std::move(*c));
  }
  CurlResult get = Get(kReadyPath);
  EXPECT_EQ(get.code, 200) << get.curl_error << stack_.restd()->Log();
  int open = 0;
  for (LoopbackClient& c : idle) open += c.LooksOpen() ? 1 : 0;
  EXPECT_EQ(open, 20) << "curl was served while all 20 idle connections were open";

  for (LoopbackClient& c : idle) {
    EXPECT_TRUE(c.WaitClosed(absl::Seconds(20))) << "restd closes an idle connection";
  }
  EXPECT_GE(absl::Now() - opened, absl::Milliseconds(2500)) << "not before the handshake timeout";
  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"restd.handshake_timeout (3000 ms)"}).size(), 1u)
      << "one line for 20 connections from one address";
}

TEST_F(RestdConnectionLimitsTest, HeaderAndKeepAliveTimeoutsCloseTheirConnections) {
  Start("", "  header_timeout: 1000\n  keepalive_timeout: 1000\n");
  // A header sent one byte at a time: the header timeout is a deadline for the whole
  // header, not for each byte.
  absl::StatusOr<LoopbackClient> slow = TlsClient();
  ASSERT_TRUE(slow.ok()) << slow.status();
  absl::Time handshaken = absl::Now();
  ASSERT_TRUE(slow->Write("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").ok());
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {  // At most 10 s.
    closed = !slow->Write("a").ok() || slow->WaitClosed(absl::Milliseconds(100));
  }
  EXPECT_TRUE(closed) << "a slow header is cut off";
  EXPECT_GE(absl::Now() - handshaken, absl::Milliseconds(800));

  // A keep-alive connection that stays idle after its response.
  absl::StatusOr<LoopbackClient> idle = TlsClient();
  ASSERT_TRUE(idle.ok()) << idle.status();
  ASSERT_TRUE(idle->Write(absl::StrCat("GET ", kReadyPath, " HTTP/1.1\r\nHost: localhost\r\n",
                                       AuthorizationHeader(), "\r\n")).ok());
  std::string reply = idle->ReadUntil("\"rows\"", absl::Seconds(10));
  ASSERT_TRUE(absl::StartsWith(reply, "HTTP/1.1 200")) << reply;
  absl::Time answered = absl::Now();
  EXPECT_TRUE(idle->WaitClosed(absl::Seconds(10)));
  EXPECT_GE(absl::Now() - answered, absl::Milliseconds(800));

  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"restd.header_timeout (1000 ms)"}).size(), 1u);
  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"restd.keepalive_timeout (1000 ms)"}).size(), 1u);
}

TEST_F(RestdConnectionLimitsTest, HalfSentHellosAndSlowHeaderSendersLeaveALegitimateClientServed) {
  // Timeouts longer than the test: the bounds alone must keep the client served. One
  // address for everyone, so that the per-address limit plays no part.
  Start("", "  handshake_timeout: 60000\n  header_timeout: 60000\n"
            "  max_pending_handshakes: 32\n  max_connections_per_address: 1000\n");
  const std::string hello = testing::ClientHelloPrefix(10);
  ASSERT_EQ(hello.size(), 10u);
  ASSERT_EQ(hello[0], '\x16');
  std::vector<LoopbackClient> half_hellos;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<LoopbackClient> c = LoopbackClient::Connect(port_);
    ASSERT_TRUE(c.ok()) << c.status();
    (void)c->SendRaw(hello);  // restd may already have dropped it: that is the point.
    half_hellos.push_back(std::move(*c));
  }

  // 300 slow header senders, one handshake after another, each then trickling its header.
  std::atomic<bool> stop{false};
  std::atomic<int> handshaken{0};
  std::atomic<bool> attack_done{false};
  std::vector<LoopbackClient> slow;
  std::thread attacker([&] {
    for (int i = 0; i < 300 && !stop; ++i) {
      absl::StatusOr<LoopbackClient> c = TlsClient();
      if (!c.ok() || !c->Write("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").ok()) continue;
      slow.push_back(std::move(*c));
      ++handshaken;
      if (i % 20 == 0) {
        for (LoopbackClient& s : slow) (void)s.Write("a");
      }
    }
    attack_done = true;
  });
  // One legitimate request after every 30 attack handshakes: all along the attack.
  int served = 0;
  for (int i = 0; i < 10; ++i) {
    if (!WaitFor([&] { return handshaken >= 30 * (i + 1) || attack_done; }, absl::Seconds(60))) {
      stop = true;
      attacker.join();
      FAIL() << "the attack stalled at " << handshaken << " handshakes";
    }
    CurlResult get = Get(kReadyPath);
    if (get.code == 200) {
      ++served;
    } else {
      ADD_FAILURE() << "request " << i << ": " << get.code << " " << get.curl_error;
    }
  }
  attacker.join();
  EXPECT_EQ(served, 10);
  EXPECT_EQ(handshaken, 300) << "every slow sender got through its handshake";

  // What restd holds stayed within its bounds.
  auto open_count = [](std::vector<LoopbackClient>& v) {
    int n = 0;
    for (LoopbackClient& c : v) n += c.LooksOpen() ? 1 : 0;
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return open_count(slow) <= 15; }, absl::Seconds(10)))
      << open_count(slow) << " slow senders still open (http_server.max_clients is 15)";
  EXPECT_TRUE(WaitFor([&] { return open_count(half_hellos) <= 32; }, absl::Seconds(10)))
      << open_count(half_hellos) << " half-sent hellos still open (max_pending_handshakes 32)";
  EXPECT_FALSE(AwaitLinesWith(stack_.restd(), {"restd.max_pending_handshakes (32)"}).empty());
  EXPECT_FALSE(AwaitLinesWith(stack_.restd(), {"http_server.max_clients (15)"}).empty());
}

TEST_F(RestdConnectionLimitsTest, PerAddressLimitRefusesOnePeersExtraConnectionsAndServesOthers) {
  Start("  content_read_timeout: 60000\n",
        "  handshake_timeout: 60000\n  max_connections_per_address: 4\n");
  // 127.0.0.1 holds four connections, each in the middle of a request.
  std::vector<LoopbackClient> busy;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<LoopbackClient> c = BusyClient("127.0.0.1");
    ASSERT_TRUE(c.ok()) << c.status();
    busy.push_back(std::move(*c));
  }
  // A fifth from the same address is closed at once (long before the handshake timeout).
  absl::StatusOr<LoopbackClient> extra = LoopbackClient::Connect(port_, "127.0.0.1");
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_TRUE(extra->WaitClosed(absl::Seconds(10)));
  EXPECT_EQ(Get(kReadyPath, "127.0.0.1").code, 0);
  // Another address is served.
  CurlResult other = Get(kReadyPath, "127.0.0.2");
  EXPECT_EQ(other.code, 200) << other.curl_error;

  // Idle connections do not lock their own address out: a new one takes the place of the
  // oldest idle one.
  std::vector<LoopbackClient> idle;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<LoopbackClient> c = LoopbackClient::Connect(port_, "127.0.0.3");
    ASSERT_TRUE(c.ok()) << c.status();
    idle.push_back(std::move(*c));  // restd accepts them in this order.
  }
  CurlResult third = Get(kReadyPath, "127.0.0.3");
  EXPECT_EQ(third.code, 200) << third.curl_error;
  EXPECT_TRUE(idle[0].WaitClosed(absl::Seconds(10))) << "the oldest idle one made room";
  for (size_t i = 1; i < idle.size(); ++i) EXPECT_TRUE(idle[i].LooksOpen()) << i;

  // One line per address and limit, however many refusals.
  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"127.0.0.1", "restd.max_connections_per_address (4)"})
                .size(), 1u);
  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"127.0.0.3", "restd.max_connections_per_address (4)"})
                .size(), 1u);
  EXPECT_TRUE(LinesWith(stack_.restd()->Log(), {"127.0.0.2", "restd.max_connections_per_address"})
                  .empty());
}

TEST_F(RestdConnectionLimitsTest, WhenEveryClientIsBusyANewOneGets503NamingMaxClients) {
  Start("  max_clients: 2\n  content_read_timeout: 60000\n",
        "  max_connections_per_address: 100\n");
  std::vector<LoopbackClient> busy;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<LoopbackClient> c = BusyClient();
    ASSERT_TRUE(c.ok()) << c.status();
    busy.push_back(std::move(*c));
  }
  CurlResult refused = Get(kReadyPath);
  EXPECT_EQ(refused.code, 503) << refused.curl_error;
  EXPECT_TRUE(absl::StrContains(refused.body, "http_server.max_clients (2)")) << refused.body;
  EXPECT_EQ(refused.Header("retry-after"), "1") << refused.headers;
  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"refused a client from 127.0.0.1 with 503",
                                            "http_server.max_clients (2)"}).size(), 1u);
  busy.clear();
  EXPECT_TRUE(WaitFor([&] { return Get(kReadyPath).code == 200; }, absl::Seconds(10)));
}

struct SmugglingCase {
  const char* name;
  std::string framing;  // The framing header lines of the first request.
  std::string body;     // The first request's body, as its Content-Length counts it.
  int status;
  const char* message;  // In the answer's body.
};

TEST_F(RestdConnectionLimitsTest, TransferEncodingOtherThanChunkedIsRefusedAndNothingAfterItRuns) {
  Start("", "");
  std::string long_list = "\"quoted\\\"";  // Peer bytes that must be escaped in the log.
  for (int i = 0; i < 300; ++i) long_list += ", x";
  long_list += ", gzip";
  const std::vector<SmugglingCase> cases = {
      {"a long, quoted coding list", "Transfer-Encoding: " + long_list + "\r\nContent-Length: 2\r\n",
       "{}", 400, "Transfer-Encoding and Content-Length together (RFC 9112 section 6.3)"},
      {"gzip", "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n", "{}", 400,
       "Transfer-Encoding and Content-Length together (RFC 9112 section 6.3)"},
      {"xchunked", "Transfer-Encoding: xchunked\r\nContent-Length: 2\r\n", "{}", 400,
       "Transfer-Encoding and Content-Length together (RFC 9112 section 6.3)"},
      {"chunked, gzip", "Transfer-Encoding: chunked, gzip\r\nContent-Length: 2\r\n", "{}", 400,
       "Transfer-Encoding and Content-Length together (RFC 9112 section 6.3)"},
      {"chunked after Content-Length", "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
       "{}", 400, "(RFC 9112 section 6.3)"},
      {"gzip alone", "Transfer-Encoding: gzip\r\n", "", 400,
       "Transfer-Encoding must end with chunked (RFC 9112 section 6.3)"},
      {"gzip, chunked", "Transfer-Encoding: gzip, chunked\r\n", "2\r\n{}\r\n0\r\n\r\n", 501,
       "transfer coding not implemented"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const SmugglingCase& c = cases[i];
    SCOPED_TRACE(c.name);
    absl::StatusOr<LoopbackClient> client = TlsClient();
    ASSERT_TRUE(client.ok()) << client.status();
    std::string smuggled = absl::StrCat("GET /Thingworx/Things/Pump1/Properties/Smuggled", i,
                                        " HTTP/1.1\r\nHost: localhost\r\n",
                                        AuthorizationHeader(), "\r\n");
    ASSERT_TRUE(client->Write(absl::StrCat("GET ", kReadyPath, " HTTP/1.1\r\nHost: localhost\r\n",
                                           AuthorizationHeader(), c.framing, "\r\n", c.body,
                                           smuggled)).ok());
    bool closed = false;
    std::string reply = client->ReadUntilClosed(absl::Seconds(15), &closed);
    EXPECT_TRUE(closed) << "restd closes the connection after answering";
    EXPECT_EQ(Count(reply, "HTTP/1.1 "), 1u) << "one answer only:\n" << reply;
    EXPECT_TRUE(absl::StartsWith(reply, absl::StrCat("HTTP/1.1 ", c.status, " "))) << reply;
    EXPECT_TRUE(absl::StrContains(reply, c.message)) << reply;
  }
  // Nothing smuggled reached the platform (a request served later has gone all the way).
  ASSERT_EQ(Get(kReadyPath).code, 200);
  auto records = stack_.sim()->Records();
  ASSERT_TRUE(records.ok()) << records.status();
  for (const auto& read : RecordsOfKind(*records, "read")) {
    EXPECT_FALSE(absl::StartsWith(read.Find("name")->str(), "Smuggled")) << read.Find("name")->str();
  }
  // One line for the peer, with its bytes escaped and cut short.
  std::vector<std::string> lines = AwaitLinesWith(stack_.restd(), {"127.0.0.1", "RFC 9112"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\\\"quoted\\\\\\\"")) << lines[0];
  EXPECT_LT(lines[0].size(), 500u) << lines[0];
}

TEST_F(RestdConnectionLimitsTest, PlainHttpOnTheTlsPortGetsAReadableAnswer) {
  Start("", "");
  CurlResult plain = testing::Curl(
      stack_.dir(), {absl::StrCat("http://127.0.0.1:", port_, kReadyPath)}, stack_.dir() + "/ca.pem");
  EXPECT_EQ(plain.code, 400) << plain.curl_error;
  EXPECT_TRUE(absl::StrContains(
      plain.body, absl::StrCat("this port speaks HTTPS: use https://127.0.0.1:", port_, "/")))
      << plain.body;
  EXPECT_EQ(plain.Header("connection"), "close") << plain.headers;
  EXPECT_EQ(AwaitLinesWith(stack_.restd(), {"answered plain HTTP from 127.0.0.1"}).size(), 1u);
  EXPECT_EQ(Get(kReadyPath).code, 200) << "HTTPS is still served";
}

}  // namespace
}  // namespace edge

// PlatformSession's state machine without a network or real time: each connection is a
// FakeConnection the test answers for the platform, and every deadline, ping and reconnect
// wait is measured by a FakeClock the test moves. What the session sends is decoded with
// the real codec; the WebSocket and TLS underneath are tested in tests/edged with real
// processes.
#include "edged/platform_session.h"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/log.h"

namespace edge::edged {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using alwayson::Code;
using alwayson::Message;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kPatience = absl::Seconds(20);  // Real time a condition may take.

// Moves only when the test says so. Counts how often it is read, so that a test can wait
// until the session has looked at it (ticked) after a move.
class FakeClock {
 public:
  Clock::time_point Now() {
    absl::MutexLock lock(&mu_);
    ++reads_;
    return now_;
  }
  // Milliseconds since the start, without counting as a read.
  int64_t Elapsed() {
    absl::MutexLock lock(&mu_);
    return std::chrono::duration_cast<milliseconds>(now_ - Clock::time_point{}).count();
  }
  void Advance(milliseconds d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // Waits until the clock was read `n` more times: with nothing else going on, each tick
  // reads it once, so a tick that began after the last Advance has finished.
  void AwaitReads(int n) {
    absl::MutexLock lock(&mu_);
    int64_t target = reads_ + n;
    auto enough = [this, target] { return reads_ >= target; };
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience));
  }

 private:
  absl::Mutex mu_;
  Clock::time_point now_{};
  int64_t reads_ = 0;
};

// The platform's side of every connection the session makes, played by the test.
class FakePlatform {
 public:
  explicit FakePlatform(FakeClock* clock) : clock_(clock) {}

  struct Sent {
    size_t connection;
    Message message;
  };

  class Connection : public WsConnection, public std::enable_shared_from_this<Connection> {
   public:
    Connection(FakePlatform* platform, asio::io_context& io, size_t index)
        : platform_(platform), io_(io), index_(index) {}

    void Connect(const asio::ip::tcp::resolver::results_type&, milliseconds,
                 Handler h) override {
      beast::error_code ec = platform_->connect_error();
      asio::post(io_, [h = std::move(h), ec] { h(ec); });
    }
    void ConnectThroughProxy(const asio::ip::tcp::resolver::results_type&, ProxyRoute,
                             milliseconds, StatusHandler h) override {
      asio::post(io_, [h = std::move(h)] { h(absl::UnimplementedError("no proxy here")); });
    }
    SSL* ssl() override { return nullptr; }
    void TlsHandshake(Handler h) override {
      asio::post(io_, [h = std::move(h)] { h({}); });
    }
    void Upgrade(const UpgradeRequest&, UpgradeHandler h) override {
      asio::post(io_, [h = std::move(h)] { h({}, 101); });
    }
    void Send(std::string bytes) override {
      absl::StatusOr<Message> m = alwayson::DecodeMessage(bytes, alwayson::Limits{});
      ASSERT_TRUE(m.ok()) << m.status();
      platform_->Record(index_, std::move(*m));
    }
    void ReadLoop(ReadHandler h) override { read_ = std::move(h); }
    void Ping() override { platform_->CountPing(); }
    void OnPong(std::function<void()> f) override { pong_ = std::move(f); }
    std::string CloseReason() override { return ""; }
    // Like a real connection, lets go of its handlers (they hold the connection): later,
    // since Close may be called from inside one of them.
    void Close() override {
      platform_->MarkClosed(index_);
      asio::post(io_, [r = std::move(read_), p = std::move(pong_)] {});
      read_ = nullptr;
      pong_ = nullptr;
    }

    // From the test thread: the platform sends `m`, answers a ping, or the connection
    // breaks. Each runs on the session's I/O thread, as a real connection's reads do.
    void Deliver(const Message& m) {
      absl::StatusOr<std::string> bytes = alwayson::EncodeMessage(m);
      ASSERT_TRUE(bytes.ok());
      asio::post(io_, [self = shared_from_this(), b = *bytes] {
        if (self->read_) self->read_({}, b);
      });
    }
    void Pong() {
      asio::post(io_, [self = shared_from_this()] {
        if (self->pong_) self->pong_();
      });
    }
    void Break() {
      asio::post(io_, [self = shared_from_this()] {
        if (self->read_) self->read_(asio::error::connection_reset, "");
      });
    }

   private:
    FakePlatform* platform_;
    asio::io_context& io_;
    size_t index_;
    ReadHandler read_;
    std::function<void()> pong_;
  };

  std::shared_ptr<WsConnection> NewConnection(asio::io_context& io) {
    absl::MutexLock lock(&mu_);
    auto c = std::make_shared<Connection>(this, io, connections_.size());
    connections_.push_back(c);
    opened_at_.push_back(clock_->Elapsed());
    closed_.push_back(false);
    return c;
  }

  void set_connect_error(beast::error_code ec) {
    absl::MutexLock lock(&mu_);
    connect_error_ = ec;
  }

  // Waits until the session has sent its `n`th message (1-based) and returns it.
  Sent AwaitSent(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n] { return sent_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience))
        << "the session sent " << sent_.size() << " messages, expected " << n;
    return sent_.size() >= n ? sent_[n - 1] : Sent{0, Message{}};
  }
  // Waits until the session has opened `n` connections; returns when each opened (fake ms).
  std::vector<int64_t> AwaitConnections(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n] { return connections_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience))
        << "the session opened " << connections_.size() << " connections, expected " << n;
    return opened_at_;
  }
  void AwaitClosed(size_t index) {
    absl::MutexLock lock(&mu_);
    auto closed = [this, index] { return index < closed_.size() && closed_[index]; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&closed), kPatience))
        << "connection " << index << " was not closed";
  }
  void AwaitPings(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n] { return pings_ >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience));
  }

  std::shared_ptr<Connection> connection(size_t i) {
    absl::MutexLock lock(&mu_);
    return connections_.at(i);
  }
  size_t connections() {
    absl::MutexLock lock(&mu_);
    return connections_.size();
  }
  size_t sent() {
    absl::MutexLock lock(&mu_);
    return sent_.size();
  }
  bool closed(size_t i) {
    absl::MutexLock lock(&mu_);
    return closed_.at(i);
  }

 private:
  beast::error_code connect_error() {
    absl::MutexLock lock(&mu_);
    return connect_error_;
  }
  void Record(size_t connection, Message m) {
    absl::MutexLock lock(&mu_);
    sent_.push_back(Sent{connection, std::move(m)});
  }
  void CountPing() {
    absl::MutexLock lock(&mu_);
    ++pings_;
  }
  void MarkClosed(size_t i) {
    absl::MutexLock lock(&mu_);
    closed_.at(i) = true;
  }

  FakeClock* clock_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<int64_t> opened_at_;
  std::vector<bool> closed_;
  std::vector<Sent> sent_;
  beast::error_code connect_error_;
  int pings_ = 0;
};

class PlatformSessionTest : public ::testing::Test {
 protected:
  PlatformSessionTest() {
    options_.servers = {config::WsServer{"127.0.0.1", 443}};
    options_.tls = false;
    options_.ws.encryption = "none";
    options_.ws.compression = false;
    options_.ws.msg_timeout = 5000;
    options_.ws.connect_retry_interval = 1000;
    options_.ws.max_connect_delay = 0;
    options_.ws.ping_rate = 60000;
    options_.ws.pingpong_timeout = 10000;
    options_.duty.connect_period = 0;
    options_.max_reconnect_delay = milliseconds(8000);
    options_.app_key = [] { return absl::StatusOr<std::string>("the-app-key"); };
    options_.jitter = [] { return 0.0; };
    options_.now = [this] { return clock_.Now(); };
    options_.tick = milliseconds(2);
    options_.new_connection = [this](asio::io_context& io, SSL_CTX*, tls::HandshakePool&) {
      return platform_.NewConnection(io);
    };
    callbacks_.things = [this] {
      absl::MutexLock lock(&mu_);
      return things_;
    };
    callbacks_.on_online = [this] {
      absl::MutexLock lock(&mu_);
      ++onlines_;
    };
  }
  ~PlatformSessionTest() override {
    if (session_) session_->Stop();
  }

  void Start() {
    session_ = std::make_unique<PlatformSession>(options_, callbacks_);
    session_->Start();
  }
  void SetThings(std::vector<std::string> things) {
    absl::MutexLock lock(&mu_);
    things_ = std::move(things);
  }
  int onlines() {
    absl::MutexLock lock(&mu_);
    return onlines_;
  }
  // Waits until the session has ticked (what it was doing, such as scheduling the next
  // attempt at the time it failed, is done), moves the clock by `d` and waits until the
  // session has ticked after it.
  void Advance(milliseconds d) {
    clock_.AwaitReads(4);
    clock_.Advance(d);
    clock_.AwaitReads(4);
  }
  void AwaitState(SessionStatus::State state) {
    absl::Time end = absl::Now() + kPatience;
    while (session_->status().state != state && absl::Now() < end) {
      clock_.AwaitReads(1);
    }
    ASSERT_EQ(session_->status().state, state)
        << "expected " << StateName(state) << "; last error: " << session_->status().last_error;
  }

  // The `n`th message the session sent, checked to be of `code`.
  FakePlatform::Sent Expect(size_t n, Code code) {
    FakePlatform::Sent s = platform_.AwaitSent(n);
    EXPECT_EQ(s.message.header.code, code)
        << "message " << n << " is " << alwayson::CodeName(static_cast<uint8_t>(s.message.header.code)).value_or("?");
    return s;
  }
  void Answer(const FakePlatform::Sent& request, Code status, uint32_t session = 42) {
    platform_.connection(request.connection)
        ->Deliver(Message::Response(status, request.message.header.request_id, session));
  }
  // Connection `n` (0-based) is opened and authenticated; the AUTH was message `auth`.
  void AuthenticateOn(size_t auth) {
    FakePlatform::Sent a = Expect(auth, Code::kAuth);
    Answer(a, Code::kSuccess);
  }

  FakeClock clock_;
  FakePlatform platform_{&clock_};
  SessionOptions options_;
  SessionCallbacks callbacks_;
  std::unique_ptr<PlatformSession> session_;
  absl::Mutex mu_;
  std::vector<std::string> things_;
  int onlines_ = 0;
};

TEST_F(PlatformSessionTest, DropsAndReconnectsWhenAuthIsNeverAnswered) {
  Start();
  FakePlatform::Sent auth = Expect(1, Code::kAuth);
  EXPECT_EQ(auth.connection, 0u);
  EXPECT_EQ(std::get<alwayson::AuthBody>(auth.message.body).claims,
            (std::vector<std::pair<std::string, std::string>>{{"appKey", "the-app-key"}}));
  // Not before msg_timeout...
  Advance(milliseconds(4999));
  EXPECT_FALSE(platform_.closed(0));
  EXPECT_EQ(session_->status().state, SessionStatus::State::kConnecting);
  // ...and at it: dropped, and the next attempt after connect_retry_interval.
  clock_.Advance(milliseconds(1));
  platform_.AwaitClosed(0);
  AwaitState(SessionStatus::State::kDisconnected);
  EXPECT_THAT(session_->status().last_error,
              HasSubstr("no answer to AUTH from 127.0.0.1:443 within ws_connection.msg_timeout (5000 ms)"));
  Advance(milliseconds(999));
  EXPECT_EQ(platform_.connections(), 1u);
  clock_.Advance(milliseconds(1));
  EXPECT_THAT(platform_.AwaitConnections(2), ElementsAre(0, 6000));
  // The second attempt starts over with an AUTH, and an answer brings the session online.
  AuthenticateOn(2);
  AwaitState(SessionStatus::State::kConnected);
  EXPECT_EQ(onlines(), 1);
}

TEST_F(PlatformSessionTest, RebindsWhenBindTimesOut) {
  SetThings({"Pump1", "Pump2"});
  Start();
  AuthenticateOn(1);
  FakePlatform::Sent bind = Expect(2, Code::kBind);
  EXPECT_EQ(bind.message.header.session_id, 42u);
  EXPECT_EQ(std::get<alwayson::BindBody>(bind.message.body).names,
            (std::vector<std::string>{"Pump1", "Pump2"}));
  // Authenticated but not bound is not online: no write would reach a Thing.
  Advance(milliseconds(4999));
  EXPECT_EQ(session_->status().state, SessionStatus::State::kConnecting);
  EXPECT_EQ(onlines(), 0);
  clock_.Advance(milliseconds(1));
  platform_.AwaitClosed(0);
  AwaitState(SessionStatus::State::kDisconnected);
  EXPECT_THAT(session_->status().last_error, HasSubstr("no answer to BIND"));
  EXPECT_EQ(onlines(), 0);
  // The next connection authenticates and binds everything again.
  Advance(milliseconds(1000));
  AuthenticateOn(3);
  FakePlatform::Sent rebind = Expect(4, Code::kBind);
  EXPECT_EQ(rebind.connection, 1u);
  EXPECT_EQ(std::get<alwayson::BindBody>(rebind.message.body).names,
            (std::vector<std::string>{"Pump1", "Pump2"}));
  Answer(rebind, Code::kSuccess);
  AwaitState(SessionStatus::State::kConnected);
  EXPECT_THAT(session_->status().bound, ElementsAre("Pump1", "Pump2"));
  EXPECT_EQ(onlines(), 1);
}

TEST_F(PlatformSessionTest, BacksOffAfterRepeatedFailures) {
  platform_.set_connect_error(asio::error::connection_refused);
  Start();
  // connect_retry_interval for the first kJitteredAttempts failures, then doubling up to
  // edged.max_reconnect_delay (8 s here).
  std::vector<int64_t> waits = {1000, 1000, 1000, 2000, 4000, 8000, 8000};
  std::vector<int64_t> expected = {0};
  platform_.AwaitConnections(1);
  for (int64_t wait : waits) {
    AwaitState(SessionStatus::State::kDisconnected);
    Advance(milliseconds(wait - 1));
    EXPECT_EQ(platform_.connections(), expected.size()) << "an attempt before its wait";
    clock_.Advance(milliseconds(1));
    expected.push_back(expected.back() + wait);
    EXPECT_EQ(platform_.AwaitConnections(expected.size()), expected);
  }
  EXPECT_THAT(session_->status().last_error,
              HasSubstr("cannot connect to 127.0.0.1:443: Connection refused"));
  // A successful bind resets it: the next outage starts from connect_retry_interval.
  AwaitState(SessionStatus::State::kDisconnected);  // The last attempt above failed too.
  platform_.set_connect_error({});
  Advance(milliseconds(8000));
  expected.push_back(expected.back() + 8000);
  EXPECT_EQ(platform_.AwaitConnections(expected.size()), expected);
  AuthenticateOn(1);  // The first message of all: no attempt before got that far.
  AwaitState(SessionStatus::State::kConnected);
  platform_.connection(expected.size() - 1)->Break();
  AwaitState(SessionStatus::State::kDisconnected);
  EXPECT_EQ(session_->status().reconnects, 1u);
  Advance(milliseconds(999));
  EXPECT_EQ(platform_.connections(), expected.size());
  clock_.Advance(milliseconds(1));
  expected.push_back(expected.back() + 1000);
  EXPECT_EQ(platform_.AwaitConnections(expected.size()), expected);
}

TEST_F(PlatformSessionTest, ACallWithoutAnAnswerFailsAloneAndALostConnectionFailsTheRestInOrder) {
  Start();
  AuthenticateOn(1);
  AwaitState(SessionStatus::State::kConnected);
  absl::Mutex mu;
  std::vector<std::string> results;
  auto record = [&](std::string name) {
    return [&, name](absl::StatusOr<Message> m) {
      absl::MutexLock lock(&mu);
      results.push_back(absl::StrCat(name, ": ", m.ok() ? "answered" : absl::StatusCodeToString(m.status().code())));
    };
  };
  session_->Call(Code::kPut, alwayson::RequestBody{}, record("first"));
  Expect(2, Code::kPut);
  Advance(milliseconds(2500));
  session_->Call(Code::kPut, alwayson::RequestBody{}, record("second"));
  session_->Call(Code::kGet, alwayson::RequestBody{}, record("third"));
  FakePlatform::Sent third = Expect(4, Code::kGet);
  // The first passes its deadline: it fails alone, the connection stays.
  Advance(milliseconds(2500));
  {
    absl::MutexLock lock(&mu);
    auto one = [&] { return results.size() >= 1; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&one), kPatience));
    EXPECT_THAT(results, ElementsAre("first: DEADLINE_EXCEEDED"));
  }
  EXPECT_FALSE(platform_.closed(0));
  EXPECT_EQ(session_->status().state, SessionStatus::State::kConnected);
  // The third is answered; then the connection breaks and the second fails with it.
  Answer(third, Code::kSuccess);
  platform_.connection(0)->Break();
  AwaitState(SessionStatus::State::kDisconnected);
  {
    absl::MutexLock lock(&mu);
    auto three = [&] { return results.size() >= 3; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), kPatience));
    EXPECT_THAT(results, ElementsAre("first: DEADLINE_EXCEEDED", "third: answered",
                                     "second: UNAVAILABLE"));
  }
  // Offline, a call fails at once with the reason.
  absl::Notification offline;
  session_->Call(Code::kPut, alwayson::RequestBody{}, [&](absl::StatusOr<Message> m) {
    EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(m.status().message(), HasSubstr("not connected to the platform (connection to 127.0.0.1:443 lost"));
    offline.Notify();
  });
  EXPECT_TRUE(offline.WaitForNotificationWithTimeout(kPatience));
}

TEST_F(PlatformSessionTest, DropsWhenAPingIsNotAnsweredInTime) {
  options_.ws.ping_rate = 30000;
  options_.ws.pingpong_timeout = 10000;
  Start();
  AuthenticateOn(1);
  AwaitState(SessionStatus::State::kConnected);
  // An answered ping keeps the connection.
  Advance(milliseconds(30000));
  platform_.AwaitPings(1);
  platform_.connection(0)->Pong();
  Advance(milliseconds(10000));
  EXPECT_FALSE(platform_.closed(0));
  // The next one is not answered: dropped at pingpong_timeout.
  Advance(milliseconds(20000));
  platform_.AwaitPings(2);
  Advance(milliseconds(9999));
  EXPECT_FALSE(platform_.closed(0));
  clock_.Advance(milliseconds(1));
  platform_.AwaitClosed(0);
  AwaitState(SessionStatus::State::kDisconnected);
  EXPECT_THAT(session_->status().last_error,
              HasSubstr("no pong from 127.0.0.1:443 within ws_connection.pingpong_timeout (10000 ms)"));
}

TEST_F(PlatformSessionTest, ARefusedAuthIsReportedAsTheAppKeyAndBacksOff) {
  Start();
  FakePlatform::Sent auth = Expect(1, Code::kAuth);
  Answer(auth, Code::kUnauthorized);
  AwaitState(SessionStatus::State::kDisconnected);
  EXPECT_THAT(session_->status().last_error,
              HasSubstr("authentication refused: check appKey (the platform answered UNAUTHORIZED)"));
  Advance(milliseconds(999));
  EXPECT_EQ(platform_.connections(), 1u) << "a refused AUTH must not be retried in a tight loop";
  clock_.Advance(milliseconds(1));
  EXPECT_THAT(platform_.AwaitConnections(2), ElementsAre(0, 1000));
}

TEST_F(PlatformSessionTest, TheDutyCyclePausesAndComesBack) {
  options_.duty.connect_period = 60000;
  options_.duty.duty_cycle = 25;  // 15 s online, 45 s offline.
  Start();
  AuthenticateOn(1);
  AwaitState(SessionStatus::State::kConnected);
  Advance(milliseconds(14999));
  EXPECT_EQ(session_->status().state, SessionStatus::State::kConnected);
  clock_.Advance(milliseconds(1));
  platform_.AwaitClosed(0);
  AwaitState(SessionStatus::State::kDisconnected);
  EXPECT_THAT(session_->status().last_error, HasSubstr("duty cycle: offline for 45000 ms"));
  Advance(milliseconds(44999));
  EXPECT_EQ(platform_.connections(), 1u);
  clock_.Advance(milliseconds(1));
  EXPECT_THAT(platform_.AwaitConnections(2), ElementsAre(0, 60000));
}

}  // namespace
}  // namespace edge::edged

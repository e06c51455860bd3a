#include "restd/connection_table.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace edge::restd {
namespace {

using Limit = ConnectionTable::Limit;
using Verdict = ConnectionTable::Verdict;

struct FakeConnection : ConnectionTable::Closable {
  void CloseNow() override { closed = true; }
  bool closed = false;
};

class ConnectionTableTest : public ::testing::Test {
 protected:
  // Opens and attaches a connection from `address`; its id.
  ConnectionTable::Id Open(ConnectionTable& table, const std::string& address) {
    ConnectionTable::Outcome o = table.Open(address);
    EXPECT_EQ(o.verdict, Verdict::kAdmitted);
    auto c = std::make_shared<FakeConnection>();
    EXPECT_TRUE(table.Attach(o.id, c));
    connections_.push_back(c);
    return o.id;
  }
  std::vector<std::shared_ptr<FakeConnection>> connections_;
};

TEST_F(ConnectionTableTest, PendingHandshakesDoNotCountAsClientsAndTheOldestIsDroppedFirst) {
  ConnectionTable table({/*max_clients=*/2, /*max_pending_handshakes=*/3,
                         /*max_connections_per_address=*/100});
  ConnectionTable::Id first = Open(table, "10.0.0.1");
  Open(table, "10.0.0.1");
  Open(table, "10.0.0.1");
  EXPECT_EQ(table.counts().pending, 3u);
  EXPECT_EQ(table.counts().clients, 0u);
  ConnectionTable::Outcome fourth = table.Open("10.0.0.2");
  ASSERT_EQ(fourth.verdict, Verdict::kAdmitted);
  ASSERT_EQ(fourth.dropped.size(), 1u);
  EXPECT_EQ(fourth.dropped[0].connection, connections_[0]);
  EXPECT_EQ(fourth.dropped[0].address, "10.0.0.1");
  EXPECT_EQ(fourth.dropped[0].limit, Limit::kMaxPendingHandshakes);
  EXPECT_EQ(table.counts().pending, 3u);
  // The dropped one learns it at its next step.
  EXPECT_EQ(table.HandshakeDone(first).verdict, Verdict::kGone);
  EXPECT_EQ(table.HandshakeDone(fourth.id).verdict, Verdict::kAdmitted);
  EXPECT_EQ(table.counts().clients, 1u);
  EXPECT_EQ(table.counts().pending, 2u);
}

TEST_F(ConnectionTableTest, ANewClientOverMaxClientsDropsTheOneWaitingLongestForARequest) {
  ConnectionTable table({/*max_clients=*/2, /*max_pending_handshakes=*/10,
                         /*max_connections_per_address=*/100});
  ConnectionTable::Id a = Open(table, "10.0.0.1");
  ConnectionTable::Id b = Open(table, "10.0.0.2");
  ConnectionTable::Id c = Open(table, "10.0.0.3");
  ASSERT_EQ(table.HandshakeDone(a).verdict, Verdict::kAdmitted);
  ASSERT_EQ(table.HandshakeDone(b).verdict, Verdict::kAdmitted);
  // a has a request in progress, then is back to waiting (after b): b waits longest.
  ASSERT_TRUE(table.RequestStarted(a));
  ASSERT_TRUE(table.RequestFinished(a));
  ConnectionTable::Outcome o = table.HandshakeDone(c);
  ASSERT_EQ(o.verdict, Verdict::kAdmitted);
  ASSERT_EQ(o.dropped.size(), 1u);
  EXPECT_EQ(o.dropped[0].connection, connections_[1]);
  EXPECT_EQ(o.dropped[0].limit, Limit::kMaxClients);
  EXPECT_FALSE(table.RequestStarted(b)) << "b was dropped";
  EXPECT_EQ(table.counts().clients, 2u);
}

TEST_F(ConnectionTableTest, WhenEveryOtherClientIsBusyTheNewOneIsRefusedAndKeepsItsPendingSlot) {
  ConnectionTable table({/*max_clients=*/2, /*max_pending_handshakes=*/10,
                         /*max_connections_per_address=*/100});
  ConnectionTable::Id a = Open(table, "10.0.0.1");
  ConnectionTable::Id b = Open(table, "10.0.0.1");
  ConnectionTable::Id c = Open(table, "10.0.0.1");
  for (ConnectionTable::Id id : {a, b}) {
    ASSERT_EQ(table.HandshakeDone(id).verdict, Verdict::kAdmitted);
    ASSERT_TRUE(table.RequestStarted(id));
  }
  ConnectionTable::Outcome o = table.HandshakeDone(c);
  EXPECT_EQ(o.verdict, Verdict::kRefused);
  EXPECT_EQ(o.limit, Limit::kMaxClients);
  EXPECT_TRUE(o.dropped.empty());
  EXPECT_EQ(table.counts().clients, 2u);
  EXPECT_EQ(table.counts().busy, 2u);
  EXPECT_EQ(table.counts().pending, 1u);
  table.Close(c);
  EXPECT_EQ(table.counts().pending, 0u);
  EXPECT_EQ(table.ConnectionsFrom("10.0.0.1"), 2u);
}

TEST_F(ConnectionTableTest, PerAddressLimitMakesRoomFromTheAddressesOwnIdleConnectionsOnly) {
  ConnectionTable table({/*max_clients=*/10, /*max_pending_handshakes=*/10,
                         /*max_connections_per_address=*/2});
  ConnectionTable::Id a = Open(table, "10.0.0.1");
  ConnectionTable::Id b = Open(table, "10.0.0.1");
  ConnectionTable::Id other = Open(table, "10.0.0.2");
  ASSERT_EQ(table.HandshakeDone(a).verdict, Verdict::kAdmitted);  // a waits, b is pending.

  // Over the limit: the oldest pending one of this address (b) makes room, not a, not other.
  ConnectionTable::Outcome o = table.Open("10.0.0.1");
  ASSERT_EQ(o.verdict, Verdict::kAdmitted);
  ASSERT_EQ(o.dropped.size(), 1u);
  EXPECT_EQ(o.dropped[0].connection, connections_[1]);
  EXPECT_EQ(o.dropped[0].limit, Limit::kMaxConnectionsPerAddress);
  EXPECT_EQ(table.HandshakeDone(b).verdict, Verdict::kGone);

  // With no pending one, the one waiting longest makes room.
  ASSERT_EQ(table.HandshakeDone(o.id).verdict, Verdict::kAdmitted);
  ConnectionTable::Outcome p = table.Open("10.0.0.1");
  ASSERT_EQ(p.dropped.size(), 1u);
  EXPECT_EQ(p.dropped[0].address, "10.0.0.1");
  EXPECT_FALSE(table.RequestStarted(a)) << "a waited longest";

  // All busy: refused; other addresses are not affected.
  ASSERT_EQ(table.HandshakeDone(p.id).verdict, Verdict::kAdmitted);
  ASSERT_TRUE(table.RequestStarted(o.id));
  ASSERT_TRUE(table.RequestStarted(p.id));
  ConnectionTable::Outcome refused = table.Open("10.0.0.1");
  EXPECT_EQ(refused.verdict, Verdict::kRefused);
  EXPECT_EQ(refused.limit, Limit::kMaxConnectionsPerAddress);
  EXPECT_EQ(table.ConnectionsFrom("10.0.0.1"), 2u);
  EXPECT_EQ(table.Open("10.0.0.2").verdict, Verdict::kAdmitted);
  EXPECT_EQ(table.HandshakeDone(other).verdict, Verdict::kAdmitted);
}

TEST_F(ConnectionTableTest, ADroppedConnectionNotYetAttachedIsToldAtAttach) {
  ConnectionTable table({/*max_clients=*/1, /*max_pending_handshakes=*/1,
                         /*max_connections_per_address=*/10});
  ConnectionTable::Outcome first = table.Open("10.0.0.1");
  ConnectionTable::Outcome second = table.Open("10.0.0.1");
  ASSERT_EQ(second.dropped.size(), 1u);
  EXPECT_EQ(second.dropped[0].connection, nullptr);
  EXPECT_FALSE(table.Attach(first.id, std::make_shared<FakeConnection>()));
  EXPECT_TRUE(table.Attach(second.id, std::make_shared<FakeConnection>()));
}

TEST_F(ConnectionTableTest, ClosingGivesEverySlotBack) {
  ConnectionTable table({/*max_clients=*/2, /*max_pending_handshakes=*/2,
                         /*max_connections_per_address=*/3});
  std::vector<ConnectionTable::Id> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Open(table, "10.0.0.1"));
  table.HandshakeDone(ids[1]);
  table.HandshakeDone(ids[2]);
  table.RequestStarted(ids[2]);
  for (ConnectionTable::Id id : ids) table.Close(id);
  table.Close(12345);  // Unknown: ignored.
  ConnectionTable::Counts c = table.counts();
  EXPECT_EQ(c.pending + c.clients + c.busy, 0u);
  EXPECT_EQ(table.ConnectionsFrom("10.0.0.1"), 0u);
}

}  // namespace
}  // namespace edge::restd

// ConnectionTable: the connections an HTTP(S) server holds, the stage each is in, and the
// three limits on them. It decides; it never touches a socket. A connection is
//   pending  from accept until its TLS handshake is done (at once without TLS),
//   waiting  for a request header (the first one, or the next one on keep-alive),
//   busy     from a complete request header until its response is written.
// The limits, and who makes room when a new connection goes over one:
//   max_connections_per_address  all connections from one peer address. Over it, the new one
//       takes the place of that address's oldest pending connection, else of the one of its
//       connections that has waited longest for a request; when every one of them is busy,
//       the new one is refused. One peer cannot take every slot, and idle connections cannot
//       lock their own address out either.
//   max_pending_handshakes  pending connections (which do not count as clients). Over it,
//       the oldest pending one is dropped.
//   max_clients  connections past the handshake (http_server.max_clients). Over it, the
//       client that has waited longest for a request is dropped; when every other client is
//       busy, the new one is refused (the server answers 503) and keeps its pending slot
//       until it is closed.
// Whatever a call drops comes back in Outcome::dropped; the caller closes it (Closable) and
// logs it, after the table's lock is released.
//
//   ConnectionTable table({.max_clients = 15, .max_pending_handshakes = 64,
//                          .max_connections_per_address = 8});
//   Outcome o = table.Open("10.0.0.7");        // at accept
//   for (auto& d : o.dropped) d.connection->CloseNow();
//   table.Attach(o.id, session);               // false: dropped meanwhile, close
//   table.HandshakeDone(o.id); table.RequestStarted(o.id); table.RequestFinished(o.id);
//   table.Close(o.id);                         // when the connection ends
//
// Thread-safe.
#ifndef RESTD_CONNECTION_TABLE_H_
#define RESTD_CONNECTION_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace edge::restd {

struct ConnectionLimits {
  size_t max_clients = 15;                 // http_server.max_clients
  size_t max_pending_handshakes = 64;      // restd.max_pending_handshakes
  size_t max_connections_per_address = 8;  // restd.max_connections_per_address
};

class ConnectionTable {
 public:
  using Id = uint64_t;
  enum class Limit { kMaxConnectionsPerAddress, kMaxPendingHandshakes, kMaxClients };
  enum class Verdict {
    kAdmitted,
    kRefused,  // by Outcome::limit
    kGone,     // the connection had been dropped already: close it
  };

  // A connection the table may ask to be closed. CloseNow() is called from any thread,
  // without the table's lock held, and must not block.
  class Closable {
   public:
    virtual ~Closable() = default;
    virtual void CloseNow() = 0;
  };

  struct Dropped {
    std::shared_ptr<Closable> connection;  // Null if it was not attached yet.
    std::string address;
    Limit limit;
  };

  struct Outcome {
    Verdict verdict = Verdict::kAdmitted;
    Limit limit = Limit::kMaxClients;  // When refused.
    Id id = 0;                         // Open() only, when admitted.
    std::vector<Dropped> dropped;      // Made room for this one; the caller closes them.
  };

  // Every limit is at least 1.
  explicit ConnectionTable(ConnectionLimits limits);

  // A new connection from `address`: admitted as pending, or refused by
  // max_connections_per_address.
  Outcome Open(const std::string& address);
  // Whom to close when this connection is dropped. False when it has been dropped already.
  bool Attach(Id id, std::weak_ptr<Closable> connection);
  // Pending -> waiting for its first request; or refused by max_clients; or gone.
  Outcome HandshakeDone(Id id);
  // Waiting -> busy. False when it has been dropped (to make room) meanwhile.
  bool RequestStarted(Id id);
  // Busy -> waiting for the next request. False when it is gone.
  bool RequestFinished(Id id);
  // The connection ended; it no longer counts. Unknown ids are ignored.
  void Close(Id id);

  struct Counts {
    size_t pending = 0;
    size_t clients = 0;  // Waiting and busy.
    size_t busy = 0;
  };
  Counts counts() const;
  size_t ConnectionsFrom(const std::string& address) const;

 private:
  enum class Stage { kPending, kWaiting, kBusy };
  struct Entry {
    std::string address;
    Stage stage = Stage::kPending;
    uint64_t waiting_since = 0;  // Order of entering the waiting stage.
    std::weak_ptr<Closable> connection;
  };
  // One address's connections, with the same orders as the table's.
  struct Address {
    size_t count = 0;
    std::set<Id> pending;
    std::map<uint64_t, Id> waiting;
  };

  void EnterPending(Id id, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnterWaiting(Id id, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveStage(Id id, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Id id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Drop(Id id, Limit limit, std::vector<Dropped>* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ConnectionLimits limits_;
  mutable absl::Mutex mu_;
  Id next_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<Id, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::set<Id> pending_ ABSL_GUARDED_BY(mu_);             // Ids grow: oldest first.
  std::map<uint64_t, Id> waiting_ ABSL_GUARDED_BY(mu_);   // Waiting longest first.
  size_t clients_ ABSL_GUARDED_BY(mu_) = 0;
  size_t busy_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, Address> addresses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edge::restd

#endif  // RESTD_CONNECTION_TABLE_H_

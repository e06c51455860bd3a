// TLS handshakes off the I/O threads (issue 12). Every trustd call a handshake makes (the
// keyless Sign of the CertificateVerify, keyless_key.h; the ValidatePeer of the peer's
// certificate, peer_verifier.h) blocks the thread that runs SSL_do_handshake. An
// OffloadedHandshake runs the whole handshake with its completions bound to a strand of a
// HandshakePool: the socket's reads and writes still wait in asio's reactor, but each step
// of the handshake (and so each trustd call) runs on a pool thread, and the final handler is
// posted to the connection's own executor (`home`). A slow trustd delays only the
// handshakes that wait for it, never an I/O thread serving open connections.
//
//   HandshakePool pool(8);                          // outlives every connection
//   OffloadedHandshake hs(pool);                    // one per connection
//   hs.Start(stream, asio::ssl::stream_base::server, stream.get_executor(),
//            [self](beast::error_code ec) { ... });  // runs on home
//   hs.Close(stream.get_executor(), [self] { self->Lowest().close(); });  // from home
//
// While a handshake runs on the pool nothing else may touch the stream: Close() routes a
// close there, serialized with the handshake's steps (beast's stream timeouts run there
// too, as the handshake's own completions do).
#ifndef SERVICES_TLS_OFFLOADED_HANDSHAKE_H_
#define SERVICES_TLS_OFFLOADED_HANDSHAKE_H_

#include <atomic>
#include <cstddef>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/error_code.hpp>

namespace edge::tls {

// The threads handshakes wait for trustd on. Stop() before the I/O context that holds the
// handshakes' pending operations is destroyed: a handshake parked in the reactor counts as
// work of the pool, so join() alone would wait for it.
class HandshakePool {
 public:
  explicit HandshakePool(size_t threads) : pool_(threads) {}
  ~HandshakePool() { Stop(); }
  HandshakePool(const HandshakePool&) = delete;
  HandshakePool& operator=(const HandshakePool&) = delete;

  void Stop() {
    pool_.stop();
    pool_.join();
  }
  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

 private:
  boost::asio::thread_pool pool_;
};

class OffloadedHandshake {
 public:
  explicit OffloadedHandshake(HandshakePool& pool)
      : strand_(boost::asio::make_strand(pool.executor())) {}

  // Runs `stream.async_handshake(type, ...)` on the pool; `done(ec)` runs on `home`. The
  // stream, and this object, must outlive the handshake: `done` should hold their owner.
  // Call from `home`.
  template <class Stream, class Executor, class Handler>
  void Start(Stream& stream, boost::asio::ssl::stream_base::handshake_type type, Executor home,
             Handler done) {
    OnPool(home, [&stream, type](auto completion) {
      stream.async_handshake(type, std::move(completion));
    }, std::move(done));
  }

  // The same, with bytes already read from the socket (`buffers`, which must stay valid):
  // `done(ec, bytes_used)`.
  template <class Stream, class Buffers, class Executor, class Handler>
  void Start(Stream& stream, boost::asio::ssl::stream_base::handshake_type type,
             const Buffers& buffers, Executor home, Handler done) {
    OnPool(home, [&stream, type, buffers](auto completion) {
      stream.async_handshake(type, buffers, std::move(completion));
    }, std::move(done));
  }

  // Runs `close` where it may touch the stream: at once when no handshake is on the pool,
  // else on the pool's strand between two of the handshake's steps (or back on `home` if
  // the handshake finished meanwhile). Call from `home`; `close` should hold the owner.
  template <class Executor, class Fn>
  void Close(Executor home, Fn close) {
    if (state_.load() != kOnPool) {
      close();
      return;
    }
    boost::asio::post(strand_, [this, home, close = std::move(close)]() mutable {
      if (state_.load() == kOnPool) {
        close();
      } else {
        boost::asio::post(home, std::move(close));
      }
    });
  }

 private:
  enum State { kIdle, kOnPool, kDone };

  // `initiate(completion)` starts the handshake on the pool's strand; its completion, bound
  // to that strand, marks the handshake done and posts `done` with the same arguments home.
  template <class Executor, class Initiate, class Handler>
  void OnPool(Executor home, Initiate initiate, Handler done) {
    state_.store(kOnPool);
    boost::asio::post(strand_, [this, home, initiate = std::move(initiate),
                                done = std::move(done)]() mutable {
      initiate(boost::asio::bind_executor(
          strand_, [this, home, done = std::move(done)](auto... result) mutable {
            state_.store(kDone);
            boost::asio::post(home,
                              [done = std::move(done), result...]() mutable { done(result...); });
          }));
    });
  }

  boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
  std::atomic<int> state_{kIdle};
};

}  // namespace edge::tls

#endif  // SERVICES_TLS_OFFLOADED_HANDSHAKE_H_

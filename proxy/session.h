// Session: one proxied connection - the client's socket, the upstream socket
// the proxy opened for it, and a pipe per direction that carries bytes from
// one to the other under the current faults (faults.h). Every handler of a
// session runs on its strand (the client socket's executor), so a session
// needs no lock; other threads reach it only through Reset(), which posts.
//
// A pipe reads a chunk, stamps it with a due time (now + latency + jitter),
// and queues it; a single writer per pipe takes the queue in order, waits for
// the chunk's due time and for the bandwidth pacer, then writes it. Reading
// goes on while earlier chunks wait (their bytes are "on the wire"), up to
// 4 MiB queued per direction, beyond which reading pauses the way a full TCP
// window would. An EOF travels as a last zero-length chunk, so the FIN is
// delayed like the bytes before it; each direction is shut down on its own
// (half-close works). An error on either socket resets both ends: a reset on
// one side of the proxy becomes a reset on the other.
//
// Blackhole: while it is on, whatever is read is dropped (also chunks still
// queued), nothing is written, no FIN is passed on. A connection that lost
// bytes that way stays black for good even after the blackhole is lifted:
// forwarding the rest of a stream with a hole in it is something no network
// does - after a real partition longer than TCP's patience the connection is
// dead, and its client has to time out and reconnect. Connections that stayed
// idle through the blackhole carry on untouched. When the client of a black
// connection gives up (EOF or error), its upstream half is reset rather than
// left open until the server's keepalive would notice.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/asio.h"
#include "proxy/state.h"

namespace dw::proxy {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `black`: accepted during a blackhole - never connected upstream.
  Session(tcp::socket client, std::shared_ptr<ProxyState> state, bool black);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Registers the session, connects upstream and starts both pipes.
  void Start();
  // Thread-safe: resets both ends (RST: SO_LINGER 0 + close) on the strand.
  void Reset();

 private:
  using Clock = std::chrono::steady_clock;

  struct Chunk {
    std::string bytes;
    Clock::time_point due;
    bool fin = false;  // the source's EOF: shut the destination's sending side
  };

  struct Pipe {
    Pipe(bool is_up, tcp::socket* f, tcp::socket* t, const asio::any_io_executor& ex)
        : up(is_up), from(f), to(t), timer(ex) {}
    const bool up;  // client -> upstream
    tcp::socket* const from;
    tcp::socket* const to;
    asio::steady_timer timer;  // waits for a chunk's due time / the pacer
    std::deque<Chunk> queue;
    size_t queued = 0;              // bytes in `queue`
    bool reading = false;           // a read is outstanding
    bool writing = false;           // a write, or the wait before it, is outstanding
    bool read_done = false;         // EOF seen on `from`
    bool finished = false;          // EOF passed on to `to`
    Clock::time_point next_free{};  // bandwidth pacer: earliest start of the next write
    std::vector<char> buf;
  };

  void OnConnect(const beast::error_code& ec);
  void Read(Pipe& p);
  void OnRead(Pipe& p, const beast::error_code& ec, size_t n);
  void Pump(Pipe& p);
  void OnWrite(Pipe& p, const beast::error_code& ec, size_t n);
  // Drops everything queued: the connection carries nothing any more.
  // `reading_now`: the pipe whose read completion is running (not restarted here).
  void GoBlack(Pipe* reading_now);
  void OnBlackEof(Pipe& p);  // EOF on a black connection
  Clock::duration NextDelay(const DirectionFaults& d);
  void Abort();  // RST both ends
  void Close();  // plain close of both ends (both directions finished)

  tcp::socket client_;
  tcp::socket upstream_;
  std::shared_ptr<ProxyState> state_;
  Pipe up_;
  Pipe down_;
  uint64_t id_ = 0;
  bool black_;
  bool closed_ = false;
  std::mt19937_64 rng_;
};

}  // namespace dw::proxy

// Wakeup: LISTEN on the outbox channel with a fallback poll interval, so a
// polling relay reacts to a commit within a round trip instead of within a
// poll interval, and still finds rows whose NOTIFY it missed (a writer
// without --notify, a reconnect, rows inserted by hand).
//
// Its own connection (a LISTEN session is not something to hand back to a
// pool). Notifications queue up on it while the relay works, so one that
// arrives between the relay's last read and its next Wait is not lost: Wait
// returns at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace dw::outbox {

class Wakeup {
 public:
  // `listen` false: no connection, Wait just sleeps (pure polling).
  Wakeup(std::string dsn, std::string channel, bool listen);
  ~Wakeup();

  // Connects and LISTENs now (otherwise the first Wait does): a relay
  // listens BEFORE its first read, so no commit falls between the two.
  void Connect();

  // Returns after a notification, or after `timeout`. A broken connection
  // is re-opened on a later call (meanwhile Wait sleeps).
  // Returns true when woken by a notification.
  bool Wait(std::chrono::milliseconds timeout);

  uint64_t notifications() const { return notifications_; }

 private:
  struct Conn;
  std::string dsn_;
  std::string channel_;
  bool listen_;
  std::unique_ptr<Conn> conn_;
  uint64_t notifications_ = 0;
};

}  // namespace dw::outbox

// BlockedWriter: a client whose statement is expected to wait on a lock that
// something else holds (in the lessons: a prepared transaction whose
// coordinator died), and how long it waited. 2pc-blocking shows it waiting
// until `2pc recover`; 3pc-nonblocking shows it waiting only until the
// agents' timeout.
//
// The statement runs on a session of its own, in a thread of its own, so the
// lesson can go on narrating while it waits. The thread only measures and
// never narrates: the narrator is not thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "demo/narrator.h"
#include "demo/stage.h"

namespace dw::demo {

class BlockedWriter {
 public:
  // Opens session `name` on the lesson's database with `application_name`
  // (what the lesson's pg_stat_activity read-backs select on), narrates
  // `sql` as sent by `name`, and starts it. `st` must outlive this object.
  // Throws like Session when it cannot connect.
  BlockedWriter(Stage& st, Narrator& n, const std::string& name,
                const std::string& application_name, std::string sql);
  // Ends a statement still running (cancelled, then terminated) and joins
  // the thread: a lesson that returns early leaks neither.
  ~BlockedWriter();
  BlockedWriter(const BlockedWriter&) = delete;
  BlockedWriter& operator=(const BlockedWriter&) = delete;

  // Polls pg_stat_activity until this session's backend waits on a lock
  // (wait_event_type 'Lock'), for at most `limit` and never past the
  // statement's end. Whether it was seen waiting (also waited_on_lock()).
  bool WaitUntilBlocked(std::chrono::milliseconds limit = std::chrono::seconds(5));

  // Waits at most `limit` for the statement to end by itself; past that it
  // is cancelled, and error() says so. Joins the thread. Whether it ended by
  // itself within `limit` (with or without an error).
  bool WaitFinished(std::chrono::milliseconds limit);

  // The statement has returned, successfully or not.
  bool done() const { return done_; }
  bool waited_on_lock() const { return waited_on_lock_; }
  // When the statement was sent (just after it was narrated).
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  // From started_at() to the statement's end; read after WaitFinished.
  int64_t blocked_ms() const { return finished_ms_; }
  // The statement's error on one line, "" when it succeeded; read after
  // WaitFinished.
  const std::string& error() const { return error_; }

 private:
  // pg_cancel_backend, then pg_terminate_backend, until the statement ends.
  void Stop();

  Stage& st_;
  Session session_;
  const std::string sql_;
  std::chrono::steady_clock::time_point started_at_;
  std::atomic<bool> done_{false};
  std::atomic<int64_t> finished_ms_{0};
  std::string error_;  // written by the thread before done_
  bool waited_on_lock_ = false;
  std::thread thread_;
};

}  // namespace dw::demo

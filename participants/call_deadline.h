// CallDeadlines: a deadline for a blocking call on a socket that has no
// timer of its own, such as a libpq statement (statement_timeout is the
// server's: it does not help when the server never gets the statement, as
// through a partitioned link where a proxy holds the connection open).
//
// A call registers its socket with a deadline (Watch) and unregisters when
// it returns (the Guard's destructor). One watcher thread per process
// wakes every `tick` and shuts down, with shutdown(2) in both directions,
// the socket of every registered call past its deadline. The blocked
// poll/recv inside libpq then returns, the call fails as a lost connection,
// and its caller gets an answer in bounded time, on its own thread. What
// the server did with the statement stays unknown, which the caller reports
// as it reports any lost connection; the connection is never reused.
//
// Why this and not a pool thread the caller may abandon (coordinator/
// call_pool.h): a hand-off to another thread and back costs two wake-ups
// per call, which on two shared cores is a large share of a 2PC phase.
//
// The socket is touched only while the call is registered: the Guard must
// be destroyed before the connection is closed or handed to another caller
// (declare it after the lease that owns the connection).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

namespace dw {

class CallDeadlines {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kTick{20};

  class Guard {
   public:
    struct Entry;  // the watcher's record of one call (call_deadline.cc)
    Guard() = default;
    Guard(Guard&& o) noexcept;
    Guard& operator=(Guard&& o) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();
    // Whether the watcher shut the socket down (the call missed its deadline).
    bool fired() const;

   private:
    friend class CallDeadlines;
    explicit Guard(std::shared_ptr<Entry> e) : e_(std::move(e)) {}
    std::shared_ptr<Entry> e_;
  };

  // Watches `fd` until the returned Guard is destroyed. A negative fd is
  // not watched (the call will fail on its own).
  static Guard Watch(int fd, Clock::time_point deadline);
  // Shut-downs done since the process started, for tests and stats.
  static uint64_t fired_total();
};

}  // namespace dw

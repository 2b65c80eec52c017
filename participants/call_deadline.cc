#include "participants/call_deadline.h"

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace dw {

struct CallDeadlines::Guard::Entry {
  int fd = -1;
  Clock::time_point deadline;
  bool fired = false;  // guarded by the watcher's mutex
  std::list<std::shared_ptr<Entry>>::iterator pos;
};

namespace {

// The process-wide watcher, started on first use and never stopped (a
// detached thread that only sleeps and scans: nothing to clean up at exit).
class Watcher {
 public:
  using Entry = CallDeadlines::Guard::Entry;

  static Watcher& Get() {
    static Watcher* w = new Watcher();  // never destroyed: see above
    return *w;
  }

  void Add(const std::shared_ptr<Entry>& e) {
    std::lock_guard<std::mutex> l(mu_);
    entries_.push_front(e);
    e->pos = entries_.begin();
  }

  bool Remove(Entry* e) {
    std::lock_guard<std::mutex> l(mu_);
    entries_.erase(e->pos);
    return e->fired;
  }

  bool Fired(const Entry* e) {
    std::lock_guard<std::mutex> l(mu_);
    return e->fired;
  }

  std::atomic<uint64_t> fired_total{0};

 private:
  Watcher() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    for (;;) {
      std::this_thread::sleep_for(CallDeadlines::kTick);
      const auto now = CallDeadlines::Clock::now();
      std::lock_guard<std::mutex> l(mu_);
      for (auto& e : entries_) {
        if (e->fired || e->deadline > now) continue;
        // Under the lock: the call is still registered, so the fd is still
        // its connection's (Guard's contract).
        ::shutdown(e->fd, SHUT_RDWR);
        e->fired = true;
        fired_total.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  std::mutex mu_;
  std::list<std::shared_ptr<Entry>> entries_;  // guarded by mu_
};

}  // namespace

CallDeadlines::Guard CallDeadlines::Watch(int fd, Clock::time_point deadline) {
  if (fd < 0) return Guard();
  auto e = std::make_shared<Guard::Entry>();
  e->fd = fd;
  e->deadline = deadline;
  Watcher::Get().Add(e);
  return Guard(std::move(e));
}

uint64_t CallDeadlines::fired_total() { return Watcher::Get().fired_total.load(); }

CallDeadlines::Guard::Guard(Guard&& o) noexcept : e_(std::move(o.e_)) {}

CallDeadlines::Guard& CallDeadlines::Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    if (e_) Watcher::Get().Remove(e_.get());
    e_ = std::move(o.e_);
  }
  return *this;
}

CallDeadlines::Guard::~Guard() {
  if (e_) Watcher::Get().Remove(e_.get());
}

bool CallDeadlines::Guard::fired() const { return e_ && Watcher::Get().Fired(e_.get()); }

}  // namespace dw

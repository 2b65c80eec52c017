#include "coordinator/call_pool.h"

#include <optional>
#include <string>

namespace dw::coord {

CallPool::CallPool(int max_threads) : max_threads_(max_threads < 1 ? 1 : max_threads) {}

CallPool::~CallPool() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void CallPool::Submit(std::function<void()> task) {
  std::lock_guard<std::mutex> l(mu_);
  tasks_.push_back(std::move(task));
  if (idle_ < static_cast<int>(tasks_.size()) && static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { Loop(); });
  } else {
    cv_.notify_one();
  }
}

int CallPool::threads() const {
  std::lock_guard<std::mutex> l(mu_);
  return static_cast<int>(threads_.size());
}

void CallPool::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(l, [&] { return stop_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping, nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    l.unlock();
    task();
    l.lock();
  }
}

std::vector<Status> CallPool::Fanout(const std::vector<std::function<Status()>>& calls,
                                     std::chrono::steady_clock::time_point deadline,
                                     const std::function<void(size_t, const Status&)>& on_result,
                                     std::optional<size_t> run_here) {
  // Shared with the tasks, which may outlive this call (see the header).
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<Status>> results;
    std::deque<size_t> finished;
  };
  auto st = std::make_shared<State>();
  st->results.resize(calls.size());
  if (run_here && *run_here >= calls.size()) run_here.reset();
  for (size_t i = 0; i < calls.size(); ++i) {
    if (run_here && i == *run_here) continue;
    Submit([st, i, call = calls[i]] {
      Status s = call();
      std::lock_guard<std::mutex> l(st->mu);
      st->results[i] = std::move(s);
      st->finished.push_back(i);
      st->cv.notify_all();
    });
  }
  if (run_here) {
    Status s = calls[*run_here]();
    std::lock_guard<std::mutex> l(st->mu);
    st->results[*run_here] = std::move(s);
    st->finished.push_back(*run_here);
  }
  std::vector<Status> out(calls.size());
  std::vector<bool> seen(calls.size(), false);
  size_t got = 0;
  std::unique_lock<std::mutex> l(st->mu);
  while (got < calls.size()) {
    if (st->finished.empty()) {
      if (!st->cv.wait_until(l, deadline, [&] { return !st->finished.empty(); })) break;
    }
    size_t i = st->finished.front();
    st->finished.pop_front();
    out[i] = *st->results[i];
    seen[i] = true;
    ++got;
    if (on_result) {
      l.unlock();
      on_result(i, out[i]);
      l.lock();
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!seen[i]) out[i] = Status::Timeout("no answer before the coordinator's deadline");
  }
  return out;
}

}  // namespace dw::coord

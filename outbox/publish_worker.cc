#include "outbox/publish_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace dw::outbox {

PublishWorker::PublishWorker(Publisher* publisher)
    : publisher_(publisher), fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  thread_ = std::thread([this] { Run(); });
}

PublishWorker::~PublishWorker() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (fd_ >= 0) close(fd_);
}

void PublishWorker::Start(std::vector<OutboxEvent> events, Trace* tr, std::string trace_id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    events_ = std::move(events);
    tr_ = tr;
    trace_id_ = std::move(trace_id);
    queued_ = true;
    done_ = false;
  }
  in_flight_ = true;
  cv_.notify_all();
}

bool PublishWorker::Done() {
  std::lock_guard<std::mutex> l(mu_);
  return done_;
}

Status PublishWorker::Finish(std::vector<OutboxEvent>* events) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return done_; });
  done_ = false;
  in_flight_ = false;
  uint64_t drain;
  // Empties the eventfd's counter so that poll waits for the next batch.
  while (fd_ >= 0 && read(fd_, &drain, sizeof drain) == static_cast<ssize_t>(sizeof drain)) {
  }
  *events = std::move(events_);
  events_.clear();
  return status_;
}

void PublishWorker::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || queued_; });
    if (!queued_) return;  // stopping with nothing in flight
    // Publish outside the lock: Done and the caller's reads go on meanwhile.
    std::vector<OutboxEvent> events = std::move(events_);
    Trace* tr = tr_;
    std::string id = trace_id_;
    l.unlock();
    Status s = PublishTraced(publisher_, events, tr, id);
    l.lock();
    events_ = std::move(events);
    status_ = s;
    queued_ = false;
    done_ = true;
    uint64_t one = 1;
    if (fd_ >= 0) (void)!write(fd_, &one, sizeof one);
    cv_.notify_all();
    if (stop_) return;
  }
}

}  // namespace dw::outbox

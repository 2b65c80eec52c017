// PublishWorker: one batch published on a thread of its own while the
// relay's thread goes on reading (the cdc relay reads the replication stream
// ahead while the previous batch awaits the broker's acknowledgement).
//
// At most one batch is in flight, so batches reach the publisher in the
// order they were started. The worker only publishes: settling the batch
// (the cdc relay's confirmed position) stays with the caller, after Finish
// returned OK, so "settle only after the broker acknowledged" holds as in a
// synchronous Publish.
//
// fd() becomes readable when the batch in flight is done, so a caller can
// poll it together with its own socket. A Publisher is used by one thread at
// a time (publisher.h): between Start and Finish only the worker touches it.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/trace.h"
#include "outbox/event.h"
#include "outbox/publisher.h"

namespace dw::outbox {

class PublishWorker {
 public:
  explicit PublishWorker(Publisher* publisher);
  ~PublishWorker();  // waits for the batch in flight (its outcome is dropped)
  PublishWorker(const PublishWorker&) = delete;
  PublishWorker& operator=(const PublishWorker&) = delete;

  // Hands `events` to the worker (traced under `trace_id` when `tr` is
  // non-null). Only when nothing is in flight.
  void Start(std::vector<OutboxEvent> events, Trace* tr, std::string trace_id);
  bool in_flight() const { return in_flight_; }
  // True when the batch in flight has been published or has failed.
  bool Done();
  // Waits for the batch in flight; returns Publish's status and gives the
  // events back in *events (for a retry after a failure).
  Status Finish(std::vector<OutboxEvent>* events);
  // Readable while a finished batch awaits Finish (an eventfd).
  int fd() const { return fd_; }

 private:
  void Run();

  Publisher* const publisher_;
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool queued_ = false;  // Start handed a batch the worker has not finished
  bool done_ = false;
  std::vector<OutboxEvent> events_;
  Trace* tr_ = nullptr;
  std::string trace_id_;
  Status status_;
  bool in_flight_ = false;  // the caller's view: between Start and Finish
  std::thread thread_;
};

}  // namespace dw::outbox

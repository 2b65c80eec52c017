// FakePublisher: an outbox Publisher (outbox/publisher.h) in memory, for
// in-process tests of the relays' settle logic.
//
// Publish records each batch it acknowledges. Fail(status, n) makes the
// next n calls answer `status`; with `stored` true the failed batch is
// recorded all the same (the broker stored it, the answer was lost), as the
// publisher's contract allows. calls() counts every Publish.
//
// One FakePublisher may serve several relay instances: Factory() is what
// RelayOptions::publisher wants, each instance getting a handle that
// forwards to this one. Thread-safe; it must outlive those handles.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "outbox/publisher.h"

namespace dw::testing {

class FakePublisher : public outbox::Publisher {
 public:
  void Fail(Status status, int times = 1, bool stored = false);

  int calls() const;
  // Every batch acknowledged or stored, in order.
  std::vector<std::vector<outbox::OutboxEvent>> batches() const;
  // The event ids of those batches, in order, repeats included.
  std::vector<std::string> event_ids() const;

  Status Publish(const std::vector<outbox::OutboxEvent>& events) override;

  std::function<Status(std::unique_ptr<outbox::Publisher>*)> Factory();

 private:
  mutable std::mutex mu_;
  int calls_ = 0;                                          // guarded by mu_
  std::deque<std::pair<Status, bool>> failures_;           // guarded by mu_; (answer, stored)
  std::vector<std::vector<outbox::OutboxEvent>> batches_;  // guarded by mu_
};

}  // namespace dw::testing

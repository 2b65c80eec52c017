#include "tests/support/fake_publisher.h"

namespace dw::testing {
namespace {

// A relay instance's own handle on a shared FakePublisher.
class Handle : public outbox::Publisher {
 public:
  explicit Handle(FakePublisher* target) : target_(target) {}
  Status Publish(const std::vector<outbox::OutboxEvent>& events) override {
    return target_->Publish(events);
  }

 private:
  FakePublisher* const target_;
};

}  // namespace

void FakePublisher::Fail(Status status, int times, bool stored) {
  std::lock_guard<std::mutex> l(mu_);
  for (int i = 0; i < times; ++i) failures_.emplace_back(status, stored);
}

int FakePublisher::calls() const {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

std::vector<std::vector<outbox::OutboxEvent>> FakePublisher::batches() const {
  std::lock_guard<std::mutex> l(mu_);
  return batches_;
}

std::vector<std::string> FakePublisher::event_ids() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& b : batches_) {
    for (const auto& e : b) out.push_back(e.event_id);
  }
  return out;
}

Status FakePublisher::Publish(const std::vector<outbox::OutboxEvent>& events) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  if (!failures_.empty()) {
    auto [answer, stored] = failures_.front();
    failures_.pop_front();
    if (stored) batches_.push_back(events);
    return answer;
  }
  batches_.push_back(events);
  return Status::OK();
}

std::function<Status(std::unique_ptr<outbox::Publisher>*)> FakePublisher::Factory() {
  return [this](std::unique_ptr<outbox::Publisher>* out) {
    *out = std::make_unique<Handle>(this);
    return Status::OK();
  };
}

}  // namespace dw::testing

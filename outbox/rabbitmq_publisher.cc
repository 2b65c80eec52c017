#include "outbox/rabbitmq_publisher.h"

#include "rabbitmq/client.h"

namespace dw::outbox {
namespace {

class RabbitmqPublisher : public Publisher {
 public:
  explicit RabbitmqPublisher(std::unique_ptr<rabbitmq::Client> client)
      : client_(std::move(client)) {}

  std::string TracePeer() const override { return "rabbitmq"; }
  std::string TraceRequest(const std::vector<OutboxEvent>& events) const override {
    return "AMQP basic.publish to quorum queue " +
           (events.empty() ? std::string("?") : events.front().topic) + ": " +
           DescribeEvents(events) + ", persistent, message-id = event id, confirms awaited";
  }
  // A quorum queue confirms a message once a majority of its members wrote
  // and fsynced it; it does not deduplicate.
  std::string TraceAck() const override {
    return "all confirmed: " + std::to_string(last_) + " basic.ack (fsynced, no deduplication)";
  }

  Status Publish(const std::vector<OutboxEvent>& events) override {
    // One publish per run of events of one topic, in order (in practice one:
    // every event goes to `orders`).
    last_ = 0;
    size_t i = 0;
    while (i < events.size()) {
      const std::string& topic = events[i].topic;
      msgs_.clear();
      for (; i < events.size() && events[i].topic == topic; ++i) {
        msgs_.push_back({events[i].event_id, events[i].key, events[i].payload});
      }
      Status s = client_->Publish(topic, msgs_);
      if (!s.ok()) return s;
      last_ += msgs_.size();
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<rabbitmq::Client> client_;
  std::vector<rabbitmq::OutMessage> msgs_;  // reused: one batch at a time
  size_t last_ = 0;                         // messages the last Publish had confirmed
};

}  // namespace

Status MakeRabbitmqPublisher(const RelayOptions& opts, std::unique_ptr<Publisher>* out) {
  rabbitmq::ClientOptions co;
  co.url = opts.amqp_url;
  co.timeout = opts.broker_timeout;
  std::unique_ptr<rabbitmq::Client> client;
  Status s = rabbitmq::Client::Connect(co, &client);
  if (!s.ok()) return s;
  *out = std::make_unique<RabbitmqPublisher>(std::move(client));
  return Status::OK();
}

}  // namespace dw::outbox

#include "outbox/jetstream_publisher.h"

#include "jetstream/client.h"

namespace dw::outbox {
namespace {

class JetStreamPublisher : public Publisher {
 public:
  explicit JetStreamPublisher(std::unique_ptr<jetstream::Client> client)
      : client_(std::move(client)) {}

  std::string TracePeer() const override { return "nats"; }
  std::string TraceRequest(const std::vector<OutboxEvent>& events) const override {
    return "JetStream publish to subject " +
           (events.empty() ? std::string("?") : events.front().topic) + ": " +
           DescribeEvents(events) + ", async, at most " +
           std::to_string(client_->options().max_pending) +
           " unacknowledged, Nats-Msg-Id = event id";
  }
  // What the last Publish's acks said: stored, or dropped as duplicates
  // within the stream's window. "In the file store": nats-server 2.9 syncs it
  // about every 60 s, so this is not an fsync.
  std::string TraceAck() const override {
    return "all acknowledged: " + std::to_string(last_.stored) + " stored, " +
           std::to_string(last_.duplicates) + " dropped as duplicates (in the file store)";
  }

  Status Publish(const std::vector<OutboxEvent>& events) override {
    // One publish per run of events of one topic, in order (in practice one:
    // every event goes to `orders`).
    last_ = jetstream::PublishResult{};
    size_t i = 0;
    while (i < events.size()) {
      const std::string& topic = events[i].topic;
      msgs_.clear();
      for (; i < events.size() && events[i].topic == topic; ++i) {
        msgs_.push_back({events[i].event_id, events[i].key, events[i].payload});
      }
      jetstream::PublishResult r;
      Status s = client_->Publish(topic, msgs_, &r);
      if (!s.ok()) return s;
      last_.stored += r.stored;
      last_.duplicates += r.duplicates;
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<jetstream::Client> client_;
  std::vector<jetstream::OutMessage> msgs_;  // reused: one batch at a time
  jetstream::PublishResult last_;            // the acks of the last Publish, for TraceAck
};

}  // namespace

Status MakeJetStreamPublisher(const RelayOptions& opts, std::unique_ptr<Publisher>* out) {
  jetstream::ClientOptions co;
  co.url = opts.nats_url;
  co.timeout = opts.broker_timeout;
  co.dedupe_window = opts.dedupe_window;
  co.max_pending = opts.nats_max_pending;
  std::unique_ptr<jetstream::Client> client;
  Status s = jetstream::Client::Connect(co, &client);
  if (!s.ok()) return s;
  *out = std::make_unique<JetStreamPublisher>(std::move(client));
  return Status::OK();
}

}  // namespace dw::outbox

#include "outbox/publisher.h"

#include "outbox/jetstream_publisher.h"
#include "outbox/rabbitmq_publisher.h"
#include "participants/broker_client.h"

namespace dw::outbox {
namespace {

class BrokerPublisher : public Publisher {
 public:
  explicit BrokerPublisher(std::unique_ptr<BrokerClient> client) : client_(std::move(client)) {}
  Status Publish(const std::vector<OutboxEvent>& events) override {
    return PublishEvents(client_.get(), events);
  }

 private:
  std::unique_ptr<BrokerClient> client_;
};

}  // namespace

Status MakePublisher(const RelayOptions& opts, std::unique_ptr<Publisher>* out) {
  if (opts.publisher) return opts.publisher(out);
  if (!opts.nats_url.empty()) return MakeJetStreamPublisher(opts, out);
  if (!opts.amqp_url.empty()) return MakeRabbitmqPublisher(opts, out);
  BrokerClient::Options bo;
  bo.url = opts.broker_url;
  bo.timeout = opts.broker_timeout;
  bo.max_idle_connections = 2;
  std::unique_ptr<BrokerClient> client;
  Status s = BrokerClient::Create(bo, &client);
  if (!s.ok()) return s;
  *out = std::make_unique<BrokerPublisher>(std::move(client));
  return Status::OK();
}

std::string DescribeEvents(const std::vector<OutboxEvent>& events) {
  const std::string first = events.empty() ? "" : events.front().event_id;
  const std::string last = events.empty() ? "" : events.back().event_id;
  return std::to_string(events.size()) + (events.size() == 1 ? " message (" : " messages (") +
         first + (events.size() > 1 ? " .. " + last : "") + ")";
}

std::string Publisher::TraceRequest(const std::vector<OutboxEvent>& events) const {
  return "POST /topics/" + (events.empty() ? std::string("?") : events.front().topic) +
         "/batch: " + DescribeEvents(events);
}

Status PublishTraced(Publisher* publisher, const std::vector<OutboxEvent>& events, Trace* tr,
                     const std::string& id) {
  if (!tr) return publisher->Publish(events);
  const std::string peer = publisher->TracePeer();
  tr->Send(id, peer, publisher->TraceRequest(events));
  Status s = publisher->Publish(events);
  tr->Reply(id, peer, s.ok() ? publisher->TraceAck() : "failed: " + s.ToString());
  return s;
}

}  // namespace dw::outbox

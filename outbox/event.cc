#include "outbox/event.h"

namespace dw::outbox {

Status PublishEvents(BrokerClient* broker, const std::vector<OutboxEvent>& events) {
  size_t i = 0;
  std::vector<OutMessage> batch;
  std::vector<uint64_t> offsets;
  while (i < events.size()) {
    const std::string& topic = events[i].topic;
    batch.clear();
    for (; i < events.size() && events[i].topic == topic; ++i) {
      const OutboxEvent& e = events[i];
      batch.push_back(OutMessage{e.topic, e.event_id, e.key, e.payload});
    }
    Status s = broker->PublishBatch(topic, batch, &offsets);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace dw::outbox

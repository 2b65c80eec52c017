#include "outbox/event.h"

namespace dw::outbox {

namespace {

// Raw bytes per batch request. JSON escaping can grow a byte to six
// (\u0001), so 128 KiB of raw text stays under the broker's default 1 MiB
// --max-body whatever the payloads hold; without the cap a relay batch of
// large events drew 413 and was retried forever. An event larger than the
// broker accepts on its own still fails (and is retried): raise
// --max-body for such payloads.
constexpr size_t kMaxBatchRawBytes = 128 << 10;

size_t RawSize(const OutboxEvent& e) {
  return e.payload.size() + e.key.size() + e.event_id.size() + e.topic.size();
}

}  // namespace

Status PublishEvents(BrokerClient* broker, const std::vector<OutboxEvent>& events) {
  size_t i = 0;
  std::vector<OutMessage> batch;
  std::vector<uint64_t> offsets;
  while (i < events.size()) {
    const std::string& topic = events[i].topic;
    batch.clear();
    size_t bytes = 0;
    for (; i < events.size() && events[i].topic == topic; ++i) {
      const OutboxEvent& e = events[i];
      if (!batch.empty() && bytes + RawSize(e) > kMaxBatchRawBytes) break;
      bytes += RawSize(e);
      batch.push_back(OutMessage{e.topic, e.event_id, e.key, e.payload});
    }
    Status s = broker->PublishBatch(topic, batch, &offsets);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace dw::outbox

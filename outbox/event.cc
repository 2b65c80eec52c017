#include "outbox/event.h"

#include "common/json_text.h"

namespace dw::outbox {

namespace {

// The request body per batch, under the broker's default 1 MiB --max-body
// with a margin. The size is an upper bound of the escaped JSON text, so a
// batch is split only where the body would really grow past it: a relay
// batch of 1000 ordinary events (~180 kB) is ONE request, i.e. one durable
// write at the broker, while large or escape-heavy events (a byte can grow
// to six, \u0001) are split instead of drawing 413 forever. An event larger
// than the broker accepts on its own still fails (and is retried): raise
// --max-body for such payloads. (A cap on RAW bytes, 128 KiB, sized for the
// worst escaping, split such a batch in two: two fdatasyncs; outbox_bench.)
constexpr size_t kMaxRequestBytes = 768 << 10;
constexpr size_t kPerMessageJson = 96;  // {"id":,"key":,"payload":} and a margin

size_t JsonSize(const OutboxEvent& e) {
  return kPerMessageJson + JsonStringSize(e.event_id) + JsonStringSize(e.key) +
         JsonStringSize(e.payload) + e.topic.size();
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
      const size_t size = JsonSize(e);
      if (!batch.empty() && bytes + size > kMaxRequestBytes) break;
      bytes += size;
      batch.push_back(OutMessage{e.topic, e.event_id, e.key, e.payload});
    }
    Status s = broker->PublishBatch(topic, batch, &offsets);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace dw::outbox
